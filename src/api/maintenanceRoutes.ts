/** GET /ai/alerts, POST /ai/alerts/:id/ack, GET /ai/predictions: what `linepilot alerts` and `predict` show. */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Store } from "../store/store.js";

const ackBody = z.strictObject({ by: z.string().min(1).max(64), note: z.string().max(500).optional() });

export function maintenanceRoutes(store: () => Store) {
  return (app: FastifyInstance): void => {
    app.get("/ai/alerts", async (request) => {
      const q = request.query as { state?: string; all?: string };
      const rows = store()
        .db.prepare(
          `SELECT id, machine_id, kind, severity, state, opened_at, updated_at, cleared_at, acknowledged_by, acknowledged_at, details
           FROM alerts ${q.all === "1" ? "" : "WHERE state != 'cleared'"} ORDER BY id DESC LIMIT 200`,
        )
        .all() as Record<string, unknown>[];
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
      const s = store();
      const result = s.db.transaction(() => {
        const alert = s.db.prepare("SELECT state, machine_id FROM alerts WHERE id = ?").get(id) as
          | { state: string; machine_id: number }
          | undefined;
        if (alert === undefined) return { code: 404, message: `no alert ${id}` };
        if (alert.state !== "open") return { code: 409, message: `alert ${id} is ${alert.state}` };
        const now = Date.now();
        s.db
          .prepare(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, updated_at = ? WHERE id = ?",
          )
          .run(body.data.by, now, now, id);
        s.recordDecision({
          kind: "alert",
          actor: body.data.by,
          decision: "alert acknowledged",
          machineId: alert.machine_id,
          ...(body.data.note !== undefined ? { reason: body.data.note } : {}),
          details: { alertId: id },
        });
        s.enqueueOutbox("alert", "alerts", {
          version: 1,
          alertId: id,
          change: "acknowledged",
          state: "acknowledged",
          by: body.data.by,
          ts: new Date(now).toISOString(),
        });
        return { code: 200, message: `alert ${id} acknowledged by ${body.data.by}` };
      })();
      return reply
        .code(result.code)
        .send(
          result.code === 200
            ? { ok: true, message: result.message }
            : { error: result.code === 404 ? "LP_ERR_USAGE" : "LP_ERR_USAGE", message: result.message },
        );
    });
    app.get("/ai/predictions", async (request) => {
      const q = request.query as { machine?: string; limit?: string };
      const limit = Math.min(1_000, Math.max(1, Number(q.limit ?? 20) || 20));
      const rows = (
        q.machine === undefined
          ? store().db.prepare("SELECT * FROM predictions ORDER BY id DESC LIMIT ?").all(limit)
          : store()
              .db.prepare("SELECT * FROM predictions WHERE machine_id = ? ORDER BY id DESC LIMIT ?")
              .all(Number(q.machine), limit)
      ) as Record<string, unknown>[];
      return {
        predictions: rows.map((r) => ({
          ...r,
          ts: new Date(Number(r.ts)).toISOString(),
          reasons: JSON.parse(String(r.reasons)) as unknown,
        })),
      };
    });
  };
}
