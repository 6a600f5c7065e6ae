/**
 * Writes imported history into the store: samples in large transactions, each inserted only when
 * the tag has no sample at that exact time yet (the (tag, time) index answers), so importing the
 * same file twice, or two overlapping exports, adds nothing twice and never replaces a value the
 * gateway recorded itself. Maintenance records likewise, by machine, start and work order.
 */
import type { Db } from "./store.js";

/** A maintenance or failure record as an export gives it. */
export interface ImportedMaintenance {
  machineId: number;
  workOrder: string | null;
  startedAt: number;
  completedAt: number;
  downtimeMin: number;
  failure: boolean;
  failureMode: string | null;
  parts: string[];
  technician: string | null;
  notes: string;
}

export class HistoryWriter {
  readonly #db: Db;
  readonly #insert;
  readonly #maintenance;
  readonly #batch;
  readonly #plain;
  readonly #any;
  /** Samples offered, and those that were new. */
  offered = 0;
  inserted = 0;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO sensor_data (tag_id, ts, value, status)
       SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM sensor_data WHERE tag_id = ? AND ts = ?)`,
    );
    this.#plain = db.prepare("INSERT INTO sensor_data (tag_id, ts, value, status) VALUES (?, ?, ?, ?)");
    this.#any = db.prepare("SELECT 1 FROM sensor_data WHERE tag_id = ? AND ts BETWEEN ? AND ? LIMIT 1");
    this.#maintenance = db.prepare(
      `INSERT INTO maintenance_records (machine_id, work_order, started_at, completed_at, downtime_min, failure,
         parts, technician, notes, source, created_at, failure_mode)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, 'import', ?, ?
       WHERE NOT EXISTS (SELECT 1 FROM maintenance_records WHERE machine_id = ? AND started_at = ?
                         AND coalesce(work_order, '') = coalesce(?, ''))`,
    );
    this.#batch = db.transaction(
      (n: number, tags: Int32Array, ts: Float64Array, values: Float64Array, status: Uint32Array) => {
        // A tag with nothing stored in the batch's time span (a first import) takes the plain
        // insert; only a tag that has samples there is checked sample by sample. One range
        // query per tag and batch instead of one lookup per sample.
        const span = new Map<number, [number, number]>();
        for (let i = 0; i < n; i++) {
          const s = span.get(tags[i]!);
          if (s === undefined) span.set(tags[i]!, [ts[i]!, ts[i]!]);
          else {
            if (ts[i]! < s[0]) s[0] = ts[i]!;
            if (ts[i]! > s[1]) s[1] = ts[i]!;
          }
        }
        const checked = new Set<number>();
        for (const [tag, [from, to]] of span)
          if (this.#any.get(tag, from, to) !== undefined) checked.add(tag);
        // The plain path stays plain while a tag's times rise; a file that goes back in time or
        // repeats a time (the same row twice) sends that tag to the checked path, which sees the
        // rows this transaction has written already.
        const last = new Map<number, number>();
        let inserted = 0;
        for (let i = 0; i < n; i++) {
          const v = values[i]!;
          const tag = tags[i]!;
          const t = ts[i]!;
          const value = Number.isNaN(v) ? null : v;
          if (!checked.has(tag)) {
            const previous = last.get(tag);
            if (previous !== undefined && t <= previous) checked.add(tag);
            else last.set(tag, t);
          }
          if (checked.has(tag)) inserted += this.#insert.run(tag, t, value, status[i]!, tag, t).changes;
          else {
            this.#plain.run(tag, t, value, status[i]!);
            inserted++;
          }
        }
        return inserted;
      },
    );
  }

  /** One transaction for the first `n` samples of the columns; returns how many were new. */
  write(n: number, tags: Int32Array, ts: Float64Array, values: Float64Array, status: Uint32Array): number {
    const inserted = this.#batch(n, tags, ts, values, status) as number;
    this.offered += n;
    this.inserted += inserted;
    return inserted;
  }

  /** Samples of these tags already in the store between two times (what a dry run would skip). */
  existing(tagIds: readonly number[], fromTs: number, toTs: number): number {
    if (tagIds.length === 0) return 0;
    const row = this.#db
      .prepare(
        `SELECT count(*) AS n FROM sensor_data WHERE tag_id IN (${tagIds.map(() => "?").join(",")}) AND ts BETWEEN ? AND ?`,
      )
      .get(...tagIds, fromTs, toTs) as { n: number };
    return row.n;
  }

  /** A maintenance record from an export; false when the same record is there already. */
  maintenance(r: ImportedMaintenance): boolean {
    return (
      this.#maintenance.run(
        r.machineId,
        r.workOrder,
        r.startedAt,
        r.completedAt,
        r.downtimeMin,
        r.failure ? 1 : 0,
        JSON.stringify(r.parts),
        r.technician,
        r.notes,
        Date.now(),
        r.failureMode,
        r.machineId,
        r.startedAt,
        r.workOrder,
      ).changes === 1
    );
  }
}
