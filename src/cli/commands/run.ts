import type { Command } from "commander";
import { errorMessage } from "../../common/errors.js";
import { createLogger, type Logger } from "../../common/logger.js";
import { loadConfigFile } from "../../config/load.js";
import { Daemon } from "../../daemon/daemon.js";

export const help = `Starts the daemon for one line, in the foreground (systemd runs it as linepilot@<line>).
Logs JSON lines to stdout. SIGTERM or SIGINT stop it cleanly: buffered samples are committed first.
Exit codes: 0 stopped cleanly, 1 failed, 2 invalid configuration.`;

export function register(program: Command): void {
  program
    .command("run")
    .description("run the daemon for one line")
    .requiredOption("-c, --config <file>", "the line's YAML configuration")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config: string }) => {
      const config = loadConfigFile(opts.config);
      await runDaemon(config);
    });
}

/**
 * Runs the daemon until SIGTERM/SIGINT, then exits the process. `beforeExit` runs after the
 * daemon stopped (the demo stops its simulated PLC and broker there).
 */
export async function runDaemon(
  config: ReturnType<typeof loadConfigFile>,
  log: Logger = createLogger(config.logging.level),
  beforeExit?: () => Promise<void>,
): Promise<void> {
  const daemon = new Daemon(config, log);
  let exitCode = 0;
  const shutdown = (reason: string, code: number) => {
    exitCode = Math.max(exitCode, code);
    // A second signal while stopping does not start a second stop (one handler, one guard).
    if (daemon.state === "stopping") {
      log.warn({ reason }, "already stopping");
      return;
    }
    const budget = setTimeout(() => {
      log.fatal({ budgetMs: config.daemon.stopTimeoutMs }, "stop took longer than its budget; exiting");
      process.exit(1);
    }, config.daemon.stopTimeoutMs);
    budget.unref();
    void daemon
      .stop(reason)
      .then(() => beforeExit?.())
      .finally(() => {
        clearTimeout(budget);
        process.exit(exitCode);
      });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM", 0));
  process.on("SIGINT", () => shutdown("SIGINT", 0));
  process.on("SIGHUP", () => log.info("SIGHUP ignored: restart the unit to apply a new configuration"));
  process.on("uncaughtException", (error) => {
    log.fatal({ err: errorMessage(error), stack: error.stack }, "uncaught exception");
    shutdown("uncaught exception", 1);
  });
  process.on("unhandledRejection", (reason) => {
    log.fatal({ err: errorMessage(reason) }, "unhandled promise rejection");
    shutdown("unhandled rejection", 1);
  });
  await daemon.start();
}
