/**
 * Reconnection, once for every connector and the plant sync (docs/code-style.md §5): exponential
 * backoff with jitter and a cap, retrying forever, including the first connect (node-opcua's
 * connectionStrategy: 1 s initial, 20 s max, 0.1 randomisation).
 */
import type { EventEmitter } from "node:events";

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1: each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

export interface ReconnectEvents {
  backoff: [{ attempt: number; delayMs: number; error: string }];
  reconnecting: [{ attempt: number }];
  reconnected: [{ attempt: number; downMs: number }];
}

export class Backoff {
  readonly #options: BackoffOptions;
  readonly #random: () => number;
  attempt = 0;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  /** The delay before the next attempt; grows with each call until reset(). */
  next(): number {
    const base = Math.min(this.#options.maxMs, this.#options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const factor = 1 + this.#options.jitter * (2 * this.#random() - 1);
    return Math.max(0, Math.round(Math.min(this.#options.maxMs * (1 + this.#options.jitter), base * factor)));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * Calls `connect` until it succeeds or `signal` aborts, waiting a backoff delay between failures.
 * Emits `reconnecting` before each attempt after the first, `backoff` after each failure and
 * `reconnected` on success after failures.
 */
export async function connectWithBackoff(
  connect: () => Promise<void>,
  backoff: Backoff,
  signal: AbortSignal,
  events?: EventEmitter<ReconnectEvents>,
): Promise<boolean> {
  const since = Date.now();
  for (let attempt = 0; !signal.aborted; attempt++) {
    if (attempt > 0) events?.emit("reconnecting", { attempt });
    try {
      await connect();
      if (attempt > 0) events?.emit("reconnected", { attempt, downMs: Date.now() - since });
      backoff.reset();
      return true;
    } catch (error) {
      if (signal.aborted) return false;
      const delayMs = backoff.next();
      events?.emit("backoff", {
        attempt,
        delayMs,
        error: error instanceof Error ? error.message : String(error),
      });
      await sleep(delayMs, signal);
    }
  }
  return false;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Waits for `work` to settle, but at most `ms`; true if it settled in time. Used where a peer that
 * is gone would never answer (closing a session with a dead server). Leaves no timer behind, so a
 * stopped component does not keep the process alive.
 */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  let settled = false;
  try {
    await Promise.race([
      work.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      ),
      sleep(ms, timer.signal),
    ]);
  } finally {
    timer.abort();
  }
  return settled;
}

/**
 * The life of every link to a peer (PLC, broker): connect with backoff, run `session` while
 * connected, and start over after each loss, until `signal` aborts.
 */
export async function keepConnected(o: {
  connect: () => Promise<void>;
  session: () => Promise<void>;
  backoff: BackoffOptions;
  signal: AbortSignal;
  events?: EventEmitter<ReconnectEvents>;
}): Promise<void> {
  const backoff = new Backoff(o.backoff);
  while (!o.signal.aborted) {
    if (!(await connectWithBackoff(o.connect, backoff, o.signal, o.events))) break;
    await o.session();
  }
}
