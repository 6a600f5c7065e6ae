/**
 * One what-if question against a line's store, for the CLI (`linepilot simulate`) and the API
 * (POST /ai/simulate) alike: calibrate on the recent history, take the active production goal
 * unless one is given, and run the scenario.
 */
import type { LineConfig } from "../config/schema.js";
import { rolesOf } from "../line/vocabulary.js";
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

export function activeGoal(db: Db, now = Date.now()): Goal | undefined {
  const row = db
    .prepare(
      "SELECT target_pieces AS pieces, starts_at AS s, due_at AS d FROM production_goals WHERE status = 'active' AND due_at > ? ORDER BY due_at LIMIT 1",
    )
    .get(now) as { pieces: number; s: number; d: number } | undefined;
  return row === undefined ? undefined : { pieces: row.pieces, hours: (row.d - row.s) / 3_600_000 };
}

export function whatIf(db: Db, request: WhatIfRequest, config?: LineConfig): ScenarioResult {
  const newest = (db.prepare("SELECT max(ts) AS ts FROM sensor_data").get() as { ts: number | null }).ts;
  const sinceTs = newest === null ? 0 : newest - (request.historyDays ?? 30) * 86_400_000;
  const calibration = calibrate(db, { roles: rolesOf(config), sinceTs });
  const goal = request.goal !== undefined ? parseGoal(request.goal) : activeGoal(db);
  return simulateScenario(calibration, request.scenario, {
    ...(request.machines !== undefined ? { machines: request.machines } : {}),
    ...(request.horizonH !== undefined ? { horizonH: request.horizonH } : {}),
    ...(goal !== undefined ? { goal } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
  });
}
