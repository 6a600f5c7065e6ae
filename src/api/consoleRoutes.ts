/**
 * The web console: its page and scripts under /ui/, the browser libraries it uses (Preact, htm,
 * uPlot) served from the installed packages (no CDN: it works on a plant network with no
 * internet), and GET /events, the live stream the pages follow (server-sent events).
 *
 * The stream costs one snapshot per tick whatever the number of consoles: it is built once, only
 * while someone listens, and sent only when it changed (a comment keeps idle connections open).
 * Access is the API's: the console is a client of the same routes, with the token a person gives
 * on its login form for changes (and for everything when the API is not on loopback).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import type { Component, ComponentHealth } from "../common/component.js";
import type { LineConfig, TagConfig } from "../config/schema.js";
import { roleOf } from "../line/vocabulary.js";
import { listAlerts } from "../store/alerts.js";
import { latestAnomalyScores } from "../store/anomalyScores.js";
import { latestPredictions } from "../store/predictions.js";
import type { Store } from "../store/store.js";
import { listSuggestions } from "../store/suggestions.js";
import { type LiveValues, liveValue } from "./tagsRoute.js";

/** The console's own files: `console/` at the package root (beside dist/ and src/). */
const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../console");

const require = createRequire(import.meta.url);
const VENDOR: Record<string, { path: string; type: string }> = {
  "preact.js": { path: require.resolve("preact"), type: "text/javascript" },
  "preact-hooks.js": { path: require.resolve("preact/hooks"), type: "text/javascript" },
  "htm.js": { path: join(dirname(require.resolve("htm")), "htm.module.js"), type: "text/javascript" },
  "uplot.js": { path: require.resolve("uplot/dist/uPlot.esm.js"), type: "text/javascript" },
  "uplot.css": { path: require.resolve("uplot/dist/uPlot.min.css"), type: "text/css" },
};
const OWN: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript",
  "style.css": "text/css",
};

export interface ConsoleDeps {
  line: LineConfig;
  store(): Store;
  live: LiveValues;
  staleAfterMs?: Float64Array;
  health(): { status: string; components: Record<string, ComponentHealth>; [key: string]: unknown };
  /** How often the stream's snapshot is rebuilt while a console listens. */
  tickMs: number;
  /** Whether this API needs the token for reads too (a non-loopback bind). */
  readsNeedToken: boolean;
}

interface Listener {
  machine: number | undefined;
  write(chunk: string): void;
  lastSent: string;
  idleTicks: number;
}

/** Builds the line snapshot (and each followed machine's live tags) once per tick for every listener. */
export class ConsoleStream implements Component {
  readonly name = "console";
  readonly #deps: ConsoleDeps;
  readonly #listeners = new Set<Listener>();
  readonly #stateTags: Map<number, { tag: TagConfig; index: number }>;
  #timer: NodeJS.Timeout | undefined;
  snapshots = 0;
  sent = 0;

  constructor(deps: ConsoleDeps) {
    this.#deps = deps;
    this.#stateTags = new Map();
  }

  async start(): Promise<void> {
    this.#deps.line.tags.forEach((tag, index) => {
      if (roleOf(tag) === "state" && !this.#stateTags.has(tag.machine))
        this.#stateTags.set(tag.machine, { tag, index });
    });
  }

  health(): ComponentHealth {
    return {
      state: "ok",
      details: { listeners: this.#listeners.size, snapshots: this.snapshots, sent: this.sent },
    };
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  add(listener: Listener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.tick(), this.#deps.tickMs);
      this.#timer.unref();
    }
    this.#send(listener, this.#line(), new Map());
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#idle();
    };
  }

  #idle(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async stop(): Promise<void> {
    this.#idle();
    this.#listeners.clear();
  }

  tick(): void {
    if (this.#listeners.size === 0) return;
    const line = this.#line();
    const machines = new Map<number, unknown[]>();
    for (const l of this.#listeners) this.#send(l, line, machines);
  }

  #send(l: Listener, line: Record<string, unknown>, machines: Map<number, unknown[]>): void {
    let tags: unknown[] | undefined;
    if (l.machine !== undefined) {
      tags = machines.get(l.machine);
      if (tags === undefined) {
        tags = this.#tags(l.machine);
        machines.set(l.machine, tags);
      }
    }
    const body = JSON.stringify(tags === undefined ? line : { ...line, tags });
    if (body === l.lastSent) {
      // Proxies close a silent connection; a comment every ~15 s keeps it.
      if (++l.idleTicks * this.#deps.tickMs >= 15_000) {
        l.idleTicks = 0;
        l.write(": idle\n\n");
      }
      return;
    }
    l.lastSent = body;
    l.idleTicks = 0;
    this.sent++;
    l.write(`event: snapshot\ndata: ${body}\n\n`);
  }

  #tags(machine: number): unknown[] {
    const now = Date.now();
    const out: unknown[] = [];
    this.#deps.line.tags.forEach((tag, i) => {
      if (tag.machine !== machine) return;
      const v = liveValue(tag, i, this.#deps.live, now, this.#deps.staleAfterMs?.[i]);
      // Age changes every tick; the console shows the sample's time instead.
      out.push({
        name: v.name,
        unit: v.unit,
        value: v.value,
        label: v.label,
        quality: v.quality,
        status: v.status,
        ts: v.ts,
      });
    });
    return out;
  }

  #line(): Record<string, unknown> {
    this.snapshots++;
    const store = this.#deps.store();
    const health = this.#deps.health();
    const alerts = listAlerts(store, false);
    const pending = listSuggestions(store, { states: ["pending"] });
    const now = Date.now();
    const machines = this.#deps.line.machines.map((m) => {
      const p = latestPredictions(store, m.id, 1)[0];
      const a = latestAnomalyScores(store, m.id, 1)[0];
      const state = this.#stateTags.get(m.id);
      const sv = state === undefined ? undefined : liveValue(state.tag, state.index, this.#deps.live, now);
      return {
        id: m.id,
        name: m.name,
        state: sv === undefined ? null : (sv.label ?? sv.value),
        risk:
          p === undefined
            ? null
            : { level: p.risk_level, p: p.failure_probability, ts: new Date(p.ts).toISOString() },
        anomaly:
          a === undefined
            ? null
            : { score: a.score, threshold: a.threshold, level: a.level, ts: new Date(a.ts).toISOString() },
        openAlerts: alerts.filter((r) => r.machine_id === m.id).length,
      };
    });
    const components: Record<string, { state: string; summary: string }> = {};
    for (const [name, c] of Object.entries(health.components))
      components[name] = { state: c.state, summary: summary(c) };
    return {
      status: health.status,
      outboxDepth: store.sizes().outboxDepth,
      machines,
      components,
      alerts: { open: alerts.length, newest: alerts.reduce((n, r) => Math.max(n, Number(r.id)), 0) },
      suggestions: { pending: pending.length, newest: pending.reduce((n, s) => Math.max(n, s.id), 0) },
    };
  }
}

