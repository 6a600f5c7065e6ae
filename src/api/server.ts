/**
 * The local HTTP API (fastify), bound to 127.0.0.1:8001 by default. The CLI talks to the daemon
 * through it. Components add their routes through `routes` so the API owns no component's state.
 *
 * Access: reads are open on loopback. Changes (every POST but those marked `read`: ack, approve,
 * reject, mode, promote, rollback, import, learn) need the API token over TCP, or come through the
 * unix socket, which only the daemon's user and group (linepilot) can open (mode 0660 in a 0750
 * state folder). A non-loopback bind needs the token for everything but /health and /metrics.
 */
import { timingSafeEqual } from "node:crypto";
import { chmodSync, lstatSync, rmSync } from "node:fs";
import { connect } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import type { Component, ComponentHealth } from "../common/component.js";
import { LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { type ApiConfig, LOOPBACK } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";

export type RouteRegistrar = (app: FastifyInstance) => void;

export interface ApiServerDeps {
  /** The daemon's health view; /health serves it. */
  health(): { status: "ok" | "degraded" | "down"; [key: string]: unknown };
  routes?: RouteRegistrar[];
}

const OPEN_ON_ANY_BIND = new Set(["/health", "/metrics"]);

declare module "fastify" {
  interface FastifyContextConfig {
    /** A POST that changes nothing (a what-if): no token needed. */
    read?: boolean;
  }
}

export class ApiServer implements Component {
  readonly name = "api";
  readonly #config: ApiConfig;
  readonly #deps: ApiServerDeps;
  readonly #log: Logger;
  #app: FastifyInstance | undefined;
  #local: FastifyInstance | undefined;
  #address: { host: string; port: number } | undefined;
  requests = 0;
  refused = 0;

  constructor(config: ApiConfig, deps: ApiServerDeps, log: Logger) {
    this.#config = config;
    this.#deps = deps;
    this.#log = log;
  }

  /** The bound address (the real port when the config asked for port 0). */
  get address(): { host: string; port: number } | undefined {
    return this.#address;
  }

  #build(trusted: boolean, token: Buffer | undefined): FastifyInstance {
    const app = Fastify({ logger: false, forceCloseConnections: true });
    const loopback = LOOPBACK.test(this.#config.host);
    app.addHook("onRequest", async (request, reply) => {
      this.requests++;
      if (trusted) return;
      const read =
        request.method === "GET" || request.method === "HEAD" || request.routeOptions.config?.read === true;
      if (read && (loopback || OPEN_ON_ANY_BIND.has(request.routeOptions.url ?? ""))) return;
      const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
      if (token !== undefined && given !== undefined) {
        const g = Buffer.from(given);
        if (g.length === token.length && timingSafeEqual(g, token)) return;
      }
      this.refused++;
      this.#log.warn(
        { method: request.method, url: request.url, ip: request.ip },
        "API request refused: no valid token",
      );
      return reply.code(token === undefined ? 403 : 401).send({
        error: "LP_ERR_ACCESS",
        message:
          token === undefined
            ? `changes are accepted on the daemon's unix socket (${this.#config.socket}, group linepilot), or over TCP with api.token set`
            : `this needs the API token (set $LINEPILOT_TOKEN), or the daemon's unix socket (${this.#config.socket}, group linepilot)`,
      });
    });
    app.get("/health", async (_req, reply) => {
      const health = this.#deps.health();
      return reply.code(health.status === "down" ? 503 : 200).send(health);
    });
    for (const register of this.#deps.routes ?? []) register(app);
    return app;
  }

  async start(): Promise<void> {
    const token =
      this.#config.token === undefined ? undefined : Buffer.from(resolveSecret(this.#config.token));
    // The socket first: once the TCP port answers, everything the API offers is there.
    const socket = this.#config.socket;
    if (socket !== undefined) {
      await removeStaleSocket(socket);
      const local = this.#build(true, token);
      await local.listen({ path: socket });
      chmodSync(socket, 0o660);
      this.#local = local;
    }
    const app = this.#build(false, token);
    await app.listen({ host: this.#config.host, port: this.#config.port });
    const addr = app.server.address();
    this.#address =
      typeof addr === "object" && addr !== null ? { host: addr.address, port: addr.port } : undefined;
    this.#app = app;
    this.#log.info({ address: this.#address, socket: socket ?? null }, "local API listening");
  }

  async stop(): Promise<void> {
    const app = this.#app;
    const local = this.#local;
    this.#app = undefined;
    this.#local = undefined;
    await app?.close();
    await local?.close();
  }

  health(): ComponentHealth {
    return {
      state: this.#app === undefined ? "stopped" : "ok",
      details: {
        address: this.#address ?? null,
        socket: this.#config.socket ?? null,
        requests: this.requests,
        refused: this.refused,
      },
    };
  }
}

/**
 * A socket file left by a killed daemon is removed; anything else at the path is refused (a
 * typo must never delete the store), and so is a socket another process still answers on.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let kind: string;
  try {
    const st = lstatSync(path);
    kind = st.isSocket()
      ? "socket"
      : st.isDirectory()
        ? "a folder"
        : st.isSymbolicLink()
          ? "a link"
          : "a file";
  } catch {
    return; // nothing there
  }
  if (kind !== "socket")
    throw new LinepilotError(
      "LP_ERR_API",
      `api.socket ${path} is ${kind}, not a socket: refusing to replace it (choose another api.socket)`,
    );
  const answered = await new Promise<boolean>((done) => {
    const probe = connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      done(true);
    });
    probe.once("error", () => done(false));
  });
  if (answered)
    throw new LinepilotError(
      "LP_ERR_API",
      `api.socket ${path} is in use by another process (another daemon of this line?)`,
    );
  rmSync(path, { force: true });
}
