/**
 * One continuous-learning decision (docs/design.md §8): a candidate forest trained on the line's
 * own labelled history, and both the candidate and the active model scored on the same
 * time-ordered holdout (the most recent part of the history, never seen by the candidate).
 */
import type { RunningStates } from "../connectors/machineEvents.js";
import { type Forest, type ForestOptions, predictProbability, trainForest } from "../inference/forest.js";
import { forestToOnnx, onnxToForest } from "../inference/onnxModel.js";
import type { AlertSettings } from "../maintenance/alertPolicy.js";
import { buildDataset, type Sample } from "../maintenance/dataset.js";
import { type Evaluation, evaluate, splitByTime, windowMetadata } from "../maintenance/train.js";
import type { FeatureTag, WindowSettings } from "../preprocess/features.js";
import { DEFAULT_WINDOW, windowOfModel } from "../preprocess/features.js";
import { modelAlertOutcomes } from "../store/alerts.js";
import type { Db } from "../store/store.js";

export interface CandidateOptions {
  horizonH: number;
  strideMin: number;
  holdoutFraction: number;
  forest: ForestOptions;
  alerts: AlertSettings;
  fromTs?: number;
  /** The line's tags (roles, model inputs). */
  tags?: readonly FeatureTag[];
  window?: WindowSettings;
  running?: RunningStates;
  name: string;
  version: string;
}

/**
 * The alerts technicians reviewed (closed as confirmed or false), replayed on the candidate: which
 * of them it would have raised too. The live evidence a holdout cannot give: what was really found.
 */
export interface ReviewedAlerts {
  /** Reviewed alerts with a window in the dataset at their opening. */
  reviewed: number;
  confirmed: number;
  falseAlarms: number;
  /** Confirmed alerts the candidate would have raised too. */
  candidateConfirmed: number;
  /** False alarms the candidate would have raised again. */
  candidateFalse: number;
}

export interface CandidateResult {
  bytes: Uint8Array;
  candidate: Evaluation;
  active: Evaluation;
  reviewed: ReviewedAlerts;
  training: { from: number; to: number; samples: number; positives: number };
  holdout: { from: number; to: number };
}

export function trainCandidate(db: Db, activeModel: Uint8Array, o: CandidateOptions): CandidateResult {
  // The candidate learns the active model's features, so the two compare on the same windows.
  const parsed = onnxToForest(activeModel);
  const window = o.window ?? windowOfModel(parsed.info.metadata);
  const data = buildDataset(db, {
    horizonH: o.horizonH,
    strideMin: o.strideMin,
    features: parsed.info.features,
    ...(window !== undefined ? { window } : {}),
    ...(o.fromTs !== undefined ? { fromTs: o.fromTs } : {}),
    ...(o.tags !== undefined ? { tags: o.tags } : {}),
    ...(o.running !== undefined ? { running: o.running } : {}),
  });
  const { train, holdout, cut } = splitByTime(data, o.holdoutFraction, o.horizonH);
  const positives = train.filter((s) => s.y === 1).length;
  if (train.length < 50 || positives === 0)
    throw new Error(
      `not enough labelled history to train on (${train.length} windows before the holdout, ${positives} before a failure)`,
    );
  if (!holdout.some((s) => s.y === 1) || !holdout.some((s) => s.y === 0))
    throw new Error(
      "the holdout has no failure (or nothing but failures): the models cannot be compared yet",
    );
  const forest = trainForest(
    train.map((s) => s.x),
    Uint8Array.from(train, (s) => s.y),
    data.features,
    o.forest,
  );
  const candidate = evaluate(forest, holdout, data.failures, o.alerts, o.horizonH);
  const reviewed = replayReviewedAlerts(db, data.samples, forest, o.alerts.high, o.strideMin);
  const active = evaluate(parsed.forest, holdout, data.failures, o.alerts, o.horizonH);
  const bytes = forestToOnnx(forest, {
    name: o.name,
    version: o.version,
    features: [...data.features],
    threshold: o.alerts.high,
    metadata: windowMetadata(o.horizonH, window ?? DEFAULT_WINDOW, candidate.auc),
  });
  return {
    bytes,
    candidate,
    active,
    reviewed,
    training: { from: data.from, to: cut, samples: train.length, positives },
    holdout: { from: cut, to: data.to },
  };
}

