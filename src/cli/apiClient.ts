/**
 * How CLI commands reach the running daemon: its local HTTP API, over TCP or over the daemon's
 * unix socket. Changes go through the socket when this user can open it (the linepilot group), or
 * over TCP with the API token ($LINEPILOT_TOKEN, or the config's api.token when readable).
 * node:http rather than fetch: fetch cannot speak HTTP over a unix socket without undici's Agent.
 */
import { accessSync, constants } from "node:fs";
import { request as httpRequest } from "node:http";
import type { Command } from "commander";
import { ERROR_CODES, type ErrorCode, LinepilotError } from "../common/errors.js";
import { loadConfigFile } from "../config/load.js";
import { resolveSecret } from "../config/secrets.js";

export interface ApiTarget {
  api?: string;
  config?: string;
}

/** The options every command that talks to the daemon takes. */
export function withApiOptions(c: Command): Command {
  return c
    .option("-c, --config <file>", "find the API (and its unix socket) from this line's configuration")
    .option("--api <url>", "the daemon's API: http://HOST:PORT or unix:/path/to/api.sock");
}

const tokens = new Map<string, string>();

/**
 * --api wins, then --config or $LINEPILOT_CONFIG (its unix socket when this user may open it, else
 * its api section), then $LINEPILOT_API, then 127.0.0.1:8001. A base is http://... or unix:/path.
 */
export function apiBaseUrl(target: ApiTarget, env: NodeJS.ProcessEnv = process.env): string {
  if (target.api !== undefined) return target.api.replace(/\/$/, "");
  const configFile = target.config ?? (env.LINEPILOT_API === undefined ? env.LINEPILOT_CONFIG : undefined);
  if (configFile !== undefined) {
    const cfg = loadConfigFile(configFile, { checkSecrets: false });
    const host = cfg.api.host === "0.0.0.0" || cfg.api.host === "::" ? "127.0.0.1" : cfg.api.host;
    const base = `http://${host.includes(":") ? `[${host}]` : host}:${cfg.api.port}`;
    if (cfg.api.token !== undefined && env.LINEPILOT_TOKEN === undefined) {
      try {
        tokens.set(base, resolveSecret(cfg.api.token, env));
      } catch {
        // not readable by this user: the socket, or $LINEPILOT_TOKEN
      }
    }
    try {
      accessSync(cfg.api.socket!, constants.R_OK | constants.W_OK);
      return `unix:${cfg.api.socket}`;
    } catch {
      return base;
    }
  }
  return (env.LINEPILOT_API ?? "http://127.0.0.1:8001").replace(/\/$/, "");
}

interface Answer {
  status: number;
  body: unknown;
}

function call(base: string, method: string, path: string, body: unknown, timeoutMs: number): Promise<Answer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const token = process.env.LINEPILOT_TOKEN ?? tokens.get(base);
  const headers: Record<string, string | number> = {};
  if (payload !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = payload.length;
  }
  if (token !== undefined && !base.startsWith("unix:")) headers.authorization = `Bearer ${token}`;
  const where = base.startsWith("unix:")
    ? { socketPath: base.slice(5), path }
    : (() => {
        const u = new URL(`${base}${path}`);
        return { host: u.hostname.replace(/^\[|\]$/g, ""), port: u.port, path: `${u.pathname}${u.search}` };
      })();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...where, method, headers, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => {
        let parsed: unknown = {};
        try {
          parsed = text === "" ? {} : JSON.parse(text);
        } catch {
          parsed = { message: text };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error) =>
      reject(
        new LinepilotError(
          "LP_ERR_API",
          `linepilot is not reachable at ${base} (is the daemon running?): ${(error as NodeJS.ErrnoException).code ?? error.message}`,
        ),
      ),
    );
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

function refusal(answer: Answer, base: string, path: string): LinepilotError {
  const b = answer.body as { error?: string; message?: string };
  // The daemon's own code when it gives one (a refused model is LP_ERR_MODEL, not a usage error).
  if (b.error !== undefined && b.error in ERROR_CODES)
    return new LinepilotError(b.error as ErrorCode, b.message ?? ERROR_CODES[b.error as ErrorCode]);
  return new LinepilotError(
    answer.status >= 400 && answer.status < 500 ? "LP_ERR_USAGE" : "LP_ERR_API",
    b.message ?? `${base}${path} answered HTTP ${answer.status}: ${JSON.stringify(b)}`,
  );
}

export async function apiGet<T>(base: string, path: string, timeoutMs = 5000): Promise<T> {
  const answer = await call(base, "GET", path, undefined, timeoutMs);
  // 503 is an answer (an unhealthy daemon's /health); any other error is the daemon's message.
  if (answer.status >= 400 && answer.status !== 503) throw refusal(answer, base, path);
  return answer.body as T;
}

/** POSTs JSON; an answer with an error body becomes a clear error (usage errors exit 2). */
export async function apiPost<T>(base: string, path: string, body: unknown, timeoutMs = 30_000): Promise<T> {
  const answer = await call(base, "POST", path, body, timeoutMs);
  if (answer.status >= 400) throw refusal(answer, base, path);
  return answer.body as T;
}
