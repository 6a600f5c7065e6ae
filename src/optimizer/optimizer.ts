/**
 * The production optimizer in the daemon (docs/design.md §5). Every interval, each tuned machine's
 * state is read, the policy (twin search or PPO) proposes setpoint steps, and the twin gives the
 * expected effect. The suggestion is stored and audited before anything happens. Then:
 * - tags in autonomous mode are written at once, through the safety envelope, without approval;
 * - tags in assisted mode wait as a pending suggestion until a person approves it (API, CLI, or
 *   the plant's decide_suggestion), are then written through the envelope (which checks the value
 *   again at write time), or expire.
 * A tag is autonomous only when the line is autonomous and the tag is not held in assisted mode;
 * only a person switches modes (config or `linepilot mode`), and each switch is audited.
 */

import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig, OptimizerConfig, TagConfig } from "../config/schema.js";
import { ModelRunner } from "../inference/engine.js";
import { isSetpointRole, type SetpointRole as Setpoint } from "../line/vocabulary.js";
import { DEFAULT_PARAMS, type ProcessParams } from "../process/machine.js";
import type { Store } from "../store/store.js";
import {
  createSuggestion,
  decideSuggestion,
  expireSuggestion,
  expireSuggestions,
  finish,
  listSuggestions,
  type OptimizerMode,
  type SuggestedChange,
  type Suggestion,
  storedModes,
} from "../store/suggestions.js";
import {
  defaultEnergyBudgetKw,
  expectedEffect,
  type MachineState,
  OBSERVATION,
  observe,
  round,
  targetsFromSteps,
} from "./decision.js";
import { DEAD_ZONE } from "./ppo.js";
import type { SafetyEnvelope } from "./safetyEnvelope.js";
import { searchPolicy } from "./search.js";

export type Targets = Partial<Record<Setpoint, number>>;

export interface PolicyContext {
  params: ProcessParams;
  budgetKw: number;
  /** Largest step as a fraction of the current value (the envelope's autonomous step). */
  stepFraction: number;
  seed: number;
}

/** A way of choosing setpoints: the twin search or the PPO actor. */
export interface Policy {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  propose(state: MachineState, ctx: PolicyContext): Promise<Targets | undefined>;
  health(): Record<string, unknown>;
}

export class SearchPolicy implements Policy {
  readonly name = "search";
  readonly #cfg: Pick<OptimizerConfig, "lookaheadMin" | "minGainPerHour">;
  constructor(cfg: Pick<OptimizerConfig, "lookaheadMin" | "minGainPerHour">) {
    this.#cfg = cfg;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async propose(state: MachineState, ctx: PolicyContext): Promise<Targets | undefined> {
    return searchPolicy(ctx.params, state, {
      stepFraction: ctx.stepFraction,
      lookaheadMin: this.#cfg.lookaheadMin,
      budgetKw: ctx.budgetKw,
      seed: ctx.seed,
      minGainPerHour: this.#cfg.minGainPerHour,
    })?.targets;
  }
  health(): Record<string, unknown> {
    return { lookaheadMin: this.#cfg.lookaheadMin };
  }
}

/** The PPO actor exported to ONNX, run by the inference engine in its own worker. */
export class PpoPolicy implements Policy {
  readonly name = "ppo";
  readonly #runner: ModelRunner;
  readonly #input = new Float32Array(OBSERVATION.length);
  constructor(path: string, timeoutMs: number, sha256?: string) {
    this.#runner = new ModelRunner({
      name: "production_optimizer",
      path,
      features: OBSERVATION,
      kind: "policy",
      timeoutMs,
      ...(sha256 !== undefined ? { sha256 } : {}),
    });
  }
  start(): Promise<void> {
    return this.#runner.start();
  }
  stop(): Promise<void> {
    return this.#runner.stop();
  }
  async propose(state: MachineState, ctx: PolicyContext): Promise<Targets | undefined> {
    observe(ctx.params, state, ctx.budgetKw, this.#input);
    const out = await this.#runner.run(this.#input, 1);
    const action = out.values;
    // The actor's output is in [-1, 1] (tanh): a fraction of the autonomous step.
    const steps = [0, 1, 2].map((i) => (action[i] ?? 0) * ctx.stepFraction);
    const targets = targetsFromSteps(state, steps, ctx.stepFraction * DEAD_ZONE);
    return Object.keys(targets).length > 0 ? targets : undefined;
  }
  health(): Record<string, unknown> {
    return this.#runner.health();
  }
}

