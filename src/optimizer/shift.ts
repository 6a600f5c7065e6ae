/**
 * A production shift on the twin, run twice on the same random stream: untouched, and with the
 * optimizer deciding every few minutes. The optimizer here is the daemon's own (same Optimizer,
 * same SafetyEnvelope, a real store); only the PLC is the twin, behind a connector that writes its
 * setpoints. Every write the twin receives is checked again, independently of the envelope, against
 * docs/design.md §6 and against the audit log (audited before it took effect). This is how
 * ai_scrap_rate_reduction_percent and ai_energy_savings_kwh are measured.
 */

import { silentLogger } from "../common/logger.js";
import { parseConfig } from "../config/load.js";
import type { LineConfig } from "../config/schema.js";
import type { Connector, WriteResult } from "../connectors/connector.js";
import {
  MachineModel,
  type ProcessParams,
  SETPOINTS,
  type Setpoint,
  type Signal,
} from "../process/machine.js";
import { lastAuditedWrite } from "../store/audit.js";
import { Store } from "../store/store.js";
import { decideSuggestion, listSuggestions, type Suggestion } from "../store/suggestions.js";
import { DEFECT_COST, defaultEnergyBudgetKw, EXCESS_ENERGY_COST, machineState } from "./decision.js";
import { Optimizer, type Policy } from "./optimizer.js";
import { SafetyEnvelope } from "./safetyEnvelope.js";
import { NO_SAFETY_SIGNALS } from "./safetyMonitor.js";

export interface ShiftOptions {
  storePath: string;
  policy: Policy;
  mode: "autonomous" | "assisted";
  machines?: number;
  hours?: number;
  seed?: number;
  decisionEveryMin?: number;
  /** Setpoints the shift starts from (a line run by hand drifts: default a hot, fast, high-pressure start). */
  start?: { speed: number; temperature: number; pressure: number };
  /** Good pieces the line must make in the shift (default: 90 % of the untouched run's). */
  goalPieces?: number;
  params?: Partial<ProcessParams>;
  /** Assisted mode: who approves what (default: nobody approves anything). */
  approve?: (s: Suggestion) => string | undefined;
}

export interface ShiftTotals {
  pieces: number;
  good: number;
  scrap: number;
  scrap_rate_percent: number;
  energy_kwh: number;
  /** Minutes (summed over machines) above the energy budget. */
  excess_energy_minutes: number;
  goal_met: boolean;
  /** docs/design.md §5's reward over the shift, with the goal's shortfall costed like scrap. */
  reward: number;
}

export interface WriteSeen {
  tag: string;
  at: number;
  from: number;
  to: number;
  audited: boolean;
  approvedBy: string | null;
}

export interface ShiftReport {
  policy: string;
  mode: string;
  machines: number;
  hours: number;
  seed: number;
  goal_pieces: number;
  baseline: ShiftTotals;
  optimized: ShiftTotals;
  ai_scrap_rate_reduction_percent: number;
  ai_energy_savings_kwh: number;
  suggestions: number;
  writes: number;
  refused_by_envelope: number;
  /** Writes the independent check found outside docs/design.md §6, or not audited first. */
  violations: string[];
  writes_seen: WriteSeen[];
}

export const SHIFT_LIMITS: Record<Setpoint, [number, number]> = {
  speed_setpoint: [10, 60],
  temperature_setpoint: [160, 200],
  pressure_setpoint: [4.5, 7.5],
};

export function shiftConfig(machines: number[], storePath: string, mode: string): LineConfig {
  const tags = machines.flatMap((id) =>
    SETPOINTS.map(
      (sp, k) =>
        `  - { name: m${id}.${sp}, machine: ${id}, role: ${sp}, connection: twin, writable: true, min: ${SHIFT_LIMITS[sp][0]}, max: ${SHIFT_LIMITS[sp][1]}, modbus: { unitId: ${id}, area: holding, address: ${k * 2}, dataType: float32 } }`,
    ),
  );
  return parseConfig(
    `version: 1
line: { enterprise: twin, site: twin, area: twin, name: shift }
machines:
${machines.map((id) => `  - { id: ${id}, name: Machine ${id} }`).join("\n")}
connections:
  - { id: twin, protocol: modbus-tcp, host: 127.0.0.1, port: 1 }
tags:
${tags.join("\n")}
store: { path: ${JSON.stringify(storePath)}, synchronous: NORMAL }
optimizer: { mode: ${mode}, intervalMs: 300000 }
`,
    "<shift>",
  );
}

