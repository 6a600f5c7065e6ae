/** How CLI commands reach the running daemon: its local HTTP API. */
import type { Command } from "commander";
import { LinepilotError } from "../common/errors.js";
import { loadConfigFile } from "../config/load.js";

export interface ApiTarget {
  api?: string;
  config?: string;
}

/** The options every command that talks to the daemon takes. */
export function withApiOptions(c: Command): Command {
  return c
    .option("-c, --config <file>", "find the API from this line's configuration")
    .option("--api <url>", "the daemon's API base URL");
}

/** --api wins, then the api section of --config, then $LINEPILOT_API, then the default 127.0.0.1:8001. */
export function apiBaseUrl(target: ApiTarget, env: NodeJS.ProcessEnv = process.env): string {
  if (target.api !== undefined) return target.api.replace(/\/$/, "");
  if (target.config !== undefined) {
    const cfg = loadConfigFile(target.config, { checkSecrets: false });
    const host = cfg.api.host === "0.0.0.0" || cfg.api.host === "::" ? "127.0.0.1" : cfg.api.host;
    return `http://${host.includes(":") ? `[${host}]` : host}:${cfg.api.port}`;
  }
  return (env.LINEPILOT_API ?? "http://127.0.0.1:8001").replace(/\/$/, "");
}

export async function apiGet<T>(base: string, path: string, timeoutMs = 5000): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new LinepilotError(
      "LP_ERR_API",
      `linepilot is not reachable at ${base} (is the daemon running?): ${(error as Error).cause ?? (error as Error).message}`,
    );
  }
  const body = (await response.json().catch(() => ({}))) as T;
  if (!response.ok && response.status !== 503) {
    throw new LinepilotError(
      "LP_ERR_API",
      `${base}${path} answered HTTP ${response.status}: ${JSON.stringify(body)}`,
    );
  }
  return body;
}

/** POSTs JSON; an answer with an error body becomes a clear error (usage errors exit 2). */
export async function apiPost<T>(base: string, path: string, body: unknown, timeoutMs = 30_000): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new LinepilotError(
      "LP_ERR_API",
      `linepilot is not reachable at ${base} (is the daemon running?): ${(error as Error).cause ?? (error as Error).message}`,
    );
  }
  const answer = (await response.json().catch(() => ({}))) as T & { error?: string; message?: string };
  if (!response.ok)
    throw new LinepilotError(
      response.status >= 400 && response.status < 500 ? "LP_ERR_USAGE" : "LP_ERR_API",
      answer.message ?? `${base}${path} answered HTTP ${response.status}`,
    );
  return answer;
}