export function createPolicy(cfg: OptimizerConfig): Policy {
  return cfg.policy === "ppo"
    ? new PpoPolicy(cfg.model!, cfg.timeoutMs, cfg.modelSha256)
    : new SearchPolicy(cfg);
}

export interface OptimizerDeps {
  store: Store;
  log: Logger;
  line: LineConfig;
  envelope: SafetyEnvelope;
  /** The machine's current state, or a reason why there is none (no good values yet). */
  readState(machineId: number, now: number): MachineState | string;
  /** The twin's parameters for this line (calibrated from its history, or the defaults). */
  params?(): ProcessParams;
  now?: () => number;
  policy?: Policy;
  /** Seed of the twin's noise in look-aheads (fixed: the same state gets the same answer). */
  seed?: number;
}

/** Which setpoint tags the optimizer may move on each machine. */
export function tunedTags(line: LineConfig, cfg: OptimizerConfig): Map<number, Map<Setpoint, TagConfig>> {
  const wanted = new Set(cfg.machines ?? line.machines.map((m) => m.id));
  const out = new Map<number, Map<Setpoint, TagConfig>>();
  for (const t of line.tags) {
    if (!t.writable || !wanted.has(t.machine) || !isSetpointRole(t.role)) continue;
    if (!out.has(t.machine)) out.set(t.machine, new Map());
    out.get(t.machine)!.set(t.role, t);
  }
  return out;
}

export class Optimizer implements Component {
  readonly name = "optimizer";
  readonly #cfg: OptimizerConfig;
  readonly #deps: OptimizerDeps;
  readonly #log: Logger;
  readonly #now: () => number;
  /** The clock suggestion lifetimes run on: monotonic in the daemon, the injected clock in a replay. */
  readonly #mono: () => number;
  /** Suggestions made in this daemon's life, with when (on #mono). */
  readonly #madeAt = new Map<number, number>();
  readonly #tuned: Map<number, Map<Setpoint, TagConfig>>;
  readonly policy: Policy;
  #decideTimer: NodeJS.Timeout | undefined;
  #applyTimer: NodeJS.Timeout | undefined;
  /** One decision or application at a time: two writes to one tag never interleave. */
  #queue: Promise<unknown> = Promise.resolve();
  #loadError: string | null = null;
  decisions = 0;
  suggested = 0;
  autonomousWrites = 0;
  approvedWrites = 0;
  refusedChanges = 0;
  expired = 0;
  failures = 0;
  lastDecision: Record<number, string> = {};

  constructor(cfg: OptimizerConfig, deps: OptimizerDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
    this.#log = deps.log.child({ component: "optimizer" });
    this.#now = deps.now ?? Date.now;
    this.#mono = deps.now ?? (() => performance.now());
    this.#tuned = tunedTags(deps.line, cfg);
    this.policy = deps.policy ?? createPolicy(cfg);
  }

