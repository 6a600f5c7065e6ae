/**
 * Optimizer suggestions and modes, the same way whoever handles them (the optimizer, a technician
 * through the API or CLI, the plant through MQTT): the row and its audit record (which the outbox
 * carries to the plant) in one transaction, written before anything is done about it.
 */
import type { Refusal } from "../common/errors.js";
import type { Store } from "./store.js";

export type OptimizerMode = "assisted" | "autonomous";
export type SuggestionState =
  | "pending"
  | "approved"
  | "rejected"
  | "expired"
  | "written"
  | "partly_written"
  | "refused"
  | "failed";

export interface SuggestedChange {
  tag: string;
  setpoint: string;
  from: number;
  to: number;
  percent: number;
  /** After the write: "written", or the envelope's rule / the write error. */
  outcome?: string;
}

export interface Suggestion {
  id: number;
  machineId: number;
  policy: string;
  mode: OptimizerMode;
  state: SuggestionState;
  changes: SuggestedChange[];
  expected: Record<string, unknown>;
  reason: string;
  createdAt: number;
  expiresAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  appliedAt: number | null;
  outcome: string | null;
}

interface Row {
  id: number;
  machine_id: number;
  policy: string;
  mode: OptimizerMode;
  state: SuggestionState;
  changes: string;
  expected: string;
  reason: string;
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
  applied_at: number | null;
  outcome: string | null;
}

function fromRow(r: Row): Suggestion {
  return {
    id: r.id,
    machineId: r.machine_id,
    policy: r.policy,
    mode: r.mode,
    state: r.state,
    changes: JSON.parse(r.changes) as SuggestedChange[],
    expected: JSON.parse(r.expected) as Record<string, unknown>,
    reason: r.reason,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    appliedAt: r.applied_at,
    outcome: r.outcome,
  };
}

function audit(store: Store, s: Suggestion, actor: string, decision: string, reason: string): number {
  return store.recordDecision({
    kind: "suggestion",
    actor,
    decision,
    reason,
    machineId: s.machineId,
    details: {
      suggestionId: s.id,
      policy: s.policy,
      mode: s.mode,
      state: s.state,
      changes: s.changes,
      expected: s.expected,
      decidedBy: s.decidedBy,
    },
  });
}

export function getSuggestion(store: Store, id: number): Suggestion | undefined {
  const row = store.db.prepare("SELECT * FROM suggestions WHERE id = ?").get(id) as Row | undefined;
  return row === undefined ? undefined : fromRow(row);
}

export function listSuggestions(
  store: Store,
  options: { states?: SuggestionState[]; limit?: number } = {},
): Suggestion[] {
  const states = options.states ?? [];
  const where = states.length > 0 ? `WHERE state IN (${states.map(() => "?").join(", ")})` : "";
  return (
    store.db
      .prepare(`SELECT * FROM suggestions ${where} ORDER BY id DESC LIMIT ?`)
      .all(...states, options.limit ?? 100) as Row[]
  ).map(fromRow);
}

export function createSuggestion(
  store: Store,
  s: Omit<Suggestion, "id" | "state" | "decidedBy" | "decidedAt" | "appliedAt" | "outcome">,
  actor: string,
): Suggestion {
  return store.db.transaction(() => {
    const id = Number(
      store.db
        .prepare(
          "INSERT INTO suggestions (machine_id, policy, mode, state, changes, expected, reason, created_at, expires_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
        )
        .run(
          s.machineId,
          s.policy,
          s.mode,
          JSON.stringify(s.changes),
          JSON.stringify(s.expected),
          s.reason,
          s.createdAt,
          s.expiresAt,
        ).lastInsertRowid,
    );
    const created = getSuggestion(store, id)!;
    audit(store, created, actor, "suggested", s.reason);
    return created;
  })();
}

export type DecideResult =
  | { ok: true; suggestion: Suggestion }
  | { ok: false; refusal: Refusal; message: string };

/**
 * A person (or the plant, or the optimizer itself in autonomous mode) approves or rejects a
 * pending suggestion. Approval only marks it: the write is the optimizer's, through the envelope.
 */
