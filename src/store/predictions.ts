/** Stored risk assessments of the failure model: one row per machine and tick. */
import type { Store } from "./store.js";

export interface StoredPrediction {
  machine_id: number;
  ts: number;
  model_id: number | null;
  risk_level: string;
  failure_probability: number;
  confidence: number;
  recommended_action: string;
  reasons: unknown[];
}

/** Writes one prediction (in the caller's transaction, with its outbox message and alert change). */
export function insertPrediction(store: Store, p: StoredPrediction): void {
  store.db
    .prepare(
      "INSERT INTO predictions (machine_id, ts, model_id, risk_level, failure_probability, confidence, recommended_action, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .run(
      p.machine_id,
      p.ts,
      p.model_id,
      p.risk_level,
      p.failure_probability,
      p.confidence,
      p.recommended_action,
      JSON.stringify(p.reasons),
    );
}

/** The newest predictions, of one machine or of all, newest first. */
export function latestPredictions(
  store: Store,
  machine: number | undefined,
  limit: number,
): (StoredPrediction & { id: number })[] {
  const rows = (
    machine === undefined
      ? store.db.prepare("SELECT * FROM predictions ORDER BY id DESC LIMIT ?").all(limit)
      : store.db
          .prepare("SELECT * FROM predictions WHERE machine_id = ? ORDER BY id DESC LIMIT ?")
          .all(machine, limit)
  ) as (Omit<StoredPrediction, "reasons"> & { id: number; reasons: string })[];
  return rows.map((r) => ({ ...r, reasons: JSON.parse(r.reasons) as unknown[] }));
}

/** How many predictions were made since `ts` (for /metrics). */
export function predictionsSince(store: Store, ts: number): number {
  return (store.db.prepare("SELECT count(*) AS n FROM predictions WHERE ts > ?").get(ts) as { n: number }).n;
}

/** A machine's risk over a period: the highest failure probability (and its level) in each of at most `points` buckets. */
export function riskHistory(
  store: Store,
  machine: number,
  from: number,
  to: number,
  points: number,
): { ts: number; p: number; level: string }[] {
  const bucket = Math.max(1, Math.ceil((to - from) / points));
  return store.db
    .prepare(
      `SELECT ? + CAST((ts - ?) / ? AS INTEGER) * ? AS ts, max(failure_probability) AS p, risk_level AS level
         FROM predictions WHERE machine_id = ? AND ts >= ? AND ts < ? GROUP BY CAST((ts - ?) / ? AS INTEGER) ORDER BY 1`,
    )
    .all(from, from, bucket, bucket, machine, from, to, from, bucket) as {
    ts: number;
    p: number;
    level: string;
  }[];
}