/** A connector's or component's health in a few words (the line page's list). */
function summary(c: ComponentHealth): string {
  const d = c.details;
  const parts: string[] = [];
  for (const key of ["samples", "errors", "published", "queued", "refused", "lastError"])
    if (d[key] !== undefined && d[key] !== null && typeof d[key] !== "object")
      parts.push(`${key} ${String(d[key])}`);
  return parts.join(", ");
}

export function consoleRoutes(deps: ConsoleDeps, stream: ConsoleStream) {
  const own = new Map(Object.keys(OWN).map((f) => [f, readFileSync(join(CONSOLE_DIR, f))]));
  const vendor = new Map(Object.entries(VENDOR).map(([f, v]) => [f, readFileSync(v.path)]));
  return (app: FastifyInstance): void => {
    app.get("/", async (_request, reply) => reply.redirect("/ui/"));
    app.get("/ui", async (_request, reply) => reply.redirect("/ui/"));
    app.get("/favicon.ico", async (_request, reply) => reply.code(204).send());
    app.get("/ui/", async (_request, reply) => reply.type(OWN["index.html"]!).send(own.get("index.html")));
    app.get("/ui/:file", async (request, reply) => {
      const file = (request.params as { file: string }).file;
      const body = own.get(file);
      if (body === undefined) return reply.code(404).send({ error: "LP_ERR_USAGE", message: `no ${file}` });
      return reply.type(OWN[file]!).header("cache-control", "no-cache").send(body);
    });
    app.get("/ui/vendor/:file", async (request, reply) => {
      const file = (request.params as { file: string }).file;
      const body = vendor.get(file);
      if (body === undefined) return reply.code(404).send({ error: "LP_ERR_USAGE", message: `no ${file}` });
      return reply.type(VENDOR[file]!.type).header("cache-control", "max-age=86400").send(body);
    });
    app.get("/ui/line.json", async () => ({
      line: deps.line.line,
      machines: deps.line.machines.map((m) => ({ id: m.id, name: m.name })),
      tags: deps.line.tags.map((t) => ({
        name: t.name,
        machine: t.machine,
        unit: t.unit,
        role: roleOf(t) ?? null,
        writable: t.writable === true,
      })),
      optimizer: deps.line.optimizer !== undefined,
      readsNeedToken: deps.readsNeedToken,
    }));
    // The login form's check: the API's access hook has already refused a wrong token.
    app.post("/ui/login", async () => ({ ok: true }));
    app.get("/events", (request, reply) => {
      const q = request.query as { machine?: string };
      const machine = q.machine === undefined ? undefined : Number(q.machine);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      res.write("retry: 3000\n\n");
      const remove = stream.add({
        machine: Number.isInteger(machine) ? machine : undefined,
        write: (chunk) => {
          // A console that stopped reading (a tablet asleep) is dropped, not buffered without
          // bound; its page reconnects when it wakes.
          if (res.writableLength > 1_000_000) res.destroy();
          else res.write(chunk);
        },
        lastSent: "",
        idleTicks: 0,
      });
      request.raw.on("close", remove);
    });
  };
}
