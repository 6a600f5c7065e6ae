/** The connection settings to the plant broker, shared by the JSON link and the Sparkplug node. */
import { readFileSync } from "node:fs";
import type { IClientOptions } from "mqtt";
import type { LineConfig, SyncConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";

export function brokerOptions(cfg: SyncConfig, line: LineConfig): IClientOptions {
  const tls = cfg.tls;
  return {
    clientId: cfg.clientId ?? `linepilot-${line.line.name}`,
    keepalive: cfg.keepaliveS,
    reconnectPeriod: 0, // reconnection is ours (shared backoff with jitter)
    connectTimeout: 10_000,
    queueQoSZero: false,
    ...(cfg.username !== undefined ? { username: cfg.username } : {}),
    ...(cfg.password !== undefined ? { password: resolveSecret(cfg.password) } : {}),
    ...(tls !== undefined
      ? {
          ca: readFileSync(tls.ca),
          ...(tls.cert !== undefined ? { cert: readFileSync(tls.cert) } : {}),
          ...(tls.key !== undefined ? { key: resolveSecret(tls.key) } : {}),
          ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
          rejectUnauthorized: true,
        }
      : {}),
  };
}
