/**
 * Reads telemetry back for features, calibration and training: a tag's samples over a window
 * (with the one just before it, the value the window starts from), its latest value, and the
 * machine's maintenance and failure history. Statements are prepared once per reader.
 */
import type { Statement } from "better-sqlite3";
import type { Db } from "./store.js";

export interface StoredTag {
  id: number;
  name: string;
  machine: number;
  unit: string;
}

export interface RawSeries {
  ts: Float64Array;
  values: Float64Array;
}

/** Every tag the store knows, with its machine. */
export function listTags(db: Db): StoredTag[] {
  return db
    .prepare("SELECT id, name, machine_id AS machine, unit FROM tags ORDER BY id")
    .all() as StoredTag[];
}

/** A tag's first good value at or after `fromTs` (by name), or NaN. */
export function firstValueSince(db: Db, tag: string, fromTs: number): number {
  const row = db
    .prepare(
      "SELECT d.value AS v FROM sensor_data d JOIN tags t ON t.id = d.tag_id WHERE t.name = ? AND d.ts >= ? AND d.value IS NOT NULL ORDER BY d.ts LIMIT 1",
    )
    .get(tag, fromTs) as { v: number } | undefined;
  return row?.v ?? Number.NaN;
}

/** The first and last sample time in the store, or null when it has none. */
export function sampleRange(db: Db): { from: number; to: number } | null {
  const r = db.prepare("SELECT min(ts) AS a, max(ts) AS b FROM sensor_data").get() as {
    a: number | null;
    b: number | null;
  };
  return r.a === null || r.b === null ? null : { from: r.a, to: r.b };
}

/** The first and last sample time of one machine's tags, or null when it has none. */
export function machineRange(db: Db, machine: number): { from: number; to: number } | null {
  const r = db
    .prepare(
      "SELECT min(d.ts) AS a, max(d.ts) AS b FROM sensor_data d JOIN tags t ON t.id = d.tag_id WHERE t.machine_id = ?",
    )
    .get(machine) as { a: number | null; b: number | null };
  return r.a === null || r.b === null ? null : { from: r.a, to: r.b };
}

/**
 * Failures known to the store, in time order: `fault` machine events (from the PLC's state tag),
 * maintenance records marked as failures (what a technician or the plant's CMMS records, at the
 * time the repair started), and alerts a technician closed as confirmed without naming a repair
 * (the defect was found when the alert was closed). See mergeFailures for when two are one.
 */
export function failureTimes(db: Db): { machine: number; ts: number }[] {
  const faults = db
    .prepare("SELECT machine_id AS machine, ts FROM machine_events WHERE kind = 'fault' ORDER BY ts")
    .all() as { machine: number; ts: number }[];
  const records = db
    .prepare(
      `SELECT machine_id AS machine, started_at AS startedAt, completed_at AS completedAt FROM maintenance_records
       WHERE failure = 1
       UNION ALL SELECT machine_id, outcome_at, outcome_at FROM alerts
       WHERE outcome = 'confirmed' AND maintenance_record_id IS NULL
       ORDER BY 2`,
    )
    .all() as { machine: number; startedAt: number; completedAt: number }[];
  return mergeFailures(faults, records).map((f) => ({ machine: f.machine, ts: f.ts }));
}

/**
 * One list of failures from the PLC's fault events and the repairs recorded for them. A repair is
 * the same failure as a fault of its machine in the day before the repair started or during it,
 * and counts once (at the fault's time, carrying the repair).
 */
export function mergeFailures<R extends { machine: number; startedAt: number; completedAt: number }>(
  faults: readonly { machine: number; ts: number }[],
  repairs: readonly R[],
): { machine: number; ts: number; repair?: R }[] {
  const out: { machine: number; ts: number; repair?: R }[] = faults.map((f) => ({ ...f }));
  for (const r of repairs) {
    const fault = out.find(
      (f) => f.machine === r.machine && f.ts >= r.startedAt - 86_400_000 && f.ts <= r.completedAt,
    );
    if (fault === undefined) out.push({ machine: r.machine, ts: r.startedAt, repair: r });
    else fault.repair ??= r; // a second record of the same failure (a follow-up visit) adds none
  }
  return out.sort((a, b) => a.ts - b.ts || a.machine - b.machine);
}

export class SeriesReader {
  readonly #range;
  readonly #before;
  readonly #maintenance;
  readonly #sumCount;

  readonly #db: Db;
  #goodSince: Statement | undefined;
  #faults: Statement | undefined;

  constructor(db: Db) {
    this.#db = db;
    this.#sumCount = db.prepare(
      "SELECT sum(value) AS sum, count(value) AS count FROM sensor_data WHERE tag_id = ? AND ts >= ? AND ts < ?",
    );
    this.#range = db.prepare(
      `SELECT ts, value FROM (SELECT ts, value FROM sensor_data WHERE tag_id = ? AND ts <= ? ORDER BY ts DESC LIMIT 1)
       UNION ALL SELECT ts, value FROM (SELECT ts, value FROM sensor_data WHERE tag_id = ? AND ts > ? AND ts <= ? ORDER BY ts)`,
    );
    this.#before = db.prepare(
      "SELECT value FROM sensor_data WHERE tag_id = ? AND ts <= ? AND value IS NOT NULL ORDER BY ts DESC LIMIT 1",
    );
    this.#maintenance = db.prepare(
      "SELECT max(completed_at) AS at FROM maintenance_records WHERE machine_id = ? AND completed_at <= ?",
    );
  }

  /** The samples in (fromTs, toTs] and the last one at or before fromTs; a Bad sample is NaN. */
  series(tagId: number, fromTs: number, toTs: number): RawSeries {
    const rows = this.#range.raw().all(tagId, fromTs, tagId, fromTs, toTs) as [number, number | null][];
    const ts = new Float64Array(rows.length);
    const values = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      ts[i] = row[0];
      values[i] = row[1] ?? Number.NaN;
    }
    return { ts, values };
  }

  /** The sum and count of the good samples in [fromTs, toTs). */
  sumCount(tagId: number, fromTs: number, toTs: number): { sum: number; count: number } {
    const r = this.#sumCount.get(tagId, fromTs, toTs) as { sum: number | null; count: number };
    return { sum: r.sum ?? 0, count: r.count };
  }

  /** Every good sample of a tag from `fromTs` on, in time order (a calibration's whole history). */
  goodSamplesSince(tagId: number, fromTs: number): { ts: number; value: number }[] {
    this.#goodSince ??= this.#db.prepare(
      "SELECT ts, value FROM sensor_data WHERE tag_id = ? AND ts >= ? AND value IS NOT NULL ORDER BY ts",
    );
    return this.#goodSince.all(tagId, fromTs) as { ts: number; value: number }[];
  }

  /** When a machine's faults began, in time order. */
  faultTimes(machine: number): number[] {
    this.#faults ??= this.#db.prepare(
      "SELECT ts FROM machine_events WHERE machine_id = ? AND kind = 'fault' ORDER BY ts",
    );
    return (this.#faults.all(machine) as { ts: number }[]).map((r) => r.ts);
  }

  /** The last good value at or before `atTs`, or NaN. */
  latest(tagId: number, atTs: number): number {
    return (this.#before.get(tagId, atTs) as { value: number } | undefined)?.value ?? Number.NaN;
  }

  /** When the machine's last maintenance before `atTs` was completed, or null. */
  lastMaintenance(machine: number, atTs: number): number | null {
    return (this.#maintenance.get(machine, atTs) as { at: number | null }).at;
  }
}
