/**
 * Starts a worker thread on a module of this package. In production the module is built
 * JavaScript; when linepilot runs from its TypeScript sources (the tests, under tsx), a worker
 * thread does not inherit tsx's loader, so it registers it in the thread before importing.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { Worker, type WorkerOptions } from "node:worker_threads";

export function startWorker(module: URL, options: WorkerOptions): Worker {
  if (!module.pathname.endsWith(".ts")) return new Worker(module, options);
  const code = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(code, { ...options, eval: true });
}

/**
 * Linux keeps a nice value per thread: setpriority() on this thread's id lowers this worker only.
 * Node does not expose a worker's thread id, but /proc/thread-self names it.
 */
export function lowerThisThreadsPriority(): number | null {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    setPriority(tid, 19);
    return tid;
  } catch {
    return null; // not Linux, or not permitted: train at normal priority
  }
}
