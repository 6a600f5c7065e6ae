/**
 * What the optimizer knows of a machine and how it values an outcome (docs/design.md §5), shared by
 * the twin search, the PPO policy's training and its use in the daemon, so the three judge the same
 * thing the same way.
 *
 * The reward is docs/design.md §5's: +1 per piece within spec, -10 per defective piece, -5 per step (one
 * minute of the twin) of excessive energy use, i.e. above the machine's energy budget. The goal
 * adds one term: pieces the goal will be short of at its due time cost as much as defective ones,
 * because for the plant an order short is an order short.
 */
import {
  type MachineModel,
  outputRate,
  type ProcessParams,
  powerDraw,
  type Setpoint,
  type Signal,
} from "../process/machine.js";
import { type Run, rollout, startFrom, wearFromVibration } from "../process/scenario.js";

export const SETPOINT_ORDER: readonly Setpoint[] = [
  "speed_setpoint",
  "temperature_setpoint",
  "pressure_setpoint",
];

/** The machine as the optimizer sees it at a decision. */
export interface MachineState {
  machineId: number;
  /** The PLC's current setpoints and the last actuals (twin signal names). */
  signals: Partial<Record<Signal, number>>;
  /** Absolute limits of each setpoint tag (the envelope's min/max). */
  limits: Partial<Record<Setpoint, [number, number]>>;
  /** The machine's share of the active goal, if there is one. */
  goal?: { remainingGood: number; remainingH: number; totalH: number };
}

/** A machine state from its signals; wear, which no PLC reports, is read from the vibration. */
export function machineState(
  machineId: number,
  signals: Partial<Record<Signal, number>>,
  limits: MachineState["limits"],
  goal?: MachineState["goal"],
): MachineState {
  const withWear =
    signals.wear === undefined
      ? { ...signals, wear: wearFromVibration(signals.vibration_rms, signals.speed ?? 0) }
      : signals;
  return { machineId, signals: withWear, limits, ...(goal !== undefined ? { goal } : {}) };
}

export interface Proposal {
  /** Target setpoints (absolute), only those that change. */
  targets: Partial<Record<Setpoint, number>>;
  /** The reward over the look-ahead with and without the change. */
  score: number;
  baselineScore: number;
}

export interface Effect {
  horizon_h: number;
  output_pieces: number;
  baseline_output_pieces: number;
  scrap_rate_percent: number;
  baseline_scrap_rate_percent: number;
  energy_kwh: number;
  baseline_energy_kwh: number;
  good_pieces: number;
  baseline_good_pieces: number;
}

export const DEFECT_COST = 10;
export const EXCESS_ENERGY_COST = 5;

/** The budget a machine's power is judged against: its draw at nominal speed in mid window. */
export function defaultEnergyBudgetKw(params: ProcessParams, ambientC = 25): number {
  return powerDraw(params, params.nominalSpeed, (params.tempWindow[0] + params.tempWindow[1]) / 2, ambientC);
}

export function stepReward(r: Run): number {
  return r.good - DEFECT_COST * r.scrap - EXCESS_ENERGY_COST * r.excessMinutes;
}

/**
 * The goal term over a look-ahead of `minutes`: the good pieces still missing at the due time if
 * the look-ahead's pace went on until then, costed like defective pieces.
 */
export function goalShortfallCost(goal: MachineState["goal"], r: Run, minutes: number): number {
  if (goal === undefined) return 0;
  const paceAfter = minutes > 0 ? r.good / minutes : 0;
  const restMin = Math.max(0, goal.remainingH * 60 - minutes);
  const projected = r.good + paceAfter * restMin;
  return DEFECT_COST * Math.max(0, goal.remainingGood - projected);
}

/** A twin of the machine in its current state, with these setpoints applied. */
export function twinAt(
  params: ProcessParams,
  state: MachineState,
  targets: Partial<Record<Setpoint, number>>,
  seed: number,
): MachineModel {
  const twin = startFrom(state.machineId, seed, params, state.signals);
  for (const sp of SETPOINT_ORDER) {
    const v = targets[sp];
    if (v !== undefined) twin.setSetpoint(sp, v);
  }
  return twin;
}

