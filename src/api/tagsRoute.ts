/** GET /tags: the live value of every tag with its quality and age, for `linepilot tags`. */
import type { FastifyInstance } from "fastify";
import type { TagConfig } from "../config/schema.js";
import { type LiveValues, qualityOf, statusName } from "../connectors/quality.js";

export type { LiveValues };

/**
 * One tag's live value as the CLI and the plant see it: null when never read or bad; a polled
 * value not refreshed within its staleness limit is `stale`, not Good.
 */
export function liveValue(
  tag: TagConfig,
  i: number,
  live: LiveValues,
  now = Date.now(),
  staleAfterMs = Number.POSITIVE_INFINITY,
) {
  const ts = live.latestTs[i]!;
  const status = live.latestStatus[i]!;
  const value = live.latestValue[i]!;
  const quality = ts === 0 ? ("none" as const) : qualityOf(status);
  // A state tag's value by the name its YAML gives it (1 -> running).
  const states = tag.events?.type === "enum" ? tag.events.states : undefined;
  const label = states === undefined || Number.isNaN(value) ? undefined : states[String(value)];
  return {
    name: tag.name,
    machine: tag.machine,
    unit: tag.unit,
    connection: tag.connection,
    value: ts === 0 || Number.isNaN(value) ? null : value,
    ...(label !== undefined && ts !== 0 ? { label } : {}),
    quality: quality === "good" && now - ts > staleAfterMs ? ("stale" as const) : quality,
    status: ts === 0 ? null : statusName(status),
    ts: ts === 0 ? null : new Date(ts).toISOString(),
    ageMs: ts === 0 ? null : now - ts,
  };
}

export function tagsRoute(tags: readonly TagConfig[], live: LiveValues, staleAfterMs?: Float64Array) {
  return (app: FastifyInstance): void => {
    app.get("/tags", async () => {
      const now = Date.now();
      return {
        ts: new Date(now).toISOString(),
        tags: tags.map((t, i) => liveValue(t, i, live, now, staleAfterMs?.[i])),
      };
    });
  };
}
