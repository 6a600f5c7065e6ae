/**
 * Production goals: one active at a time (a new one replaces it). The one rule for "the active
 * goal" lives here: the what-if and the optimizer used to each have their own, and they differed
 * (one counted a goal that had not started yet).
 */
import type { Db } from "./store.js";

export interface ActiveGoal {
  id: number;
  pieces: number;
  startsAt: number;
  dueAt: number;
}

/** The goal running at `now`: active, started, not yet due. */
export function activeGoal(db: Db, now: number): ActiveGoal | undefined {
  return db
    .prepare(
      `SELECT id, target_pieces AS pieces, starts_at AS startsAt, due_at AS dueAt FROM production_goals
       WHERE status = 'active' AND starts_at <= ? AND due_at > ? ORDER BY due_at LIMIT 1`,
    )
    .get(now, now) as ActiveGoal | undefined;
}

/** Records a goal, cancelling the active one, in the caller's transaction; returns its id. */
export function setGoal(
  db: Db,
  g: { pieces: number; quality: string; startsAt: number; dueAt: number; by: string; at: number },
): number {
  db.prepare("UPDATE production_goals SET status = 'cancelled' WHERE status = 'active'").run();
  const info = db
    .prepare(
      "INSERT INTO production_goals (target_pieces, quality, starts_at, due_at, status, created_by, created_at) VALUES (?, ?, ?, ?, 'active', ?, ?)",
    )
    .run(g.pieces, g.quality, g.startsAt, g.dueAt, g.by, g.at);
  return Number(info.lastInsertRowid);
}
