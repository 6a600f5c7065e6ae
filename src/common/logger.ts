import pino, { type Logger } from "pino";

export type { Logger };
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/**
 * JSON lines on stdout for journald, or to a file (the demo keeps its console for people).
 * Synchronous writes: a daemon that is killed or crashes must not lose its last log lines
 * (pino #2054); logging is never on a per-sample path, so a write(2) per line does not matter.
 */
export function createLogger(
  level: LogLevel,
  destination: NodeJS.WritableStream | number | string = 1,
): Logger {
  const stream =
    typeof destination === "object"
      ? destination
      : pino.destination({
          dest: destination,
          sync: true,
          ...(typeof destination === "string" ? { mkdir: true } : {}),
        });
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** A logger that drops everything, for tests and for CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
