/**
 * GET /ai/alerts, POST /ai/alerts/:id/ack and /close, GET /ai/predictions, GET /ai/anomalies,
 * GET and POST /ai/maintenance, GET /ai/reliability, GET /ai/models/outcomes, GET /ai/work-orders:
 * what `linepilot alerts`, `predict`, `maintenance` and `models` show and change. Records and
 * outcomes are checked by the same code as the plant's MQTT commands (maintenance/records.ts).
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { modelLiveCounters } from "../maintenance/alertOutcomes.js";
import type { Insights } from "../maintenance/insights.js";
import {
  alertOutcomeArgs,
  enterAlertOutcome,
  enterMaintenanceRecord,
  maintenanceRecordArgs,
  RecordRefused,
} from "../maintenance/records.js";
import { reliability } from "../maintenance/reliability.js";
import { acknowledgeAlert, listAlerts } from "../store/alerts.js";
import { latestAnomalyScores } from "../store/anomalyScores.js";
import { listMaintenance } from "../store/maintenanceRecords.js";
import { latestPredictions } from "../store/predictions.js";
import type { Store } from "../store/store.js";
import { listWorkOrderDeliveries, workOrderDeliveryCounts } from "../store/workOrders.js";
import { HTTP_STATUS } from "./refusals.js";

const by = z.string().min(1).max(64).describe("The person, named in the audit log");
const ackBody = z.strictObject({ by, note: z.string().max(500).optional() });
const closeBody = alertOutcomeArgs.omit({ alertId: true }).extend({ by });
const recordBody = maintenanceRecordArgs.extend({ by });

export interface MaintenanceRouteOptions {
  machines: ReadonlySet<number>;
  /** The failure horizon the live counters judge a missed failure by (learning.horizonH). */
  horizonH: number;
  /** The latest insights, or fresh ones (maintenance/insightsPublisher.ts); absent without maintenance. */
  insights?(fresh: boolean): Insights;
}

const iso = (ts: unknown) => (ts === null || ts === undefined ? null : new Date(Number(ts)).toISOString());

function refused(reply: FastifyReply, error: unknown) {
  if (error instanceof RecordRefused)
    return reply.code(HTTP_STATUS[error.refusal]).send({ error: "LP_ERR_USAGE", message: error.message });
  throw error;
}

export function maintenanceRoutes(store: () => Store, options: MaintenanceRouteOptions) {
  return (app: FastifyInstance): void => {
    app.get("/ai/alerts", async (request) => {
      const q = request.query as { state?: string; all?: string };
      const rows = listAlerts(store(), q.all === "1");
      return {
        alerts: rows.map((r) => ({
          ...r,
          details: JSON.parse(String(r.details)) as unknown,
          opened_at: iso(r.opened_at),
          outcome_at: iso(r.outcome_at),
        })),
      };
    });
    app.post("/ai/alerts/:id/ack", async (request, reply) => {
      const id = Number((request.params as { id: string }).id);
      const body = ackBody.safeParse(request.body ?? {});
      if (!Number.isInteger(id) || !body.success)
        return reply.code(400).send({
          error: "LP_ERR_USAGE",
          message: body.success ? "the alert id is a number" : z.prettifyError(body.error),
        });
      const was = acknowledgeAlert(store(), id, body.data.by, body.data.note, Date.now());
      if (was === undefined)
        return reply.code(404).send({ error: "LP_ERR_USAGE", message: `no alert ${id}` });
      if (was !== "open")
        return reply.code(409).send({ error: "LP_ERR_USAGE", message: `alert ${id} is ${was}` });
      return { ok: true, message: `alert ${id} acknowledged by ${body.data.by}` };
    });
    app.post("/ai/alerts/:id/close", async (request, reply) => {
      const id = Number((request.params as { id: string }).id);
      const body = closeBody.safeParse(request.body ?? {});
      if (!Number.isInteger(id) || !body.success)
        return reply.code(400).send({
          error: "LP_ERR_USAGE",
          message: body.success ? "the alert id is a number" : z.prettifyError(body.error),
        });
      const { by: who, ...outcome } = body.data;
      try {
        enterAlertOutcome(store(), { alertId: id, ...outcome }, `technician:${who}`, Date.now());
      } catch (error) {
        return refused(reply, error);
      }
      const found = outcome.outcome === "confirmed" ? `confirmed (${outcome.failureMode})` : "a false alarm";
      return { ok: true, message: `alert ${id} closed by ${who} as ${found}` };
    });
    app.get("/ai/maintenance", async (request) => {
      const q = request.query as { machine?: string; since?: string; limit?: string };
      const rows = listMaintenance(store(), {
        ...(q.machine !== undefined ? { machine: Number(q.machine) } : {}),
        ...(q.since !== undefined ? { since: Number(q.since) } : {}),
        limit: Math.min(10_000, Math.max(1, Number(q.limit ?? 200) || 200)),
      });
      return {
        records: rows.map((r) => ({
          ...r,
          started_at: iso(r.started_at),
          completed_at: iso(r.completed_at),
        })),
      };
    });
    app.post("/ai/maintenance", async (request, reply) => {
      const body = recordBody.safeParse(request.body ?? {});
      if (!body.success)
        return reply.code(400).send({ error: "LP_ERR_USAGE", message: z.prettifyError(body.error) });
      const { by: who, ...record } = body.data;
      try {
        const id = enterMaintenanceRecord(
          store(),
          options.machines,
          record,
          "cli",
          `technician:${who}`,
          Date.now(),
        );
        return { ok: true, id, message: `maintenance record ${id} stored for machine ${record.machineId}` };
      } catch (error) {
        return refused(reply, error);
      }
    });
    app.get("/ai/reliability", async (request) => {
      const q = request.query as { machine?: string };
      const machines = q.machine === undefined ? [...options.machines] : [Number(q.machine)];
      return {
        machines: reliability(store(), Date.now(), machines).map((m) => ({
          ...m,
          lastFailureAt: iso(m.lastFailureAt),
        })),
      };
    });
    app.get("/ai/models/outcomes", async () => ({
      horizonH: options.horizonH,
      models: modelLiveCounters(store(), options.horizonH),
    }));
    app.get("/ai/insights", async (request, reply) => {
      if (options.insights === undefined)
        return reply.code(404).send({
          error: "LP_ERR_USAGE",
          message: "insights need a maintenance: section in the line's YAML",
        });
      return options.insights((request.query as { fresh?: string }).fresh === "1");
    });
    app.get("/ai/work-orders", async () => ({
      counts: workOrderDeliveryCounts(store()),
      deliveries: listWorkOrderDeliveries(store()).map((d) => ({
        ...d,
        created_at: iso(d.created_at),
        finished_at: iso(d.finished_at),
      })),
    }));
    app.get("/ai/predictions", async (request) => {
      const q = request.query as { machine?: string; limit?: string };
      const limit = Math.min(1_000, Math.max(1, Number(q.limit ?? 20) || 20));
      const rows = latestPredictions(store(), q.machine === undefined ? undefined : Number(q.machine), limit);
      return { predictions: rows.map((r) => ({ ...r, ts: new Date(r.ts).toISOString() })) };
    });
    app.get("/ai/anomalies", async (request) => {
      const q = request.query as { machine?: string; limit?: string };
      const limit = Math.min(1_000, Math.max(1, Number(q.limit ?? 20) || 20));
      const machine = q.machine === undefined ? undefined : Number(q.machine);
      return {
        anomalies: latestAnomalyScores(store(), machine, limit).map((r) => ({
          ...r,
          ts: new Date(r.ts).toISOString(),
        })),
      };
    });
  };
}
