/**
 * Telemetry retention by age and by a size cap. Only sensor_data (and, by its own age limit, its
 * hourly rollup) is ever deleted, oldest first;
 * alerts, the audit log, predictions, events and the outbox (unsynced messages) are never touched.
 * Deletes run in chunks, yielding between them, so ingestion never waits long for the write lock.
 */

import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Store } from "./store.js";

export interface RetentionOptions {
  maxAgeDays: number;
  maxSizeMb: number;
  checkIntervalMs: number;
  deleteChunkRows: number;
  hourlyMaxAgeDays: number;
}

export interface RetentionResult {
  deletedByAge: number;
  deletedBySize: number;
  usedBytes: number;
}

const DAY_MS = 86_400_000;

export class Retention implements Component {
  readonly name = "retention";
  readonly #store: Store;
  readonly #options: RetentionOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<RetentionResult> | undefined;
  deletedTotal = 0;
  lastRun: RetentionResult | undefined;
  lastError: string | undefined;

  constructor(store: Store, options: RetentionOptions, log: Logger, now: () => number = Date.now) {
    this.#store = store;
    this.#options = options;
    this.#log = log;
    this.#now = now;
  }

  async start(): Promise<void> {
    this.#timer = setInterval(() => {
      if (this.#running === undefined) void this.runOnce().catch(() => undefined);
    }, this.#options.checkIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  runOnce(): Promise<RetentionResult> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #run(): Promise<RetentionResult> {
    const db = this.#store.db;
    const chunk = this.#options.deleteChunkRows;
    // Rows are inserted in time order, so the lowest ids are the oldest: deleting by id needs no
    // index on ts and stops at the first young row.
    const byAge = db.prepare(
      "DELETE FROM sensor_data WHERE id IN (SELECT id FROM sensor_data WHERE ts < ? ORDER BY id LIMIT ?)",
    );
    const oldest = db.prepare(
      "DELETE FROM sensor_data WHERE id IN (SELECT id FROM sensor_data ORDER BY id LIMIT ?)",
    );
    const blocksByAge = db.prepare("DELETE FROM waveform_blocks WHERE ts < ?");
    const capBytes = this.#options.maxSizeMb * 1024 * 1024;
    const result: RetentionResult = { deletedByAge: 0, deletedBySize: 0, usedBytes: 0 };
    try {
      const cutoff = this.#now() - this.#options.maxAgeDays * DAY_MS;
      for (;;) {
        const n = byAge.run(cutoff, chunk).changes;
        result.deletedByAge += n;
        if (n < chunk) break;
        await yieldToEventLoop();
      }
      // A block every keepEveryMs (an hour by default) is a few thousand rows a year: one statement.
      result.deletedByAge += blocksByAge.run(cutoff).changes;
      // The rollup's hours are small (one row per tag and hour) and kept longer than raw samples.
      db.prepare("DELETE FROM sensor_hourly WHERE hour < ?").run(
        this.#now() - this.#options.hourlyMaxAgeDays * DAY_MS,
      );
      for (;;) {
        const { usedBytes } = this.#store.sizes();
        result.usedBytes = usedBytes;
        if (usedBytes <= capBytes) break;
        const n = oldest.run(chunk).changes;
        result.deletedBySize += n;
        if (n === 0) {
          this.#log.warn(
            { usedBytes, capBytes },
            "store is over its size cap with no telemetry left to delete",
          );
          break;
        }
        await yieldToEventLoop();
      }
      if (result.deletedByAge + result.deletedBySize > 0) {
        // Give freed pages back to the file system (auto_vacuum = INCREMENTAL), a bounded amount per run.
        db.pragma("incremental_vacuum(10000)");
        this.#log.info(result, "retention deleted old telemetry");
      }
      this.deletedTotal += result.deletedByAge + result.deletedBySize;
      this.lastRun = result;
      this.lastError = undefined;
      return result;
    } catch (error) {
      this.lastError = errorMessage(error);
      this.#log.error({ err: this.lastError }, "retention run failed");
      throw error;
    }
  }

  health(): ComponentHealth {
    return {
      state: this.lastError === undefined ? "ok" : "degraded",
      details: {
        deletedTotal: this.deletedTotal,
        lastRun: this.lastRun ?? null,
        lastError: this.lastError ?? null,
      },
    };
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
