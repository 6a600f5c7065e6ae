/**
 * A machine's normal behaviour, learned from its own first days without a single failure label:
 * per feature a robust center (median) and scale (1.4826 x the median absolute deviation, which is
 * the standard deviation for Gaussian noise but ignores the odd spike), and an anomaly score, the
 * root mean square of the robust deviations. A technician reads the reasons as "bearing 1
 * vibration 0.35 g, normal 0.07 g", in the tag's own unit.
 *
 * The baseline period is split in time: the first two thirds fit center and scale, the last third
 * (never seen by the fit) sets the alert threshold from the alert budget: the lowest threshold at
 * which the daemon's own alert rules (hysteresis included) would have raised at most
 * `alertsPerMachineWeek` alerts on those normal days, with a margin for the days the baseline did
 * not see. A median and a MAD are a few lines; ml-matrix and the npm statistics packages offer
 * neither over a typed-array column without copying, so they are written here.
 */
import type { RunningStates } from "../connectors/machineEvents.js";
import { baselineToOnnx } from "../inference/onnxModel.js";
import { isVibrationRole } from "../line/vocabulary.js";
import { type FeatureTag, featuresFor, parseFeature, type WindowSettings } from "../preprocess/features.js";
import type { Db } from "../store/store.js";
import { type AlertSettings, AlertTracker } from "./alertPolicy.js";
import { buildDataset, lookbackMs, type Sample } from "./dataset.js";

export interface BaselineFit {
  center: Float64Array;
  scale: Float64Array;
  /** 1 where only a rise is abnormal (a bearing does not fail by vibrating less), else 0. */
  upperOnly: Float64Array;
}

/** Level statistics of a vibration role: a rise is abnormal, a fall is not; see featurePolicy. */
const LEVEL_STATS = new Set(["mean", "max", "min", "rms", "std"]);

/**
 * How each feature is judged. For vibration roles: only a rise counts, and the scale is at least
 * 5 % of the tag's normal level, so that a 25 % rise (what ISO 10816-3 / 20816-1 call a significant
 * change of vibration magnitude) is 5 robust deviations whatever the rig's own day-to-day
 * steadiness; a test rig steadier than any line would otherwise alarm on a 3 % change.
 */
export function featurePolicy(feature: string): { upperOnly: boolean; minRelativeScale: number } {
  const p = parseFeature(feature);
  const vibration = isVibrationRole(p.key) && LEVEL_STATS.has(p.stat);
  return { upperOnly: vibration, minRelativeScale: vibration ? 0.05 : 0.01 };
}

export interface BaselineSettings {
  days: number;
  shadowDays: number;
  alertsPerMachineWeek: number;
  strideMin: number;
}

/** The alert rules for a baseline's score: HIGH at the threshold, cleared below 80 % of it. */
export function baselineAlerts(threshold: number, base: AlertSettings): AlertSettings {
  return {
    ...base,
    medium: threshold * 0.7,
    high: threshold,
    escalate: threshold * 1.5,
    clearBelow: threshold * 0.8,
  };
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? sorted[n >> 1]! : (sorted[(n >> 1) - 1]! + sorted[n >> 1]!) / 2;
}

