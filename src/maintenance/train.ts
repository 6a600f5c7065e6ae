/**
 * Trains the predictive-maintenance Random Forest from a store and writes the ONNX model and its
 * card. The split is by time (the last `holdoutFraction` of the period is never seen in training,
 * with a gap of one horizon between them) or, for a fleet, by machine (whole machines held out);
 * never random rows, whose neighbours in time would leak the answer into training.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { RunningStates } from "../connectors/machineEvents.js";
import { type Forest, type ForestOptions, predictProbability, trainForest } from "../inference/forest.js";
import { forestToOnnx } from "../inference/onnxModel.js";
import {
  DEFAULT_WINDOW,
  type FeatureTag,
  featuresFor,
  PM_FEATURES,
  type WindowSettings,
} from "../preprocess/features.js";
import type { Db } from "../store/store.js";
import { type AlertSettings, AlertTracker, DEFAULT_ALERTS } from "./alertPolicy.js";
import { buildDataset, type Dataset, type Sample } from "./dataset.js";

export interface TrainOptions {
  horizonH: number;
  strideMin: number;
  holdoutFraction: number;
  forest: ForestOptions;
  alerts?: AlertSettings;
  /** Feature names; default: what the line's tags give (featuresFor), or the press model's. */
  features?: readonly string[];
  window?: WindowSettings;
  tags?: readonly FeatureTag[];
  running?: RunningStates;
  /** time: the most recent part held out; machines: whole machines held out (a fleet). */
  split?: "time" | "machines";
  name?: string;
  version?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface Evaluation {
  samples: number;
  positives: number;
  auc: number;
  threshold: number;
  precision: number;
  recall: number;
  failures: number;
  /** The lead times that count as in time: from half the horizon to one and a half horizons. */
  leadWindowH: [number, number];
  /** Failures with an alert opened within the lead window before them. */
  alertedInTime: number;
  recallInLeadWindow: number;
  medianLeadH: number | null;
  falseAlarms: number;
  falseAlarmsPerMachineWeek: number;
  machineWeeks: number;
}

export interface ModelCard {
  name: string;
  version: string;
  type: "random_forest";
  task: string;
  features: readonly string[];
  horizon_h: number;
  window: { minutes: number; stride_min: number; step_ms: number; baseline_h: number };
  split: "time" | "machines";
  training: {
    from: string;
    to: string;
    samples: number;
    class_balance: { positive: number; negative: number };
    seed: number;
    trees: number;
    max_depth: number;
    min_samples_leaf: number;
  };
  holdout: Evaluation & { from: string; to: string; machines?: number[] };
  external_holdout?: Evaluation & { source: string };
  alert_policy: AlertSettings;
  onnx: { file: string; sha256: string; opset: string; inputs: string; outputs: string };
  parity_with_onnxruntime?: { max_abs_diff: number; samples: number };
  trained_at: string;
  /** The forest's own training time (one core), the feature windows aside. */
  training_seconds: number;
  /** The same features and split given to scikit-learn's RandomForestClassifier, when measured. */
  reference?: Record<string, unknown>;
}

export function auc(scores: number[], labels: number[]): number {
  const order = scores.map((s, i) => [s, labels[i]!] as const).sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  let positives = 0;
  // Average ranks for ties (Mann-Whitney U).
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && order[j]![0] === order[i]![0]) j++;
    const rank = (i + j + 1) / 2;
    for (let k = i; k < j; k++)
      if (order[k]![1] === 1) {
        rankSum += rank;
        positives++;
      }
    i = j;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function evaluate(
  forest: Forest,
  samples: Sample[],
  failures: { machine: number; ts: number }[],
  alerts: AlertSettings,
  horizonH = 48,
): Evaluation {
  return evaluateScores(
    samples.map((s) => predictProbability(forest, s.x)),
    samples,
    failures,
    alerts,
    horizonH,
  );
}

