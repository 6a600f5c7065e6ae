/**
 * A tag's history for charts: its values over a period in at most `points` buckets, each with its
 * min, max and mean, so a spike survives downsampling (an average alone would hide it).
 *
 * Short periods are grouped from the raw samples in one indexed range query. Long ones read the
 * hourly rollup (sensor_hourly), which `HourlyRollup` keeps up to date from sensor_data by row id:
 * every row inserted since the last run is added into its hour, whatever its time, so a late or
 * imported sample lands where it belongs and nothing is counted twice. Rows newer than the last
 * run are read raw and merged, so a chart is never a minute behind.
 */
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Store } from "./store.js";

const H = 3_600_000;
/** Above this many raw rows in the period, the hourly rollup answers even for short buckets. */
export const RAW_ROWS_LIMIT = 200_000;

export interface TagHistory {
  from: number;
  to: number;
  /** The buckets' width; a multiple of an hour when `source` is "hourly". */
  bucketMs: number;
  source: "raw" | "hourly";
  /** Each bucket's start, and its values' min, max, mean and count (null: no good value in it). */
  ts: number[];
  min: (number | null)[];
  max: (number | null)[];
  avg: (number | null)[];
  count: number[];
}

const ROLLED_ID = "rollup.lastId";
const ROLLED_TS = "rollup.lastTs";

function meta(store: Store, key: string): number {
  return Number(store.getMeta(key) ?? 0);
}

/** The values of one tag in [from, to), in at most `points` buckets. */
export function tagHistory(
  store: Store,
  tagId: number,
  from: number,
  to: number,
  points: number,
): TagHistory {
  const db = store.db;
  const span = Math.max(1, to - from);
  let bucketMs = Math.max(1, Math.ceil(span / points));
  const estimate = (
    db
      .prepare("SELECT total(count) AS n FROM sensor_hourly WHERE tag_id = ? AND hour >= ? AND hour < ?")
      .get(tagId, from - (from % H), to) as { n: number }
  ).n;
  const out: TagHistory = { from, to, bucketMs, source: "raw", ts: [], min: [], max: [], avg: [], count: [] };
  if (bucketMs < H && estimate <= RAW_ROWS_LIMIT) {
    const rows = db
      .prepare(
        `SELECT CAST((ts - ?) / ? AS INTEGER) AS b, min(value) AS min, max(value) AS max, avg(value) AS avg, count(value) AS n
         FROM sensor_data WHERE tag_id = ? AND ts >= ? AND ts < ? GROUP BY b ORDER BY b`,
      )
      .raw()
      .all(from, bucketMs, tagId, from, to) as [
      number,
      number | null,
      number | null,
      number | null,
      number,
    ][];
    for (const [b, min, max, avg, n] of rows) {
      out.ts.push(from + b * bucketMs);
      out.min.push(min);
      out.max.push(max);
      out.avg.push(avg);
      out.count.push(n);
    }
    return out;
  }
  // Hourly: buckets are whole hours from the hour `from` falls in.
  bucketMs = Math.max(1, Math.ceil(bucketMs / H)) * H;
  const start = from - (from % H);
  const buckets = Math.ceil((to - start) / bucketMs);
  const min = new Float64Array(buckets).fill(Number.POSITIVE_INFINITY);
  const max = new Float64Array(buckets).fill(Number.NEGATIVE_INFINITY);
  const sum = new Float64Array(buckets);
  const count = new Float64Array(buckets);
  const add = (ts: number, lo: number | null, hi: number | null, s: number, n: number) => {
    const i = Math.floor((ts - start) / bucketMs);
    if (i < 0 || i >= buckets || n === 0) return;
    if (lo !== null && lo < min[i]!) min[i] = lo;
    if (hi !== null && hi > max[i]!) max[i] = hi;
    sum[i]! += s;
    count[i]! += n;
  };
  const hours = db
    .prepare(
      "SELECT hour, min, max, sum, count FROM sensor_hourly WHERE tag_id = ? AND hour >= ? AND hour < ? ORDER BY hour",
    )
    .raw()
    .all(tagId, start, to) as [number, number | null, number | null, number, number][];
  for (const [hour, lo, hi, s, n] of hours) add(hour, lo, hi, s, n);
  // Rows the rollup has not reached yet: only the newest ones, found by id from its last time.
  const lastId = meta(store, ROLLED_ID);
  const recentFrom = Math.max(start, meta(store, ROLLED_TS) - H);
  const recent = db
    .prepare(
      `SELECT ts - ts % ${H} AS hour, min(value), max(value), total(value), count(value)
       FROM sensor_data WHERE tag_id = ? AND ts >= ? AND ts < ? AND id > ? GROUP BY hour`,
    )
    .raw()
    .all(tagId, recentFrom, to, lastId) as [number, number | null, number | null, number, number][];
  for (const [hour, lo, hi, s, n] of recent) add(hour, lo, hi, s, n);
  out.source = "hourly";
  out.bucketMs = bucketMs;
  for (let i = 0; i < buckets; i++) {
    if (count[i] === 0) continue;
    out.ts.push(start + i * bucketMs);
    out.min.push(min[i]!);
    out.max.push(max[i]!);
    out.avg.push(sum[i]! / count[i]!);
    out.count.push(count[i]!);
  }
  return out;
}