function replayReviewedAlerts(
  db: Db,
  samples: readonly Sample[],
  forest: Forest,
  threshold: number,
  strideMin: number,
): ReviewedAlerts {
  const out: ReviewedAlerts = {
    reviewed: 0,
    confirmed: 0,
    falseAlarms: 0,
    candidateConfirmed: 0,
    candidateFalse: 0,
  };
  const byMachine = new Map<number, Sample[]>();
  for (const s of samples) byMachine.set(s.machine, [...(byMachine.get(s.machine) ?? []), s]);
  const slack = strideMin * 60_000;
  for (const a of modelAlertOutcomes(db)) {
    if (a.kind !== "predicted_failure" || a.outcome === null) continue;
    // The window that ended at (or just before) the alert's opening: what the model saw then.
    const w = byMachine.get(a.machine_id)?.findLast((s) => s.ts <= a.opened_at && s.ts > a.opened_at - slack);
    if (w === undefined) continue;
    const raised = predictProbability(forest, w.x) >= threshold;
    out.reviewed++;
    if (a.outcome === "confirmed") {
      out.confirmed++;
      if (raised) out.candidateConfirmed++;
    } else {
      out.falseAlarms++;
      if (raised) out.candidateFalse++;
    }
  }
  return out;
}

/** Reviewed alerts weigh in only from this many: two outcomes are an anecdote. */
export const MIN_REVIEWED_ALERTS = 3;

/**
 * The promotion rule: better AUC by the margin, no worse precision at the alert threshold, and,
 * once technicians have reviewed enough alerts, no worse precision on those real outcomes.
 */
export function promotionVerdict(
  candidate: Evaluation,
  active: Evaluation,
  minAucGain: number,
  reviewed?: ReviewedAlerts,
): { promote: boolean; reason: string } {
  const f = (v: number) => v.toFixed(3);
  if (reviewed !== undefined && reviewed.reviewed >= MIN_REVIEWED_ALERTS) {
    const activePrecision = reviewed.confirmed / reviewed.reviewed;
    const raised = reviewed.candidateConfirmed + reviewed.candidateFalse;
    const candidatePrecision = raised === 0 ? 0 : reviewed.candidateConfirmed / raised;
    const said = `on the ${reviewed.reviewed} alerts technicians reviewed (${reviewed.confirmed} confirmed, ${reviewed.falseAlarms} false), the candidate would raise ${reviewed.candidateConfirmed} confirmed and ${reviewed.candidateFalse} false`;
    if (reviewed.confirmed > 0 && candidatePrecision < activePrecision)
      return {
        promote: false,
        reason: `${said}: precision ${f(candidatePrecision)} below the live ${f(activePrecision)}`,
      };
    const verdict = promotionVerdict(candidate, active, minAucGain);
    return { promote: verdict.promote, reason: `${verdict.reason}; ${said}` };
  }
  if (!Number.isFinite(candidate.auc) || !Number.isFinite(active.auc))
    return { promote: false, reason: "the holdout cannot rank the models (AUC undefined)" };
  if (candidate.auc < active.auc + minAucGain)
    return {
      promote: false,
      reason: `candidate AUC ${f(candidate.auc)} does not beat the active model's ${f(active.auc)} by ${minAucGain}`,
    };
  if (candidate.precision < active.precision)
    return {
      promote: false,
      reason: `candidate precision ${f(candidate.precision)} at the alert threshold is below the active model's ${f(active.precision)}`,
    };
  return {
    promote: true,
    reason: `candidate AUC ${f(candidate.auc)} vs ${f(active.auc)} (margin ${minAucGain}), precision ${f(candidate.precision)} vs ${f(active.precision)}`,
  };
}
