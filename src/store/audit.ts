/** Reading the audit log (ai_decisions_audit): written by Store.recordDecision, never changed. */
import type { Store } from "./store.js";

export interface AuditEntry {
  id: number;
  ts: number;
  kind: string;
  actor: string;
  machine_id: number | null;
  tag: string | null;
  model_id: number | null;
  decision: string;
  reason: string;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  machine?: number;
  kind?: string;
  since?: number;
  until?: number;
  limit: number;
}

/** The newest entries first, matching every filter given. */
export function listAudit(store: Store, f: AuditFilter): AuditEntry[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (f.machine !== undefined) {
    where.push("machine_id = ?");
    args.push(f.machine);
  }
  if (f.kind !== undefined) {
    where.push("kind = ?");
    args.push(f.kind);
  }
  if (f.since !== undefined) {
    where.push("ts >= ?");
    args.push(f.since);
  }
  if (f.until !== undefined) {
    where.push("ts < ?");
    args.push(f.until);
  }
  const rows = store.db
    .prepare(
      `SELECT * FROM ai_decisions_audit ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ts DESC, id DESC LIMIT ?`,
    )
    .all(...args, f.limit) as (Omit<AuditEntry, "details"> & { details: string })[];
  return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
}

/** The kinds of decision the log holds (for the console's filter). */
export function auditKinds(store: Store): string[] {
  return (
    store.db.prepare("SELECT DISTINCT kind FROM ai_decisions_audit ORDER BY kind").all() as { kind: string }[]
  ).map((r) => r.kind);
}

/** The details of the last write of `tag` the envelope audited (the shift evaluation's check). */
export function lastAuditedWrite(store: Store, tag: string): Record<string, unknown> | undefined {
  const row = store.db
    .prepare(
      "SELECT details FROM ai_decisions_audit WHERE kind = 'setpoint_write' AND tag = ? AND decision = 'write' ORDER BY id DESC LIMIT 1",
    )
    .get(tag) as { details: string } | undefined;
  return row === undefined ? undefined : (JSON.parse(row.details) as Record<string, unknown>);
}
