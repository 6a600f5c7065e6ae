/**
 * What the daemon's API answers, as the CLI reads it: one declaration for the commands that print
 * it (tags, predict, alerts, suggestions) and for the demo's console view.
 */
import type { liveValue } from "../api/tagsRoute.js";
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
