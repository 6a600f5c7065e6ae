/**
 * SAFETY alerts from the line's own safety signals (`safety.alarms` in the YAML: a guard door, an
 * e-stop, an over-pressure switch). While one is active the safety envelope refuses every write.
 * They open and clear only from the signal itself: acknowledging one (a person, or the plant)
 * records who saw it but does not clear it, and no model can.
 */
import type { Logger } from "../common/logger.js";
import type { LineConfig } from "../config/schema.js";
import { changeAlert, openAlert } from "../store/alerts.js";
import type { SampleWriter } from "../store/sampleWriter.js";
import type { Store } from "../store/store.js";

type Alarm = LineConfig["safety"]["alarms"][number];

export class SafetyMonitor {
  readonly #store: Store;
  readonly #log: Logger;
  /** tag index -> its alarms, and the open alert id per alarm. */
  readonly #byTag = new Map<number, { alarm: Alarm; open: number | null }[]>();

  constructor(config: LineConfig, writer: SampleWriter, store: Store, log: Logger) {
    this.#store = store;
    this.#log = log.child({ component: "safety" });
    const open = store.db
      .prepare("SELECT id, details FROM alerts WHERE severity = 'SAFETY' AND state != 'cleared'")
      .all() as { id: number; details: string }[];
    for (const alarm of config.safety.alarms) {
      const index = writer.tagIndex(alarm.tag);
      const existing = open.find(
        (a) => (JSON.parse(a.details) as { reason?: string }).reason === alarm.reason,
      );
      const list = this.#byTag.get(index) ?? [];
      list.push({ alarm, open: existing?.id ?? null });
      this.#byTag.set(index, list);
    }
    if (this.#byTag.size > 0) writer.onSample((i, ts, v, status) => this.#onSample(i, ts, v, status));
  }

  #onSample(tagIndex: number, ts: number, value: number, status: number): void {
    const alarms = this.#byTag.get(tagIndex);
    if (alarms === undefined) return;
    for (const a of alarms) {
      // A safety signal that cannot be read is treated as tripped: fail safe.
      const tripped =
        status >>> 30 === 2 ||
        Number.isNaN(value) ||
        (a.alarm.above !== undefined && value > a.alarm.above) ||
        (a.alarm.below !== undefined && value < a.alarm.below) ||
        (a.alarm.equals !== undefined && value === a.alarm.equals);
      if (tripped && a.open === null) a.open = this.#change(a.alarm, ts, value, "opened", null);
      else if (!tripped && a.open !== null) a.open = this.#change(a.alarm, ts, value, "cleared", a.open);
    }
  }

  #change(
    alarm: Alarm,
    ts: number,
    value: number,
    change: "opened" | "cleared",
    id: number | null,
  ): number | null {
    const event = {
      actor: "safety_monitor",
      ts,
      reason: alarm.reason,
      details: { reason: alarm.reason, tag: alarm.tag, value: Number.isNaN(value) ? null : value },
    };
    this.#log.warn({ tag: alarm.tag, value }, `safety alert ${change}: ${alarm.reason}`);
    if (change === "opened")
      return openAlert(this.#store, { ...event, machineId: 0, kind: "safety", severity: "SAFETY" });
    changeAlert(this.#store, id!, "cleared", event);
    return null;
  }
}
