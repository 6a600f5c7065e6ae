/**
 * Trains the predictive-maintenance Random Forest from a store and writes the ONNX model and its
 * card. The split is by time (the last `holdoutFraction` of the period is never seen in training),
 * never random rows across time, so the scores say how the model does on a future it has not seen.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { forestToOnnx } from "../inference/onnxModel.js";
import type { Db } from "../store/store.js";
import { type AlertSettings, AlertTracker, DEFAULT_ALERTS } from "./alertPolicy.js";
import { buildDataset, type Dataset, type Sample } from "./dataset.js";
import { type Forest, type ForestOptions, predictProbability, trainForest } from "./forest.js";

export interface TrainOptions {
  horizonH: number;
  strideMin: number;
  holdoutFraction: number;
  forest: ForestOptions;
  alerts?: AlertSettings;
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
  /** Failures with an alert opened 24-72 h before them. */
  alertedInTime: number;
  recallAlert24to72h: number;
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
  window: { minutes: number; stride_min: number };
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
  holdout: Evaluation & { from: string; to: string };
  external_holdout?: Evaluation & { source: string };
  alert_policy: AlertSettings;
  onnx: { file: string; sha256: string; opset: string; inputs: string; outputs: string };
  parity_with_onnxruntime?: { max_abs_diff: number; samples: number };
  trained_at: string;
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
): Evaluation {
  const scores = samples.map((s) => predictProbability(forest, s.x));
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
    (f) => f.ts > from && f.ts <= to + 48 * 3_600_000 && byMachine.has(f.machine),
  );
  const leads: number[] = [];
  let inTime = 0;
  for (const f of inRange) {
    const before = openings.filter(
      (o) => o.machine === f.machine && o.ts < f.ts && f.ts - o.ts <= 72 * 3_600_000,
    );
    if (before.length === 0) continue;
    const lead = (f.ts - before[0]!.ts) / 3_600_000;
    leads.push(lead);
    if (lead >= 24) inTime++;
  }
  const falseAlarms = openings.filter(
    (o) => !failures.some((f) => f.machine === o.machine && f.ts > o.ts && f.ts - o.ts <= 72 * 3_600_000),
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
    alertedInTime: inTime,
    recallAlert24to72h: round(inRange.length === 0 ? 0 : inTime / inRange.length),
    medianLeadH: leads.length === 0 ? null : round(leads[Math.floor(leads.length / 2)]!, 1),
    falseAlarms,
    falseAlarmsPerMachineWeek: round(machineWeeks === 0 ? 0 : falseAlarms / machineWeeks),
    machineWeeks: round(machineWeeks, 2),
  };
}

export function splitByTime(
  data: Dataset,
  holdoutFraction: number,
): { train: Sample[]; holdout: Sample[]; cut: number } {
  const cut = data.from + (data.to - data.from) * (1 - holdoutFraction);
  // Training windows whose horizon reaches past the cut would see the holdout's failures: dropped.
  return {
    cut,
    train: data.samples.filter((s) => s.ts + 48 * 3_600_000 <= cut),
    holdout: data.samples.filter((s) => s.ts > cut),
  };
}

export function trainModel(
  db: Db,
  out: string,
  o: TrainOptions,
  externalHoldout?: { db: Db; source: string },
): { card: ModelCard; forest: Forest; bytes: Uint8Array } {
  const alerts = o.alerts ?? DEFAULT_ALERTS;
  const data = buildDataset(db, {
    horizonH: o.horizonH,
    strideMin: o.strideMin,
    onProgress: (d, t) => o.onProgress?.("features", d, t),
  });
  const { train, holdout, cut } = splitByTime(data, o.holdoutFraction);
  if (train.length < 50 || !train.some((s) => s.y === 1))
    throw new Error(
      `not enough labelled history to train on (${train.length} windows, ${train.filter((s) => s.y === 1).length} before a failure)`,
    );
  o.onProgress?.("trees", 0, o.forest.trees);
  const y = Uint8Array.from(train, (s) => s.y);
  const forest = trainForest(
    train.map((s) => s.x),
    y,
    data.features,
    o.forest,
  );
  const name = o.name ?? "predictive_maintenance";
  const version = o.version ?? new Date().toISOString().slice(0, 10);
  const holdoutEval = evaluate(forest, holdout, data.failures, alerts);
  let external: ModelCard["external_holdout"];
  if (externalHoldout !== undefined) {
    const ext = buildDataset(externalHoldout.db, { horizonH: o.horizonH, strideMin: o.strideMin });
    external = { ...evaluate(forest, ext.samples, ext.failures, alerts), source: externalHoldout.source };
  }
  const bytes = forestToOnnx(forest, {
    name,
    version,
    features: [...data.features],
    metadata: {
      horizon_h: String(o.horizonH),
      window_min: "5",
      holdout_auc: String(holdoutEval.auc),
    },
  });
  const positives = train.filter((s) => s.y === 1).length;
  const iso = (ms: number) => new Date(ms).toISOString();
  const card: ModelCard = {
    name,
    version,
    type: "random_forest",
    task: `P(machine fails within ${o.horizonH} h) from a 5-minute window of its tags`,
    features: data.features,
    horizon_h: o.horizonH,
    window: { minutes: 5, stride_min: o.strideMin },
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
    holdout: { ...holdoutEval, from: iso(cut), to: iso(data.to) },
    ...(external !== undefined ? { external_holdout: external } : {}),
    alert_policy: alerts,
    onnx: {
      file: `${out.replace(/^.*\//, "")}`,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      opset: "ai.onnx.ml 3 (TreeEnsembleClassifier), onnx 17",
      inputs: `features: float32 [N, ${data.features.length}]`,
      outputs: "label: int64 [N]; probabilities: float32 [N, 2] (column 1 = fails within the horizon)",
    },
    trained_at: new Date().toISOString(),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  return { card, forest, bytes };
}
