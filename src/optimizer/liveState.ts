/**
 * The optimizer's view of the running line: each machine's setpoints and actuals from the live
 * values (Good quality only), its limits from the config, and its share of the active production
 * goal (the goal's good pieces not yet made, split evenly over the tuned machines).
 */
import type { LineConfig } from "../config/schema.js";
import { isDown, runningStates } from "../connectors/machineEvents.js";
import { type LiveValues, stalenessLimits, usableValue } from "../connectors/quality.js";
import { isSetpointRole, roleOf, SETPOINT_ROLES, type SetpointRole } from "../line/vocabulary.js";
import type { Signal } from "../process/machine.js";
import { activeGoal } from "../store/goals.js";
import { firstValueSince } from "../store/seriesReader.js";
import type { Store } from "../store/store.js";
import { type MachineState, machineState } from "./decision.js";

export type { LiveValues };

/** The actual each setpoint moves: the twin starts its look-ahead from these. */
const ACTUAL_OF: Record<SetpointRole, string> = {
  speed_setpoint: "speed",
  temperature_setpoint: "process_temperature",
  pressure_setpoint: "pressure",
};

/**
 * What the optimizer's process model (the twin) must see of a machine to say what a change does:
 * the actuals of the setpoints it moves, its output, its scrap and its energy. Without them an
 * expected effect is invented ("+0 good pieces, scrap 100 %"), so such a machine gets no
 * suggestion, and the reason is its last decision in `status`.
 */
export function unmodelledMachines(
  line: LineConfig,
  tuned: ReadonlyMap<number, ReadonlyMap<string, unknown>>,
): Map<number, string> {
  const out = new Map<number, string>();
  for (const [machine, setpoints] of tuned) {
    const roles = new Set(line.tags.filter((t) => t.machine === machine).map((t) => roleOf(t)));
    const needed: string[][] = [
      ...[...setpoints.keys()].filter(isSetpointRole).map((sp) => [ACTUAL_OF[sp]]),
      ["piece_count", "good_count"],
      ["scrap_count"],
      ["energy_kwh"],
    ];
    const missing = needed.filter((any) => !any.some((r) => roles.has(r))).map((any) => any.join(" or "));
    if (missing.length > 0)
      out.set(
        machine,
        `not modelled: no ${missing.join(", no ")} tag, so the effect of a change cannot be computed`,
      );
  }
  return out;
}

export function liveStateReader(
  line: LineConfig,
  live: LiveValues,
  store: Store,
  tuned: ReadonlyMap<number, unknown>,
): (machineId: number, now: number) => MachineState | string {
  const index = new Map(line.tags.map((t, i) => [t.name, i]));
  const running = runningStates(line.tags);
  const goodTags = line.tags.filter((t) => t.role === "good_count" && tuned.has(t.machine));
  const unmodelled = unmodelledMachines(line, tuned as ReadonlyMap<number, ReadonlyMap<string, unknown>>);
  const staleAfter = stalenessLimits(line);
  return (machineId, now) => {
    const why = unmodelled.get(machineId);
    if (why !== undefined) return why;
    const signals: Partial<Record<Signal, number>> = {};
    const limits: Partial<Record<SetpointRole, [number, number]>> = {};
    for (const t of line.tags) {
      if (t.machine !== machineId || t.role === undefined) continue;
      const i = index.get(t.name)!;
      const usable = usableValue(live, i, now, staleAfter[i]!);
      if (!Number.isNaN(usable)) signals[t.role as Signal] = usable;
      if (isSetpointRole(t.role) && t.min !== undefined && t.max !== undefined)
        limits[t.role] = [t.min, t.max];
    }
    // A stopped or faulted machine is not tuned: the twin would look ahead as if it ran, and a
    // setpoint change is for the people who restart it to decide.
    if (isDown(running, machineId, signals.state))
      return `the machine is not running (state ${signals.state})`;
    const missing = SETPOINT_ROLES.filter((sp) => limits[sp] !== undefined && signals[sp] === undefined);
    if (missing.length > 0) return `no good current value for ${missing.join(", ")}`;
    const g = activeGoal(store.db, now);
    let share: MachineState["goal"];
    if (g !== undefined) {
      let made = 0;
      for (const t of goodTags) {
        const first = firstValueSince(store.db, t.name, g.startsAt);
        const latest = live.latestValue[index.get(t.name)!]!;
        if (!Number.isNaN(first) && !Number.isNaN(latest)) made += Math.max(0, latest - first);
      }
      share = {
        remainingGood: Math.max(0, g.pieces - made) / Math.max(1, tuned.size),
        remainingH: (g.dueAt - now) / 3_600_000,
        totalH: (g.dueAt - g.startsAt) / 3_600_000,
      };
    }
    return machineState(machineId, signals, limits, share);
  };
}
