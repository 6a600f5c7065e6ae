/**
 * Normal-behaviour monitoring in the daemon, for lines with no failure labels yet: each machine's
 * baseline is learned from its own first `maintenance.baseline.days` of running (in a worker, at
 * the lowest priority), kept in the registry (or beside the store), and run by the inference
 * engine every tick. Its score is recorded from the start; during the shadow period nothing is
 * alerted, after it an alert opens at the threshold with the daemon's hysteresis, and its reasons
 * say which tags deviate, by how much, in their own units, and since when. The supervised forest
 * (predictor.ts) runs beside it; each has its own alerts (kinds `anomaly` and `predicted_failure`).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig, MaintenanceConfig } from "../config/schema.js";
import { isDown, type RunningStates, runningStates } from "../connectors/machineEvents.js";
import { ModelRunner } from "../inference/engine.js";
import { readBaseline } from "../inference/onnxModel.js";
import {
  extractFeatures,
  featureKey,
  parseFeature,
  StoreSeries,
  type WindowSettings,
  windowOfModel,
  windowSettings,
} from "../preprocess/features.js";
import { seriesTags } from "../preprocess/waveform.js";
import type { ModelRegistry } from "../registry/registry.js";
import { activeAlerts, applyModelAlert } from "../store/alerts.js";
import { insertAnomalyScore } from "../store/anomalyScores.js";
import { machineRange } from "../store/seriesReader.js";
import type { Store } from "../store/store.js";
import { AlertTracker, type RiskLevel, riskLevel } from "./alertPolicy.js";
import { type BaselineSettings, baselineAlerts, baselineFeatures } from "./baseline.js";
import { learnBaselineInWorker } from "./baselineWorker.js";

export const baselineModelName = (machine: number) => `baseline_m${machine}`;

/** A deviation of this many robust SDs is one a reason names, and "since when" counts from. */
const NOTABLE = 3;

export interface AnomalyReason {
  feature: string;
  tag: string | null;
  value: number;
  normal: number;
  unit: string;
  deviation: number;
  since: string | null;
  text: string;
}

export interface AnomalyAssessment {
  machine_id: number;
  ts: string;
  score: number;
  threshold: number;
  level: RiskLevel;
  shadow: boolean;
  reasons: AnomalyReason[];
}

interface Loaded {
  runner: ModelRunner;
  modelId: number | null;
  features: readonly string[];
  window: WindowSettings;
  center: number[];
  threshold: number;
  shadowUntil: number;
  tracker: AlertTracker;
  since: Map<number, number>;
}

type Phase = "waiting" | "learning" | "shadow" | "watching" | "unscored" | "failed";

export interface BaselineDeps {
  store: Store;
  log: Logger;
  line: LineConfig;
  registry?: ModelRegistry;
}

export class BaselineMonitor implements Component {
  readonly name = "baseline";
  readonly #cfg: MaintenanceConfig;
  readonly #settings: BaselineSettings;
  readonly #deps: BaselineDeps;
  readonly #log: Logger;
  readonly #models = new Map<number, Loaded>();
  readonly #phase = new Map<number, { phase: Phase; reason: string }>();
  readonly #nextAttempt = new Map<number, number>();
  #running: RunningStates = new Map();
  #source: StoreSeries | undefined;
  #timer: NodeJS.Timeout | undefined;
  #learning: { machine: number; cancel(): Promise<void> } | undefined;
  #ticking = false;
  #holdNow = 0;
  #stopping = false;
  #firstTs = Date.now();
  ticks = 0;
  scored = 0;
  skipped = 0;
  learned = 0;
  lastError: string | null = null;
  latest = new Map<number, AnomalyAssessment>();

