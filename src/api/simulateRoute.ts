/** POST /ai/simulate: a what-if scenario on the twin calibrated from this line's history. */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { LinepilotError } from "../common/errors.js";
import type { LineConfig } from "../config/schema.js";
import { whatIfInWorker } from "../process/processWorker.js";
import { Admission } from "./admission.js";

const body = z.strictObject({
  scenario: z.string().min(1).max(200),
  machines: z.array(z.int().min(1)).min(1).optional(),
  horizonH: z.number().gt(0).max(744).optional(),
  goal: z.string().max(100).optional(),
  historyDays: z.number().gt(0).max(3650).optional(),
});

/** One what-if at a time (each runs the twin in a worker), four waiting; more: 429. */
export const WHAT_IFS = { concurrent: 1, waiting: 4 } as const;

export function simulateRoute(
  config: LineConfig,
  admission = new Admission("simulate", WHAT_IFS.concurrent, WHAT_IFS.waiting),
) {
  return (app: FastifyInstance): void => {
    app.post("/ai/simulate", { config: { read: true } }, async (request, reply) => {
      const parsed = body.safeParse(request.body ?? {});
      if (!parsed.success)
        return reply.code(400).send({ error: "LP_ERR_USAGE", message: z.prettifyError(parsed.error) });
      try {
        const admitted = await admission.run(() => whatIfInWorker(config.store.path, parsed.data, config));
        if (admitted === undefined)
          return reply.code(429).send({
            error: "LP_ERR_BUSY",
            message: `${WHAT_IFS.concurrent} what-if running and ${WHAT_IFS.waiting} waiting already: try again in a moment`,
          });
        return admitted.result;
      } catch (error) {
        if (error instanceof LinepilotError && error.code === "LP_ERR_USAGE")
          return reply.code(400).send({ error: error.code, message: error.message });
        throw error;
      }
    });
  };
}
