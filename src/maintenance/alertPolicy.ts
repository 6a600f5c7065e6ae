/**
 * From failure probability to risk level and alert life cycle, one machine at a time: an alert
 * opens at HIGH, escalates when the probability climbs further, and clears only after the risk has
 * stayed low for several ticks and the alert has been open a minimum time (hysteresis), so a risk
 * hovering around the threshold does not flap. Pure: the daemon and the model card's evaluation
 * run the same rules.
 */

export type RiskLevel = "LOW" | "MEDIUM" | "HIGH";

export interface AlertSettings {
  medium: number;
  high: number;
  escalate: number;
  clearBelow: number;
  clearAfterTicks: number;
  minHoldMs: number;
}

export const DEFAULT_ALERTS: AlertSettings = {
  medium: 0.3,
  high: 0.6,
  escalate: 0.85,
  clearBelow: 0.3,
  clearAfterTicks: 3,
  minHoldMs: 30 * 60_000,
};

export function riskLevel(p: number, s: AlertSettings = DEFAULT_ALERTS): RiskLevel {
  return p >= s.high ? "HIGH" : p >= s.medium ? "MEDIUM" : "LOW";
}

export type AlertChange = "opened" | "escalated" | "cleared";

export class AlertTracker {
  readonly #s: AlertSettings;
  openedAt: number | null = null;
  escalated = false;
  #lowTicks = 0;

  constructor(settings: AlertSettings = DEFAULT_ALERTS) {
    this.#s = settings;
  }

  get open(): boolean {
    return this.openedAt !== null;
  }

  /** One tick: the probability now, and whether a rule says HIGH regardless. */
  update(ts: number, p: number, ruleHigh = false): AlertChange | undefined {
    const high = ruleHigh || p >= this.#s.high;
    if (this.openedAt === null) {
      if (!high) return undefined;
      this.openedAt = ts;
      this.escalated = false;
      this.#lowTicks = 0;
      return "opened";
    }
    if (!this.escalated && p >= this.#s.escalate) {
      this.escalated = true;
      return "escalated";
    }
    this.#lowTicks = !ruleHigh && p < this.#s.clearBelow ? this.#lowTicks + 1 : 0;
    if (this.#lowTicks >= this.#s.clearAfterTicks && ts - this.openedAt >= this.#s.minHoldMs) {
      this.openedAt = null;
      this.escalated = false;
      this.#lowTicks = 0;
      return "cleared";
    }
    return undefined;
  }
}
