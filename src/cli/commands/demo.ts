import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { loadConfigFile } from "../../config/load.js";
import { parseInteger } from "../output.js";
import { runDaemon } from "./run.js";
import { startSimPlc } from "./simPlc.js";

export const help = `Runs linepilot on a simulated line with no hardware: starts the simulated PLC (the digital
twin served over OPC UA and Modbus TCP, as config/demo.yaml describes) and the daemon on the same
file. In a second terminal:
  linepilot status     linepilot tags     linepilot simulate --config config/demo.yaml --scenario "speed +15%"
Stop with Ctrl-C.`;

export function register(program: Command): void {
  program
    .command("demo")
    .description("run the daemon on a simulated line (config/demo.yaml)")
    .option(
      "-c, --config <file>",
      "demo configuration",
      fileURLToPath(new URL("../../../config/demo.yaml", import.meta.url)),
    )
    .option("--seed <n>", "simulation seed", parseInteger, 7)
    .option("--accel <factor>", "simulated seconds per real second", parseInteger, 10)
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config: string; seed: number; accel: number }) => {
      const config = loadConfigFile(opts.config);
      await startSimPlc(config, { seed: opts.seed, acceleration: opts.accel });
      console.error(`daemon API on http://${config.api.host}:${config.api.port}`);
      console.error(
        `in a second terminal: export LINEPILOT_CONFIG=${opts.config}; then npx linepilot status, tags, suggestions, approve ID, alerts (Ctrl-C stops)`,
      );
      await runDaemon(config);
    });
}
