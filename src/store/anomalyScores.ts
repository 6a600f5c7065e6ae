/** The baselines' anomaly scores: one row per machine and tick, with its threshold and reasons. */
import type { Store } from "./store.js";

export interface AnomalyScore {
  machine_id: number;
  ts: number;
  model_id: number | null;
  score: number;
  threshold: number;
  level: "LOW" | "MEDIUM" | "HIGH";
  shadow: boolean;
  reasons: unknown[];
}

export function insertAnomalyScore(store: Store, s: AnomalyScore): void {
  store.db
    .prepare(
      "INSERT INTO anomaly_scores (machine_id, ts, model_id, score, threshold, level, shadow, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .run(
      s.machine_id,
      s.ts,
      s.model_id,
      s.score,
      s.threshold,
      s.level,
      s.shadow ? 1 : 0,
      JSON.stringify(s.reasons),
    );
}

/** The newest scores, of one machine or of all, newest first. */
export function latestAnomalyScores(
  store: Store,
  machine: number | undefined,
  limit: number,
): AnomalyScore[] {
  const rows = (
    machine === undefined
      ? store.db.prepare("SELECT * FROM anomaly_scores ORDER BY id DESC LIMIT ?").all(limit)
      : store.db
          .prepare("SELECT * FROM anomaly_scores WHERE machine_id = ? ORDER BY id DESC LIMIT ?")
          .all(machine, limit)
  ) as (Omit<AnomalyScore, "shadow" | "reasons"> & { shadow: number; reasons: string })[];
  return rows.map((r) => ({ ...r, shadow: r.shadow === 1, reasons: JSON.parse(r.reasons) as unknown[] }));
}
