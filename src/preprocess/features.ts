/**
 * A machine's feature vector at one moment, read from the store: the same code for training
 * windows, baselines and the live tick, so a model sees in production exactly what it was
 * trained on. A model declares its feature names; each name says how it is computed:
 *
 *   <key>_<stat>            over the window (`maintenance.window.minutes`)
 *   <key>_<stat>_<N>h       over the last N hours (a trend)
 *   <key>                   the tag's latest value (counters such as running_hours)
 *   hours_since_maintenance since the machine's last completed maintenance
 *
 * `key` is the tag's role (vibration_rms, flow, bearing_temperature, ...) or, for a tag declared
 * `modelInput` without a role, the last part of its name. `stat` is one of FEATURE_STATS. Which
 * features a machine gets follows from its tags (`featuresFor`), not from a fixed list; a machine
 * that lacks a feature a model declares is not scored by that model, and the vector says which.
 */
import { isSetpointRole, isVibrationRole, NON_SIGNAL_ROLES, type Role, roleOf } from "../line/vocabulary.js";
import { listTags, SeriesReader } from "../store/seriesReader.js";
import type { Db } from "../store/store.js";
import { hampel, type Summary, summarise, toGrid } from "./window.js";

/** The failure forest shipped for the simulated press line (models/predictive_maintenance.onnx). */
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

export const FEATURE_STATS = [
  "mean",
  "min",
  "max",
  "std",
  "slope",
  /** window mean minus the mean over the baseline span (`window.baselineH`): drift from its own normal */
  "dev",
  "rms",
  "crest",
  "kurtosis",
] as const;
export type FeatureStat = (typeof FEATURE_STATS)[number];

export interface WindowSettings {
  windowMin: number;
  stepMs: number;
  maxGapMs: number;
  /** An unchanged value (no new sample, no Bad one) stays valid this long. */
  holdMs: number;
  fill: "linear" | "locf";
  /** The span `dev` compares the window with. */
  baselineMs: number;
}

export const DEFAULT_WINDOW: WindowSettings = {
  windowMin: 5,
  stepMs: 60_000,
  maxGapMs: 180_000,
  holdMs: 6 * 3_600_000,
  fill: "linear",
  baselineMs: 24 * 3_600_000,
};

/** The window settings of a maintenance config section (`maintenance.window`). */
export function windowSettings(w: {
  minutes: number;
  stepMs: number;
  maxGapMs: number;
  holdMs: number;
  fill: "linear" | "locf";
  baselineH: number;
}): WindowSettings {
  return {
    windowMin: w.minutes,
    stepMs: w.stepMs,
    maxGapMs: w.maxGapMs,
    holdMs: w.holdMs,
    fill: w.fill,
    baselineMs: w.baselineH * 3_600_000,
  };
}

/** The window a model file says it was trained with (train.ts's windowMetadata), if it says. */
export function windowOfModel(metadata: Record<string, string>): WindowSettings | undefined {
  if (metadata.window !== undefined) return { ...DEFAULT_WINDOW, ...(JSON.parse(metadata.window) as object) };
  // Models from before the window was recorded were trained on the default 5-minute window.
  if (metadata.window_min !== undefined) return { ...DEFAULT_WINDOW, windowMin: Number(metadata.window_min) };
  return undefined;
}

export interface FeatureVector {
  machine: number;
  ts: number;
  values: Float32Array;
  /** False when a tag had a gap longer than maxGapMs: the window is reported, not invented. */
  complete: boolean;
  /** Declared features this machine has no tag for: the vector must not be scored. */
  missing: string[];
  outliers: number;
  filled: number;
}

interface Parsed {
  key: string;
  stat: FeatureStat | "latest" | "since_maintenance";
  /** The span in ms for trend features; 0 for the window. */
  spanMs: number;
}

const STATS: ReadonlySet<string> = new Set(FEATURE_STATS);

/** How a feature name is computed (the grammar above). */
export function parseFeature(name: string): Parsed {
  if (name === "hours_since_maintenance") return { key: "", stat: "since_maintenance", spanMs: 0 };
  const parts = name.split("_");
  let spanMs = 0;
  const span = /^(\d+)h$/.exec(parts.at(-1) ?? "");
  if (span !== null && parts.length > 2) {
    spanMs = Number(span[1]) * 3_600_000;
    parts.pop();
  }
  const stat = parts.at(-1)!;
  if (parts.length > 1 && STATS.has(stat)) {
    parts.pop();
    return { key: parts.join("_"), stat: stat as FeatureStat, spanMs };
  }
  return { key: name, stat: "latest", spanMs: 0 };
}

