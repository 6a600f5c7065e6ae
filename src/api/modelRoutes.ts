/**
 * The model registry and continuous learning on the local API: GET /ai/models, POST
 * /ai/models/:id/promote, POST /ai/models/rollback, POST /ai/models/import, GET /ai/learning and
 * POST /ai/learning/run; what `linepilot models ...` and `linepilot learn now` use. Changes are
 * made by the daemon, which holds the model key and runs the models, and each names who asked.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { errorMessage, LinepilotError } from "../common/errors.js";
import { readModelInfo } from "../inference/onnxModel.js";
import type { Learner } from "../learning/learner.js";
import { PM_MODEL_NAME } from "../maintenance/predictor.js";
import type { ModelEntry, ModelRegistry } from "../registry/registry.js";

const by = z.string().min(1).max(64);
const promoteBody = z.strictObject({ by, reason: z.string().max(500).optional() });
const rollbackBody = z.strictObject({
  name: z.string().min(1).default(PM_MODEL_NAME),
  by,
  reason: z.string().max(500).optional(),
});
const importBody = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/)
    .default(PM_MODEL_NAME),
  version: z.string().min(1).max(64),
  type: z.string().min(1).max(64).default("random_forest"),
  by,
  onnx: z.base64().describe("The plain ONNX file, base64"),
});
const learnBody = z.strictObject({ by, force: z.boolean().default(false) });

function refuse(reply: FastifyReply, error: unknown) {
  const code = error instanceof LinepilotError ? error.code : "LP_ERR_MODEL";
  return reply.code(code === "LP_ERR_USAGE" ? 409 : 422).send({ error: code, message: errorMessage(error) });
}

/**
 * A model is checked at import as it would be at promotion: a readable ONNX graph whose one input
 * takes float32 rows of the features it declares. A refused import changes nothing.
 */
function checkImported(bytes: Uint8Array): void {
  let info: ReturnType<typeof readModelInfo>;
  try {
    info = readModelInfo(bytes);
  } catch (error) {
    throw new LinepilotError("LP_ERR_MODEL", `not a readable ONNX model: ${errorMessage(error)}`);
  }
  const width = info.input.dims.at(-1);
  if (info.info.features.length === 0)
    throw new LinepilotError(
      "LP_ERR_MODEL",
      "the model declares no features (linepilot.features): it cannot be fed",
    );
  if (typeof width === "number" && width > 0 && width !== info.info.features.length)
    throw new LinepilotError(
      "LP_ERR_MODEL",
      `the model's input ${info.input.name} takes ${width} values but it declares ${info.info.features.length} features`,
    );
}

function usage(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ error: "LP_ERR_USAGE", message });
}

export function describeModel(e: ModelEntry) {
  return {
    ...e,
    trainedAt: e.trainedAt === null ? null : new Date(e.trainedAt).toISOString(),
    deployedAt: e.deployedAt === null ? null : new Date(e.deployedAt).toISOString(),
    createdAt: new Date(e.createdAt).toISOString(),
  };
}

export function modelRoutes(registry: () => ModelRegistry | undefined, learner: () => Learner | undefined) {
  const noRegistry = (reply: FastifyReply) =>
    usage(reply, 409, "this line has no model registry: add a registry: section with its key to the config");
  return (app: FastifyInstance): void => {
    app.get("/ai/models", async (_request, reply) => {
      const r = registry();
      if (r === undefined) return noRegistry(reply);
      return { models: r.list().map(describeModel) };
    });
    app.post("/ai/models/:id/promote", async (request, reply) => {
      const r = registry();
      if (r === undefined) return noRegistry(reply);
      const id = Number((request.params as { id: string }).id);
      const body = promoteBody.safeParse(request.body ?? {});
      if (!Number.isInteger(id)) return usage(reply, 400, "the model id is a number");
      if (!body.success) return usage(reply, 400, z.prettifyError(body.error));
      try {
        const { active, fallback } = await r.promote(id, body.data.by, body.data.reason ?? "");
        return {
          ok: true,
          message: `${active.name}: #${active.id} (${active.version}) is active${fallback !== undefined ? `, #${fallback.id} (${fallback.version}) is the fallback` : ""} (by ${body.data.by}, audited)`,
        };
      } catch (error) {
        return refuse(reply, error);
      }
    });
    app.post("/ai/models/rollback", async (request, reply) => {
      const r = registry();
      if (r === undefined) return noRegistry(reply);
      const body = rollbackBody.safeParse(request.body ?? {});
      if (!body.success) return usage(reply, 400, z.prettifyError(body.error));
      try {
        const { active } = await r.rollback(body.data.name, body.data.by, body.data.reason ?? "");
        return {
          ok: true,
          message: `${active.name}: rolled back to #${active.id} (${active.version}) (by ${body.data.by}, audited)`,
        };
      } catch (error) {
        return refuse(reply, error);
      }
    });
    app.post("/ai/models/import", { bodyLimit: 256 * 1024 * 1024 }, async (request, reply) => {
      const r = registry();
      if (r === undefined) return noRegistry(reply);
      const body = importBody.safeParse(request.body ?? {});
      if (!body.success) return usage(reply, 400, z.prettifyError(body.error));
      try {
        const bytes = Buffer.from(body.data.onnx, "base64");
        checkImported(bytes);
        const entry = r.add(
          bytes,
          { name: body.data.name, version: body.data.version, type: body.data.type, status: "candidate" },
          body.data.by,
          "imported with linepilot models import",
        );
        return {
          ok: true,
          model: describeModel(entry),
          message: `imported as #${entry.id} (candidate, encrypted); promote it with: linepilot models promote ${entry.id}`,
        };
      } catch (error) {
        return refuse(reply, error);
      }
    });
    app.get("/ai/learning", async (_request, reply) => {
      const l = learner();
      if (l === undefined) return usage(reply, 409, "this line has no learning: section");
      return { nextRunAt: l.nextRunAt?.toISOString() ?? null, running: l.running, runs: l.runsList(20) };
    });
    app.post("/ai/learning/run", async (request, reply) => {
      const l = learner();
      if (l === undefined) return usage(reply, 409, "this line has no learning: section");
      const body = learnBody.safeParse(request.body ?? {});
      if (!body.success) return usage(reply, 400, z.prettifyError(body.error));
      try {
        const run = await l.runNow(body.data.by, { force: body.data.force });
        return { ok: run.state !== "failed", run };
      } catch (error) {
        return refuse(reply, error);
      }
    });
  };
}