/** Reward of running the machine with `targets` for `minutes` (same seed: same noise for all). */
export function score(
  params: ProcessParams,
  state: MachineState,
  targets: Partial<Record<Setpoint, number>>,
  minutes: number,
  budgetKw: number,
  seed: number,
): number {
  const r = rollout(twinAt(params, state, targets, seed), minutes, budgetKw);
  return stepReward(r) - goalShortfallCost(state.goal, r, minutes);
}

/** The twin's expected effect of a change over the horizon, against leaving the machine as it is. */
export function expectedEffect(
  params: ProcessParams,
  state: MachineState,
  targets: Partial<Record<Setpoint, number>>,
  horizonH: number,
  seed: number,
): Effect {
  const minutes = Math.round(horizonH * 60);
  const w = rollout(twinAt(params, state, targets, seed), minutes);
  const b = rollout(twinAt(params, state, {}, seed), minutes);
  const rate = (r: Run) => (r.pieces === 0 ? 0 : round((100 * r.scrap) / r.pieces, 2));
  return {
    horizon_h: horizonH,
    output_pieces: w.pieces,
    baseline_output_pieces: b.pieces,
    scrap_rate_percent: rate(w),
    baseline_scrap_rate_percent: rate(b),
    energy_kwh: round(w.energy, 2),
    baseline_energy_kwh: round(b.energy, 2),
    good_pieces: w.good,
    baseline_good_pieces: b.good,
  };
}

/** The names of the policy's inputs, in order: the PPO model declares them and is checked against them. */
export const OBSERVATION = [
  "speed_vs_nominal",
  "temperature_in_window",
  "pressure_in_window",
  "speed_vs_limit",
  "wear",
  "goal_pace",
  "power_vs_budget",
  "goal_time_left",
] as const;

/**
 * The policy's view of a machine, normalised by the line's own (calibrated) process window, so a
 * policy trained on the twin reads a real line's numbers on the same scale. Written into `out`
 * (no allocation per decision).
 */
export function observe(
  params: ProcessParams,
  state: MachineState,
  budgetKw: number,
  out: Float32Array,
  offset = 0,
): void {
  const s = state.signals;
  const speed = s.speed_setpoint ?? params.nominalSpeed;
  const temp = s.temperature_setpoint ?? (params.tempWindow[0] + params.tempWindow[1]) / 2;
  const pressure = s.pressure_setpoint ?? params.nominalPressure;
  const inWindow = (v: number, [lo, hi]: [number, number]) => (2 * (v - lo)) / (hi - lo) - 1;
  const rateGood = outputRate(params, speed) / 60; // pieces/s, before scrap
  const g = state.goal;
  const pace =
    g === undefined || g.remainingH <= 0
      ? -1
      : g.remainingGood / (g.remainingH * 3600) / Math.max(rateGood, 1e-6) - 1;
  const power = powerDraw(params, speed, temp);
  out[offset] = speed / params.nominalSpeed - 1;
  out[offset + 1] = inWindow(temp, params.tempWindow);
  out[offset + 2] = inWindow(pressure, params.pressureWindow);
  out[offset + 3] = (speed - params.speedLimit) / params.speedLimit;
  out[offset + 4] = s.wear ?? 0;
  out[offset + 5] = Math.max(-1, Math.min(1, pace));
  out[offset + 6] = power / budgetKw - 1;
  out[offset + 7] = g === undefined ? 1 : Math.max(0, Math.min(1, g.remainingH / g.totalH));
}

/** Turns relative steps (fractions of the current value) into targets inside the tags' limits. */
export function targetsFromSteps(
  state: MachineState,
  steps: ArrayLike<number>,
  minStep = 0.005,
): Partial<Record<Setpoint, number>> {
  const targets: Partial<Record<Setpoint, number>> = {};
  SETPOINT_ORDER.forEach((sp, i) => {
    const current = state.signals[sp];
    const step = steps[i] ?? 0;
    if (current === undefined || Math.abs(step) < minStep) return;
    const [lo, hi] = state.limits[sp] ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
    // Rounded toward the current value, so rounding never makes a step larger than asked.
    const raw = Math.min(hi, Math.max(lo, current * (1 + step)));
    const target = raw > current ? Math.floor(raw * 1000) / 1000 : Math.ceil(raw * 1000) / 1000;
    if (Math.abs(target - current) > 1e-9) targets[sp] = target;
  });
  return targets;
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