/** The card's figures for any model's scores on labelled windows (a forest, or a reference). */
export function evaluateScores(
  scores: number[],
  samples: Sample[],
  failures: { machine: number; ts: number }[],
  alerts: AlertSettings,
  horizonH: number,
): Evaluation {
  const lead: [number, number] = [horizonH / 2, horizonH * 1.5];
  const leadMs = lead[1] * 3_600_000;
  const labels = samples.map((s) => s.y);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  scores.forEach((p, i) => {
    const predicted = p >= alerts.high;
    if (predicted && labels[i] === 1) tp++;
    else if (predicted) fp++;
    else if (labels[i] === 1) fn++;
  });
  // Alert episodes per machine, in time order, with the daemon's own hysteresis.
  const byMachine = new Map<number, { ts: number; p: number }[]>();
  samples.forEach((s, i) => {
    if (!byMachine.has(s.machine)) byMachine.set(s.machine, []);
    byMachine.get(s.machine)!.push({ ts: s.ts, p: scores[i]! });
  });
  const openings: { machine: number; ts: number }[] = [];
  let spanMs = 0;
  for (const [machine, series] of byMachine) {
    series.sort((a, b) => a.ts - b.ts);
    spanMs += series.at(-1)!.ts - series[0]!.ts;
    const tracker = new AlertTracker(alerts);
    for (const point of series)
      if (tracker.update(point.ts, point.p) === "opened") openings.push({ machine, ts: point.ts });
  }
  const from = Math.min(...samples.map((s) => s.ts));
  const to = Math.max(...samples.map((s) => s.ts));
  const inRange = failures.filter(
    (f) => f.ts > from && f.ts <= to + horizonH * 3_600_000 && byMachine.has(f.machine),
  );
  const leads: number[] = [];
  let inTime = 0;
  for (const f of inRange) {
    const before = openings.filter((o) => o.machine === f.machine && o.ts < f.ts && f.ts - o.ts <= leadMs);
    if (before.length === 0) continue;
    const leadH = (f.ts - before[0]!.ts) / 3_600_000;
    leads.push(leadH);
    if (leadH >= lead[0]) inTime++;
  }
  const falseAlarms = openings.filter(
    (o) => !failures.some((f) => f.machine === o.machine && f.ts > o.ts && f.ts - o.ts <= leadMs),
  ).length;
  leads.sort((a, b) => a - b);
  const machineWeeks = spanMs / (7 * 86_400_000);
  const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
  return {
    samples: samples.length,
    positives: labels.filter((l) => l === 1).length,
    auc: round(auc(scores, labels)),
    threshold: alerts.high,
    precision: round(tp + fp === 0 ? 0 : tp / (tp + fp)),
    recall: round(tp + fn === 0 ? 0 : tp / (tp + fn)),
    failures: inRange.length,
    leadWindowH: lead,
    alertedInTime: inTime,
    recallInLeadWindow: round(inRange.length === 0 ? 0 : inTime / inRange.length),
    medianLeadH: leads.length === 0 ? null : round(leads[Math.floor(leads.length / 2)]!, 1),
    falseAlarms,
    falseAlarmsPerMachineWeek: round(machineWeeks === 0 ? 0 : falseAlarms / machineWeeks),
    machineWeeks: round(machineWeeks, 2),
  };
}

export function splitByTime(
  data: Dataset,
  holdoutFraction: number,
  horizonH = 48,
): { train: Sample[]; holdout: Sample[]; cut: number } {
  const cut = data.from + (data.to - data.from) * (1 - holdoutFraction);
  // Training windows whose horizon reaches past the cut would be labelled by the holdout's
  // failures: the gap is the horizon (at least two days, as the shipped model was trained).
  const gapMs = Math.max(48, horizonH) * 3_600_000;
  return {
    cut,
    train: data.samples.filter((s) => s.ts + gapMs <= cut),
    holdout: data.samples.filter((s) => s.ts > cut),
  };
}

/**
 * A fleet's split: every machine is wholly in training or in the holdout (its windows are not
 * independent of each other). Machines are spread over the holdout evenly by id order, so the
 * same store gives the same split.
 */
export function splitByMachine(
  data: Dataset,
  holdoutFraction: number,
): { train: Sample[]; holdout: Sample[]; holdoutMachines: number[] } {
  const machines = [...new Set(data.samples.map((s) => s.machine))].sort((a, b) => a - b);
  const every = Math.max(2, Math.round(1 / holdoutFraction));
  const held = new Set(machines.filter((_, i) => i % every === every - 1));
  return {
    train: data.samples.filter((s) => !held.has(s.machine)),
    holdout: data.samples.filter((s) => held.has(s.machine)),
    holdoutMachines: [...held],
  };
}

/** The features a training run uses: given, else from the line's tags, else the press model's. */
export function trainingFeatures(o: {
  features?: readonly string[];
  tags?: readonly FeatureTag[];
}): readonly string[] {
  if (o.features !== undefined) return o.features;
  if (o.tags === undefined) return PM_FEATURES;
  // The features every configured machine has: one forest scores them all.
  const byMachine = new Map<number, FeatureTag[]>();
  for (const t of o.tags) byMachine.set(t.machine, [...(byMachine.get(t.machine) ?? []), t]);
  const sets = [...byMachine.values()].map((tags) => featuresFor(tags, { includeAge: true }));
  return sets.length === 0 ? [] : sets[0]!.filter((f) => sets.every((set) => set.includes(f)));
}

