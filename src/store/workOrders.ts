/**
 * The queue of work orders for the maintenance system's HTTP API (SAP PM, Maximo, a webhook).
 * A row is queued in the transaction that opens or escalates its alert, so a work order exists
 * exactly when its alert does; UNIQUE (alert, escalation) makes it at most one per escalation.
 * Rows are delivered in id order and kept once delivered or refused: they are the record of
 * what the maintenance system was told, and the CMMS's id is copied onto the alert.
 */
import { randomUUID } from "node:crypto";
import type { Store } from "./store.js";

export interface WorkOrderDelivery {
  id: number;
  alertId: number;
  escalation: number;
  /** Sent as the Idempotency-Key header: a retry after a lost answer can be recognised. */
  deliveryKey: string;
  payload: Record<string, unknown>;
  attempts: number;
  nextAttemptAt: number;
}

export function queueWorkOrderDelivery(
  store: Store,
  alertId: number,
  escalation: 0 | 1,
  payload: Record<string, unknown>,
  ts: number,
): void {
  store.db
    .prepare(
      `INSERT OR IGNORE INTO work_order_deliveries (alert_id, escalation, delivery_key, payload, state, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
    )
    .run(alertId, escalation, randomUUID(), JSON.stringify(payload), ts, ts);
}

/** The oldest pending delivery: the queue is strictly in order, so one at a time. */
export function nextWorkOrderDelivery(store: Store): WorkOrderDelivery | undefined {
  const row = store.db
    .prepare(
      `SELECT id, alert_id, escalation, delivery_key, payload, attempts, next_attempt_at
       FROM work_order_deliveries WHERE state = 'pending' ORDER BY id LIMIT 1`,
    )
    .get() as
    | {
        id: number;
        alert_id: number;
        escalation: number;
        delivery_key: string;
        payload: string;
        attempts: number;
        next_attempt_at: number;
      }
    | undefined;
  if (row === undefined) return undefined;
  return {
    id: row.id,
    alertId: row.alert_id,
    escalation: row.escalation,
    deliveryKey: row.delivery_key,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
  };
}

/**
 * The attempt's result. `delivered` copies the maintenance system's id onto the alert; `refused`
 * (a 4xx: the request itself is wrong) ends the delivery and is audited by the caller; `retry`
 * keeps it first in the queue until `nextAttemptAt`.
 */
export function finishWorkOrderAttempt(
  store: Store,
  d: WorkOrderDelivery,
  result:
    | { state: "delivered"; statusCode: number; remoteId: string | null; at: number }
    | { state: "refused"; statusCode: number | null; error: string; at: number }
    | { state: "retry"; statusCode: number | null; error: string; at: number; nextAttemptAt: number },
): void {
  store.db.transaction(() => {
    store.db
      .prepare(
        `UPDATE work_order_deliveries SET state = ?, attempts = attempts + 1, status_code = ?, last_error = ?,
           remote_id = ?, next_attempt_at = ?, finished_at = ? WHERE id = ?`,
      )
      .run(
        result.state === "retry" ? "pending" : result.state,
        result.statusCode,
        result.state === "delivered" ? null : result.error,
        result.state === "delivered" ? result.remoteId : null,
        result.state === "retry" ? result.nextAttemptAt : d.nextAttemptAt,
        result.state === "retry" ? null : result.at,
        d.id,
      );
    if (result.state === "delivered" && result.remoteId !== null)
      store.db
        .prepare("UPDATE alerts SET work_order_ref = coalesce(work_order_ref, ?) WHERE id = ?")
        .run(result.remoteId, d.alertId);
  })();
}

export function workOrderDeliveryCounts(store: Store): {
  pending: number;
  delivered: number;
  refused: number;
} {
  const out = { pending: 0, delivered: 0, refused: 0 };
  for (const r of store.db
    .prepare("SELECT state, count(*) AS n FROM work_order_deliveries GROUP BY state")
    .all() as { state: keyof typeof out; n: number }[])
    out[r.state] = r.n;
  return out;
}

/** Deliveries newest first, for `linepilot work-orders` and the API. */
export function listWorkOrderDeliveries(store: Store, limit = 100): Record<string, unknown>[] {
  return store.db
    .prepare(
      `SELECT id, alert_id, escalation, state, attempts, status_code, last_error, remote_id, created_at, finished_at
       FROM work_order_deliveries ORDER BY id DESC LIMIT ?`,
    )
    .all(limit) as Record<string, unknown>[];
}
