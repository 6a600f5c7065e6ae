/**
 * What-if scenarios (docs/design.md §7): run the calibrated process model forward from the line's current
 * state twice, with and without the change, on the same random stream, and compare. The
 * recommendation is derived from the numbers, never written independently of them.
 */
import { LinepilotError } from "../common/errors.js";
import type { Calibration } from "./calibrate.js";
import {
  DEFAULT_PARAMS,
  MachineModel,
  type ProcessParams,
  type Setpoint,
  type Signal,
  STATE,
} from "./machine.js";

export interface Change {
  setpoint: Setpoint;
  /** Relative (fraction) or absolute change. */
  relative: boolean;
  amount: number;
}

const NAMES: Record<string, Setpoint> = {
  speed: "speed_setpoint",
  temperature: "temperature_setpoint",
  temp: "temperature_setpoint",
  pressure: "pressure_setpoint",
};

/** "speed +15%", "temperature -5", "speed +10%, pressure +0.3" */
export function parseScenario(text: string): Change[] {
  const parts = text
    .split(/[,;]| and /)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) throw new LinepilotError("LP_ERR_USAGE", 'an empty scenario; try "speed +15%"');
  return parts.map((part) => {
    const m = /^(speed|temperature|temp|pressure)\s*([+-]\s*\d+(?:\.\d+)?)\s*(%?)$/i.exec(part);
    if (m === null)
      throw new LinepilotError(
        "LP_ERR_USAGE",
        `cannot read '${part}': write PARAMETER +/-AMOUNT[%], e.g. "speed +15%", "temperature -5", "pressure +0.3" (parameters: speed, temperature, pressure)`,
      );
    return {
      setpoint: NAMES[m[1]!.toLowerCase()]!,
      relative: m[3] === "%",
      amount: Number(m[2]!.replace(/\s+/g, "")) / (m[3] === "%" ? 100 : 1),
    };
  });
}

export interface Goal {
  pieces: number;
  hours: number;
}

/** "5000 pieces in 8h" */
export function parseGoal(text: string): Goal {
  const m = /^\s*(\d+)\s*(?:pieces|pcs)?\s*(?:in|within)\s*(\d+(?:\.\d+)?)\s*h(?:ours?)?\s*$/i.exec(text);
  if (m === null)
    throw new LinepilotError(
      "LP_ERR_USAGE",
      `cannot read the goal '${text}': write e.g. "5000 pieces in 8h"`,
    );
  return { pieces: Number(m[1]), hours: Number(m[2]) };
}

export interface ScenarioResult {
  version: 1;
  scenario: string;
  machines: number[];
  horizon_h: number;
  changes: { parameter: string; from: number; to: number }[];
  predicted_output: number;
  baseline_output: number;
  predicted_output_per_hour: number;
  baseline_output_per_hour: number;
  predicted_scrap_rate: number;
  baseline_scrap_rate: number;
  predicted_energy_increase: number;
  predicted_wear_increase: "LOW" | "MEDIUM" | "HIGH";
  wear_rate_ratio: number;
  predicted_failures: number;
  baseline_failures: number;
  goal?: {
    pieces: number;
    hours: number;
    predicted_good: number;
    baseline_good: number;
    met: boolean;
    baseline_met: boolean;
  };
  recommendation: string;
  calibration: {
    windows: number;
    fitted: Calibration["fitted"];
    /** Terms the history could not identify, left at their defaults. */
    defaults: string[];
    from: string | null;
    to: string | null;
  };
}

/** What a stretch of simulated time produced. */
export interface Run {
  pieces: number;
  good: number;
  scrap: number;
  energy: number;
  wear: number;
  failures: number;
  /** One-minute steps whose power was above the energy budget (docs/design.md §5's reward). */
  excessMinutes: number;
}

/** The bearing wear implied by a vibration RMS reading (the process model's vibration response, inverted). */
export function wearFromVibration(rms: number | undefined, speed: number): number {
  if (rms === undefined || !Number.isFinite(rms)) return 0;
  const a1 = 1.0 + 0.02 * speed;
  const a2 = 0.3;
  const ad2 = 2 * (rms * rms - 0.09 / 12) - a1 * a1 - a2 * a2;
  if (ad2 <= 0) return 0;
  const ad = Math.sqrt(ad2);
  return Math.min(0.99, Math.max(0, Math.sqrt(Math.max(0, ad - 0.1) / 6)));
}

