/**
 * Runs a what-if question in a worker thread on its own read-only connection to the store:
 * calibration reads weeks of history, and the daemon's event loop must keep ingesting meanwhile.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type ErrorCode, LinepilotError } from "../common/errors.js";
import { startWorker } from "../common/worker.js";
import type { LineConfig } from "../config/schema.js";
import { openStoreForReading } from "../store/store.js";
import type { ScenarioResult } from "./scenario.js";
import { type WhatIfRequest, whatIf } from "./whatIf.js";

interface Job {
  storePath: string;
  request: WhatIfRequest;
  config: LineConfig;
}

type Answer = { ok: true; result: ScenarioResult } | { ok: false; code?: string; message: string };

if (parentPort !== null && (workerData as { whatIf?: boolean } | undefined)?.whatIf === true) {
  const job = (workerData as { job: Job }).job;
  let answer: Answer;
  try {
    const db = openStoreForReading(job.storePath);
    try {
      answer = { ok: true, result: whatIf(db, job.request, job.config) };
    } finally {
      db.close();
    }
  } catch (error) {
    const e = error as LinepilotError;
    answer = { ok: false, ...(e.code !== undefined ? { code: e.code } : {}), message: e.message };
  }
  parentPort.postMessage(answer);
}

export function whatIfInWorker(
  storePath: string,
  request: WhatIfRequest,
  config: LineConfig,
): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(new URL(import.meta.url), {
      workerData: { whatIf: true, job: { storePath, request, config: structuredClone(config) } },
    });
    worker.once("message", (answer: Answer) => {
      if (answer.ok) resolve(answer.result);
      else
        reject(new LinepilotError((answer.code as ErrorCode | undefined) ?? "LP_ERR_STORE", answer.message));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the what-if worker exited with code ${code}`));
    });
  });
}
