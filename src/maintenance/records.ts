/**
 * What a technician or the plant may say about a machine: a maintenance record, and what an alert
 * turned out to be. One schema and one check for each, shared by the API (the CLI's path) and the
 * plant's MQTT commands, so both accept and refuse the same things with the same words.
 */
import { z } from "zod";
import { LinepilotError, type Refusal } from "../common/errors.js";
import { FAILURE_MODE_PATTERN } from "../line/vocabulary.js";
import { alertMachine, closeAlert } from "../store/alerts.js";
import { recordMaintenance } from "../store/maintenanceRecords.js";
import type { Store } from "../store/store.js";

const isoTime = z.iso.datetime({ offset: true }).describe("ISO 8601 time, e.g. 2026-11-24T07:30:00Z");
const failureMode = z
  .string()
  .regex(FAILURE_MODE_PATTERN, { error: "a failure mode in lower case, e.g. bearing, seal, motor" })
  .describe("What failed: bearing, seal, motor, gearbox, lubrication, ... or the plant's own word");

export const maintenanceRecordArgs = z.strictObject({
  machineId: z.int().min(1),
  startedAt: isoTime,
  completedAt: isoTime,
  downtimeMin: z
    .number()
    .min(0)
    .max(525_600)
    .optional()
    .describe("Minutes the machine could not run (default: completed minus started)"),
  failure: z.boolean().describe("true: a repair after a failure; false: planned maintenance"),
  failureMode: failureMode.optional(),
  workOrder: z.string().max(64).optional(),
  parts: z.array(z.string().max(100)).max(100).optional(),
  technician: z.string().max(100).optional(),
  notes: z.string().max(2_000).optional(),
  alertId: z.int().min(1).optional().describe("The alert this work answered"),
});

export type MaintenanceRecordArgs = z.infer<typeof maintenanceRecordArgs>;

export const alertOutcomeArgs = z.strictObject({
  alertId: z.int().min(1),
  outcome: z.enum(["confirmed", "false_alarm"]),
  failureMode: failureMode.optional().describe("What was found; required when confirmed"),
  maintenanceRecordId: z.int().min(1).optional().describe("The repair's record, when there is one"),
  note: z.string().max(500).optional(),
});

export type AlertOutcomeArgs = z.infer<typeof alertOutcomeArgs>;

/** A refusal of something a person sent, with its kind (the API answers it as an HTTP status, the plant as ok: false). */
export class RecordRefused extends LinepilotError {
  readonly refusal: Refusal;
  constructor(message: string, refusal: Refusal = "invalid") {
    super("LP_ERR_USAGE", message);
    this.refusal = refusal;
  }
}

/** A clock a minute ahead of ours is a clock, not a record from the future. */
const FUTURE_SLACK_MS = 60_000;

/**
 * Checks a record against the line (its machines, its alerts, the clock) and stores it, audited
 * and queued for the plant, as one transaction. Returns the record's id.
 */
export function enterMaintenanceRecord(
  store: Store,
  machines: ReadonlySet<number>,
  a: MaintenanceRecordArgs,
  source: "cli" | "plant",
  actor: string,
  now: number,
): number {
  const startedAt = Date.parse(a.startedAt);
  const completedAt = Date.parse(a.completedAt);
  if (!machines.has(a.machineId))
    throw new RecordRefused(
      `machine ${a.machineId} is not on this line (machines: ${[...machines].sort((x, y) => x - y).join(", ")})`,
    );
  if (completedAt < startedAt)
    throw new RecordRefused(`completedAt (${a.completedAt}) is before startedAt (${a.startedAt})`);
  if (completedAt > now + FUTURE_SLACK_MS)
    throw new RecordRefused(`completedAt (${a.completedAt}) is in the future: record work once it is done`);
  if (a.failureMode !== undefined && !a.failure)
    throw new RecordRefused("a failure mode belongs to a repair after a failure (failure: true)");
  if (a.alertId !== undefined) {
    const machine = alertMachine(store, a.alertId);
    if (machine === undefined) throw new RecordRefused(`no alert ${a.alertId}`);
    if (machine !== a.machineId)
      throw new RecordRefused(`alert ${a.alertId} is of machine ${machine}, not ${a.machineId}`);
  }
  return recordMaintenance(
    store,
    {
      machineId: a.machineId,
      ...(a.workOrder !== undefined ? { workOrder: a.workOrder } : {}),
      startedAt,
      completedAt,
      downtimeMin: a.downtimeMin ?? (completedAt - startedAt) / 60_000,
      failure: a.failure,
      ...(a.failureMode !== undefined ? { failureMode: a.failureMode } : {}),
      ...(a.parts !== undefined ? { parts: a.parts } : {}),
      ...(a.technician !== undefined ? { technician: a.technician } : {}),
      ...(a.notes !== undefined ? { notes: a.notes } : {}),
      ...(a.alertId !== undefined ? { alertId: a.alertId } : {}),
      source,
    },
    actor,
  );
}

/** Closes an alert with its outcome, or throws RecordRefused saying why not. */
export function enterAlertOutcome(store: Store, a: AlertOutcomeArgs, actor: string, now: number): void {
  const result = closeAlert(store, a.alertId, {
    outcome: a.outcome,
    ...(a.failureMode !== undefined ? { failureMode: a.failureMode } : {}),
    ...(a.maintenanceRecordId !== undefined ? { maintenanceRecordId: a.maintenanceRecordId } : {}),
    ...(a.note !== undefined ? { note: a.note } : {}),
    by: actor,
    ts: now,
  });
  if (!result.ok) throw new RecordRefused(result.message, result.refusal);
}