export function trainModel(
  db: Db,
  out: string,
  o: TrainOptions,
  externalHoldout?: { db: Db; source: string },
): {
  card: ModelCard;
  forest: Forest;
  bytes: Uint8Array;
  train: Sample[];
  holdout: Sample[];
  trainSeconds: number;
} {
  const alerts = o.alerts ?? DEFAULT_ALERTS;
  const window = o.window ?? DEFAULT_WINDOW;
  const split = o.split ?? "time";
  const features = trainingFeatures(o);
  if (features.length === 0)
    throw new Error("no features: the machines share no tag with a role or modelInput: true");
  const data = buildDataset(db, {
    horizonH: o.horizonH,
    strideMin: o.strideMin,
    features,
    window,
    ...(o.tags !== undefined ? { tags: o.tags } : {}),
    ...(o.running !== undefined ? { running: o.running } : {}),
    onProgress: (d, t) => o.onProgress?.("features", d, t),
  });
  let train: Sample[];
  let holdout: Sample[];
  let cut = data.to;
  if (split === "machines") ({ train, holdout } = splitByMachine(data, o.holdoutFraction));
  else ({ train, holdout, cut } = splitByTime(data, o.holdoutFraction, o.horizonH));
  if (train.length < 50 || !train.some((s) => s.y === 1))
    throw new Error(
      `not enough labelled history to train on (${train.length} windows, ${train.filter((s) => s.y === 1).length} before a failure; ${data.failures.length} failures known` +
        (data.unusable.length > 0
          ? `; machines left out for missing features: ${data.unusable.map((u) => `${u.machine} (${u.missing.slice(0, 3).join(", ")})`).join(", ")}`
          : "") +
        ")",
    );
  o.onProgress?.("trees", 0, o.forest.trees);
  const y = Uint8Array.from(train, (s) => s.y);
  const trainStarted = performance.now();
  const forest = trainForest(
    train.map((s) => s.x),
    y,
    data.features,
    o.forest,
  );
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  const name = o.name ?? "predictive_maintenance";
  const version = o.version ?? new Date().toISOString().slice(0, 10);
  const holdoutEval = evaluate(forest, holdout, data.failures, alerts, o.horizonH);
  let external: ModelCard["external_holdout"];
  if (externalHoldout !== undefined) {
    const ext = buildDataset(externalHoldout.db, {
      horizonH: o.horizonH,
      strideMin: o.strideMin,
      features,
      window,
    });
    external = {
      ...evaluate(forest, ext.samples, ext.failures, alerts, o.horizonH),
      source: externalHoldout.source,
    };
  }
  const bytes = forestToOnnx(forest, {
    name,
    version,
    features: [...data.features],
    threshold: alerts.high,
    metadata: windowMetadata(o.horizonH, window, holdoutEval.auc),
  });
  const positives = train.filter((s) => s.y === 1).length;
  const iso = (ms: number) => new Date(ms).toISOString();
  const card: ModelCard = {
    name,
    version,
    type: "random_forest",
    task: `P(machine fails within ${o.horizonH} h) from a ${window.windowMin}-minute window of its tags`,
    features: data.features,
    horizon_h: o.horizonH,
    window: {
      minutes: window.windowMin,
      stride_min: o.strideMin,
      step_ms: window.stepMs,
      baseline_h: window.baselineMs / 3_600_000,
    },
    split,
    training: {
      from: iso(data.from),
      to: iso(cut),
      samples: train.length,
      class_balance: { positive: positives, negative: train.length - positives },
      seed: o.forest.seed,
      trees: o.forest.trees,
      max_depth: o.forest.maxDepth,
      min_samples_leaf: o.forest.minSamplesLeaf,
    },
    holdout: {
      ...holdoutEval,
      from: iso(split === "time" ? cut : data.from),
      to: iso(data.to),
      ...(split === "machines"
        ? { machines: [...new Set(holdout.map((s) => s.machine))].sort((a, b) => a - b) }
        : {}),
    },
    ...(external !== undefined ? { external_holdout: external } : {}),
    alert_policy: alerts,
    onnx: {
      file: `${out.replace(/^.*\//, "")}`,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      opset: "ai.onnx.ml 3 (TreeEnsembleClassifier), onnx 17",
      inputs: `features: float32 [N, ${data.features.length}]`,
      outputs: `label: int64 [N] (1 when column 1 >= ${alerts.high}, the alert threshold); probabilities: float32 [N, 2] (column 1 = fails within the horizon)`,
    },
    trained_at: new Date().toISOString(),
    training_seconds: Number(trainSeconds.toFixed(2)),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  return { card, forest, bytes, train, holdout, trainSeconds };
}

/**
 * What a model file records of how its features were computed: the daemon computes them the same
 * way (the window the model was trained on, not whatever the YAML says today).
 */
export function windowMetadata(
  horizonH: number,
  window: WindowSettings,
  auc: number,
): Record<string, string> {
  return {
    horizon_h: String(horizonH),
    window_min: String(window.windowMin),
    window: JSON.stringify(window),
    holdout_auc: String(auc),
  };
}