/** A tag as the features see it: its name, machine, role and whether it is declared a model input. */
export interface FeatureTag {
  name: string;
  machine: number;
  role?: string | undefined;
  modelInput?: boolean | undefined;
  /** A waveform tag: its own samples are block RMS values (preprocess/waveform.ts). */
  waveform?: unknown;
  /** A series computed from a waveform tag's blocks (`<tag>.kurtosis`, `<tag>.bpfo`, ...). */
  derivedFrom?: string | undefined;
}

/**
 * The feature key of a tag: its role (by the line's one rule), or the last part of its name for a
 * model input without a role; undefined when the tag is not a model input (setpoints, states,
 * alarm words, counters other than running hours).
 */
export function featureKey(tag: FeatureTag): string | undefined {
  const role = roleOf(tag);
  if (role !== undefined) {
    if (tag.modelInput === false) return undefined;
    return role;
  }
  if (tag.modelInput !== true) return undefined;
  return tag.name
    .slice(tag.name.lastIndexOf(".") + 1)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_");
}

export interface FeatureChoice {
  /** Counters and maintenance age: useful to a failure forest, not to a normal-behaviour baseline. */
  includeAge: boolean;
}

/**
 * The features one machine's tags give: per signal tag the window's mean, min, max, std, slope
 * and drift from its own baseline; vibration tags add RMS, crest factor and kurtosis; a waveform
 * tag's derived series (preprocess/waveform.ts: peak, crest, kurtosis, bands, defect lines) are
 * signals of their own; with
 * `includeAge`, running hours (when there is a counter) and hours since maintenance.
 */
export function featuresFor(tags: readonly FeatureTag[], choice: FeatureChoice): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const t of tags) {
    const key = featureKey(t);
    if (key === undefined || seen.has(key)) continue;
    seen.add(key);
    const role = roleOf(t);
    if (isSetpointRole(role)) continue;
    if (role !== undefined && NON_SIGNAL_ROLES.has(role)) {
      if (choice.includeAge && role === "running_hours") out.push("running_hours");
      continue;
    }
    for (const stat of ["mean", "min", "max", "std", "slope", "dev"]) out.push(`${key}_${stat}`);
    // RMS, crest and kurtosis of a sampled vibration level; a waveform tag has its block's own
    // (its derived series), and those series are levels already.
    const sampled = t.waveform === undefined && t.derivedFrom === undefined;
    if (sampled && isVibrationRole(key))
      for (const stat of ["rms", "crest", "kurtosis"]) out.push(`${key}_${stat}`);
  }
  if (choice.includeAge) out.push("hours_since_maintenance");
  return out;
}

/**
 * Reads tag series from the store by feature key: the YAML's roles and model inputs when given,
 * else the name rule (a generated history's `m3.vibration_rms`).
 */
export class StoreSeries {
  readonly #db: Db;
  readonly #tags = new Map<number, Map<string, number>>();
  readonly #reader: SeriesReader;
  readonly #hours = new Map<number, Map<number, { sum: number; count: number }>>();