/** The process model of one machine, started from its last known state (setpoints, actuals, wear). */
export function startFrom(
  id: number,
  seed: number,
  params: ProcessParams,
  state: Partial<Record<Signal, number>>,
): MachineModel {
  const m = new MachineModel({ id, seed, params });
  m.speedSetpoint = state.speed_setpoint ?? params.nominalSpeed;
  m.temperatureSetpoint = state.temperature_setpoint ?? 182;
  m.pressureSetpoint = state.pressure_setpoint ?? params.nominalPressure;
  m.speed = state.speed ?? m.speedSetpoint;
  m.processTemperature = state.process_temperature ?? m.temperatureSetpoint;
  m.pressure = state.pressure ?? m.pressureSetpoint;
  m.motorTemperature = state.motor_temperature ?? 60;
  m.wear = state.wear ?? wearFromVibration(state.vibration_rms, m.speed);
  m.state = STATE.running; // the question is how the machine would run, not whether it is on now
  return m;
}

/**
 * Runs the process model forward in one-minute steps. A failure is counted and the machine repaired at
 * once: the comparisons this serves are about rates, not about one unlucky repair.
 */
export function rollout(m: MachineModel, minutes: number, energyBudgetKw = Number.POSITIVE_INFINITY): Run {
  const start = { pieces: m.pieces, good: m.good, scrap: m.scrap, energy: m.energyKwh };
  let failures = 0;
  let wearGained = 0;
  let excessMinutes = 0;
  for (let t = 0; t < minutes; t++) {
    const before = m.wear;
    const energyBefore = m.energyKwh;
    const failed = m.step(60) === "failed";
    if ((m.energyKwh - energyBefore) * 60 > energyBudgetKw) excessMinutes++;
    if (failed) {
      failures++;
      wearGained += 1 - before;
      m.maintain();
      continue;
    }
    wearGained += m.wear - before;
  }
  return {
    pieces: m.pieces - start.pieces,
    good: m.good - start.good,
    scrap: m.scrap - start.scrap,
    energy: m.energyKwh - start.energy,
    wear: wearGained,
    failures,
    excessMinutes,
  };
}

export function simulateScenario(
  calibration: Calibration,
  scenario: string,
  options: { machines?: number[]; horizonH?: number; goal?: Goal; seed?: number } = {},
): ScenarioResult {
  const changes = parseScenario(scenario);
  const horizon = options.horizonH ?? options.goal?.hours ?? 8;
  if (!(horizon > 0 && horizon <= 24 * 31))
    throw new LinepilotError("LP_ERR_USAGE", "the horizon must be between a minute and 31 days");
  const machines = options.machines ?? [...calibration.latest.keys()];
  if (machines.length === 0)
    throw new LinepilotError(
      "LP_ERR_USAGE",
      "no machine with history to simulate (the store has no tags with the process model's roles)",
    );
  const seed = options.seed ?? 1;
  const params = calibration.params ?? DEFAULT_PARAMS;
  const total = (rs: Run[]) =>
    rs.reduce(
      (a, r) => ({
        pieces: a.pieces + r.pieces,
        good: a.good + r.good,
        scrap: a.scrap + r.scrap,
        energy: a.energy + r.energy,
        wear: a.wear + r.wear,
        failures: a.failures + r.failures,
        excessMinutes: a.excessMinutes + r.excessMinutes,
      }),
      { pieces: 0, good: 0, scrap: 0, energy: 0, wear: 0, failures: 0, excessMinutes: 0 },
    );
  const reported: ScenarioResult["changes"] = [];
  const base: Run[] = [];
  const what: Run[] = [];
  for (const id of machines) {
    const state = calibration.latest.get(id);
    if (state === undefined)
      throw new LinepilotError("LP_ERR_USAGE", `machine ${id} has no history in the store`);
    base.push(rollout(startFrom(id, seed, params, state), horizon * 60));
    const changed = startFrom(id, seed, params, state);
    for (const c of changes) {
      const from = changed.read(c.setpoint);
      const to = c.relative ? from * (1 + c.amount) : from + c.amount;
      changed.setSetpoint(c.setpoint, to);
      if (machines.length === 1 || id === machines[0])
        reported.push({ parameter: c.setpoint, from: round(from, 2), to: round(to, 2) });
    }
    what.push(rollout(changed, horizon * 60));
  }
  const b = total(base);
  const w = total(what);
  const scrapRate = (r: Run) => (r.pieces === 0 ? 0 : (100 * r.scrap) / r.pieces);
  const energyIncrease = b.energy === 0 ? 0 : (100 * (w.energy - b.energy)) / b.energy;
  const wearRatio = b.wear === 0 ? (w.wear === 0 ? 1 : Number.POSITIVE_INFINITY) : w.wear / b.wear;
  const wearLevel = wearRatio < 1.15 ? "LOW" : wearRatio < 1.5 ? "MEDIUM" : "HIGH";
  const result: ScenarioResult = {
    version: 1,
    scenario,
    machines,
    horizon_h: horizon,
    changes: reported,
    predicted_output: Math.round(w.pieces),
    baseline_output: Math.round(b.pieces),
    predicted_output_per_hour: round(w.pieces / horizon, 1),
    baseline_output_per_hour: round(b.pieces / horizon, 1),
    predicted_scrap_rate: round(scrapRate(w), 1),
    baseline_scrap_rate: round(scrapRate(b), 1),
    predicted_energy_increase: round(energyIncrease, 1),
    predicted_wear_increase: wearLevel,
    wear_rate_ratio: round(wearRatio, 2),
    predicted_failures: w.failures,
    baseline_failures: b.failures,
    recommendation: "",
    calibration: {
      windows: calibration.windows,
      fitted: calibration.fitted,
      defaults: calibration.kept,
      from: calibration.from === null ? null : new Date(calibration.from).toISOString(),
      to: calibration.to === null ? null : new Date(calibration.to).toISOString(),
    },
  };
  if (options.goal !== undefined) {
    const g = options.goal;
    const scale = g.hours / horizon;
    result.goal = {
      ...g,
      predicted_good: Math.round(w.good * scale),
      baseline_good: Math.round(b.good * scale),
      met: w.good * scale >= g.pieces,
      baseline_met: b.good * scale >= g.pieces,
    };
  }
  result.recommendation = recommend(result, b, w);
  return result;
}

