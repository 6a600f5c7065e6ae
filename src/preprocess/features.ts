/**
 * The predictive-maintenance feature vector of one machine at one moment, from the store: the
 * same code for training windows and for the live tick, so a model sees in production exactly
 * what it was trained on. Names are what a model declares; order is the model's.
 */
import type { Db } from "../store/store.js";
import { signalTags } from "../twin/calibrate.js";
import type { Signal } from "../twin/machine.js";
import { hampel, type Series, summarise, toGrid } from "./window.js";

export const PM_FEATURES = [
  "vibration_rms_mean",
  "vibration_rms_max",
  "vibration_rms_std",
  "vibration_rms_slope",
  "vibration_rms_mean_6h",
  "motor_temperature_mean",
  "motor_temperature_slope",
  "motor_current_mean",
  "speed_mean",
  "pressure_mean",
  "process_temperature_mean",
  "running_hours",
  "hours_since_maintenance",
] as const;
export type FeatureName = (typeof PM_FEATURES)[number];

export interface WindowSettings {
  windowMin: number;
  stepMs: number;
  maxGapMs: number;
  /** An unchanged value (no new sample, no Bad one) stays valid this long. */
  holdMs: number;
  fill: "linear" | "locf";
}

export const DEFAULT_WINDOW: WindowSettings = {
  windowMin: 5,
  stepMs: 60_000,
  maxGapMs: 180_000,
  holdMs: 6 * 3_600_000,
  fill: "linear",
};

export interface FeatureVector {
  machine: number;
  ts: number;
  values: Float32Array;
  /** False when a tag had a gap longer than maxGapMs: the window is reported, not invented. */
  complete: boolean;
  outliers: number;
  filled: number;
}

/** Reads tag series from the store by twin role (config `role`, or a `.signal` name suffix). */
export class StoreSeries {
  readonly #db: Db;
  readonly #tags: Map<number, Map<Signal, number>>;
  readonly #range;
  readonly #before;
  readonly #maintenance;

  constructor(db: Db, roles?: ReadonlyMap<string, Signal>) {
    this.#db = db;
    this.#tags = signalTags(db, roles);
    // The window's samples, and the one just before it: the value the window starts from.
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

  get machines(): number[] {
    return [...this.#tags.keys()];
  }

  has(machine: number, signal: Signal): boolean {
    return this.#tags.get(machine)?.has(signal) === true;
  }

  series(machine: number, signal: Signal, fromTs: number, toTs: number): Series {
    const id = this.#tags.get(machine)?.get(signal);
    if (id === undefined) return { ts: [], values: [] };
    const rows = this.#range.all(id, fromTs, id, fromTs, toTs) as { ts: number; value: number | null }[];
    const ts = new Float64Array(rows.length);
    const values = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      ts[i] = rows[i]!.ts;
      values[i] = rows[i]!.value ?? Number.NaN;
    }
    return { ts, values };
  }

  latest(machine: number, signal: Signal, atTs: number): number {
    const id = this.#tags.get(machine)?.get(signal);
    if (id === undefined) return Number.NaN;
    return (this.#before.get(id, atTs) as { value: number } | undefined)?.value ?? Number.NaN;
  }

  /** Hours since the last completed maintenance, or since `firstTs` when there was none. */
  hoursSinceMaintenance(machine: number, atTs: number, firstTs: number): number {
    const at = (this.#maintenance.get(machine, atTs) as { at: number | null }).at ?? firstTs;
    return (atTs - at) / 3_600_000;
  }

  get db(): Db {
    return this.#db;
  }
}

export function extractFeatures(
  source: StoreSeries,
  machine: number,
  endTs: number,
  settings: WindowSettings = DEFAULT_WINDOW,
  firstTs = endTs,
): FeatureVector {
  const windowMs = settings.windowMin * 60_000;
  const values = new Float32Array(PM_FEATURES.length);
  let complete = true;
  let outliers = 0;
  let filled = 0;
  // The 6-hour trend uses what there is (a daemon just started has less); only the short window
  // decides whether the vector is complete.
  const stats = (signal: Signal, spanMs: number, decidesCompleteness = true) => {
    const startTs = endTs - spanMs;
    const raw = source.series(machine, signal, startTs, endTs);
    const grid = toGrid(raw, {
      startTs,
      endTs,
      stepMs: settings.stepMs,
      maxGapMs: settings.maxGapMs,
      holdMs: settings.holdMs,
      fill: settings.fill,
    });
    if (!grid.complete && decidesCompleteness) complete = false;
    filled += grid.filled;
    outliers += hampel(grid.values);
    return summarise(grid.values, settings.stepMs);
  };
  const vibration = stats("vibration_rms", windowMs);
  const vibrationLong = stats("vibration_rms", 6 * 3_600_000, false);
  const motor = stats("motor_temperature", windowMs);
  const current = stats("motor_current", windowMs);
  const speed = stats("speed", windowMs);
  const pressure = source.has(machine, "pressure") ? stats("pressure", windowMs).mean : Number.NaN;
  const processTemperature = source.has(machine, "process_temperature")
    ? stats("process_temperature", windowMs).mean
    : Number.NaN;
  const named: Record<FeatureName, number> = {
    vibration_rms_mean: vibration.mean,
    vibration_rms_max: vibration.max,
    vibration_rms_std: vibration.std,
    vibration_rms_slope: vibration.slopePerHour,
    vibration_rms_mean_6h: vibrationLong.mean,
    motor_temperature_mean: motor.mean,
    motor_temperature_slope: motor.slopePerHour,
    motor_current_mean: current.mean,
    speed_mean: speed.mean,
    pressure_mean: pressure,
    process_temperature_mean: processTemperature,
    running_hours: source.latest(machine, "running_hours", endTs),
    hours_since_maintenance: source.hoursSinceMaintenance(machine, endTs, firstTs),
  };
  PM_FEATURES.forEach((name, i) => {
    values[i] = named[name];
  });
  return { machine, ts: endTs, values, complete, outliers, filled };
}
