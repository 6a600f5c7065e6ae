/**
 * Alerts, the same way whoever raises or handles them (the predictor, the safety monitor, the
 * safety envelope, a technician, the plant): the row, its audit record and its message for the
 * plant in one transaction, so none exists without the others.
 */
import type { Refusal } from "../common/errors.js";
import type { Db, Store } from "./store.js";
import { queueWorkOrderDelivery } from "./workOrders.js";

export type Severity = "LOW" | "MEDIUM" | "HIGH" | "SAFETY";
export type AlertChange = "opened" | "escalated" | "cleared" | "acknowledged" | "closed";
export type AlertOutcome = "confirmed" | "false_alarm";

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
  a: AlertEvent & { machineId: number; kind: string; severity: Severity; modelId?: number | null },
): number {
  return store.db.transaction(() => {
    const id = Number(
      store.db
        .prepare(
          "INSERT INTO alerts (machine_id, kind, severity, state, opened_at, updated_at, details, model_id) VALUES (?, ?, ?, 'open', ?, ?, ?, ?)",
        )
        .run(a.machineId, a.kind, a.severity, a.ts, a.ts, JSON.stringify(a.details ?? {}), a.modelId ?? null)
        .lastInsertRowid,
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

export interface WorkOrderRequest {
  priority: "high" | "medium";
  requestedAction: string;
  reasons: string[];
  dueInH: number;
}

/**
 * A model's alert changing (the failure forest's, a baseline's): opened with its work-order
 * request for the plant, escalated (the work order again, at urgent priority) or cleared, on the
 * machine's alert of that kind. With `deliverHttp` the work order is also queued for the
 * maintenance system's HTTP API, at most once per alert and escalation. Callers run it inside the
 * transaction that records the score it follows from.
 */
export function applyModelAlert(
  store: Store,
  change: "opened" | "escalated" | "cleared",
  a: {
    machineId: number;
    kind: string;
    modelId: number | null;
    event: AlertEvent;
    workOrder: WorkOrderRequest;
    deliverHttp?: boolean;
  },
): void {
  const workOrder = (alertId: number, escalation: 0 | 1, openedAt: number) => {
    const message = {
      version: 1,
      alertId,
      escalation,
      machine_id: a.machineId,
      kind: a.kind,
      priority: escalation === 1 ? "urgent" : a.workOrder.priority,
      requested_action: a.workOrder.requestedAction,
      reasons: a.workOrder.reasons,
      opened_at: new Date(openedAt).toISOString(),
      due_by: new Date(a.event.ts + a.workOrder.dueInH * 3_600_000).toISOString(),
    };
    store.enqueueOutbox("work_order", "work_orders", message);
    if (a.deliverHttp === true) queueWorkOrderDelivery(store, alertId, escalation, message, a.event.ts);
  };
  if (change === "opened") {
    const alertId = openAlert(store, {
      ...a.event,
      machineId: a.machineId,
      kind: a.kind,
      severity: "HIGH",
      modelId: a.modelId,
    });
    workOrder(alertId, 0, a.event.ts);
    return;
  }
  const open = activeAlertOf(store, a.machineId, a.kind);
  if (open === undefined) return;
  const openedAt = (
    store.db.prepare("SELECT opened_at FROM alerts WHERE id = ?").get(open) as { opened_at: number }
  ).opened_at;
  if (changeAlert(store, open, change, a.event) && change === "escalated") workOrder(open, 1, openedAt);
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
      `SELECT id, machine_id, kind, severity, state, opened_at, updated_at, cleared_at, acknowledged_by, acknowledged_at,
         outcome, outcome_mode, outcome_by, outcome_at, maintenance_record_id, model_id, work_order_ref, details
       FROM alerts ${all ? "" : "WHERE state != 'cleared'"} ORDER BY id DESC LIMIT ?`,
    )
    .all(limit) as Record<string, unknown>[];
}

export type CloseResult = { ok: true; state: string } | { ok: false; refusal: Refusal; message: string };

/**
 * A technician (or the plant) closes an alert with what was found: a confirmed failure (with its
 * mode, and the repair's record when there is one) or a false alarm. The outcome is the label the
 * live model counters and continuous learning read. An alert still active is cleared with it; a
 * SAFETY alert clears only when its cause does, so its outcome waits until then.
 */
export function closeAlert(
  store: Store,
  id: number,
  c: {
    outcome: AlertOutcome;
    failureMode?: string;
    maintenanceRecordId?: number;
    by: string;
    note?: string;
    ts: number;
  },
): CloseResult {
  return store.db.transaction((): CloseResult => {
    const row = store.db
      .prepare("SELECT machine_id, severity, state, outcome FROM alerts WHERE id = ?")
      .get(id) as
      | { machine_id: number; severity: Severity; state: string; outcome: string | null }
      | undefined;
    if (row === undefined) return { ok: false, refusal: "not_found", message: `no alert ${id}` };
    if (row.outcome !== null)
      return { ok: false, refusal: "conflict", message: `alert ${id} was already closed as ${row.outcome}` };
    if (row.severity === "SAFETY" && row.state !== "cleared")
      return {
        ok: false,
        refusal: "conflict",
        message: `alert ${id} is a SAFETY alert still active: it clears when its cause does; record its outcome then`,
      };
    if (c.outcome === "confirmed" && c.failureMode === undefined)
      return {
        ok: false,
        refusal: "invalid",
        message: "a confirmed alert needs the failure mode found (--mode)",
      };
    if (c.maintenanceRecordId !== undefined) {
      const record = store.db
        .prepare("SELECT machine_id FROM maintenance_records WHERE id = ?")
        .get(c.maintenanceRecordId) as { machine_id: number } | undefined;
      if (record === undefined)
        return { ok: false, refusal: "invalid", message: `no maintenance record ${c.maintenanceRecordId}` };
      if (record.machine_id !== row.machine_id)
        return {
          ok: false,
          refusal: "invalid",
          message: `maintenance record ${c.maintenanceRecordId} is of machine ${record.machine_id}, the alert of machine ${row.machine_id}`,
        };
    }
    store.db
      .prepare(
        `UPDATE alerts SET outcome = ?, outcome_mode = ?, outcome_by = ?, outcome_at = ?, outcome_note = ?,
           maintenance_record_id = coalesce(?, maintenance_record_id), updated_at = ?,
           state = 'cleared', cleared_at = coalesce(cleared_at, ?)
         WHERE id = ?`,
      )
      .run(
        c.outcome,
        c.failureMode ?? null,
        c.by,
        c.ts,
        c.note ?? null,
        c.maintenanceRecordId ?? null,
        c.ts,
        c.ts,
        id,
      );
    if (c.maintenanceRecordId !== undefined)
      store.db
        .prepare("UPDATE maintenance_records SET alert_id = coalesce(alert_id, ?) WHERE id = ?")
        .run(id, c.maintenanceRecordId);
    const found = c.outcome === "confirmed" ? `confirmed: ${c.failureMode}` : "false alarm";
    record(store, id, "closed", {
      actor: c.by,
      ts: c.ts,
      reason: c.note === undefined ? found : `${found} (${c.note})`,
      details: {
        outcome: c.outcome,
        failure_mode: c.failureMode ?? null,
        maintenance_record_id: c.maintenanceRecordId ?? null,
      },
    });
    return { ok: true, state: "cleared" };
  })();
}

export interface AlertOutcomeRow {
  id: number;
  machine_id: number;
  kind: string;
  model_id: number | null;
  opened_at: number;
  outcome: AlertOutcome | null;
  outcome_mode: string | null;
  outcome_at: number | null;
  maintenance_record_id: number | null;
}

/** The model alerts (predicted failures, anomalies) with their outcomes, oldest first. */
export function modelAlertOutcomes(db: Db): AlertOutcomeRow[] {
  return db
    .prepare(
      `SELECT id, machine_id, kind, model_id, opened_at, outcome, outcome_mode, outcome_at, maintenance_record_id
       FROM alerts WHERE kind IN ('predicted_failure', 'anomaly') ORDER BY opened_at, id`,
    )
    .all() as AlertOutcomeRow[];
}

/**
 * For each model, the machines it scored and over which period: the exposure its alert rate is
 * per machine-week of, and who was watching a machine when a failure came without an alert.
 */
export function modelWatch(
  store: Store,
): { model_id: number; kind: string; machine_id: number; from: number; to: number }[] {
  return store.db
    .prepare(
      `SELECT model_id, 'predicted_failure' AS kind, machine_id, min(ts) AS "from", max(ts) AS "to"
         FROM predictions WHERE model_id IS NOT NULL GROUP BY model_id, machine_id
       UNION ALL
       SELECT model_id, 'anomaly', machine_id, min(ts), max(ts)
         FROM anomaly_scores WHERE model_id IS NOT NULL AND shadow = 0 GROUP BY model_id, machine_id`,
    )
    .all() as { model_id: number; kind: string; machine_id: number; from: number; to: number }[];
}

/** The machine an alert is about, or undefined when there is no such alert. */
export function alertMachine(store: Store, id: number): number | undefined {
  return (
    store.db.prepare("SELECT machine_id FROM alerts WHERE id = ?").get(id) as
      | { machine_id: number }
      | undefined
  )?.machine_id;
}
