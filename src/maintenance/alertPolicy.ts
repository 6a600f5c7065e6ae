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
  /** When it opened on the hold clock (the daemon's monotonic one; in a replay, the replay's time). */
  #openedHold = 0;
  escalated = false;
  #lowTicks = 0;

  constructor(settings: AlertSettings = DEFAULT_ALERTS) {
    this.#s = settings;
  }

  get open(): boolean {
    return this.openedAt !== null;
  }

  /**
   * An alert already open (from the store, after a restart): opened at `openedAt` (wall time),
   * which is `ageMs` ago on the hold clock's `holdNow`.
   */
  restore(openedAt: number, holdNow: number, ageMs: number): void {
    this.openedAt = openedAt;
    this.#openedHold = holdNow - ageMs;
  }

  /**
   * One tick: the probability now, and whether a rule says HIGH regardless. `ts` is the wall time
   * recorded with the alert; `holdTs` the time the minimum hold is measured on (the daemon passes
   * its monotonic clock, so a wall clock stepped back or forward neither holds nor clears an
   * alert early; a replay passes its own time for both).
   */
  update(ts: number, p: number, ruleHigh = false, holdTs = ts): AlertChange | undefined {
    const high = ruleHigh || p >= this.#s.high;
    if (this.openedAt === null) {
      if (!high) return undefined;
      this.openedAt = ts;
      this.#openedHold = holdTs;
      this.escalated = false;
      this.#lowTicks = 0;
      return "opened";
    }
    if (!this.escalated && p >= this.#s.escalate) {
      this.escalated = true;
      return "escalated";
    }
    this.#lowTicks = !ruleHigh && p < this.#s.clearBelow ? this.#lowTicks + 1 : 0;
    if (this.#lowTicks >= this.#s.clearAfterTicks && holdTs - this.#openedHold >= this.#s.minHoldMs) {
      this.openedAt = null;
      this.escalated = false;
      this.#lowTicks = 0;
      return "cleared";
    }
    return undefined;
  }
}
