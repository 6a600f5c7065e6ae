/**
 * GET /ai/suggestions, POST /ai/suggestions/:id/approve|reject, GET and POST /ai/mode: what
 * `linepilot suggestions`, `approve`, `reject` and `mode` use. An approval is written at once,
 * through the safety envelope, and the answer says what the PLC now holds or why it was refused.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import type { LineConfig } from "../config/schema.js";
import type { Optimizer } from "../optimizer/optimizer.js";
import type { Store } from "../store/store.js";
import {
  decideSuggestion,
  getSuggestion,
  listSuggestions,
  setMode,
  storedModes,
} from "../store/suggestions.js";
import { HTTP_STATUS } from "./refusals.js";

const decideBody = z.strictObject({ by: z.string().min(1).max(64), note: z.string().max(500).optional() });
const modeBody = z.strictObject({
  mode: z.enum(["assisted", "autonomous"]),
  tag: z.string().min(1).optional(),
  by: z.string().min(1).max(64),
});

function usage(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ error: "LP_ERR_USAGE", message });
}

export function optimizerRoutes(
  store: () => Store,
  optimizer: () => Optimizer | undefined,
  line: LineConfig,
) {
  return (app: FastifyInstance): void => {
    app.get("/ai/suggestions", async (request) => {
      const q = request.query as { all?: string };
      const suggestions = listSuggestions(store(), q.all === "1" ? {} : { states: ["pending", "approved"] });
      return {
        suggestions: suggestions.map((s) => ({
          ...s,
          createdAt: new Date(s.createdAt).toISOString(),
          expiresAt: new Date(s.expiresAt).toISOString(),
        })),
      };
    });
    for (const decision of ["approve", "reject"] as const)
      app.post(`/ai/suggestions/:id/${decision}`, async (request, reply) => {
        const id = Number((request.params as { id: string }).id);
        const body = decideBody.safeParse(request.body ?? {});
        if (!Number.isInteger(id)) return usage(reply, 400, "the suggestion id is a number");
        if (!body.success) return usage(reply, 400, z.prettifyError(body.error));
        const opt = optimizer();
        if (opt === undefined) return usage(reply, 409, "this line has no optimizer configured");
        const result = decideSuggestion(store(), id, decision, body.data.by, Date.now(), body.data.note);
        if (!result.ok) return usage(reply, HTTP_STATUS[result.refusal], result.message);
        if (decision === "reject")
          return { ok: true, message: `suggestion ${id} rejected by ${body.data.by}` };
        await opt.applyApproved();
        const s = getSuggestion(store(), id)!;
        return {
          ok: s.state === "written",
          suggestion: s,
          message: `suggestion ${id} approved by ${body.data.by}: ${s.state}${s.outcome ? ` (${s.outcome})` : ""}`,
        };
      });
    app.get("/ai/mode", async () => {
      const opt = optimizer();
      const stored = storedModes(store());
      return {
        line: stored.get("line") ?? line.optimizer?.mode ?? "assisted",
        tags: Object.fromEntries(
          line.tags.filter((t) => t.writable).map((t) => [t.name, opt?.modeOf(t.name, stored) ?? "assisted"]),
        ),
      };
    });
    app.post("/ai/mode", async (request, reply) => {
      const body = modeBody.safeParse(request.body ?? {});
      if (!body.success) return usage(reply, 400, z.prettifyError(body.error));
      const { mode, tag, by } = body.data;
      if (tag !== undefined && !line.tags.some((t) => t.name === tag && t.writable))
        return usage(reply, 404, `no writable tag ${tag} in this line`);
      setMode(store(), tag ?? "line", mode, by, Date.now());
      return { ok: true, message: `${tag ?? "the line"} is now ${mode} (set by ${by}, audited)` };
    });
  };
}
