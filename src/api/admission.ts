/**
 * Expensive routes (a what-if runs the twin for hours of simulated time; an import decrypts and
 * checks a model) take a few requests at a time, with a short queue behind them; beyond it a
 * request is refused at once with 429 and counted, so a burst of clients can neither exhaust the
 * daemon's memory nor stall its event loop (the watchdog would restart it). p-queue does the
 * queueing; the bound on its length is ours.
 */
import PQueue from "p-queue";

export class Admission {
  readonly name: string;
  readonly #queue: PQueue;
  readonly #waiting: number;
  refused = 0;

  constructor(name: string, concurrent: number, waiting: number) {
    this.name = name;
    this.#queue = new PQueue({ concurrency: concurrent });
    this.#waiting = waiting;
  }

  /** The work's result, or undefined when the route is full (answer 429). */
  async run<T>(work: () => Promise<T>): Promise<{ result: T } | undefined> {
    if (this.#queue.size >= this.#waiting) {
      this.refused++;
      return undefined;
    }
    return { result: (await this.#queue.add(work)) as T };
  }

  get busy(): { running: number; waiting: number; refused: number } {
    return { running: this.#queue.pending, waiting: this.#queue.size, refused: this.refused };
  }
}
