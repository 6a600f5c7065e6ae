/**
 * Errors with stable codes (as fastify's lib/errors.js): the CLI, the logs and the audit log show
 * the code, tests match on it, and a technician can look it up in the README.
 */
export const ERROR_CODES = {
  LP_ERR_CONFIG: "the configuration file is invalid",
  LP_ERR_STORE: "the SQLite store could not be opened or migrated",
  LP_ERR_API: "the local API could not be reached or answered an error",
  LP_ERR_CONNECTOR: "a field connector failed",
  LP_ERR_WRITE_VERIFY: "a setpoint write was not confirmed by read-back",
  LP_ERR_STOP_TIMEOUT: "a component did not stop within its time budget",
  LP_ERR_USAGE: "the command line is invalid",
  LP_ERR_MODEL: "a model could not be loaded, was refused, failed or timed out",
  LP_ERR_ACCESS: "a change was refused: it needs the API token or the daemon's unix socket (group linepilot)",
  LP_ERR_BUSY: "the daemon is already running as many of these as it takes at once: try again in a moment",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class LinepilotError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "LinepilotError";
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Why a request was refused, in the domain's words: what it asked is invalid, the thing it names
 * does not exist, or its state does not allow it. The API alone maps these to HTTP statuses.
 */
export type Refusal = "invalid" | "not_found" | "conflict";
