/**
 * The local HTTP API (fastify), bound to 127.0.0.1:8001 by default. The CLI talks to the daemon
 * through it. Components add their routes through `routes` so the API owns no component's state.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "../common/logger.js";
import type { ApiConfig } from "../config/schema.js";
import type { Component, ComponentHealth } from "../daemon/component.js";

export type RouteRegistrar = (app: FastifyInstance) => void;

export interface ApiServerDeps {
  /** The daemon's health view; /health serves it. */
  health(): { status: "ok" | "degraded" | "down"; [key: string]: unknown };
  routes?: RouteRegistrar[];
}

export class ApiServer implements Component {
  readonly name = "api";
  readonly #config: ApiConfig;
  readonly #deps: ApiServerDeps;
  readonly #log: Logger;
  #app: FastifyInstance | undefined;
  #address: { host: string; port: number } | undefined;
  requests = 0;

  constructor(config: ApiConfig, deps: ApiServerDeps, log: Logger) {
    this.#config = config;
    this.#deps = deps;
    this.#log = log;
  }

  /** The bound address (the real port when the config asked for port 0). */
  get address(): { host: string; port: number } | undefined {
    return this.#address;
  }

  async start(): Promise<void> {
    const app = Fastify({ logger: false, forceCloseConnections: true });
    app.addHook("onRequest", async () => {
      this.requests++;
    });
    app.get("/health", async (_req, reply) => {
      const health = this.#deps.health();
      return reply.code(health.status === "down" ? 503 : 200).send(health);
    });
    for (const register of this.#deps.routes ?? []) register(app);
    await app.listen({ host: this.#config.host, port: this.#config.port });
    const addr = app.server.address();
    this.#address =
      typeof addr === "object" && addr !== null ? { host: addr.address, port: addr.port } : undefined;
    this.#app = app;
    this.#log.info({ address: this.#address }, "local API listening");
  }

  async stop(): Promise<void> {
    const app = this.#app;
    this.#app = undefined;
    await app?.close();
  }

  health(): ComponentHealth {
    return {
      state: this.#app === undefined ? "stopped" : "ok",
      details: { address: this.#address ?? null, requests: this.requests },
    };
  }
}
