/**
 * Watches the wall clock against the monotonic one: a step (NTP correcting a drifted RTC, a
 * technician setting the time) is logged and recorded as a machine event of the line (machine 0),
 * so a gap or an overlap in the samples' timestamps has its explanation in the store. Deadlines,
 * rate limits and polling run on the monotonic clock; wall time is only a timestamp.
 */

import type { Component, ComponentHealth } from "../common/component.js";
import type { Logger } from "../common/logger.js";
import type { Store } from "../store/store.js";

/** A disagreement larger than this between the two clocks over one check is a step. */
const STEP_MS = 2_000;

export interface Clocks {
  wall(): number;
  monotonic(): number;
}

const SYSTEM_CLOCKS: Clocks = { wall: () => Date.now(), monotonic: () => performance.now() };

export class ClockWatch implements Component {
  readonly name = "clock";
  readonly #store: Store;
  readonly #log: Logger;
  readonly #clocks: Clocks;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #wall = 0;
  #mono = 0;
  steps = 0;
  lastStepMs: number | null = null;

  constructor(store: Store, log: Logger, clocks: Clocks = SYSTEM_CLOCKS, everyMs = 1_000) {
    this.#store = store;
    this.#log = log.child({ component: "clock" });
    this.#clocks = clocks;
    this.#everyMs = everyMs;
  }

  async start(): Promise<void> {
    this.#wall = this.#clocks.wall();
    this.#mono = this.#clocks.monotonic();
    this.#timer = setInterval(() => this.check(), this.#everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
  }

  /** One comparison; returns the step in ms when the wall clock jumped, else 0. */
  check(): number {
    const wall = this.#clocks.wall();
    const mono = this.#clocks.monotonic();
    const step = wall - this.#wall - (mono - this.#mono);
    this.#wall = wall;
    this.#mono = mono;
    if (Math.abs(step) <= STEP_MS) return 0;
    this.steps++;
    this.lastStepMs = step;
    const message = `the wall clock stepped by ${step > 0 ? "+" : ""}${(step / 1000).toFixed(1)} s`;
    this.#log.warn({ stepMs: step }, message);
    try {
      this.#store.insertMachineEvent({ machineId: 0, ts: wall, kind: "clock_step", message });
    } catch (error) {
      this.#log.error({ err: String(error) }, "the clock step could not be recorded");
    }
    return step;
  }

  health(): ComponentHealth {
    return { state: "ok", details: { steps: this.steps, lastStepMs: this.lastStepMs } };
  }
}
