/**
 * Predictive maintenance in the daemon (docs/design.md §4): every tick, each machine's window is
 * turned into features, scored off the event loop with exact TreeSHAP reasons, combined with the
 * configured rules, and written as a prediction; alerts open at HIGH, escalate and clear with
 * hysteresis. Every prediction and alert change is stored, audited (alerts) and put in the outbox
 * for the plant in one transaction. A model that is missing, corrupt or failing leaves the
 * component degraded and the rest of the daemon running.
 */

import { readFileSync } from "node:fs";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage, LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig, MaintenanceConfig } from "../config/schema.js";
import { isDown, type RunningStates, runningStates } from "../connectors/machineEvents.js";
import { ModelRunner } from "../inference/engine.js";
import { baseValue } from "../inference/forest.js";
import { onnxToForest, readModelInfo } from "../inference/onnxModel.js";
import {
  extractFeatures,
  StoreSeries,
  type WindowSettings,
  windowOfModel,
  windowSettings,
} from "../preprocess/features.js";
import { seriesTags } from "../preprocess/waveform.js";
import type { ModelRegistry } from "../registry/registry.js";
import { activeAlerts, applyModelAlert } from "../store/alerts.js";
import { insertPrediction } from "../store/predictions.js";
import type { Store } from "../store/store.js";
import { AlertTracker, type RiskLevel, riskLevel } from "./alertPolicy.js";

export interface Reason {
  feature: string;
  value: number | null;
  contribution: number;
  text: string;
}

export interface RiskAssessment {
  machine_id: number;
  ts: string;
  risk_level: RiskLevel;
  failure_probability: number;
  recommended_action: string;
  confidence: number;
  reasons: Reason[];
  window_complete: boolean;
  outliers_corrected: number;
}

const DEFAULT_ACTIONS: Record<string, string> = {
  vibration: "Inspect and lubricate the bearing; plan a bearing replacement within 48 h",
  motor_temperature: "Check motor cooling, ventilation and load",
  motor_current: "Check the drive and the mechanical load",
  hours_since_maintenance: "Schedule the overdue preventive maintenance",
  running_hours: "Schedule preventive maintenance",
  speed: "Reduce speed towards nominal and watch vibration",
  pressure: "Check the pressure setpoint and hydraulics",
  process_temperature: "Check the heating and the temperature setpoint",
};

const RANK: Record<RiskLevel, number> = { LOW: 0, MEDIUM: 1, HIGH: 2 };

export interface PredictorDeps {
  store: Store;
  log: Logger;
  line: LineConfig;
  /** Where the model comes from when there is a registry (encrypted, promotable); else cfg.model. */
  registry?: ModelRegistry;
}

/** The registry's name for the predictive-maintenance model. */
export const PM_MODEL_NAME = "predictive_maintenance";

/**
 * A model ready to score: its worker, the forest's base value (for TreeSHAP), its registry id, the
 * features it declares and the window it was trained on.
 */
interface LoadedModel {
  runner: ModelRunner;
  base: number;
  modelId: number | null;
  source: string;
  features: readonly string[];
  window: WindowSettings;
}

export class Predictor implements Component {
  readonly name = "maintenance";
  readonly #cfg: MaintenanceConfig;
  readonly #deps: PredictorDeps;
  readonly #log: Logger;
  readonly #trackers = new Map<number, AlertTracker>();
  readonly #running: RunningStates;
  #model: LoadedModel | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #holdNow = 0;
  #firstTs = Date.now();
  #source: StoreSeries | undefined;
  loadError: string | null = null;
  /** Why the active registry model was refused at start, when the fallback runs instead. */
  fallbackReason: string | null = null;
  modelSwaps = 0;
  ticks = 0;
  skippedTicks = 0;
  incompleteWindows = 0;
  /** Machine windows not scored because the machine was down. */
  downMachines = 0;
  /** Machines the model cannot score, with why (the features they lack). */
  unscored = new Map<number, string>();
  lastTickMs = 0;
  latest = new Map<number, RiskAssessment>();

