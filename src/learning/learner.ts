/**
 * Continuous learning (docs/design.md §8): on a schedule (cron, weekly by default) and on demand
 * (`linepilot learn now`), when the store holds new labels (failures, completed maintenance) since
 * the last run, a candidate is trained in a low-priority worker and compared with the active model
 * on the same time-ordered holdout. It is promoted only when it is better by the configured AUC
 * margin and no worse in precision at the alert threshold; otherwise it is kept as rejected, with
 * its metrics. Every run is recorded (learning_runs) and audited with both models' metrics.
 *
 * Restart safety: a run is a row first ('running'); the candidate's file and row are written by the
 * registry atomically; a run found 'running' at start was interrupted, and a candidate it left
 * without a decision is marked rejected. Nothing is ever half registered.
 */
import { Cron } from "croner";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage, LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LearningConfig, LineConfig } from "../config/schema.js";
import { runningStates } from "../connectors/machineEvents.js";
import { DEFAULT_ALERTS } from "../maintenance/alertPolicy.js";
import { PM_MODEL_NAME } from "../maintenance/predictor.js";
import type { Evaluation } from "../maintenance/train.js";
import type { ModelRegistry } from "../registry/registry.js";
import {
  finishLearningRun,
  interruptLearningRun,
  lastDecidedDataTo,
  listLearningRuns,
  newLabelsSince,
  type RunState,
  runningLearningRuns,
  type StoredLearningRun,
  setLearningRunCandidate,
  startLearningRun,
} from "../store/learningRuns.js";
import type { Store } from "../store/store.js";
import { promotionVerdict } from "./candidate.js";
import { type TrainingHandle, trainInWorker } from "./learningWorker.js";

export type { RunState };

/** A stored run, with its figures typed as the learner writes them. */
export interface LearningRun extends Omit<StoredLearningRun, "metrics"> {
  metrics: { candidate?: Evaluation; active?: Evaluation; newLabels?: number; [key: string]: unknown };
}

export interface LearnerDeps {
  store: Store;
  registry: ModelRegistry;
  log: Logger;
  line: LineConfig;
  /** The clock of the data (tests run on a generated history); default: the wall clock. */
  now?: () => number;
}

export class Learner implements Component {
  readonly name = "learning";
  readonly #cfg: LearningConfig;
  readonly #deps: LearnerDeps;
  readonly #log: Logger;
  #job: Cron | undefined;
  #running: Promise<LearningRun> | undefined;
  #training: TrainingHandle | undefined;
  #stopping = false;
  runs = 0;
  lastRun: LearningRun | undefined;

  constructor(cfg: LearningConfig, deps: LearnerDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
    this.#log = deps.log.child({ component: "learning" });
  }

  async start(): Promise<void> {
    for (const run of runningLearningRuns(this.#deps.store)) this.#interrupt(run, "interrupted by a restart");
    this.#job = new Cron(this.#cfg.schedule, { protect: true }, () => {
      void this.runNow("schedule").catch(() => {});
    });
    this.lastRun = this.runsList(1)[0];
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#job?.stop();
    await this.#training?.cancel();
    await this.#running?.catch(() => {});
  }

  get nextRunAt(): Date | null {
    return this.#job?.nextRun() ?? null;
  }