/** Median and scaled MAD per feature; a feature that never moved gets a scale from its level. */
export function fitBaseline(rows: readonly Float32Array[], features: readonly string[]): BaselineFit {
  const width = features.length;
  const center = new Float64Array(width);
  const scale = new Float64Array(width);
  const upperOnly = new Float64Array(width);
  const column = new Float64Array(rows.length);
  const spread = new Float64Array(rows.length);
  for (let f = 0; f < width; f++) {
    let n = 0;
    for (const row of rows) {
      const v = row[f]!;
      if (!Number.isNaN(v)) column[n++] = v;
    }
    const values = column.subarray(0, n);
    const m = median(values);
    for (let i = 0; i < n; i++) spread[i] = Math.abs(values[i]! - m);
    center[f] = m;
    scale[f] = 1.4826 * median(spread.subarray(0, n));
  }
  // A steady feature (a flat signal's std, a zero slope) would make any change infinitely
  // abnormal: every feature of a tag gets at least a share of the tag's own level as its scale
  // (the median of its window mean, or of the feature itself when there is no mean), and never
  // less than a float32's resolution.
  const level = new Map<string, number>();
  features.forEach((name, f) => {
    const p = parseFeature(name);
    if (p.stat === "mean") level.set(p.key, Math.abs(center[f]!));
  });
  features.forEach((name, f) => {
    const policy = featurePolicy(name);
    const own = level.get(parseFeature(name).key) ?? Math.abs(center[f]!);
    scale[f] = Math.max(scale[f]!, own * policy.minRelativeScale, 1e-6);
    upperOnly[f] = policy.upperOnly ? 1 : 0;
  });
  return { center, scale, upperOnly };
}

export function scoreOf(fit: BaselineFit, x: ArrayLike<number>, deviations?: Float64Array): number {
  let sum = 0;
  for (let f = 0; f < fit.center.length; f++) {
    let z = (x[f]! - fit.center[f]!) / fit.scale[f]!;
    if (z < 0 && fit.upperOnly[f] === 1) z = 0;
    if (deviations !== undefined) deviations[f] = z;
    sum += z * z;
  }
  return Math.sqrt(sum / fit.center.length);
}

/** Alerts the daemon's rules would open on a time-ordered score series at a threshold. */
export function alertsAt(
  series: readonly { ts: number; score: number }[],
  threshold: number,
  base: AlertSettings,
): number[] {
  const tracker = new AlertTracker(baselineAlerts(threshold, base));
  const opened: number[] = [];
  for (const p of series) if (tracker.update(p.ts, p.score) === "opened") opened.push(p.ts);
  return opened;
}

/**
 * The lowest threshold at which the held-out normal series raises at most the budget's alerts,
 * times 1.2 (the margin for normal days the baseline did not see), and never below 1.5 (a window
 * 1.5 robust deviations from normal on average is not an alarm).
 */
export function chooseThreshold(
  series: readonly { ts: number; score: number }[],
  base: AlertSettings,
  alertsPerMachineWeek: number,
): { threshold: number; heldOutAlerts: number; heldOutWeeks: number } {
  const weeks = series.length < 2 ? 0 : (series.at(-1)!.ts - series[0]!.ts) / (7 * 86_400_000);
  const allowed = Math.floor(alertsPerMachineWeek * weeks);
  const candidates = [...new Set(series.map((p) => p.score))].sort((a, b) => a - b);
  let lowest = candidates.length === 0 ? 1.5 : candidates.at(-1)! * 1.001;
  // Alerts fall as the threshold rises: search from the top down for the lowest that keeps the budget.
  for (let i = candidates.length - 1; i >= 0; i--) {
    const t = candidates[i]! * 1.001;
    if (alertsAt(series, t, base).length > allowed) break;
    lowest = t;
  }
  const threshold = Math.max(1.5, lowest * 1.2);
  return { threshold, heldOutAlerts: alertsAt(series, threshold, base).length, heldOutWeeks: weeks };
}

export interface BaselineCard {
  name: string;
  version: string;
  type: "baseline";
  machine: number;
  task: string;
  features: readonly string[];
  window: { minutes: number; step_ms: number; baseline_h: number; stride_min: number };
  training: { from: string; to: string; windows: number; held_out_from: string; held_out_windows: number };
  threshold: number;
  alert_budget_per_machine_week: number;
  held_out: { alerts: number; machine_weeks: number; score_p50: number; score_p99: number };
  shadow_until: string;
  onnx: { sha256?: string; inputs: string; outputs: string };
  trained_at: string;
}

/**
 * Learns a machine's baseline from its normal windows (time-ordered), returns the ONNX model and
 * its card. Needs at least 30 windows to fit and 10 to set the threshold on.
 */
