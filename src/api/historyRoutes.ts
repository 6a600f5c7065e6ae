/**
 * GET /tags/:name/history, GET /ai/risk, GET /ai/audit: the history behind the console's charts
 * and tables, and `linepilot trend` and `linepilot audit`. Periods are ISO times or epoch ms;
 * long ones are downsampled in the store (min, max and mean per bucket), never sent raw.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import Papa from "papaparse";
import type { LineConfig } from "../config/schema.js";
import { auditKinds, listAudit } from "../store/audit.js";
import { riskHistory } from "../store/predictions.js";
import { listTags } from "../store/seriesReader.js";
import type { Store } from "../store/store.js";
import { tagHistory } from "../store/tagHistory.js";

const H = 3_600_000;

function usage(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ error: "LP_ERR_USAGE", message });
}

/** An ISO time or epoch milliseconds; `fallback` when absent; NaN when unreadable. */
export function parseTime(v: string | undefined, fallback: number): number {
  if (v === undefined || v === "") return fallback;
  if (/^\d+$/.test(v)) return Number(v);
  return Date.parse(v);
}

function period(
  q: { from?: string; to?: string },
  defaultSpan: number,
): { from: number; to: number } | string {
  const to = parseTime(q.to, Date.now());
  const from = parseTime(q.from, to - defaultSpan);
  if (Number.isNaN(to)) return `to: not a time (${q.to}); give an ISO time or epoch milliseconds`;
  if (Number.isNaN(from)) return `from: not a time (${q.from}); give an ISO time or epoch milliseconds`;
  if (from >= to) return "from must be before to";
  return { from, to };
}

function points(v: string | undefined): number | string {
  const n = v === undefined ? 1_000 : Number(v);
  return Number.isInteger(n) && n >= 2 && n <= 5_000 ? n : "points: an integer from 2 to 5000";
}

export function historyRoutes(store: () => Store, line: LineConfig) {
  const tagsByName = new Map(line.tags.map((t) => [t.name, t]));
  let ids: Map<string, number> | undefined;
  return (app: FastifyInstance): void => {
    app.get("/tags/:name/history", async (request, reply) => {
      const name = (request.params as { name: string }).name;
      const q = request.query as { from?: string; to?: string; points?: string };
      const tag = tagsByName.get(name);
      ids ??= new Map(listTags(store().db).map((t) => [t.name, t.id]));
      const id = ids.get(name);
      if (tag === undefined || id === undefined) return usage(reply, 404, `no tag ${name} on this line`);
      const p = period(q, 6 * H);
      if (typeof p === "string") return usage(reply, 400, p);
      const n = points(q.points);
      if (typeof n === "string") return usage(reply, 400, n);
      const h = tagHistory(store(), id, p.from, p.to, n);
      return { tag: name, machine: tag.machine, unit: tag.unit, ...h };
    });
    app.get("/ai/risk", async (request, reply) => {
      const q = request.query as { machine?: string; from?: string; to?: string; points?: string };
      const machine = Number(q.machine);
      if (!line.machines.some((m) => m.id === machine))
        return usage(reply, 404, `no machine ${q.machine} on this line`);
      const p = period(q, 24 * H);
      if (typeof p === "string") return usage(reply, 400, p);
      const n = points(q.points);
      if (typeof n === "string") return usage(reply, 400, n);
      const alerts = line.maintenance?.alerts;
      return {
        machine,
        thresholds:
          alerts === undefined
            ? null
            : { medium: alerts.medium, high: alerts.high, escalate: alerts.escalate },
        risk: riskHistory(store(), machine, p.from, p.to, n).map((r) => ({
          ...r,
          ts: new Date(r.ts).toISOString(),
        })),
      };
    });
    app.get("/ai/audit", async (request, reply) => {
      const q = request.query as {
        machine?: string;
        kind?: string;
        since?: string;
        until?: string;
        limit?: string;
        format?: string;
      };
      const machine = q.machine === undefined || q.machine === "" ? undefined : Number(q.machine);
      if (machine !== undefined && !Number.isInteger(machine)) return usage(reply, 400, "machine: a number");
      const since = q.since === undefined ? undefined : parseTime(q.since, 0);
      const until = q.until === undefined ? undefined : parseTime(q.until, 0);
      if (Number.isNaN(since) || Number.isNaN(until))
        return usage(reply, 400, "since/until: an ISO time or epoch milliseconds");
      const limit = Math.min(10_000, Math.max(1, Number(q.limit ?? 200) || 200));
      const entries = listAudit(store(), {
        limit,
        ...(machine !== undefined ? { machine } : {}),
        ...(q.kind !== undefined && q.kind !== "" ? { kind: q.kind } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      }).map((e) => ({ ...e, ts: new Date(e.ts).toISOString() }));
      if (q.format === "csv")
        return reply
          .type("text/csv; charset=utf-8")
          .header("content-disposition", `attachment; filename="${line.line.name}-audit.csv"`)
          .send(Papa.unparse(entries.map((e) => ({ ...e, details: JSON.stringify(e.details) }))));
      return { entries, kinds: auditKinds(store()) };
    });
  };
}