  async start(): Promise<void> {
    try {
      await this.policy.start();
    } catch (error) {
      // A policy model that cannot load leaves the optimizer degraded (no suggestions), not the daemon down.
      this.#loadError = errorMessage(error);
      this.#log.error({ err: this.#loadError }, "optimizer policy not available: no suggestions");
      return;
    }
    this.#decideTimer = setInterval(() => void this.decideOnce(), this.#cfg.intervalMs);
    this.#applyTimer = setInterval(() => void this.applyApproved(), 1_000);
    this.#decideTimer.unref();
    this.#applyTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#decideTimer);
    clearInterval(this.#applyTimer);
    await this.#queue.catch(() => undefined);
    await this.policy.stop();
  }

  /** The effective mode of a setpoint tag: autonomous only if the line and the tag both are. */
  modeOf(tag: string, stored = storedModes(this.#deps.store)): OptimizerMode {
    const line = stored.get("line") ?? this.#cfg.mode;
    const own = stored.get(tag) ?? this.#cfg.tagModes[tag] ?? "autonomous";
    return line === "autonomous" && own === "autonomous" ? "autonomous" : "assisted";
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** One decision round over every tuned machine. Returns the suggestions made. */
  decideOnce(): Promise<Suggestion[]> {
    return this.#serial(async () => {
      if (this.#loadError !== null) return [];
      const made: Suggestion[] = [];
      const now = this.#now();
      const params = this.#deps.params?.() ?? DEFAULT_PARAMS;
      const budgetKw = this.#cfg.energyBudgetKw ?? defaultEnergyBudgetKw(params);
      const stepFraction = this.#deps.line.safety.autonomousStepPercent / 100;
      const modes = storedModes(this.#deps.store);
      const pending = new Set(
        listSuggestions(this.#deps.store, { states: ["pending", "approved"] }).map((s) => s.machineId),
      );
      this.decisions++;
      for (const [machineId, tags] of this.#tuned) {
        try {
          if (pending.has(machineId)) {
            this.lastDecision[machineId] = "a suggestion is waiting for a decision";
            continue;
          }
          const alerts = this.#deps.envelope.state().safetyAlerts();
          if (alerts.length > 0) {
            this.lastDecision[machineId] = `no suggestion while a SAFETY alert is active: ${alerts[0]}`;
            continue;
          }
          const state = this.#deps.readState(machineId, now);
          if (typeof state === "string") {
            this.lastDecision[machineId] = state;
            continue;
          }
          const ctx = { params, budgetKw, stepFraction, seed: this.#deps.seed ?? 1 };
          const targets = await this.policy.propose(state, ctx);
          const changes: (SuggestedChange & { mode: OptimizerMode })[] = [];
          for (const [sp, to] of Object.entries(targets ?? {}) as [Setpoint, number][]) {
            const tag = tags.get(sp);
            const from = state.signals[sp];
            if (tag === undefined || from === undefined) continue;
            changes.push({
              tag: tag.name,
              setpoint: sp,
              from,
              to,
              percent: round((100 * (to - from)) / Math.abs(from || 1), 2),
              mode: this.modeOf(tag.name, modes),
            });
          }
          if (changes.length === 0) {
            this.lastDecision[machineId] = "no change worth making";
            continue;
          }
          for (const mode of ["autonomous", "assisted"] as const) {
            const group = changes.filter((c) => c.mode === mode).map(({ mode: _m, ...c }) => c);
            if (group.length === 0) continue;
            const groupTargets: Targets = Object.fromEntries(group.map((c) => [c.setpoint, c.to]));
            const expected = expectedEffect(params, state, groupTargets, this.#cfg.effectHorizonH, ctx.seed);
            const suggestion = createSuggestion(
              this.#deps.store,
              {
                machineId,
                policy: this.policy.name,
                mode,
                changes: group,
                expected: { ...expected },
                reason: describe(group, expected),
                createdAt: now,
                expiresAt: now + this.#cfg.suggestionTtlMs,
              },
              `optimizer:${this.policy.name}`,
            );
            this.suggested++;
            this.#madeAt.set(suggestion.id, this.#mono());
            made.push(suggestion);
            this.lastDecision[machineId] = `suggestion ${suggestion.id}: ${suggestion.reason}`;
            if (mode === "autonomous") {
              const decided = decideSuggestion(this.#deps.store, suggestion.id, "approve", "optimizer", now);
              if (decided.ok) await this.#apply(decided.suggestion, undefined);
            }
          }
        } catch (error) {
          this.failures++;
          this.lastDecision[machineId] = `failed: ${errorMessage(error)}`;
          this.#log.error({ machine: machineId, err: errorMessage(error) }, "optimizer decision failed");
        }
      }
      return made;
    });
  }

  /** Expires what is overdue and writes what a person approved. */
  applyApproved(): Promise<Suggestion[]> {
    return this.#serial(async () => {
      const now = this.#now();
      // A suggestion made in this life expires after its time on the monotonic clock (a wall
      // clock stepped forward must not expire it early, nor one stepped back keep it); one from
      // before a restart, by its stored wall time.
      this.expired += expireSuggestions(this.#deps.store, now, new Set(this.#madeAt.keys()));
      const mono = this.#mono();
      for (const [id, at] of this.#madeAt) {
        if (mono - at < this.#cfg.suggestionTtlMs) continue;
        if (expireSuggestion(this.#deps.store, id, now)) this.expired++;
        this.#madeAt.delete(id);
      }
      const done: Suggestion[] = [];
      for (const s of listSuggestions(this.#deps.store, { states: ["approved"] }).reverse())
        done.push(await this.#apply(s, s.decidedBy ?? undefined));
      return done;
    });
  }

  /**
   * Writes a decided suggestion's changes through the envelope, each checked again now. A
   * suggestion whose setpoints the PLC no longer holds (an operator moved one since it was
   * computed) is not written: its effect was computed from a state nobody approved. It expires
   * with the reason, and the next decision round proposes afresh from the state as it is.
   */
  async #apply(s: Suggestion, approvedBy: string | undefined): Promise<Suggestion> {
    const moved: string[] = [];
    for (const c of s.changes) {
      const { value, error } = await this.#deps.envelope.readNow(c.tag);
      const tolerance = (Math.abs(c.from) * this.#cfg.approvalTolerancePercent) / 100 + 1e-9;
      if (error === undefined && Math.abs(value - c.from) > tolerance)
        moved.push(`${c.tag} is ${Number(value.toPrecision(6))} in the PLC, not ${c.from}`);
    }
    if (moved.length > 0) {
      const summary = `not written: the PLC moved since the suggestion was made (${moved.join("; ")}); a fresh suggestion follows`;
      const changes = s.changes.map((c) => ({ ...c, outcome: "stale" }));
      finish(this.#deps.store, s, "expired", changes, summary, approvedBy ?? "optimizer", this.#now());
      this.expired++;
      this.#log.info({ suggestion: s.id, moved }, "approved suggestion expired: the PLC moved");
      return { ...s, state: "expired", changes, outcome: summary };
    }
    const person = s.mode === "assisted" ? approvedBy : undefined;
    const changes: SuggestedChange[] = [];
    let written = 0;
    let failed = false;
    for (const c of s.changes) {
      const outcome = await this.#deps.envelope.write({
        tag: c.tag,
        value: c.to,
        requestedBy: person ?? `optimizer:${s.policy}`,
        mode: s.mode,
        ...(person !== undefined ? { approvedBy: person } : {}),
        reason: `suggestion ${s.id}: ${s.reason}`,
      });
      if (outcome.written) {
        written++;
        if (s.mode === "autonomous") this.autonomousWrites++;
        else this.approvedWrites++;
      } else {
        this.refusedChanges++;
        if (outcome.rule === "write_failed") failed = true;
      }
      changes.push({ ...c, outcome: outcome.written ? "written" : `${outcome.rule}: ${outcome.reason}` });
    }
    const state =
      written === s.changes.length
        ? "written"
        : written > 0
          ? "partly_written"
          : failed
            ? "failed"
            : "refused";
    const summary = changes.map((c) => `${c.tag} ${c.outcome}`).join("; ");
    finish(this.#deps.store, s, state, changes, summary, approvedBy ?? "optimizer", this.#now());
    return { ...s, state, changes, outcome: summary };
  }

  health(): ComponentHealth {
    return {
      state: this.#loadError === null ? "ok" : "degraded",
      details: {
        policy: this.policy.name,
        ...(this.#loadError !== null ? { reason: this.#loadError } : {}),
        mode: storedModes(this.#deps.store).get("line") ?? this.#cfg.mode,
        machines: [...this.#tuned.keys()],
        decisions: this.decisions,
        suggested: this.suggested,
        autonomousWrites: this.autonomousWrites,
        approvedWrites: this.approvedWrites,
        refusedChanges: this.refusedChanges,
        expired: this.expired,
        failures: this.failures,
        lastDecision: this.lastDecision,
        model: this.policy.health(),
      },
    };
  }
}

function describe(changes: SuggestedChange[], e: ReturnType<typeof expectedEffect>): string {
  const what = changes.map((c) => `${c.setpoint.replace("_setpoint", "")} ${c.from} -> ${c.to}`).join(", ");
  const energy = e.energy_kwh - e.baseline_energy_kwh;
  return `${what}: over ${e.horizon_h} h expect ${e.good_pieces - e.baseline_good_pieces >= 0 ? "+" : ""}${e.good_pieces - e.baseline_good_pieces} good pieces, scrap ${e.scrap_rate_percent} % (now ${e.baseline_scrap_rate_percent} %), ${energy >= 0 ? "+" : ""}${energy.toFixed(2)} kWh`;
}