export function learnBaseline(
  samples: readonly Sample[],
  o: {
    machine: number;
    features: readonly string[];
    window: WindowSettings;
    settings: BaselineSettings;
    alerts: AlertSettings;
    name: string;
    version: string;
    /** When the shadow period starts (the end of learning; for history, the end of the period). */
    learnedAt: number;
  },
): { bytes: Uint8Array; card: BaselineCard; fit: BaselineFit } {
  const ordered = [...samples].sort((a, b) => a.ts - b.ts);
  const cut = Math.floor((ordered.length * 2) / 3);
  const fitRows = ordered.slice(0, cut);
  const held = ordered.slice(cut);
  if (fitRows.length < 30 || held.length < 10)
    throw new Error(
      `machine ${o.machine}: ${ordered.length} complete running windows in the baseline period; at least 45 are needed (more days, or a shorter stride)`,
    );
  const fit = fitBaseline(
    fitRows.map((s) => s.x),
    o.features,
  );
  const series = held.map((s) => ({ ts: s.ts, score: scoreOf(fit, s.x) }));
  const chosen = chooseThreshold(series, o.alerts, o.settings.alertsPerMachineWeek);
  const sortedScores = series.map((p) => p.score).sort((a, b) => a - b);
  const q = (p: number) =>
    Number(sortedScores[Math.min(sortedScores.length - 1, Math.floor(p * sortedScores.length))]!.toFixed(3));
  const iso = (ms: number) => new Date(ms).toISOString();
  const bytes = baselineToOnnx(
    { center: fit.center, scale: fit.scale, upperOnly: fit.upperOnly, threshold: chosen.threshold },
    {
      name: o.name,
      version: o.version,
      features: [...o.features],
      metadata: {
        machine: String(o.machine),
        window: JSON.stringify(o.window),
        shadow_until: String(o.learnedAt + o.settings.shadowDays * 86_400_000),
      },
    },
  );
  const card: BaselineCard = {
    name: o.name,
    version: o.version,
    type: "baseline",
    machine: o.machine,
    task: "How far machine behaviour is from its own normal (robust deviations per feature, RMS score)",
    features: o.features,
    window: {
      minutes: o.window.windowMin,
      step_ms: o.window.stepMs,
      baseline_h: o.window.baselineMs / 3_600_000,
      stride_min: o.settings.strideMin,
    },
    training: {
      from: iso(ordered[0]!.ts),
      to: iso(ordered.at(-1)!.ts),
      windows: fitRows.length,
      held_out_from: iso(held[0]!.ts),
      held_out_windows: held.length,
    },
    threshold: Number(chosen.threshold.toFixed(4)),
    alert_budget_per_machine_week: o.settings.alertsPerMachineWeek,
    held_out: {
      alerts: chosen.heldOutAlerts,
      machine_weeks: Number(chosen.heldOutWeeks.toFixed(3)),
      score_p50: q(0.5),
      score_p99: q(0.99),
    },
    shadow_until: iso(o.learnedAt + o.settings.shadowDays * 86_400_000),
    onnx: {
      inputs: `features: float32 [N, ${o.features.length}]`,
      outputs:
        "score: float32 [N] (alert at the threshold); deviations: float32 [N, features] (robust deviations)",
    },
    trained_at: new Date().toISOString(),
  };
  return { bytes, card, fit };
}

const BASELINE_STATS = new Set(["mean", "max", "std"]);

/**
 * The features a machine's baseline watches: each signal's window mean, max and std (the
 * configured list when given, for those the machine has). Not the drift (`dev`): the baseline
 * itself is the long-term normal a window is compared with. Not counters or ages, which grow by
 * design. Not crest factor and kurtosis of a scalar tag's window, which on a few samples are
 * noise (a waveform's are the physical ones).
 */
export function baselineFeatures(tags: readonly FeatureTag[], configured?: readonly string[]): string[] {
  const all = featuresFor(tags, { includeAge: false });
  if (configured !== undefined) return configured.filter((f) => all.includes(f));
  return all.filter((f) => BASELINE_STATS.has(parseFeature(f).stat));
}

