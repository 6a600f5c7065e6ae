/**
 * One what-if question against a line's store, for the CLI (`linepilot simulate`) and the API
 * (POST /ai/simulate) alike: calibrate on the recent history, take the active production goal
 * unless one is given, and run the scenario.
 */
import type { LineConfig } from "../config/schema.js";
import { rolesOf } from "../line/vocabulary.js";
import { activeGoal } from "../store/goals.js";
import { sampleRange } from "../store/seriesReader.js";
import type { Db } from "../store/store.js";
import { calibrate } from "./calibrate.js";
import { type Goal, parseGoal, type ScenarioResult, simulateScenario } from "./scenario.js";

export interface WhatIfRequest {
  scenario: string;
  machines?: number[];
  horizonH?: number;
  goal?: string;
  /** Days of history to calibrate on, counted back from the newest sample. */
  historyDays?: number;
  seed?: number;
}

/** The goal running now, as a what-if judges it: pieces in its span. */
export function activeGoalOf(db: Db, now = Date.now()): Goal | undefined {
  const g = activeGoal(db, now);
  return g === undefined ? undefined : { pieces: g.pieces, hours: (g.dueAt - g.startsAt) / 3_600_000 };
}

export function whatIf(db: Db, request: WhatIfRequest, config?: LineConfig): ScenarioResult {
  const newest = sampleRange(db)?.to ?? null;
  const sinceTs = newest === null ? 0 : newest - (request.historyDays ?? 30) * 86_400_000;
  const calibration = calibrate(db, { roles: rolesOf(config), sinceTs });
  const goal = request.goal !== undefined ? parseGoal(request.goal) : activeGoalOf(db);
  return simulateScenario(calibration, request.scenario, {
    ...(request.machines !== undefined ? { machines: request.machines } : {}),
    ...(request.horizonH !== undefined ? { horizonH: request.horizonH } : {}),
    ...(goal !== undefined ? { goal } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
  });
}
