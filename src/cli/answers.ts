/**
 * What the daemon's API answers, as the CLI reads it: one declaration for the commands that print
 * it (tags, predict, alerts, suggestions) and for the demo's console view.
 */
import type { liveValue } from "../api/tagsRoute.js";
import type { MachineReliability } from "../maintenance/reliability.js";
import type { StoredMaintenanceRecord } from "../store/maintenanceRecords.js";
import type { Suggestion } from "../store/suggestions.js";

/** GET /tags: one tag's live value (timestamps as ISO text). */
export type TagAnswer = ReturnType<typeof liveValue>;

/** GET /ai/predictions: one stored risk assessment. */
export interface PredictionAnswer {
  machine_id: number;
  ts: string;
  risk_level: string;
  failure_probability: number;
  confidence: number;
  recommended_action: string;
  reasons: { text: string }[];
}

/** GET /ai/anomalies: one baseline score with the tags that deviate. */
export interface AnomalyAnswer {
  machine_id: number;
  ts: string;
  score: number;
  threshold: number;
  level: string;
  shadow: boolean;
  reasons: { text: string }[];
}

/** GET /ai/alerts: one alert with the details it was opened or changed with. */
export interface AlertAnswer {
  id: number;
  machine_id: number;
  severity: string;
  state: string;
  opened_at: string;
  acknowledged_by: string | null;
  outcome: "confirmed" | "false_alarm" | null;
  outcome_mode: string | null;
  outcome_by: string | null;
  work_order_ref: string | null;
  details: {
    failure_probability?: number;
    reasons?: { text: string }[];
    recommended_action?: string;
    reason?: string;
    escalated?: boolean;
  };
}

/** GET /ai/suggestions: a suggestion with its times as ISO text. */
export type SuggestionAnswer = Omit<Suggestion, "createdAt" | "expiresAt"> & {
  createdAt: string;
  expiresAt: string;
};

/** GET /ai/maintenance: one record, its times as ISO text. */
export type MaintenanceAnswer = Omit<StoredMaintenanceRecord, "started_at" | "completed_at"> & {
  started_at: string;
  completed_at: string;
};

/** GET /ai/reliability: a machine's MTTR and MTBF. */
export type ReliabilityAnswer = Omit<MachineReliability, "lastFailureAt"> & { lastFailureAt: string | null };

/** "12.5 h" (or "-"), and MTBF's lower bound when there was no failure yet. */
export function reliabilityText(r: ReliabilityAnswer): string {
  const mttr = r.mttrH === null ? "-" : `${r.mttrH} h`;
  const mtbf = r.mtbfH === null ? `no failure in ${r.failureFreeH ?? 0} h` : `${r.mtbfH} h`;
  return `MTBF ${mtbf}, MTTR ${mttr} (${r.failures} failure${r.failures === 1 ? "" : "s"} in ${r.observedH} h observed${r.unrecordedRepairs > 0 ? `, ${r.unrecordedRepairs} without a repair record` : ""})`;
}
