/**
 * What linepilot and the plant say to each other over MQTT. These zod schemas are the single
 * source: the sync validates with them, and deploy/mqtt/*.schema.json is generated from them
 * (`npm run schemas`; a test fails when the files drift).
 */
import { z } from "zod";
import type { PLANT_COMMANDS } from "../config/schema.js";
import { alertOutcomeArgs, maintenanceRecordArgs } from "../maintenance/records.js";

const isoTime = z.iso.datetime({ offset: true }).describe("ISO 8601 time, e.g. 2026-11-24T07:30:00Z");

const commandBase = {
  version: z.literal(1),
  id: z
    .string()
    .min(8)
    .max(100)
    .describe("Unique per command: a repeated id is answered, not executed again"),
  sender: z
    .string()
    .min(1)
    .max(64)
    .describe("Who sends it; must be allowed for this command in the line's YAML"),
};

export const plantCommandSchema = z
  .discriminatedUnion("command", [
    z.strictObject({
      ...commandBase,
      command: z.literal("ack_alert"),
      args: z.strictObject({ alertId: z.int().min(1), note: z.string().max(500).optional() }),
    }),
    z.strictObject({
      ...commandBase,
      command: z.literal("close_alert"),
      args: alertOutcomeArgs,
    }),
    z.strictObject({
      ...commandBase,
      command: z.literal("record_maintenance"),
      args: maintenanceRecordArgs,
    }),
    z.strictObject({
      ...commandBase,
      command: z.literal("set_goal"),
      args: z.strictObject({
        targetPieces: z.int().min(1),
        quality: z.string().min(1).max(32),
        startsAt: isoTime.optional(),
        dueAt: isoTime,
      }),
    }),
    z.strictObject({
      ...commandBase,
      command: z.literal("decide_suggestion"),
      args: z.strictObject({
        suggestionId: z.int().min(1),
        decision: z.enum(["approve", "reject"]),
        by: z.string().min(1).max(64).describe("The person who decided, named in the audit log"),
        note: z.string().max(500).optional(),
      }),
    }),
  ])
  .describe("A command from the plant, on <prefix>/commands");

export type PlantCommand = z.infer<typeof plantCommandSchema>;

// The command list in the config and here must be the same set.
const _sameCommands: (typeof PLANT_COMMANDS)[number] extends PlantCommand["command"] ? true : never = true;
void _sameCommands;

export const replySchema = z
  .strictObject({
    version: z.literal(1),
    messageId: z.string().describe("Stable per message: the plant de-duplicates on it"),
    commandId: z.string().nullable().describe("The command's id, or null when the command could not be read"),
    ok: z.boolean(),
    result: z.record(z.string(), z.unknown()).optional(),
    error: z.string().optional(),
    duplicate: z
      .literal(true)
      .optional()
      .describe("The command's id was seen before from this sender: this is the first answer again"),
    ts: isoTime,
  })
  .describe("linepilot's answer to a command, on <prefix>/replies");

export const statusSchema = z
  .object({
    version: z.literal(1),
    messageId: z.string().optional(),
    state: z.enum(["online", "offline", "running", "degraded", "stopping"]),
    line: z.string(),
    ts: isoTime.describe(
      "When the message was made. For the last will ('offline') that is when linepilot connected: the broker sends the will later, when the link is lost, without changing it",
    ),
    components: z.record(z.string(), z.string()).optional().describe("component -> ok | degraded | down"),
    outboxDepth: z.int().optional(),
  })
  .describe("Retained on <prefix>/status: birth 'online', last will 'offline', then periodic health");

export const auditSchema = z
  .object({
    version: z.literal(1),
    messageId: z.string(),
    auditId: z.int(),
    ts: z.int().describe("Epoch milliseconds"),
    kind: z.string(),
    actor: z.string(),
    decision: z.string(),
    reason: z.string().optional(),
    machineId: z.int().optional(),
    tag: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .describe("One AI or plant decision, as written to ai_decisions_audit, on <prefix>/audit");

export const maintenanceSchema = z
  .object({
    version: z.literal(1),
    messageId: z.string(),
    maintenanceRecordId: z.int(),
    machine_id: z.int(),
    started_at: isoTime,
    completed_at: isoTime,
    downtime_min: z.number(),
    failure: z.boolean(),
    failure_mode: z.string().nullable(),
    work_order: z.string().nullable(),
    parts: z.array(z.string()),
    technician: z.string().nullable(),
    notes: z.string(),
    alert_id: z.int().nullable(),
    by: z.string().describe("Who entered it: technician:<name> or plant:<sender>"),
  })
  .describe("A maintenance record as entered (CLI, API or plant command), on <prefix>/maintenance");

export const workOrderSchema = z
  .object({
    version: z.literal(1),
    messageId: z.string(),
    alertId: z.int(),
    escalation: z
      .union([z.literal(0), z.literal(1)])
      .describe("0: the alert opened; 1: it escalated (the same work order, now urgent)"),
    machine_id: z.int(),
    kind: z.string().describe("predicted_failure or anomaly"),
    priority: z.enum(["medium", "high", "urgent"]),
    requested_action: z.string(),
    reasons: z.array(z.string()),
    opened_at: isoTime,
    due_by: isoTime,
  })
  .describe("A work-order request for the maintenance system, on <prefix>/work_orders");

export const insightsSchema = z
  .object({
    version: z.literal(1),
    messageId: z.string(),
    ts: isoTime,
    recommendations: z.array(
      z.object({
        id: z.string(),
        kind: z.string(),
        machine_id: z.int().nullable(),
        title: z.string(),
        evidence: z.record(z.string(), z.unknown()),
        yearlySaving: z.number().nullable(),
        currency: z.string(),
      }),
    ),
    notEnoughEvidence: z.array(z.string()).describe("What was looked at and why it gave no recommendation"),
  })
  .describe("Improvement recommendations from the line's history, on <prefix>/insights");

export const MESSAGE_SCHEMAS = {
  command: plantCommandSchema,
  reply: replySchema,
  status: statusSchema,
  audit: auditSchema,
  maintenance: maintenanceSchema,
  work_order: workOrderSchema,
  insights: insightsSchema,
} as const;

export function jsonSchemaOf(name: keyof typeof MESSAGE_SCHEMAS): Record<string, unknown> {
  return {
    $id: `https://linepilot.local/mqtt/${name}.schema.json`,
    ...z.toJSONSchema(MESSAGE_SCHEMAS[name], { target: "draft-2020-12" }),
  };
}
