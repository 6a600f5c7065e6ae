/**
 * Maintenance records: what a technician (CLI, API) or the plant's CMMS (MQTT command) says was
 * done to a machine. One path for all of them: the row, the link to the alert it answered, its
 * audit record and its message for the plant, in one transaction.
 */
import type { MaintenanceRecord, Store } from "./store.js";

export interface StoredMaintenanceRecord {
  id: number;
  machine_id: number;
  work_order: string | null;
  started_at: number;
  completed_at: number;
  downtime_min: number;
  failure: boolean;
  failure_mode: string | null;
  parts: string[];
  technician: string | null;
  notes: string;
  source: string;
  alert_id: number | null;
  recorded_by: string | null;
}

type Row = Omit<StoredMaintenanceRecord, "failure" | "parts"> & { failure: number; parts: string };

const COLUMNS = `id, machine_id, work_order, started_at, completed_at, downtime_min, failure, failure_mode,
  parts, technician, notes, source, alert_id, recorded_by`;

function fromRow(r: Row): StoredMaintenanceRecord {
  return { ...r, failure: r.failure === 1, parts: JSON.parse(r.parts) as string[] };
}

/** Stores a record, links it to its alert, audits it and queues it for the plant; returns its id. */
export function recordMaintenance(store: Store, r: MaintenanceRecord, actor: string): number {
  return store.db.transaction(() => {
    const id = store.insertMaintenanceRecord({ ...r, recordedBy: actor });
    if (r.alertId !== undefined)
      store.db
        .prepare("UPDATE alerts SET maintenance_record_id = ? WHERE id = ? AND maintenance_record_id IS NULL")
        .run(id, r.alertId);
    const hours = ((r.completedAt - r.startedAt) / 3_600_000).toFixed(1);
    store.recordDecision({
      kind: "maintenance",
      actor,
      decision: r.failure ? "repair recorded" : "maintenance recorded",
      reason: `${r.failure ? `repair after a ${r.failureMode ?? "failure"}` : "planned maintenance"}, ${hours} h${r.workOrder === undefined ? "" : `, work order ${r.workOrder}`}`,
      machineId: r.machineId,
      details: { maintenanceRecordId: id, ...(r.alertId !== undefined ? { alertId: r.alertId } : {}) },
    });
    store.enqueueOutbox("audit", "maintenance", {
      version: 1,
      maintenanceRecordId: id,
      machine_id: r.machineId,
      started_at: new Date(r.startedAt).toISOString(),
      completed_at: new Date(r.completedAt).toISOString(),
      downtime_min: r.downtimeMin,
      failure: r.failure,
      failure_mode: r.failureMode ?? null,
      work_order: r.workOrder ?? null,
      parts: r.parts ?? [],
      technician: r.technician ?? null,
      notes: r.notes ?? "",
      alert_id: r.alertId ?? null,
      by: actor,
    });
    return id;
  })();
}

/** Records newest first, of one machine or all, completed at or after `since`. */
export function listMaintenance(
  store: Store,
  opts: { machine?: number; since?: number; limit?: number } = {},
): StoredMaintenanceRecord[] {
  const rows = store.db
    .prepare(
      `SELECT ${COLUMNS} FROM maintenance_records
       WHERE (@machine IS NULL OR machine_id = @machine) AND completed_at >= @since
       ORDER BY started_at DESC, id DESC LIMIT @limit`,
    )
    .all({ machine: opts.machine ?? null, since: opts.since ?? 0, limit: opts.limit ?? 1_000 }) as Row[];
  return rows.map(fromRow);
}

/** Every record in time order (oldest first): what reliability figures and insights read. */
export function maintenanceHistory(store: Store): StoredMaintenanceRecord[] {
  return (
    store.db.prepare(`SELECT ${COLUMNS} FROM maintenance_records ORDER BY started_at, id`).all() as Row[]
  ).map(fromRow);
}

export function maintenanceRecordExists(store: Store, id: number): boolean {
  return store.db.prepare("SELECT 1 FROM maintenance_records WHERE id = ?").get(id) !== undefined;
}

/**
 * When each machine was first seen: its first sample, machine event or maintenance record. The
 * observed period MTBF divides by starts there. One indexed lookup per tag.
 */
export function firstSeen(store: Store): Map<number, number> {
  const out = new Map<number, number>();
  const keep = (machine: number, ts: number | null) => {
    if (ts === null) return;
    const was = out.get(machine);
    if (was === undefined || ts < was) out.set(machine, ts);
  };
  const tags = store.db.prepare("SELECT id, machine_id FROM tags").all() as {
    id: number;
    machine_id: number;
  }[];
  const first = store.db.prepare("SELECT min(ts) AS ts FROM sensor_data WHERE tag_id = ?");
  for (const t of tags) keep(t.machine_id, (first.get(t.id) as { ts: number | null }).ts);
  for (const r of store.db
    .prepare(
      `SELECT machine_id AS m, min(ts) AS ts FROM machine_events GROUP BY machine_id
       UNION ALL SELECT machine_id, min(started_at) FROM maintenance_records GROUP BY machine_id`,
    )
    .all() as { m: number; ts: number }[])
    keep(r.m, r.ts);
  return out;
}

/** `fault` machine events (the PLC's own failure signal), oldest first. */
export function faultEvents(store: Store): { machine: number; ts: number }[] {
  return store.db
    .prepare("SELECT machine_id AS machine, ts FROM machine_events WHERE kind = 'fault' ORDER BY ts")
    .all() as { machine: number; ts: number }[];
}

/** Machine events other than faults and state changes (alarms, warnings), oldest first. */
export function alarmEvents(
  store: Store,
  since: number,
  stateKinds: readonly string[],
): { machine: number; ts: number; kind: string; code: number | null; message: string }[] {
  const placeholders = stateKinds.map(() => "?").join(", ");
  return store.db
    .prepare(
      `SELECT machine_id AS machine, ts, kind, code, message FROM machine_events
       WHERE ts >= ? AND kind != 'fault' AND kind NOT LIKE '%_cleared'
       ${stateKinds.length > 0 ? `AND kind NOT IN (${placeholders})` : ""} ORDER BY ts`,
    )
    .all(since, ...stateKinds) as {
    machine: number;
    ts: number;
    kind: string;
    code: number | null;
    message: string;
  }[];
}
