/** Continuous-learning runs (learning_runs): one row per run, its decision and its figures. */
import { rejectCandidate } from "./models.js";
import type { Store } from "./store.js";

export type RunState = "running" | "promoted" | "rejected" | "skipped" | "failed" | "interrupted";

export interface StoredLearningRun {
  id: number;
  modelName: string;
  trigger: string;
  startedAt: number;
  finishedAt: number | null;
  state: RunState;
  dataTo: number | null;
  candidateId: number | null;
  activeId: number | null;
  reason: string;
  metrics: Record<string, unknown>;
}

export function runningLearningRuns(store: Store): number[] {
  return (
    store.db.prepare("SELECT id FROM learning_runs WHERE state = 'running'").all() as { id: number }[]
  ).map((r) => r.id);
}

export function listLearningRuns(store: Store, limit: number): StoredLearningRun[] {
  const rows = store.db.prepare("SELECT * FROM learning_runs ORDER BY id DESC LIMIT ?").all(limit) as Record<
    string,
    unknown
  >[];
  return rows.map((r) => ({
    id: r.id as number,
    modelName: r.model_name as string,
    trigger: r.trigger as string,
    startedAt: r.started_at as number,
    finishedAt: r.finished_at as number | null,
    state: r.state as RunState,
    dataTo: r.data_to as number | null,
    candidateId: r.candidate_id as number | null,
    activeId: r.active_id as number | null,
    reason: r.reason as string,
    metrics: JSON.parse(r.metrics as string) as Record<string, unknown>,
  }));
}

export function startLearningRun(
  store: Store,
  run: { modelName: string; trigger: string; startedAt: number; activeId: number | null },
): number {
  return Number(
    store.db
      .prepare(
        "INSERT INTO learning_runs (model_name, trigger, started_at, state, active_id) VALUES (?, ?, ?, 'running', ?)",
      )
      .run(run.modelName, run.trigger, run.startedAt, run.activeId).lastInsertRowid,
  );
}

/** Records a run's end (in the caller's transaction, with its audit record). */
export function finishLearningRun(
  store: Store,
  id: number,
  end: {
    state: RunState;
    finishedAt: number;
    reason: string;
    metrics: unknown;
    dataTo: number;
    candidateId?: number;
  },
): void {
  store.db
    .prepare(
      "UPDATE learning_runs SET state = ?, finished_at = ?, reason = ?, metrics = ?, data_to = ?, candidate_id = coalesce(?, candidate_id) WHERE id = ?",
    )
    .run(
      end.state,
      end.finishedAt,
      end.reason,
      JSON.stringify(end.metrics),
      end.dataTo,
      end.candidateId ?? null,
      id,
    );
}

export function setLearningRunCandidate(store: Store, id: number, candidateId: number): void {
  store.db.prepare("UPDATE learning_runs SET candidate_id = ? WHERE id = ?").run(candidateId, id);
}

/** Up to when the data of the last run that reached a decision went. */
export function lastDecidedDataTo(store: Store, modelName: string): number | null {
  return (
    store.db
      .prepare(
        "SELECT max(data_to) AS t FROM learning_runs WHERE state IN ('promoted', 'rejected') AND model_name = ?",
      )
      .get(modelName) as { t: number | null }
  ).t;
}

/** New labels since `since`: faults and completed maintenance (what a new candidate could learn from). */
export function newLabelsSince(store: Store, since: number): number {
  const faults = store.db
    .prepare("SELECT count(*) AS n FROM machine_events WHERE kind = 'fault' AND ts > ?")
    .get(since) as {
    n: number;
  };
  const records = store.db
    .prepare("SELECT count(*) AS n FROM maintenance_records WHERE completed_at > ?")
    .get(since) as {
    n: number;
  };
  return faults.n + records.n;
}

/**
 * Marks a run interrupted and rejects the candidate it registered, if any (in the caller's
 * transaction); returns that candidate's id.
 */
export function interruptLearningRun(store: Store, id: number, reason: string, at: number): number | null {
  store.db
    .prepare("UPDATE learning_runs SET state = 'interrupted', finished_at = ?, reason = ? WHERE id = ?")
    .run(at, reason, id);
  const { candidate } = store.db
    .prepare("SELECT candidate_id AS candidate FROM learning_runs WHERE id = ?")
    .get(id) as {
    candidate: number | null;
  };
  if (candidate !== null) rejectCandidate(store, candidate);
  return candidate;
}