export interface BaselineRun {
  machine: number;
  from: number;
  to: number;
  windows: number;
  /** When each alert opened, and the hours from it to the end of the machine's data or its next failure. */
  alerts: { ts: number; hoursBeforeEnd: number; hoursBeforeFailure: number | null }[];
  /** The alert still open at the end of the data (it never cleared), and since when. */
  openAtEnd: { ts: number; hoursBeforeEnd: number } | null;
  maxScore: number;
}

/**
 * Replays a machine's history after its baseline period through the daemon's alert rules (the
 * shadow period aside: on history, every alert counts), for `linepilot baseline --evaluate`.
 */
export function replayBaseline(
  db: Db,
  fit: BaselineFit & { threshold: number },
  o: MachineWindows & { fromTs: number; strideMin: number; alerts: AlertSettings },
): BaselineRun {
  const data = machineWindows(db, o, o.strideMin, o.fromTs - lookbackMs(o.features, o.window));
  const series = data.samples.map((s) => ({ ts: s.ts, score: scoreOf(fit, s.x) }));
  const end = series.at(-1)?.ts ?? o.fromTs;
  const failures = data.failures.filter((f) => f.machine === o.machine).map((f) => f.ts);
  const tracker = new AlertTracker(baselineAlerts(fit.threshold, o.alerts));
  const opened: number[] = [];
  for (const p of series) if (tracker.update(p.ts, p.score) === "opened") opened.push(p.ts);
  return {
    machine: o.machine,
    from: series[0]?.ts ?? o.fromTs,
    to: end,
    windows: series.length,
    alerts: opened.map((ts) => {
      const next = failures.find((f) => f > ts);
      return {
        ts,
        hoursBeforeEnd: Number(((end - ts) / 3_600_000).toFixed(1)),
        hoursBeforeFailure: next === undefined ? null : Number(((next - ts) / 3_600_000).toFixed(1)),
      };
    }),
    openAtEnd:
      tracker.openedAt === null
        ? null
        : { ts: tracker.openedAt, hoursBeforeEnd: Number(((end - tracker.openedAt) / 3_600_000).toFixed(1)) },
    maxScore: Number(Math.max(0, ...series.map((p) => p.score)).toFixed(3)),
  };
}

/**
 * The windows a machine's baseline learns from: its first `days` of running, counted in complete
 * running windows (a rig or line that stops at night or for days does not shorten its baseline),
 * looking at most ten times as far ahead for them. `learnedAt` is when the last of them ends: the
 * shadow period and an evaluation start there.
 */
export function baselinePeriod(
  db: Db,
  o: MachineWindows & { fromTs: number; settings: BaselineSettings },
): { samples: Sample[]; learnedAt: number; incomplete: number } {
  const wanted = Math.round((o.settings.days * 1_440) / o.settings.strideMin);
  const data = machineWindows(
    db,
    o,
    o.settings.strideMin,
    o.fromTs,
    o.fromTs + o.settings.days * 10 * 86_400_000,
  );
  const samples = data.samples.slice(0, wanted);
  return { samples, learnedAt: samples.at(-1)?.ts ?? o.fromTs, incomplete: data.incomplete };
}

/** Which windows of which machine: its features, their window, the line's tags and states. */
export interface MachineWindows {
  machine: number;
  features: readonly string[];
  window: WindowSettings;
  tags?: readonly FeatureTag[];
  running?: RunningStates;
}

/** One machine's running windows, unlabelled (a baseline needs no failures), from `fromTs` on. */
function machineWindows(db: Db, o: MachineWindows, strideMin: number, fromTs: number, toTs?: number) {
  return buildDataset(db, {
    horizonH: 0,
    strideMin,
    features: o.features,
    window: o.window,
    machines: [o.machine],
    fromTs,
    ...(toTs !== undefined ? { toTs } : {}),
    keepCensored: true,
    ...(o.tags !== undefined ? { tags: o.tags } : {}),
    ...(o.running !== undefined ? { running: o.running } : {}),
  });
}
