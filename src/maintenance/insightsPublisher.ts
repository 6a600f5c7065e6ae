/**
 * Computes the line's insights (insights.ts) every `maintenance.insights.everyMs` and sends them
 * to the plant on <prefix>/insights; the API and `linepilot insights` read the latest, or ask
 * for a fresh one. The first run waits a minute: a starting daemon has other work first.
 */
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { DEFAULT_HORIZON_H, type LineConfig, type MaintenanceConfig } from "../config/schema.js";
import type { Store } from "../store/store.js";
import { type Insights, lineInsights } from "./insights.js";

const FIRST_RUN_MS = 60_000;

export class InsightsPublisher implements Component {
  readonly name = "insights";
  readonly #cfg: MaintenanceConfig;
  readonly #store: Store;
  readonly #line: LineConfig;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  latest: Insights | undefined;
  runs = 0;
  lastError: string | null = null;
  lastRunMs = 0;

  constructor(cfg: MaintenanceConfig, deps: { store: Store; line: LineConfig; log: Logger }) {
    this.#cfg = cfg;
    this.#store = deps.store;
    this.#line = deps.line;
    this.#log = deps.log;
  }

  async start(): Promise<void> {
    const every = this.#cfg.insights.everyMs;
    const run = () => {
      this.publish();
      this.#timer = setTimeout(run, every);
    };
    this.#timer = setTimeout(run, Math.min(FIRST_RUN_MS, every));
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Computes the insights now (a failure is logged and kept in health, never thrown). */
  compute(now = Date.now()): Insights {
    const started = performance.now();
    const insights = lineInsights(
      this.#store,
      this.#line,
      {
        minEvents: this.#cfg.insights.minEvents,
        lookbackDays: this.#cfg.insights.lookbackDays,
        horizonH: this.#line.learning?.horizonH ?? DEFAULT_HORIZON_H,
        costs: this.#cfg.costs,
      },
      now,
    );
    this.lastRunMs = performance.now() - started;
    this.latest = insights;
    return insights;
  }

  publish(): void {
    try {
      const insights = this.compute();
      this.#store.enqueueOutbox("metrics", "insights", { version: 1, ...insights });
      this.runs++;
      this.lastError = null;
      this.#log.info(
        { recommendations: insights.recommendations.length, ms: Math.round(this.lastRunMs) },
        "insights computed and sent to the plant",
      );
    } catch (error) {
      this.lastError = errorMessage(error);
      this.#log.error({ err: this.lastError }, "insights failed");
    }
  }

  health(): ComponentHealth {
    return {
      state: this.#timer === undefined ? "stopped" : this.lastError === null ? "ok" : "degraded",
      details: {
        runs: this.runs,
        recommendations: this.latest?.recommendations.length ?? null,
        lastRunAt: this.latest?.ts ?? null,
        lastRunMs: Math.round(this.lastRunMs),
        lastError: this.lastError,
      },
    };
  }
}
