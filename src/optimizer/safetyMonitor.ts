/**
 * SAFETY alerts from the line's own safety signals (`safety.alarms` in the YAML: a guard door, an
 * e-stop, an over-pressure switch). While one is active the safety envelope refuses every write:
 * this component is the one owner of "which SAFETY conditions are active", kept in memory and
 * recorded as alerts. Every reading of a safety signal is evaluated, before the deadband and
 * whether or not the store can take it (a full disk must not hide a tripped guard door); an alert
 * that cannot be recorded yet still blocks writes, and is recorded when the store takes it. They
 * open and clear only from the signal itself: acknowledging one (a person, or the plant) records
 * who saw it but does not clear it, and no model can.
 */

import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig } from "../config/schema.js";
import { activeSafetyAlerts, changeAlert, openAlert } from "../store/alerts.js";
import type { SampleWriter } from "../store/sampleWriter.js";
import type { Store } from "../store/store.js";

type Alarm = LineConfig["safety"]["alarms"][number];

interface Watch {
  alarm: Alarm;
  tripped: boolean;
  /** The alert recording the trip; null while none (not tripped, or not recorded yet). */
  alertId: number | null;
  since: number | null;
}

export class SafetyMonitor implements Component {
  readonly name = "safety";
  readonly #config: LineConfig;
  readonly #writer: SampleWriter;
  readonly #store: Store;
  readonly #log: Logger;
  /** tag index -> the alarms on it. */
  readonly #byTag = new Map<number, Watch[]>();
  #unsubscribe: (() => void) | undefined;
  trips = 0;
  recordErrors = 0;
  lastError: string | null = null;

  constructor(config: LineConfig, writer: SampleWriter, store: Store, log: Logger) {
    this.#config = config;
    this.#writer = writer;
    this.#store = store;
    this.#log = log.child({ component: "safety" });
  }

  async start(): Promise<void> {
    const open = activeSafetyAlerts(this.#store);
    for (const alarm of this.#config.safety.alarms) {
      const existing = open.find((a) => a.reason === alarm.reason);
      const index = this.#writer.tagIndex(alarm.tag);
      const list = this.#byTag.get(index) ?? [];
      // An alert still open from before a restart stands until its signal is read clear.
      list.push({ alarm, tripped: existing !== undefined, alertId: existing?.id ?? null, since: null });
      this.#byTag.set(index, list);
    }
    if (this.#byTag.size > 0)
      this.#unsubscribe = this.#writer.onReading((i, ts, v, status) => this.#onReading(i, ts, v, status));
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** The reasons of the SAFETY conditions active now: what the envelope refuses writes for. */
  activeReasons(): string[] {
    const out: string[] = [];
    for (const list of this.#byTag.values()) for (const w of list) if (w.tripped) out.push(w.alarm.reason);
    return out;
  }

  #onReading(tagIndex: number, ts: number, value: number, status: number): void {
    const watches = this.#byTag.get(tagIndex);
    if (watches === undefined) return;
    for (const w of watches) {
      const a = w.alarm;
      // A safety signal that cannot be read is treated as tripped: fail safe.
      const tripped =
        status >>> 30 === 2 ||
        Number.isNaN(value) ||
        (a.above !== undefined && value > a.above) ||
        (a.below !== undefined && value < a.below) ||
        (a.equals !== undefined && value === a.equals);
      if (tripped && !w.tripped) {
        w.tripped = true;
        w.since = ts;
        this.trips++;
        this.#log.warn({ tag: a.tag, value }, `safety alert opened: ${a.reason}`);
      } else if (!tripped && w.tripped) {
        w.tripped = false;
        this.#log.warn({ tag: a.tag, value }, `safety alert cleared: ${a.reason}`);
      }
      this.#record(w, ts, value);
    }
  }

  /** Brings the alerts in line with the signal; a store that refuses is retried at the next reading. */
  #record(w: Watch, ts: number, value: number): void {
    const want = w.tripped;
    const have = w.alertId !== null;
    if (want === have) return;
    const event = {
      actor: "safety_monitor",
      ts: want ? (w.since ?? ts) : ts,
      reason: w.alarm.reason,
      details: { reason: w.alarm.reason, tag: w.alarm.tag, value: Number.isNaN(value) ? null : value },
    };
    try {
      if (want)
        w.alertId = openAlert(this.#store, { ...event, machineId: 0, kind: "safety", severity: "SAFETY" });
      else {
        changeAlert(this.#store, w.alertId!, "cleared", event);
        w.alertId = null;
      }
    } catch (error) {
      this.recordErrors++;
      if (this.lastError === null || this.recordErrors % 100 === 1)
        this.#log.error(
          { err: errorMessage(error) },
          "a SAFETY alert cannot be recorded yet; it blocks writes all the same",
        );
      this.lastError = errorMessage(error);
    }
  }

  health(): ComponentHealth {
    const active = this.activeReasons();
    const unrecorded = [...this.#byTag.values()].flat().filter((w) => w.tripped && w.alertId === null).length;
    return {
      state: unrecorded > 0 ? "degraded" : "ok",
      details: {
        watched: this.#config.safety.alarms.length,
        active,
        trips: this.trips,
        unrecorded,
        recordErrors: this.recordErrors,
        lastError: this.lastError,
      },
    };
  }
}

/** For a run with no safety signals configured (the shift evaluation on the twin). */
export const NO_SAFETY_SIGNALS = { activeReasons: (): string[] => [] } as const;
