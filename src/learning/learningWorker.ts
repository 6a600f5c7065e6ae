/**
 * Trains a candidate in a worker thread at the lowest CPU priority, on its own read-only
 * connection to the store: ingestion and inference keep their cores and their event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { errorMessage } from "../common/errors.js";
import { lowerThisThreadsPriority, startWorker } from "../common/worker.js";
import { openStoreForReading } from "../store/store.js";
import { type CandidateOptions, type CandidateResult, trainCandidate } from "./candidate.js";

interface Job {
  storePath: string;
  activeModel: Uint8Array;
  options: CandidateOptions;
}

if (parentPort !== null && (workerData as { learningJob?: Job } | undefined)?.learningJob !== undefined) {
  const job = (workerData as { learningJob: Job }).learningJob;
  const tid = lowerThisThreadsPriority();
  try {
    const db = openStoreForReading(job.storePath);
    try {
      const result = trainCandidate(db, job.activeModel, job.options);
      parentPort.postMessage({ ok: true, result, tid });
    } finally {
      db.close();
    }
  } catch (error) {
    parentPort.postMessage({ ok: false, message: errorMessage(error), tid });
  }
}

export interface TrainingHandle {
  result: Promise<CandidateResult & { tid: number | null }>;
  /** Stops the training (a daemon stop); the run is then recorded as interrupted. */
  cancel(): Promise<void>;
}

export function trainInWorker(
  storePath: string,
  activeModel: Uint8Array,
  options: CandidateOptions,
): TrainingHandle {
  const worker = startWorker(new URL(import.meta.url), {
    workerData: {
      learningJob: {
        storePath,
        activeModel,
        options,
      } satisfies Job,
    },
  });
  const result = new Promise<CandidateResult & { tid: number | null }>((resolve, reject) => {
    worker.once(
      "message",
      (m: { ok: boolean; result?: CandidateResult; message?: string; tid: number | null }) => {
        if (m.ok) resolve({ ...m.result!, tid: m.tid });
        else reject(new Error(m.message));
        void worker.terminate();
      },
    );
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the training worker stopped (exit code ${code})`)));
  });
  return {
    result,
    cancel: async () => {
      await worker.terminate();
    },
  };
}