function machines(count: number, seed: number, o: ShiftOptions): MachineModel[] {
  const start = o.start ?? { speed: 34, temperature: 196, pressure: 7.0 };
  return Array.from({ length: count }, (_, i) => {
    const m = new MachineModel({ id: i + 1, seed, ...(o.params ? { params: o.params } : {}) });
    m.speedSetpoint = m.speed = start.speed;
    m.temperatureSetpoint = m.processTemperature = start.temperature;
    m.pressureSetpoint = m.pressure = start.pressure;
    return m;
  });
}

/** One minute of every machine; returns the minutes above the energy budget. */
function stepMinute(ms: MachineModel[]): number {
  let excess = 0;
  for (const m of ms) {
    const before = m.energyKwh;
    m.step(60);
    if ((m.energyKwh - before) * 60 > defaultEnergyBudgetKw(m.params)) excess++;
  }
  return excess;
}

function totals(ms: MachineModel[], goal: number, excess: number): ShiftTotals {
  const pieces = ms.reduce((a, m) => a + m.pieces, 0);
  const good = ms.reduce((a, m) => a + m.good, 0);
  const scrap = ms.reduce((a, m) => a + m.scrap, 0);
  return {
    reward: good - DEFECT_COST * scrap - EXCESS_ENERGY_COST * excess - DEFECT_COST * Math.max(0, goal - good),
    excess_energy_minutes: excess,
    pieces,
    good,
    scrap,
    scrap_rate_percent: pieces === 0 ? 0 : Math.round((10_000 * scrap) / pieces) / 100,
    energy_kwh: Math.round(ms.reduce((a, m) => a + m.energyKwh, 0) * 100) / 100,
    goal_met: good >= goal,
  };
}