function recommend(r: ScenarioResult, b: Run, w: Run): string {
  const goodGain = b.good === 0 ? 0 : (100 * (w.good - b.good)) / b.good;
  const gain = `${goodGain >= 0 ? "+" : ""}${goodGain.toFixed(1)} % good pieces`;
  const energy = `${r.predicted_energy_increase >= 0 ? "+" : ""}${r.predicted_energy_increase.toFixed(1)} % energy`;
  if (r.predicted_failures > r.baseline_failures)
    return `Not recommended: a bearing failure is predicted within ${r.horizon_h} h (${gain}, ${energy}).`;
  if (r.goal?.met && !r.goal.baseline_met)
    return `Recommended to meet the goal: ${r.goal.predicted_good} good pieces in ${r.goal.hours} h (without the change ${r.goal.baseline_good}, short of ${r.goal.pieces}); wear increase ${r.predicted_wear_increase}, ${energy}.`;
  if (r.goal?.baseline_met && !r.goal.met)
    return `Not recommended: the goal of ${r.goal.pieces} pieces in ${r.goal.hours} h would be missed (${r.goal.predicted_good} good pieces, ${r.goal.baseline_good} without the change).`;
  if (r.predicted_scrap_rate > r.baseline_scrap_rate * 1.3 + 0.2 && goodGain < 2)
    return `Not recommended: scrap rises from ${r.baseline_scrap_rate} % to ${r.predicted_scrap_rate} % (${gain}).`;
  if (goodGain < 3 && (r.predicted_wear_increase !== "LOW" || r.predicted_energy_increase > 5))
    return `Not recommended: more wear without significant gain (${gain}, ${energy}, wear increase ${r.predicted_wear_increase}).`;
  if (goodGain >= 3 && r.predicted_wear_increase === "HIGH")
    return `Use with care: ${gain} and ${energy}, but wear grows ${r.wear_rate_ratio}x; plan the next bearing change earlier.`;
  if (goodGain >= 3)
    return `Recommended: ${gain} for ${energy}; scrap ${r.predicted_scrap_rate} % (now ${r.baseline_scrap_rate} %), wear increase ${r.predicted_wear_increase}.`;
  if (goodGain > -1 && r.predicted_energy_increase < -2)
    return `Recommended: saves ${(-r.predicted_energy_increase).toFixed(1)} % energy for ${gain}.`;
  return `No clear benefit: ${gain}, ${energy}, scrap ${r.predicted_scrap_rate} % (now ${r.baseline_scrap_rate} %).`;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