  constructor(cfg: MaintenanceConfig, deps: BaselineDeps) {
    this.#cfg = cfg;
    this.#settings = {
      days: cfg.baseline?.days ?? 7,
      shadowDays: cfg.baseline?.shadowDays ?? 7,
      alertsPerMachineWeek: cfg.baseline?.alertsPerMachineWeek ?? 1,
      strideMin: cfg.baseline?.strideMin ?? 10,
    };
    this.#deps = deps;
    this.#log = deps.log.child({ component: "baseline" });
  }

  /** Where baselines are kept when the line has no registry: beside the store. */
  get #dir(): string {
    return join(dirname(this.#deps.store.path), "models");
  }

  async start(): Promise<void> {
    this.#running = runningStates(this.#deps.line.tags);
    for (const m of this.#deps.line.machines) {
      const name = baselineModelName(m.id);
      try {
        const fromRegistry = this.#deps.registry?.loadActive(name);
        const bytes =
          fromRegistry?.bytes ?? (this.#deps.registry === undefined ? this.#readFile(name) : undefined);
        if (bytes !== undefined) await this.#load(m.id, bytes, fromRegistry?.entry.id ?? null);
        else this.#phase.set(m.id, { phase: "waiting", reason: "no baseline yet" });
      } catch (error) {
        this.#phase.set(m.id, { phase: "failed", reason: errorMessage(error) });
        this.lastError = errorMessage(error);
        this.#log.error(
          { machine: m.id, err: this.lastError },
          "baseline cannot be loaded; it will be learned again",
        );
      }
    }
    for (const a of activeAlerts(this.#deps.store, "anomaly")) {
      const loaded = this.#models.get(a.machine);
      if (loaded !== undefined) loaded.tracker.restore(a.at, performance.now(), Date.now() - a.at);
    }
    this.#timer = setInterval(() => void this.tick(), this.#cfg.tickMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    await this.#learning?.cancel();
    await Promise.all([...this.#models.values()].map((m) => m.runner.stop()));
  }

  #readFile(name: string): Uint8Array | undefined {
    try {
      return readFileSync(join(this.#dir, `${name}.onnx`));
    } catch {
      return undefined;
    }
  }

  async #load(machine: number, bytes: Uint8Array, modelId: number | null): Promise<void> {
    const parsed = readBaseline(bytes);
    const runner = new ModelRunner({
      name: baselineModelName(machine),
      path: modelId === null ? join(this.#dir, `${baselineModelName(machine)}.onnx`) : `registry #${modelId}`,
      bytes,
      features: parsed.info.features,
      kind: "baseline",
      timeoutMs: this.#cfg.timeoutMs,
    });
    await runner.start();
    const old = this.#models.get(machine);
    this.#models.set(machine, {
      runner,
      modelId,
      features: parsed.info.features,
      window: windowOfModel(parsed.info.metadata) ?? windowSettings(this.#cfg.window),
      center: parsed.center,
      threshold: parsed.threshold,
      shadowUntil: Number(parsed.info.metadata.shadow_until ?? 0),
      tracker: old?.tracker ?? new AlertTracker(baselineAlerts(parsed.threshold, this.#cfg.alerts)),
      since: new Map(),
    });
    await old?.runner.stop();
  }

  /** Scores every machine with a baseline, and starts learning the next one that has none. */
  async tick(at?: number): Promise<AnomalyAssessment[]> {
    // As the predictor: wall time for data and records, the monotonic clock for alert holds.
    const now = at ?? Date.now();
    this.#holdNow = at ?? performance.now();
    if (this.#ticking || this.#stopping) return [];
    this.#ticking = true;
    try {
      this.#source ??= new StoreSeries(this.#deps.store.db, seriesTags(this.#deps.line.tags));
      const out: AnomalyAssessment[] = [];
      for (const m of this.#deps.line.machines) {
        const loaded = this.#models.get(m.id);
        if (loaded === undefined) {
          this.#maybeLearn(m.id, now);
          continue;
        }
        const a = await this.#score(m.id, loaded, now);
        if (a !== undefined) out.push(a);
      }
      this.ticks++;
      return out;
    } catch (error) {
      this.lastError = errorMessage(error);
      this.#log.error({ err: this.lastError }, "baseline tick failed; ingestion continues");
      return [];
    } finally {
      this.#ticking = false;
    }
  }

  async #score(machine: number, b: Loaded, now: number): Promise<AnomalyAssessment | undefined> {
    const source = this.#source!;
    const shadow = now < b.shadowUntil;
    const missing = source.missing(machine, b.features);
    if (missing.length > 0) {
      this.#phase.set(machine, { phase: "unscored", reason: `lacks ${missing.slice(0, 4).join(", ")}` });
      this.skipped++;
      return undefined;
    }
    if (isDown(this.#running, machine, source.latest(machine, "state", now))) {
      this.skipped++;
      return undefined;
    }
    const v = extractFeatures(source, machine, now, b.window, b.features, this.#firstTs);
    if (!v.complete) {
      this.#phase.set(machine, { phase: "unscored", reason: "the last window has a gap" });
      this.skipped++;
      return undefined;
    }
    const scored = await b.runner.run(v.values, 1);
    const score = scored.probabilities[0]!;
    const deviations = scored.contributions!;
    this.#phase.set(machine, {
      phase: shadow ? "shadow" : "watching",
      reason: shadow ? `shadow period until ${new Date(b.shadowUntil).toISOString()}` : "",
    });
    for (let i = 0; i < deviations.length; i++) {
      if (Math.abs(deviations[i]!) >= NOTABLE) {
        if (!b.since.has(i)) b.since.set(i, now);
      } else b.since.delete(i);
    }
    const reasons = this.#reasons(machine, b, v.values, deviations);
    const alerts = baselineAlerts(b.threshold, this.#cfg.alerts);
    const a: AnomalyAssessment = {
      machine_id: machine,
      ts: new Date(now).toISOString(),
      score: Number(score.toFixed(4)),
      threshold: Number(b.threshold.toFixed(4)),
      level: riskLevel(score, alerts),
      shadow,
      reasons,
    };
    this.#record(a, b, now);
    this.latest.set(machine, a);
    this.scored++;
    return a;
  }

  #reasons(machine: number, b: Loaded, values: Float32Array, deviations: Float64Array): AnomalyReason[] {
    const tags = seriesTags(this.#deps.line.tags).filter((t) => t.machine === machine);
    const order = [...deviations.keys()]
      .filter((i) => deviations[i]! > 0 || deviations[i]! < 0)
      .sort((x, y) => Math.abs(deviations[y]!) - Math.abs(deviations[x]!))
      .slice(0, 3);
    return order.map((i) => {
      const feature = b.features[i]!;
      // The feature's own key, not a prefix: velocity_bpfo_max is the .bpfo series, not velocity.
      const key = parseFeature(feature).key;
      const tag = tags.find((t) => featureKey(t) === key);
      const unit = tag?.unit ?? "";
      const d = deviations[i]!;
      const since = b.since.get(i);
      const value = Number(values[i]!.toPrecision(4));
      const normal = Number(b.center[i]!.toPrecision(4));
      return {
        feature,
        tag: tag?.name ?? null,
        value,
        normal,
        unit,
        deviation: Number(d.toFixed(2)),
        since: since === undefined ? null : new Date(since).toISOString(),
        text:
          `${tag?.name ?? feature} ${feature.slice(feature.lastIndexOf("_") + 1)} ${value}${unit === "" ? "" : ` ${unit}`}, normal ${normal}${unit === "" ? "" : ` ${unit}`}: ` +
          `${Math.abs(d).toFixed(1)} robust SDs ${d > 0 ? "above" : "below"}` +
          (since === undefined ? "" : ` since ${new Date(since).toISOString().slice(0, 16)}Z`),
      };
    });
  }

  /** The score, and any alert change, with their messages and audit records: one transaction. */
  #record(a: AnomalyAssessment, b: Loaded, now: number): void {
    const store = this.#deps.store;
    store.transaction(() => {
      insertAnomalyScore(store, {
        machine_id: a.machine_id,
        ts: now,
        model_id: b.modelId,
        score: a.score,
        threshold: a.threshold,
        level: a.level,
        shadow: a.shadow,
        reasons: a.reasons,
      });
      store.enqueueOutbox("prediction", "predictions", { version: 1, kind: "anomaly", ...a });
      if (a.shadow) return; // recorded, never alerted: the shadow period earns the threshold trust
      const change = b.tracker.update(now, a.score, false, this.#holdNow);
      if (change === undefined) return;
      const action = "Inspect the machine: its behaviour has left its own normal (see the reasons)";
      const event = {
        actor: "baseline",
        ts: now,
        reason: a.reasons[0]?.text ?? `anomaly score ${a.score}`,
        details: { score: a.score, threshold: a.threshold, reasons: a.reasons, recommended_action: action },
      };
      applyModelAlert(store, change, {
        machineId: a.machine_id,
        kind: "anomaly",
        modelId: b.modelId,
        deliverHttp: this.#cfg.workOrders?.http !== undefined,
        event,
        workOrder: {
          priority: "medium",
          requestedAction: action,
          reasons: a.reasons.map((r) => r.text),
          dueInH: 72,
        },
      });
    });
  }

  /** Learns the machine's baseline once it has run its baseline days; one machine at a time. */
  #maybeLearn(machine: number, now: number): void {
    if (this.#learning !== undefined || (this.#nextAttempt.get(machine) ?? 0) > now) return;
    const line = this.#deps.line;
    const features = baselineFeatures(
      seriesTags(line.tags).filter((t) => t.machine === machine),
      this.#cfg.baseline?.features,
    );
    if (features.length === 0) {
      this.#phase.set(machine, {
        phase: "unscored",
        reason: "no tag with a signal role or modelInput: true",
      });
      this.#nextAttempt.set(machine, Number.POSITIVE_INFINITY);
      return;
    }
    const range = machineRange(this.#deps.store.db, machine);
    const needMs = this.#settings.days * 86_400_000;
    if (range === null || range.to - range.from < needMs) {
      const have = range === null ? 0 : (range.to - range.from) / 86_400_000;
      this.#phase.set(machine, {
        phase: "waiting",
        reason: `learning after ${this.#settings.days} days of history (${have.toFixed(1)} so far)`,
      });
      this.#nextAttempt.set(machine, now + Math.min(3_600_000, this.#cfg.tickMs * 10));
      return;
    }
    this.#phase.set(machine, { phase: "learning", reason: `from ${new Date(range.from).toISOString()}` });
    const name = baselineModelName(machine);
    const version = `${new Date(now).toISOString().slice(0, 10)}-${now.toString(36)}`;
    const job = learnBaselineInWorker({
      storePath: this.#deps.store.path,
      machine,
      features,
      window: windowSettings(this.#cfg.window),
      tags: seriesTags(line.tags),
      running: this.#running,
      fromTs: range.from,
      settings: this.#settings,
      alerts: this.#cfg.alerts,
      name,
      version,
    });
    this.#learning = { machine, cancel: job.cancel };
    void job.result
      .then(async (outcome) => {
        if (this.#stopping) return;
        if (!outcome.ok) {
          this.#phase.set(machine, { phase: outcome.notYet ? "waiting" : "failed", reason: outcome.message });
          this.#nextAttempt.set(machine, now + (outcome.notYet ? 3_600_000 : 6 * 3_600_000));
          if (!outcome.notYet) this.lastError = outcome.message;
          return;
        }
        await this.#adopt(machine, outcome.bytes, outcome.card as unknown as Record<string, unknown>);
      })
      .catch((error: unknown) => {
        this.lastError = errorMessage(error);
        this.#phase.set(machine, { phase: "failed", reason: this.lastError });
        this.#nextAttempt.set(machine, now + 6 * 3_600_000);
      })
      .finally(() => {
        this.#learning = undefined;
      });
  }

  /** Keeps a learned baseline (registry or file), audits it, and starts scoring with it. */
  async #adopt(machine: number, bytes: Uint8Array, card: Record<string, unknown>): Promise<void> {
    const name = baselineModelName(machine);
    const registry = this.#deps.registry;
    let modelId: number | null = null;
    const reason = `learned from ${String((card.training as { from: string }).from)} .. ${String((card.training as { to: string }).to)}, threshold ${String(card.threshold)}`;
    if (registry !== undefined) {
      const entry = registry.add(
        bytes,
        { name, version: String(card.version), type: "baseline", metrics: card, status: "candidate" },
        "baseline",
        reason,
      );
      await registry.promote(entry.id, "baseline", reason);
      modelId = entry.id;
    } else {
      mkdirSync(this.#dir, { recursive: true, mode: 0o750 });
      writeFileSync(join(this.#dir, `${name}.onnx`), bytes, { mode: 0o640 });
      writeFileSync(join(this.#dir, `${name}.card.json`), `${JSON.stringify(card, null, 2)}\n`, {
        mode: 0o640,
      });
      this.#deps.store.recordDecision({
        kind: "model",
        actor: "baseline",
        decision: "baseline learned",
        reason,
        machineId: machine,
        details: card,
      });
    }
    await this.#load(machine, bytes, modelId);
    this.learned++;
    this.#log.info({ machine, modelId, threshold: card.threshold }, "baseline learned");
  }

  health(): ComponentHealth {
    const machines: Record<string, unknown> = {};
    for (const m of this.#deps.line.machines) {
      const p = this.#phase.get(m.id) ?? { phase: "waiting", reason: "" };
      const latest = this.latest.get(m.id);
      machines[String(m.id)] = {
        phase: p.phase,
        reason: p.reason,
        ...(latest !== undefined
          ? { score: latest.score, threshold: latest.threshold, level: latest.level }
          : {}),
      };
    }
    const failed = [...this.#phase.values()].some((p) => p.phase === "failed");
    return {
      state: failed ? "degraded" : "ok",
      details: {
        ticks: this.ticks,
        scored: this.scored,
        skipped: this.skipped,
        learned: this.learned,
        learning: this.#learning?.machine ?? null,
        lastError: this.lastError,
        machines,
      },
    };
  }
}
