/**
 * Alerts, the same way whoever raises or handles them (the predictor, the safety monitor, the
 * safety envelope, a technician, the plant): the row, its audit record and its message for the
 * plant in one transaction, so none exists without the others.
 */
import type { Store } from "./store.js";

export type Severity = "LOW" | "MEDIUM" | "HIGH" | "SAFETY";
export type AlertChange = "opened" | "escalated" | "cleared" | "acknowledged";

export interface AlertEvent {
  /** Who changes it: "predictive_maintenance", "safety_monitor", "technician:anna", "plant:scada". */
  actor: string;
  ts: number;
  /** One line for the audit log. */
  reason: string;
  /** Stored with the alert (replacing the previous details) and sent to the plant. */
  details?: Record<string, unknown>;
}

function record(store: Store, id: number, change: AlertChange, e: AlertEvent): void {
  const row = store.db
    .prepare("SELECT machine_id, kind, severity, state FROM alerts WHERE id = ?")
    .get(id) as {
    machine_id: number;
    kind: string;
    severity: Severity;
    state: string;
  };
  store.recordDecision({
    kind: "alert",
    actor: e.actor,
    decision: `alert ${change}`,
    reason: e.reason,
    machineId: row.machine_id,
    details: { alertId: id, alertKind: row.kind, severity: row.severity },
  });
  store.enqueueOutbox("alert", "alerts", {
    version: 1,
    alertId: id,
    change,
    machine_id: row.machine_id,
    kind: row.kind,
    severity: row.severity,
    state: row.state,
    by: e.actor,
    ...e.details,
    ts: new Date(e.ts).toISOString(),
  });
}

export function openAlert(
  store: Store,
  a: AlertEvent & { machineId: number; kind: string; severity: Severity },
): number {
  return store.db.transaction(() => {
    const id = Number(
      store.db
        .prepare(
          "INSERT INTO alerts (machine_id, kind, severity, state, opened_at, updated_at, details) VALUES (?, ?, ?, 'open', ?, ?, ?)",
        )
        .run(a.machineId, a.kind, a.severity, a.ts, a.ts, JSON.stringify(a.details ?? {})).lastInsertRowid,
    );
    record(store, id, "opened", a);
    return id;
  })();
}

/** Escalates or clears an alert that is not cleared yet; false when there is none. */
export function changeAlert(
  store: Store,
  id: number,
  change: "escalated" | "cleared",
  e: AlertEvent,
): boolean {
  return store.db.transaction(() => {
    const info = store.db
      .prepare(
        `UPDATE alerts SET updated_at = ?, details = coalesce(?, details)${change === "cleared" ? ", state = 'cleared', cleared_at = ?" : ""}
         WHERE id = ? AND state != 'cleared'`,
      )
      .run(
        ...[
          e.ts,
          e.details === undefined ? null : JSON.stringify(e.details),
          ...(change === "cleared" ? [e.ts] : []),
          id,
        ],
      );
    if (info.changes === 0) return false;
    record(store, id, change, e);
    return true;
  })();
}

/**
 * A person (or the plant) saw the alert. It stays active until its cause clears: acknowledging a
 * SAFETY alert never lifts its block on writes. Returns the state it had, or undefined if none.
 */
export function acknowledgeAlert(
  store: Store,
  id: number,
  by: string,
  note: string | undefined,
  ts: number,
): string | undefined {
  return store.db.transaction(() => {
    const row = store.db.prepare("SELECT state FROM alerts WHERE id = ?").get(id) as
      | { state: string }
      | undefined;
    if (row === undefined || row.state !== "open") return row?.state;
    store.db
      .prepare(
        "UPDATE alerts SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, updated_at = ? WHERE id = ?",
      )
      .run(by, ts, ts, id);
    record(store, id, "acknowledged", { actor: by, ts, reason: note ?? "acknowledged" });
    return "open";
  })();
}

/** The machine's alert of this kind that has not cleared yet (the newest), if any. */
export function activeAlertOf(store: Store, machine: number, kind: string): number | undefined {
  const row = store.db
    .prepare(
      "SELECT id FROM alerts WHERE machine_id = ? AND kind = ? AND state != 'cleared' ORDER BY id DESC LIMIT 1",
    )
    .get(machine, kind) as { id: number } | undefined;
  return row?.id;
}

/** Every alert of this kind not cleared yet, for a component restoring its alert state at start. */
export function activeAlerts(store: Store, kind: string): { machine: number; at: number; details: string }[] {
  return store.db
    .prepare(
      "SELECT machine_id AS machine, opened_at AS at, details FROM alerts WHERE kind = ? AND state != 'cleared'",
    )
    .all(kind) as { machine: number; at: number; details: string }[];
}

/**
 * A model's alert changing (the failure forest's, a baseline's): opened with its work-order
 * request for the plant, or escalated or cleared on the machine's alert of that kind. Callers run
 * it inside the transaction that records the score it follows from.
 */
export function applyModelAlert(
  store: Store,
  change: "opened" | "escalated" | "cleared",
  a: {
    machineId: number;
    kind: string;
    event: AlertEvent;
    workOrder: { priority: "high" | "medium"; requestedAction: string; reasons: string[]; dueInH: number };
  },
): void {
  if (change === "opened") {
    const alertId = openAlert(store, { ...a.event, machineId: a.machineId, kind: a.kind, severity: "HIGH" });
    store.enqueueOutbox("work_order", "work_orders", {
      version: 1,
      alertId,
      machine_id: a.machineId,
      priority: a.workOrder.priority,
      requested_action: a.workOrder.requestedAction,
      reasons: a.workOrder.reasons,
      due_by: new Date(a.event.ts + a.workOrder.dueInH * 3_600_000).toISOString(),
    });
    return;
  }
  const open = activeAlertOf(store, a.machineId, a.kind);
  if (open !== undefined) changeAlert(store, open, change, a.event);
}

/** The SAFETY alerts not cleared yet, with the reason each was opened for. */
export function activeSafetyAlerts(store: Store): { id: number; reason: string }[] {
  return (
    store.db
      .prepare("SELECT id, details FROM alerts WHERE severity = 'SAFETY' AND state != 'cleared'")
      .all() as { id: number; details: string }[]
  ).map((a) => ({
    id: a.id,
    reason: (JSON.parse(a.details) as { reason?: string }).reason ?? "safety alert",
  }));
}

/** The alerts `linepilot alerts` lists: open and acknowledged ones, or all with `all`, newest first. */
export function listAlerts(store: Store, all: boolean, limit = 200): Record<string, unknown>[] {
  return store.db
    .prepare(
      `SELECT id, machine_id, kind, severity, state, opened_at, updated_at, cleared_at, acknowledged_by, acknowledged_at, details
       FROM alerts ${all ? "" : "WHERE state != 'cleared'"} ORDER BY id DESC LIMIT ?`,
    )
    .all(limit) as Record<string, unknown>[];
}