  runsList(limit = 20): LearningRun[] {
    return listLearningRuns(this.#deps.store, limit) as LearningRun[];
  }

  /** One learning run now; `trigger` says who asked (schedule, or a person). One run at a time. */
  runNow(trigger: string, options: { force?: boolean } = {}): Promise<LearningRun> {
    if (this.#running !== undefined)
      throw new LinepilotError("LP_ERR_USAGE", "a learning run is already in progress");
    if (this.#stopping) throw new LinepilotError("LP_ERR_USAGE", "linepilot is stopping");
    this.#running = this.#run(trigger, options.force === true).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  async #run(trigger: string, force: boolean): Promise<LearningRun> {
    const { store, registry } = this.#deps;
    const now = this.#deps.now?.() ?? Date.now();
    const active = registry.withStatus(PM_MODEL_NAME, "active");
    const runId = startLearningRun(store, {
      modelName: PM_MODEL_NAME,
      trigger,
      startedAt: Date.now(),
      activeId: active?.id ?? null,
    });
    this.runs++;
    const finish = (
      state: RunState,
      reason: string,
      metrics: LearningRun["metrics"],
      candidateId?: number,
    ) => {
      store.transaction(() => {
        finishLearningRun(store, runId, {
          state,
          finishedAt: Date.now(),
          reason,
          metrics,
          dataTo: now,
          ...(candidateId !== undefined ? { candidateId } : {}),
        });
        store.recordDecision({
          kind: "learning_run",
          actor: trigger,
          ...(candidateId !== undefined ? { modelId: candidateId } : {}),
          decision: state,
          reason,
          details: {
            runId,
            trigger,
            activeId: active?.id ?? null,
            candidateId: candidateId ?? null,
            ...metrics,
          },
        });
      });
      this.lastRun = this.runsList(1)[0];
      this.#log.info({ run: runId, state, reason }, "learning run finished");
      return this.lastRun!;
    };
    try {
      if (active === undefined) return finish("skipped", "no active model to compare a candidate with", {});
      // New information since the last run that got as far as a decision.
      const since = lastDecidedDataTo(store, PM_MODEL_NAME) ?? Number.NEGATIVE_INFINITY;
      const newLabels = newLabelsSince(store, since);
      if (!force && newLabels < this.#cfg.minNewFailures)
        return finish(
          "skipped",
          `no new information: ${newLabels} failures or completed maintenance since the last run (at least ${this.#cfg.minNewFailures} needed)`,
          { newLabels },
        );
      const activeBytes = registry.load(active);
      const version = `${new Date(now).toISOString().slice(0, 10)}-run${runId}`;
      this.#training = trainInWorker(store.path, activeBytes, {
        horizonH: this.#cfg.horizonH,
        strideMin: this.#cfg.strideMin,
        holdoutFraction: this.#cfg.holdoutFraction,
        forest: this.#cfg.forest,
        alerts: this.#deps.line.maintenance?.alerts ?? DEFAULT_ALERTS,
        fromTs: now - this.#cfg.historyDays * 86_400_000,
        tags: this.#deps.line.tags,
        running: runningStates(this.#deps.line.tags),
        name: PM_MODEL_NAME,
        version,
      });
      let result: Awaited<TrainingHandle["result"]>;
      try {
        result = await this.#training.result;
      } finally {
        this.#training = undefined;
      }
      if (this.#stopping) throw new Error("stopped");
      const verdict = promotionVerdict(
        result.candidate,
        result.active,
        this.#cfg.minAucGain,
        result.reviewed,
      );
      const metrics = {
        newLabels,
        candidate: result.candidate,
        active: result.active,
        reviewed: result.reviewed,
        training: result.training,
        holdout: result.holdout,
        minAucGain: this.#cfg.minAucGain,
      };
      const candidate = registry.add(
        result.bytes,
        {
          name: PM_MODEL_NAME,
          version,
          type: "random_forest",
          metrics: { ...result.candidate, runId, training: result.training, holdout: result.holdout },
          trainedAt: Date.now(),
          status: verdict.promote ? "candidate" : "rejected",
        },
        `learning:${trigger}`,
        verdict.reason,
      );
      setLearningRunCandidate(store, runId, candidate.id);
      if (!verdict.promote) return finish("rejected", verdict.reason, metrics, candidate.id);
      await registry.promote(candidate.id, `learning:${trigger}`, verdict.reason);
      return finish("promoted", verdict.reason, metrics, candidate.id);
    } catch (error) {
      if (this.#stopping) {
        this.#interrupt(runId, "linepilot stopped during the run");
        throw error;
      }
      return finish("failed", errorMessage(error), {});
    }
  }

  /**
   * A run that cannot finish (linepilot stopped, or crashed and restarted): recorded and audited as
   * interrupted, and a candidate it registered without a decision is rejected, never promoted.
   */
  #interrupt(runId: number, reason: string): void {
    const { store } = this.#deps;
    store.transaction(() => {
      const candidate = interruptLearningRun(store, runId, reason, Date.now());
      store.recordDecision({
        kind: "learning_run",
        actor: "linepilot",
        decision: "interrupted",
        reason: `${reason}; nothing was promoted`,
        details: { runId, candidateId: candidate },
      });
    });
    this.#log.warn({ run: runId, reason }, "a learning run was interrupted; nothing was promoted");
  }

  health(): ComponentHealth {
    return {
      state: this.#job === undefined ? "stopped" : this.lastRun?.state === "failed" ? "degraded" : "ok",
      details: {
        schedule: this.#cfg.schedule,
        nextRunAt: this.nextRunAt?.toISOString() ?? null,
        running: this.running,
        runs: this.runs,
        lastRun:
          this.lastRun === undefined
            ? null
            : {
                id: this.lastRun.id,
                state: this.lastRun.state,
                reason: this.lastRun.reason,
                finishedAt: this.lastRun.finishedAt,
              },
      },
    };
  }
}
