/**
 * node-opcua prints its own diagnostics with console.log, on stdout, in colour. A daemon under
 * journald and a CLI whose stdout is JSON need them in the structured log instead: this routes
 * them into pino at debug (warnings) and warn (errors) level. Our connector reports every failure
 * that matters itself, in the plant's words.
 */
import { format } from "node:util";
import { setDebugLogger, setErrorLogger, setTraceLogger, setWarningLogger } from "node-opcua-debug";
import type { Logger } from "../../common/logger.js";

type Context = { filename?: string; callerline?: number };

let target: Logger | undefined;

export function routeNodeOpcuaLogs(log: Logger): void {
  target = log.child({ component: "node-opcua" });
}

const emit =
  (level: "debug" | "warn") =>
  (context: Context, ...args: unknown[]) => {
    target?.[level]({ source: `${context.filename ?? "?"}:${context.callerline ?? 0}` }, format(...args));
  };

setWarningLogger(emit("debug") as never);
setErrorLogger(emit("warn") as never);
setDebugLogger(emit("debug") as never);
setTraceLogger(emit("debug") as never);