export interface RollupOptions {
  everyMs: number;
  /** Rows of sensor_data folded in one transaction; the writer waits at most that long. */
  chunkRows: number;
}

/** Keeps sensor_hourly up to date with sensor_data, a chunk of rows per transaction. */
export class HourlyRollup implements Component {
  readonly name = "rollup";
  readonly #store: Store;
  readonly #options: RollupOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  rolledRows = 0;
  lastError: string | undefined;

  constructor(store: Store, options: RollupOptions, log: Logger) {
    this.#store = store;
    this.#options = options;
    this.#log = log;
  }

  async start(): Promise<void> {
    this.#timer = setInterval(() => {
      void this.runOnce().catch(() => undefined);
    }, this.#options.everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** Folds every row inserted since the last run into its hour; resolves to how many. */
  runOnce(): Promise<number> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #run(): Promise<number> {
    const db = this.#store.db;
    const fold = db.prepare(
      `INSERT INTO sensor_hourly (tag_id, hour, min, max, sum, count)
       SELECT tag_id, ts - ts % ${H}, min(value), max(value), total(value), count(value)
       FROM sensor_data WHERE id > ? AND id <= ? GROUP BY tag_id, ts - ts % ${H}
       ON CONFLICT (tag_id, hour) DO UPDATE SET
         min = min(coalesce(min, excluded.min), coalesce(excluded.min, min)),
         max = max(coalesce(max, excluded.max), coalesce(excluded.max, max)),
         sum = sum + excluded.sum,
         count = count + excluded.count`,
    );
    const newest = db.prepare(
      "SELECT max(id) AS id, max(ts) AS ts FROM sensor_data WHERE id > ? AND id <= ?",
    );
    let done = 0;
    try {
      let lastId = meta(this.#store, ROLLED_ID);
      const top =
        (db.prepare("SELECT max(id) AS id FROM sensor_data").get() as { id: number | null }).id ?? 0;
      // Retention emptied the table and ids started again from 1: start again with them.
      if (top < lastId) lastId = 0;
      while (lastId < top) {
        const upTo = Math.min(top, lastId + this.#options.chunkRows);
        db.transaction(() => {
          fold.run(lastId, upTo);
          const last = newest.get(lastId, upTo) as { ts: number | null };
          this.#store.setMeta(ROLLED_ID, String(upTo));
          if (last.ts !== null)
            this.#store.setMeta(ROLLED_TS, String(Math.max(last.ts, meta(this.#store, ROLLED_TS))));
        })();
        done += upTo - lastId;
        lastId = upTo;
        await new Promise((resolve) => setImmediate(resolve));
      }
      this.rolledRows += done;
      this.lastError = undefined;
      return done;
    } catch (error) {
      this.lastError = errorMessage(error);
      this.#log.error({ err: this.lastError }, "hourly rollup failed");
      throw error;
    }
  }

  health(): ComponentHealth {
    return {
      state: this.lastError === undefined ? "ok" : "degraded",
      details: { rolledRows: this.rolledRows, lastError: this.lastError ?? null },
    };
  }
}
