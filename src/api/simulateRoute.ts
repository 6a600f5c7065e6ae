/** POST /ai/simulate: a what-if scenario on the twin calibrated from this line's history. */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { LinepilotError } from "../common/errors.js";
import type { LineConfig } from "../config/schema.js";
import { whatIfInWorker } from "../twin/twinWorker.js";

const body = z.strictObject({
  scenario: z.string().min(1).max(200),
  machines: z.array(z.int().min(1)).min(1).optional(),
  horizonH: z.number().gt(0).max(744).optional(),
  goal: z.string().max(100).optional(),
  historyDays: z.number().gt(0).max(3650).optional(),
});

export function simulateRoute(config: LineConfig) {
  return (app: FastifyInstance): void => {
    app.post("/ai/simulate", { config: { read: true } }, async (request, reply) => {
      const parsed = body.safeParse(request.body ?? {});
      if (!parsed.success)
        return reply.code(400).send({ error: "LP_ERR_USAGE", message: z.prettifyError(parsed.error) });
      try {
        return await whatIfInWorker(config.store.path, parsed.data, config);
      } catch (error) {
        if (error instanceof LinepilotError && error.code === "LP_ERR_USAGE")
          return reply.code(400).send({ error: error.code, message: error.message });
        throw error;
      }
    });
  };
}
