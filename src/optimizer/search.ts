/**
 * The baseline policy: a search over setpoint steps on the calibrated twin. Every combination of
 * {-1, -1/2, 0, +1/2, +1} autonomous steps for speed, temperature and pressure (125 candidates) is
 * run forward over the look-ahead on the same random stream, scored with docs/design.md §5's
 * reward, and the best is proposed if it beats leaving the machine alone by a margin (so noise
 * does not turn into writes).
 */
import type { ProcessParams, Setpoint } from "../process/machine.js";
import { type MachineState, type Proposal, SETPOINT_ORDER, score, targetsFromSteps } from "./decision.js";

export interface SearchOptions {
  /** Largest step as a fraction of the current value (the envelope's autonomous step). */
  stepFraction: number;
  lookaheadMin: number;
  budgetKw: number;
  seed: number;
  /** Least reward gain per hour of look-ahead worth a change. */
  minGainPerHour: number;
}

const LEVELS = [-1, -0.5, 0, 0.5, 1] as const;

export function searchPolicy(
  params: ProcessParams,
  state: MachineState,
  o: SearchOptions,
): Proposal | undefined {
  const baselineScore = score(params, state, {}, o.lookaheadMin, o.budgetKw, o.seed);
  let best: { targets: Partial<Record<Setpoint, number>>; score: number } | undefined;
  const steps = new Float64Array(3);
  const seen = new Set<string>();
  for (const a of LEVELS)
    for (const b of LEVELS)
      for (const c of LEVELS) {
        steps[0] = a * o.stepFraction;
        steps[1] = b * o.stepFraction;
        steps[2] = c * o.stepFraction;
        const targets = targetsFromSteps(state, steps);
        const key = SETPOINT_ORDER.map((sp) => targets[sp] ?? "").join("|");
        // Steps clipped at a tag's limit land on the same targets: run each once.
        if (Object.keys(targets).length === 0 || seen.has(key)) continue;
        seen.add(key);
        const s = score(params, state, targets, o.lookaheadMin, o.budgetKw, o.seed);
        if (best === undefined || s > best.score) best = { targets, score: s };
      }
  if (best === undefined || best.score - baselineScore < (o.minGainPerHour * o.lookaheadMin) / 60)
    return undefined;
  return { targets: best.targets, score: best.score, baselineScore };
}
