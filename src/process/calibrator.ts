/**
 * Keeps the optimizer's process model fitted to the line: the last `historyMs` of history (3 days)
 * fitted in a worker at start and every `everyMs` (an hour). Until the first fit, and for what the
 * history cannot tell, the model's defaults; a failed fit keeps the last good parameters (the
 * optimizer goes on with them, and `status` shows the error).
 */
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig } from "../config/schema.js";
import { DEFAULT_PARAMS, type ProcessParams } from "./machine.js";
import { calibrateInWorker } from "./processWorker.js";

export interface CalibratorOptions {
  everyMs: number;
  historyMs: number;
}

export class ProcessCalibrator implements Component {
  readonly name = "calibration";
  readonly #config: LineConfig;
  readonly #log: Logger;
  readonly #options: CalibratorOptions;
  #params: ProcessParams = DEFAULT_PARAMS;
  #timer: NodeJS.Timeout | undefined;
  #abort: AbortController | undefined;
  #running: Promise<void> | undefined;
  fits = 0;
  failures = 0;
  fittedAt: number | null = null;
  lastError: string | null = null;

  constructor(
    config: LineConfig,
    log: Logger,
    options: CalibratorOptions = { everyMs: 3_600_000, historyMs: 3 * 86_400_000 },
  ) {
    this.#config = config;
    this.#log = log;
    this.#options = options;
  }

  /** The parameters of the last good fit (the defaults before the first). */
  get params(): ProcessParams {
    return this.#params;
  }

  async start(): Promise<void> {
    this.#abort = new AbortController();
    this.#fit();
    this.#timer = setInterval(() => this.#fit(), this.#options.everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    await this.#running;
  }

  /** Starts a fit unless one is running; resolves when it is done (for tests and the first start). */
  #fit(): void {
    if (this.#running !== undefined || this.#abort?.signal.aborted !== false) return;
    const signal = this.#abort.signal;
    const now = Date.now();
    this.#running = calibrateInWorker(
      this.#config.store.path,
      this.#config,
      now - this.#options.historyMs,
      signal,
    )
      .then((p) => {
        this.#params = p;
        this.fits++;
        this.fittedAt = now;
        this.lastError = null;
      })
      .catch((error: unknown) => {
        if (signal.aborted) return;
        this.failures++;
        this.lastError = errorMessage(error);
        this.#log.warn(
          { err: this.lastError },
          "process model fit failed; the optimizer keeps its parameters",
        );
      })
      .finally(() => {
        this.#running = undefined;
      });
  }

  health(): ComponentHealth {
    return {
      state: "ok",
      details: {
        fits: this.fits,
        failures: this.failures,
        fittedAt: this.fittedAt === null ? null : new Date(this.fittedAt).toISOString(),
        lastError: this.lastError,
      },
    };
  }
}
