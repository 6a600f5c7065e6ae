/** GET /tags: the live value of every tag with its quality and age, for `linepilot tags`. */
import type { FastifyInstance } from "fastify";
import type { TagConfig } from "../config/schema.js";
import { qualityOf, statusName } from "../connectors/quality.js";

export interface LiveValues {
  readonly latestValue: Float64Array;
  readonly latestTs: Float64Array;
  readonly latestStatus: Uint32Array;
}

/** One tag's live value as the CLI and the plant see it: null when never read or bad. */
export function liveValue(tag: TagConfig, i: number, live: LiveValues, now = Date.now()) {
  const ts = live.latestTs[i]!;
  const status = live.latestStatus[i]!;
  const value = live.latestValue[i]!;
  return {
    name: tag.name,
    machine: tag.machine,
    unit: tag.unit,
    connection: tag.connection,
    value: ts === 0 || Number.isNaN(value) ? null : value,
    quality: ts === 0 ? ("none" as const) : qualityOf(status),
    status: ts === 0 ? null : statusName(status),
    ts: ts === 0 ? null : new Date(ts).toISOString(),
    ageMs: ts === 0 ? null : now - ts,
  };
}

export function tagsRoute(tags: readonly TagConfig[], live: LiveValues) {
  return (app: FastifyInstance): void => {
    app.get("/tags", async () => {
      const now = Date.now();
      return { ts: new Date(now).toISOString(), tags: tags.map((t, i) => liveValue(t, i, live, now)) };
    });
  };
}
