/**
 * Learns one machine's baseline in a worker thread at the lowest CPU priority, on its own
 * read-only connection to the store: the windows of days of history are read and summarised off
 * the daemon's event loop, so ingestion and scoring keep their pace.
 */
import { parentPort, workerData } from "node:worker_threads";
import { errorMessage } from "../common/errors.js";
import { lowerThisThreadsPriority, startWorker } from "../common/worker.js";
import type { RunningStates } from "../connectors/machineEvents.js";
import type { FeatureTag, WindowSettings } from "../preprocess/features.js";
import { openStoreForReading } from "../store/store.js";
import type { AlertSettings } from "./alertPolicy.js";
import { type BaselineCard, type BaselineSettings, baselinePeriod, learnBaseline } from "./baseline.js";

export interface BaselineJob {
  storePath: string;
  machine: number;
  features: readonly string[];
  window: WindowSettings;
  tags: readonly FeatureTag[];
  running: RunningStates;
  fromTs: number;
  settings: BaselineSettings;
  alerts: AlertSettings;
  name: string;
  version: string;
}

export type BaselineOutcome =
  | { ok: true; bytes: Uint8Array; card: BaselineCard }
  | { ok: false; message: string; notYet: boolean };

function learn(job: BaselineJob): BaselineOutcome {
  const db = openStoreForReading(job.storePath);
  try {
    const period = baselinePeriod(db, job);
    const wanted = Math.round((job.settings.days * 1_440) / job.settings.strideMin);
    // A machine that has not run its baseline days yet (downtime, gaps) waits for more.
    if (period.samples.length < wanted)
      return {
        ok: false,
        notYet: true,
        message: `${period.samples.length} of ${wanted} running windows so far (${job.settings.days} days)`,
      };
    const { bytes, card } = learnBaseline(period.samples, {
      ...job,
      learnedAt: Math.max(period.learnedAt, Date.now()),
    });
    return { ok: true, bytes, card };
  } finally {
    db.close();
  }
}

if (
  parentPort !== null &&
  (workerData as { baselineJob?: BaselineJob } | undefined)?.baselineJob !== undefined
) {
  lowerThisThreadsPriority();
  const job = (workerData as { baselineJob: BaselineJob }).baselineJob;
  try {
    parentPort.postMessage(learn(job));
  } catch (error) {
    parentPort.postMessage({
      ok: false,
      notYet: false,
      message: errorMessage(error),
    } satisfies BaselineOutcome);
  }
}

/** Learns in a worker; resolves with the model or why not (yet). */
export function learnBaselineInWorker(job: BaselineJob): {
  result: Promise<BaselineOutcome>;
  cancel(): Promise<void>;
} {
  const worker = startWorker(new URL(import.meta.url), { workerData: { baselineJob: job } });
  const result = new Promise<BaselineOutcome>((resolve, reject) => {
    worker.once("message", (m: BaselineOutcome) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the baseline worker stopped (exit code ${code})`)));
  });
  return {
    result,
    cancel: async () => {
      await worker.terminate();
    },
  };
}
