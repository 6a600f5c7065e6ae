/**
 * GET /ai/alerts, POST /ai/alerts/:id/ack, GET /ai/predictions, GET /ai/anomalies: what
 * `linepilot alerts` and `predict` show.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { acknowledgeAlert, listAlerts } from "../store/alerts.js";
import { latestAnomalyScores } from "../store/anomalyScores.js";
import { latestPredictions } from "../store/predictions.js";
import type { Store } from "../store/store.js";

const ackBody = z.strictObject({ by: z.string().min(1).max(64), note: z.string().max(500).optional() });

export function maintenanceRoutes(store: () => Store) {
  return (app: FastifyInstance): void => {
    app.get("/ai/alerts", async (request) => {
      const q = request.query as { state?: string; all?: string };
      const rows = listAlerts(store(), q.all === "1");
      return {
        alerts: rows.map((r) => ({
          ...r,
          details: JSON.parse(String(r.details)) as unknown,
          opened_at: new Date(Number(r.opened_at)).toISOString(),
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
