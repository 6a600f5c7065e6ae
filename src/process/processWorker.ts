/**
 * Runs the process model's heavy reads in a worker thread on its own read-only connection to the store: a
 * what-if question, or the calibration the optimizer refreshes hourly. Calibration reads days to
 * weeks of history (about 9 s for 3 days of 2 machines at 1 s), and the daemon's event loop must
 * keep ingesting, and answering systemd's watchdog, meanwhile.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type ErrorCode, LinepilotError } from "../common/errors.js";
import { startWorker } from "../common/worker.js";
import type { LineConfig } from "../config/schema.js";
import { rolesOf } from "../line/vocabulary.js";
import { openStoreForReading } from "../store/store.js";
import { calibrate } from "./calibrate.js";
import type { ProcessParams } from "./machine.js";
import type { ScenarioResult } from "./scenario.js";
import { type WhatIfRequest, whatIf } from "./whatIf.js";

type Job =
  | { kind: "whatIf"; storePath: string; config: LineConfig; request: WhatIfRequest }
  | { kind: "calibrate"; storePath: string; config: LineConfig; sinceTs: number };

type Answer = { ok: true; result: unknown } | { ok: false; code?: string; message: string };

function run(job: Job): unknown {
  const db = openStoreForReading(job.storePath);
  try {
    return job.kind === "whatIf"
      ? whatIf(db, job.request, job.config)
      : calibrate(db, { roles: rolesOf(job.config), sinceTs: job.sinceTs }).params;
  } finally {
    db.close();
  }
}

if (parentPort !== null && (workerData as { processJob?: Job } | undefined)?.processJob !== undefined) {
  let answer: Answer;
  try {
    answer = { ok: true, result: run((workerData as { processJob: Job }).processJob) };
  } catch (error) {
    const e = error as LinepilotError;
    answer = { ok: false, ...(e.code !== undefined ? { code: e.code } : {}), message: e.message };
  }
  parentPort.postMessage(answer);
}

function inWorker<T>(job: Job, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(new URL(import.meta.url), {
      workerData: { processJob: { ...job, config: structuredClone(job.config) } },
    });
    // Stopping the daemon ends a fit in progress rather than waiting seconds for it.
    signal?.addEventListener(
      "abort",
      () => {
        reject(new LinepilotError("LP_ERR_USAGE", "the process model's fit was stopped"));
        void worker.terminate();
      },
      { once: true },
    );
    worker.once("message", (answer: Answer) => {
      if (answer.ok) resolve(answer.result as T);
      else
        reject(new LinepilotError((answer.code as ErrorCode | undefined) ?? "LP_ERR_STORE", answer.message));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the process-model worker exited with code ${code}`));
    });
  });
}

export function whatIfInWorker(
  storePath: string,
  request: WhatIfRequest,
  config: LineConfig,
): Promise<ScenarioResult> {
  return inWorker({ kind: "whatIf", storePath, request, config });
}

/** The process model's parameters fitted from the history since `sinceTs` (defaults where it cannot tell). */
export function calibrateInWorker(
  storePath: string,
  config: LineConfig,
  sinceTs: number,
  signal?: AbortSignal,
): Promise<ProcessParams> {
  return inWorker({ kind: "calibrate", storePath, config, sinceTs }, signal);
}