  constructor(db: Db, configured?: readonly FeatureTag[]) {
    this.#db = db;
    this.#reader = new SeriesReader(db);
    const byName = new Map((configured ?? []).map((t) => [t.name, t]));
    for (const row of listTags(db)) {
      // A stored tag the YAML does not list (history from before, a generated store) keeps the name rule.
      const tag = byName.get(row.name) ?? row;
      const key = featureKey({ ...tag, machine: row.machine });
      if (key === undefined) continue;
      if (!this.#tags.has(row.machine)) this.#tags.set(row.machine, new Map());
      this.#tags.get(row.machine)!.set(key, row.id);
    }
  }

  get machines(): number[] {
    return [...this.#tags.keys()].sort((a, b) => a - b);
  }

  has(machine: number, key: Role): boolean {
    return this.#tags.get(machine)?.has(key) === true;
  }

  /** The keys a machine has (roles and model inputs). */
  keys(machine: number): string[] {
    return [...(this.#tags.get(machine)?.keys() ?? [])];
  }

  /** Declared features the machine has no tag for (hours since maintenance needs none). */
  missing(machine: number, features: readonly string[]): string[] {
    return features.filter((f) => {
      const p = parseFeature(f);
      return p.stat !== "since_maintenance" && !this.has(machine, p.key);
    });
  }

  series(machine: number, key: Role, fromTs: number, toTs: number) {
    const id = this.#tags.get(machine)?.get(key);
    if (id === undefined) return { ts: new Float64Array(0), values: new Float64Array(0) };
    return this.#reader.series(id, fromTs, toTs);
  }

  /**
   * The mean of a key's good samples over the `hours` whole clock hours before the hour holding
   * `atTs` (NaN when none). Each hour's sum and count is read once and kept while a later call can
   * still use it: windows move forward an hour at a time (training, the daemon's ticks), so a
   * window costs one hour's samples per tag instead of a day's.
   */
  hourlyMean(machine: number, key: Role, atTs: number, hours: number): number {
    const id = this.#tags.get(machine)?.get(key);
    if (id === undefined) return Number.NaN;
    let cache = this.#hours.get(id);
    if (cache === undefined) {
      cache = new Map();
      this.#hours.set(id, cache);
    }
    const last = Math.floor(atTs / HOUR_MS) - 1;
    const first = last - hours + 1;
    let sum = 0;
    let count = 0;
    for (let h = first; h <= last; h++) {
      let bucket = cache.get(h);
      if (bucket === undefined) {
        bucket = this.#reader.sumCount(id, h * HOUR_MS, (h + 1) * HOUR_MS);
        cache.set(h, bucket);
      }
      sum += bucket.sum;
      count += bucket.count;
    }
    // Hours before this span are not needed again by windows that move forward; a window that
    // goes back re-reads them.
    for (const h of cache.keys()) if (h < first) cache.delete(h);
    return count === 0 ? Number.NaN : sum / count;
  }

  latest(machine: number, key: Role, atTs: number): number {
    const id = this.#tags.get(machine)?.get(key);
    return id === undefined ? Number.NaN : this.#reader.latest(id, atTs);
  }

  /** Hours since the last completed maintenance, or since `firstTs` when there was none. */
  hoursSinceMaintenance(machine: number, atTs: number, firstTs: number): number {
    return (atTs - (this.#reader.lastMaintenance(machine, atTs) ?? firstTs)) / 3_600_000;
  }

  get db(): Db {
    return this.#db;
  }
}

const HOUR_MS = 3_600_000;

const plans = new WeakMap<readonly string[], Parsed[]>();

function planOf(features: readonly string[]): Parsed[] {
  let plan = plans.get(features);
  if (plan === undefined) {
    plan = features.map(parseFeature);
    plans.set(features, plan);
  }
  return plan;
}

export function extractFeatures(
  source: StoreSeries,
  machine: number,
  endTs: number,
  settings: WindowSettings,
  features: readonly string[],
  firstTs = endTs,
): FeatureVector {
  const plan = planOf(features);
  const windowMs = settings.windowMin * 60_000;
  const values = new Float32Array(plan.length);
  const missing: string[] = [];
  let complete = true;
  let outliers = 0;
  let filled = 0;
  // One grid and summary per (key, span), however many of its statistics the model reads.
  const summaries = new Map<string, Summary>();
  // Trends and baselines use what there is (a daemon just started has less); only the window
  // decides whether the vector is complete.
  const stats = (key: string, spanMs: number): Summary => {
    const id = `${key}@${spanMs}`;
    let s = summaries.get(id);
    if (s !== undefined) return s;
    const span = spanMs === 0 ? windowMs : spanMs;
    const startTs = endTs - span;
    const grid = toGrid(source.series(machine, key, startTs, endTs), {
      startTs,
      endTs,
      stepMs: settings.stepMs,
      maxGapMs: settings.maxGapMs,
      holdMs: settings.holdMs,
      fill: settings.fill,
    });
    if (spanMs === 0) {
      if (!grid.complete) complete = false;
      filled += grid.filled;
      outliers += hampel(grid.values);
    } else hampel(grid.values);
    s = summarise(grid.values, settings.stepMs);
    summaries.set(id, s);
    return s;
  };
  // `dev`'s reference is the mean of the good samples of the `baselineH` whole hours before the
  // window's hour, from hourly sums: putting a day of samples on a grid per window made a year's
  // training take days (550 ms a window for 50 tags at 10 s). Over a day, a few spikes barely move
  // a mean, so the grid's outlier filter is not missed.
  const baselineHours = Math.max(1, Math.round(settings.baselineMs / HOUR_MS));
  const baselineMeans = new Map<string, number>();
  const baselineMean = (key: string): number => {
    let m = baselineMeans.get(key);
    if (m === undefined) {
      m = source.hourlyMean(machine, key, endTs, baselineHours);
      baselineMeans.set(key, m);
    }
    return m;
  };
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i]!;
    if (p.stat === "since_maintenance") {
      values[i] = source.hoursSinceMaintenance(machine, endTs, firstTs);
      continue;
    }
    if (!source.has(machine, p.key)) {
      missing.push(features[i]!);
      values[i] = Number.NaN;
      continue;
    }
    if (p.stat === "latest") {
      values[i] = source.latest(machine, p.key, endTs);
      continue;
    }
    const s = stats(p.key, p.spanMs);
    values[i] =
      p.stat === "slope" ? s.slopePerHour : p.stat === "dev" ? s.mean - baselineMean(p.key) : s[p.stat];
  }
  return { machine, ts: endTs, values, complete, missing, outliers, filled };
}