  constructor(cfg: MaintenanceConfig, deps: PredictorDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
    this.#log = deps.log.child({ component: "maintenance" });
    this.#running = runningStates(deps.line.tags);
  }

  async start(): Promise<void> {
    const registry = this.#deps.registry;
    try {
      if (registry === undefined) this.#model = await this.#prepare(undefined, this.#cfg.model, null);
      else {
        registry.bootstrap(PM_MODEL_NAME, this.#cfg.model, "random_forest");
        const loaded = registry.loadActive(PM_MODEL_NAME)!;
        this.fallbackReason = loaded.refused ?? null;
        this.#model = await this.#prepare(loaded.bytes, loaded.entry.path, loaded.entry.id);
      }
    } catch (error) {
      // Not a crash loop: the daemon keeps ingesting; status shows why there are no predictions.
      this.loadError = errorMessage(error);
      this.#model = undefined;
      this.#log.error({ err: this.loadError }, "predictive maintenance disabled: the model cannot be used");
    }
    // A promotion or rollback: the new model is started beside the old one and swapped in between
    // ticks (a tick in progress finishes on the model it started with); no tick is lost.
    registry?.setActivator(PM_MODEL_NAME, async (bytes, entry) => {
      const next = await this.#prepare(bytes, entry.path, entry.id);
      return {
        commit: () => {
          const old = this.#model;
          this.#model = next;
          this.loadError = null;
          this.fallbackReason = null;
          this.modelSwaps++;
          void old?.runner.stop(); // waits for a run in progress (the tick that started on it)
        },
        abort: () => next.runner.stop(),
      };
    });
    for (const a of activeAlerts(this.#deps.store, "predicted_failure")) {
      const t = this.#tracker(a.machine);
      t.restore(a.at, performance.now(), Date.now() - a.at);
      t.escalated = (JSON.parse(a.details) as { escalated?: boolean }).escalated === true;
    }
    this.#timer = setInterval(() => void this.tick(), this.#cfg.tickMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#model?.runner.stop();
  }

  async #prepare(
    bytes: Uint8Array | undefined,
    source: string,
    modelId: number | null,
  ): Promise<LoadedModel> {
    let declared: ReturnType<typeof readModelInfo>;
    try {
      declared = readModelInfo(bytes ?? readFileSync(source));
    } catch (error) {
      throw new LinepilotError(
        "LP_ERR_MODEL",
        `model ${PM_MODEL_NAME}: ${source} is not a valid linepilot ONNX model (${errorMessage(error)})`,
      );
    }
    const features = declared.info.features;
    const runner = new ModelRunner({
      name: PM_MODEL_NAME,
      path: source,
      features,
      kind: "forest",
      timeoutMs: this.#cfg.timeoutMs,
      ...(bytes !== undefined ? { bytes } : {}),
      ...(this.#cfg.modelSha256 !== undefined && bytes === undefined
        ? { sha256: this.#cfg.modelSha256 }
        : {}),
    });
    const base = baseValue(onnxToForest(runner.bytes).forest);
    await runner.start();
    // The window the model was trained on decides how its features are computed, not the YAML.
    const window = windowOfModel(declared.info.metadata) ?? windowSettings(this.#cfg.window);
    return { runner, base, modelId, source, features, window };
  }

  /** The registry id of the model in use (null when it comes from the config's file). */
  get modelId(): number | null {
    return this.#model?.modelId ?? null;
  }

  #tracker(machine: number): AlertTracker {
    let t = this.#trackers.get(machine);
    if (t === undefined) {
      t = new AlertTracker(this.#cfg.alerts);
      this.#trackers.set(machine, t);
    }
    return t;
  }

  /** Scores every machine at `now` (the timer's tick; tests pass a time inside a history). */
  async tick(at?: number): Promise<RiskAssessment[]> {
    // The timer's tick: wall time for the data and the records, the monotonic clock for holds.
    // A test or replay passes its own time, used for both.
    const now = at ?? Date.now();
    this.#holdNow = at ?? performance.now();
    const model = this.#model;
    if (model === undefined) return [];
    if (this.#ticking) {
      this.skippedTicks++;
      return [];
    }
    this.#ticking = true;
    const started = performance.now();
    try {
      // Tags and statements once per daemon life, not per tick: the config's tags do not change.
      this.#source ??= new StoreSeries(this.#deps.store.db, seriesTags(this.#deps.line.tags));
      const source = this.#source;
      // A machine without a tag for every feature the model declares is not scored (never a
      // silent zero): status and predict say which features it lacks.
      const machines = this.#deps.line.machines
        .map((m) => m.id)
        .filter((id) => {
          const missing = source.missing(id, model.features);
          if (missing.length === 0) this.unscored.delete(id);
          else
            this.unscored.set(
              id,
              `lacks ${missing.length} of the model's ${model.features.length} features (${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", ..." : ""})`,
            );
          return missing.length === 0;
        });
      // A machine that is down (its state tag says stopped or faulted) is not scored: the model was
      // trained on running windows only (dataset.ts), and its open alert stands until it clears.
      const up = machines.filter((id) => !isDown(this.#running, id, source.latest(id, "state", now)));
      this.downMachines += machines.length - up.length;
      const vectors = up.map((id) =>
        extractFeatures(source, id, now, model.window, model.features, this.#firstTs),
      );
      // A window with a gap longer than maxGapMs is not scored: its features would be invented.
      const complete = vectors.filter((v) => v.complete);
      this.incompleteWindows += vectors.length - complete.length;
      vectors.splice(0, vectors.length, ...complete);
      if (vectors.length === 0) return [];
      const width = model.features.length;
      const input = new Float32Array(vectors.length * width);
      for (let i = 0; i < vectors.length; i++) input.set(vectors[i]!.values, i * width);
      const scored = await model.runner.run(input, vectors.length);
      const results = vectors.map((v, i) =>
        this.#assess(
          model,
          source,
          v.machine,
          now,
          v,
          scored.probabilities[i]!,
          scored.contributions?.subarray(i * width, (i + 1) * width),
          scored.agreement?.[i],
        ),
      );
      this.ticks++;
      this.lastTickMs = performance.now() - started;
      return results;
    } catch (error) {
      this.skippedTicks++;
      this.#log.error({ err: errorMessage(error) }, "maintenance tick failed; ingestion continues");
      return [];
    } finally {
      this.#ticking = false;
    }
  }

  #assess(
    model: LoadedModel,
    source: StoreSeries,
    machine: number,
    now: number,
    v: ReturnType<typeof extractFeatures>,
    p: number,
    contributions: Float64Array | undefined,
    agreement: number | undefined,
  ): RiskAssessment {
    const reasons: Reason[] = [];
    if (contributions !== undefined) {
      const sum = contributions.reduce((a, b) => a + b, 0);
      // Additivity: base value + contributions must be the model's own output.
      if (Math.abs(model.base + sum - p) > 1e-4)
        this.#log.warn(
          { machine, p, base: model.base, sum },
          "TreeSHAP contributions do not add up to the prediction",
        );
      const order = [...contributions.keys()].sort((a, b) => contributions[b]! - contributions[a]!);
      for (const i of order.slice(0, 3)) {
        const value = v.values[i]!;
        const c = contributions[i]!;
        reasons.push({
          feature: model.features[i]!,
          value: Number.isNaN(value) ? null : Number(value.toPrecision(4)),
          contribution: Number(c.toFixed(4)),
          text: `${model.features[i]} = ${Number.isNaN(value) ? "n/a" : Number(value.toPrecision(4))} ${c >= 0 ? "raises" : "lowers"} the risk by ${Math.abs(c * 100).toFixed(1)} points`,
        });
      }
    }
    let level = riskLevel(p, this.#cfg.alerts);
    let ruleAction: string | undefined;
    let ruleHigh = false;
    for (const rule of this.#cfg.rules) {
      const value = source.latest(machine, rule.role, now);
      if (Number.isNaN(value)) continue;
      const hit =
        (rule.above !== undefined && value > rule.above) || (rule.below !== undefined && value < rule.below);
      if (!hit) continue;
      reasons.unshift({
        feature: `rule:${rule.role}`,
        value: Number(value.toPrecision(4)),
        contribution: 0,
        text: `rule: ${rule.reason}`,
      });
      if (RANK[rule.level] > RANK[level]) level = rule.level;
      if (rule.level === "HIGH") {
        ruleHigh = true;
        ruleAction ??= rule.action;
      }
    }
    const dominant = reasons.find((r) => !r.feature.startsWith("rule:") && r.contribution > 0)?.feature ?? "";
    const actions = { ...DEFAULT_ACTIONS, ...this.#cfg.actions };
    const key = Object.keys(actions)
      .filter((k) => dominant.startsWith(k))
      .sort((a, b) => b.length - a.length)[0];
    const action =
      ruleAction ??
      (level === "LOW"
        ? "No action needed"
        : key !== undefined
          ? actions[key]!
          : "Inspect the machine at the next stop");
    const assessment: RiskAssessment = {
      machine_id: machine,
      ts: new Date(now).toISOString(),
      risk_level: level,
      failure_probability: Number(p.toFixed(4)),
      recommended_action: action,
      confidence: Number((agreement ?? Math.abs(p - 0.5) * 2).toFixed(3)),
      reasons: reasons.slice(0, 3 + reasons.filter((r) => r.feature.startsWith("rule:")).length),
      window_complete: v.complete,
      outliers_corrected: v.outliers,
    };
    this.#record(assessment, now, ruleHigh, model.modelId);
    this.latest.set(machine, assessment);
    return assessment;
  }

  /** The prediction, and any alert change, with their outbox messages and audit records: one transaction. */
  #record(a: RiskAssessment, now: number, ruleHigh: boolean, modelId: number | null): void {
    const store = this.#deps.store;
    const tracker = this.#tracker(a.machine_id);
    store.transaction(() => {
      insertPrediction(store, {
        machine_id: a.machine_id,
        ts: now,
        model_id: modelId,
        risk_level: a.risk_level,
        failure_probability: a.failure_probability,
        confidence: a.confidence,
        recommended_action: a.recommended_action,
        reasons: a.reasons,
      });
      store.enqueueOutbox("prediction", "predictions", { version: 1, ...a });
      const change = tracker.update(now, a.failure_probability, ruleHigh, this.#holdNow);
      if (change === undefined) return;
      const event = {
        actor: "predictive_maintenance",
        ts: now,
        reason: a.reasons[0]?.text ?? `risk ${a.risk_level}`,
        details: {
          failure_probability: a.failure_probability,
          risk_level: a.risk_level,
          recommended_action: a.recommended_action,
          reasons: a.reasons,
          escalated: tracker.escalated,
        },
      };
      applyModelAlert(store, change, {
        machineId: a.machine_id,
        kind: "predicted_failure",
        modelId,
        deliverHttp: this.#cfg.workOrders?.http !== undefined,
        event,
        workOrder: {
          priority: "high",
          requestedAction: a.recommended_action,
          reasons: a.reasons.map((r) => r.text),
          dueInH: 24,
        },
      });
    });
  }

  health(): ComponentHealth {
    return {
      state:
        this.loadError !== null || this.fallbackReason !== null
          ? "degraded"
          : this.#model === undefined
            ? "stopped"
            : "ok",
      details: {
        model: this.#model?.source ?? this.#cfg.model,
        modelId: this.#model?.modelId ?? null,
        loadError: this.loadError,
        fallbackReason: this.fallbackReason,
        modelSwaps: this.modelSwaps,
        ticks: this.ticks,
        skippedTicks: this.skippedTicks,
        incompleteWindows: this.incompleteWindows,
        downMachines: this.downMachines,
        unscored: Object.fromEntries(this.unscored),
        lastTickMs: Number(this.lastTickMs.toFixed(1)),
        openAlerts: [...this.#trackers.values()].filter((t) => t.open).length,
        ...(this.#model !== undefined ? { runner: this.#model.runner.health() } : {}),
      },
    };
  }
}
