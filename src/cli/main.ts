#!/usr/bin/env node
/** The `linepilot` command. Errors end as one clear line with their code, never a stack trace. */
import { Command, CommanderError } from "commander";
import { LinepilotError } from "../common/errors.js";
import { VERSION } from "../common/version.js";
import { ConfigError } from "../config/load.js";
import { COMMANDS } from "./commands/index.js";

export const EXIT = { ok: 0, failure: 1, config: 2, unreachable: 3 } as const;

export async function main(argv: string[]): Promise<number> {
  // Commander prints the errors it finds itself; a parser error thrown inside an action (an id
  // checked there) reaches us unprinted, and must not end as a silent exit 2.
  let printed = false;
  const program = new Command("linepilot")
    .description("On-premise AI gateway for one factory line")
    .version(VERSION, "-V, --version")
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => {
        printed = true;
        write(text);
      },
    })
    .showHelpAfterError();
  for (const command of COMMANDS) command.register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode !== 0 && !printed) console.error(`error: ${error.message}`);
      return error.exitCode === 0 ? EXIT.ok : EXIT.config;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return EXIT.config;
    }
    if (error instanceof LinepilotError) {
      console.error(`error ${error.code}: ${error.message}`);
      if (error.code === "LP_ERR_USAGE") return EXIT.config;
      return error.code === "LP_ERR_API" ? EXIT.unreachable : EXIT.failure;
    }
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failure;
  }
}

const code = await main(process.argv);
// `run` keeps the process alive through its servers; every other command ends here.
const longRunning = ["run", "demo", "sim-plc"].includes(process.argv[2] ?? "");
if (code !== EXIT.ok || !longRunning) process.exitCode = code;
// A long-running command that failed to start has stopped what it started (each part within its
// budget); whatever a library still holds open (a server's linger, a worker) must not keep a
// failed service alive for systemd or a technician's terminal.
if (code !== EXIT.ok && longRunning) process.exit(code);