export async function runShift(o: ShiftOptions): Promise<ShiftReport> {
  const count = o.machines ?? 2;
  const hours = o.hours ?? 8;
  const seed = o.seed ?? 1;
  const every = o.decisionEveryMin ?? 5;
  const minutes = hours * 60;

  const untouched = machines(count, seed, o);
  let untouchedExcess = 0;
  for (let t = 0; t < minutes; t++) untouchedExcess += stepMinute(untouched);
  const goal = o.goalPieces ?? Math.round(0.9 * untouched.reduce((a, m) => a + m.good, 0));

  const twins = machines(count, seed, o);
  const ids = twins.map((m) => m.id);
  const config = shiftConfig(ids, o.storePath, o.mode);
  const store = new Store(config.store, silentLogger());
  await store.start();
  store.syncTags(config.tags);
  let clock = Date.UTC(2026, 0, 5, 6); // 06:00, the start of the morning shift
  const t0 = clock;
  const tagOf = new Map(
    config.tags.map((t) => [t.name, { twin: twins[t.machine - 1]!, role: t.role as Setpoint }]),
  );
  const seen: WriteSeen[] = [];
  const violations: string[] = [];
  const lastWrite = new Map<string, number>();
  const twinPlc: Connector = {
    name: "twin",
    protocol: "modbus-tcp",
    connected: true,
    start: async () => {},
    stop: async () => {},
    health: () => ({ state: "ok", details: {} }),
    async read(tag: string): Promise<number> {
      const { twin, role } = tagOf.get(tag)!;
      return twin.read(role);
    },
    async write(tag: string, value: number): Promise<WriteResult> {
      const { twin, role } = tagOf.get(tag)!;
      const from = twin.read(role);
      // Independent of the envelope: docs/design.md §6 checked again on what reaches the PLC.
      const details = lastAuditedWrite(store, tag) as
        | { value: number; approvedBy: string | null }
        | undefined;
      const approvedBy = details?.approvedBy ?? null;
      const isAudited = details !== undefined && details.value === value;
      const step = Math.abs(value - from) / Math.abs(from);
      const [lo, hi] = SHIFT_LIMITS[role];
      if (!isAudited)
        violations.push(`${tag} -> ${value} at ${clock - t0} ms was not audited before the write`);
      if (
        step >
        (approvedBy === null ? config.safety.autonomousStepPercent : config.safety.maxChangePercent) / 100 +
          1e-9
      )
        violations.push(`${tag}: ${from} -> ${value} is a ${(100 * step).toFixed(2)} % step`);
      if (value < lo || value > hi) violations.push(`${tag}: ${value} is outside [${lo}, ${hi}]`);
      const previous = lastWrite.get(tag);
      if (previous !== undefined && clock - previous < config.safety.minIntervalMs)
        violations.push(`${tag}: changed again after ${clock - previous} ms`);
      if (o.mode === "assisted" && approvedBy === null)
        violations.push(`${tag}: written without approval in assisted mode`);
      lastWrite.set(tag, clock);
      seen.push({ tag, at: clock - t0, from, to: value, audited: isAudited, approvedBy });
      twin.setSetpoint(role, value);
      return { tag, requested: value, readBack: twin.read(role), ok: true };
    },
  };
  const envelope = new SafetyEnvelope(config.safety, {
    store,
    log: silentLogger(),
    tags: config.tags,
    safety: NO_SAFETY_SIGNALS,
    connectorOf: () => twinPlc,
    current: (tag) => {
      const t = tagOf.get(tag);
      return t === undefined ? Number.NaN : t.twin.read(t.role);
    },
    now: () => clock,
  });
  const optimizer = new Optimizer(config.optimizer!, {
    store,
    log: silentLogger(),
    line: config,
    envelope,
    policy: o.policy,
    now: () => clock,
    params: () => twins[0]!.params,
    readState: (id, now) => {
      const twin = twins[id - 1]!;
      const signals: Partial<Record<Signal, number>> = {};
      for (const s of [
        ...SETPOINTS,
        "speed",
        "process_temperature",
        "pressure",
        "motor_temperature",
        "vibration_rms",
      ] as const)
        signals[s] = twin.read(s);
      const elapsedH = (now - t0) / 3_600_000;
      const good = twins.reduce((a, m) => a + m.good, 0);
      return machineState(id, signals, SHIFT_LIMITS, {
        remainingGood: Math.max(0, goal - good) / count,
        remainingH: hours - elapsedH,
        totalH: hours,
      });
    },
  });
  let excess = 0;
  await o.policy.start();
  try {
    for (let t = 0; t < minutes; t++) {
      if (t % every === 0) {
        await optimizer.decideOnce();
        if (o.mode === "assisted" && o.approve !== undefined)
          for (const s of listSuggestions(store, { states: ["pending"] })) {
            const by = o.approve(s);
            if (by !== undefined) decideSuggestion(store, s.id, "approve", by, clock);
          }
      }
      await optimizer.applyApproved();
      excess += stepMinute(twins);
      clock += 60_000;
    }
  } finally {
    await o.policy.stop();
    await store.stop();
  }
  const baseline = totals(untouched, goal, untouchedExcess);
  const optimized = totals(twins, goal, excess);
  return {
    policy: o.policy.name,
    mode: o.mode,
    machines: count,
    hours,
    seed,
    goal_pieces: goal,
    baseline,
    optimized,
    ai_scrap_rate_reduction_percent:
      baseline.scrap_rate_percent === 0
        ? 0
        : Math.round(
            (10_000 * (baseline.scrap_rate_percent - optimized.scrap_rate_percent)) /
              baseline.scrap_rate_percent,
          ) / 100,
    ai_energy_savings_kwh: Math.round((baseline.energy_kwh - optimized.energy_kwh) * 100) / 100,
    suggestions: optimizer.suggested,
    writes: seen.length,
    refused_by_envelope: envelope.refused,
    violations,
    writes_seen: seen,
  };
}