export function decideSuggestion(
  store: Store,
  id: number,
  decision: "approve" | "reject",
  by: string,
  now: number,
  note?: string,
): DecideResult {
  return store.db.transaction((): DecideResult => {
    const s = getSuggestion(store, id);
    if (s === undefined) return { ok: false, refusal: "not_found", message: `no suggestion ${id}` };
    if (s.state !== "pending")
      return { ok: false, refusal: "conflict", message: `suggestion ${id} is ${s.state}` };
    if (s.expiresAt <= now) {
      finish(store, s, "expired", s.changes, "expired before it was decided", "optimizer", now);
      return { ok: false, refusal: "conflict", message: `suggestion ${id} expired` };
    }
    const state = decision === "approve" ? "approved" : "rejected";
    store.db
      .prepare("UPDATE suggestions SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?")
      .run(state, by, now, id);
    const decided = getSuggestion(store, id)!;
    audit(store, decided, by, state, note ?? state);
    return { ok: true, suggestion: decided };
  })();
}

/** Records what became of a suggestion (expired, written, refused...) with its per-change outcomes. */
export function finish(
  store: Store,
  s: Suggestion,
  state: SuggestionState,
  changes: SuggestedChange[],
  outcome: string,
  actor: string,
  now: number,
): void {
  store.db.transaction(() => {
    store.db
      .prepare("UPDATE suggestions SET state = ?, changes = ?, outcome = ?, applied_at = ? WHERE id = ?")
      .run(state, JSON.stringify(changes), outcome, now, s.id);
    audit(store, getSuggestion(store, s.id)!, actor, state, outcome);
  })();
}

/**
 * Pending suggestions past their time: expired, each audited. Returns how many. `keep` are the
 * ones whose time the caller measures itself (on its monotonic clock): not expired by wall time.
 */
export function expireSuggestions(store: Store, now: number, keep: ReadonlySet<number> = new Set()): number {
  const due = (
    store.db
      .prepare("SELECT * FROM suggestions WHERE state = 'pending' AND expires_at <= ?")
      .all(now) as Row[]
  )
    .map(fromRow)
    .filter((s) => !keep.has(s.id));
  for (const s of due) finish(store, s, "expired", s.changes, "not decided in time", "optimizer", now);
  return due.length;
}

/** Expires one suggestion if it is still pending; true when it did. */
export function expireSuggestion(store: Store, id: number, now: number): boolean {
  const s = getSuggestion(store, id);
  if (s === undefined || s.state !== "pending") return false;
  finish(store, s, "expired", s.changes, "not decided in time", "optimizer", now);
  return true;
}

/** Modes a person set (scope "line" or a tag name); the config's modes apply where there is none. */
export function storedModes(store: Store): Map<string, OptimizerMode> {
  const rows = store.db.prepare("SELECT scope, mode FROM optimizer_modes").all() as {
    scope: string;
    mode: OptimizerMode;
  }[];
  return new Map(rows.map((r) => [r.scope, r.mode]));
}

export function setMode(store: Store, scope: string, mode: OptimizerMode, by: string, now: number): void {
  store.db.transaction(() => {
    const before = storedModes(store).get(scope) ?? null;
    store.db
      .prepare(
        "INSERT INTO optimizer_modes (scope, mode, set_by, set_at) VALUES (?, ?, ?, ?) ON CONFLICT(scope) DO UPDATE SET mode = excluded.mode, set_by = excluded.set_by, set_at = excluded.set_at",
      )
      .run(scope, mode, by, now);
    store.recordDecision({
      kind: "optimizer_mode",
      actor: by,
      decision: `mode ${mode}`,
      reason: `${scope === "line" ? "the line" : scope} set to ${mode} by ${by}`,
      ...(scope !== "line" ? { tag: scope } : {}),
      details: { scope, mode, before },
    });
  })();
}

/** Suggestions written to the PLC, wholly or partly (for /metrics). */
export function writtenSuggestions(store: Store): number {
  return (
    store.db
      .prepare("SELECT count(*) AS n FROM suggestions WHERE state IN ('written', 'partly_written')")
      .get() as {
      n: number;
    }
  ).n;
}

/** The expected effects of every suggestion that reached the PLC (for the metrics' savings). */
export function writtenExpectations(store: Store): Record<string, unknown>[] {
  return (
    store.db
      .prepare("SELECT expected FROM suggestions WHERE state IN ('written', 'partly_written')")
      .all() as {
      expected: string;
    }[]
  ).map((r) => JSON.parse(r.expected) as Record<string, unknown>);
}
