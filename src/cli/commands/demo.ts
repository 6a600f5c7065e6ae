import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { loadConfigFile } from "../../config/load.js";
import { DemoPlc } from "../../twin/demoPlc.js";
import { parseInteger } from "../output.js";
import { runDaemon } from "./run.js";

export const help = `Runs linepilot on a simulated line with no hardware: starts the demo PLC (Modbus TCP on the
port the demo config names) and the daemon on config/demo.yaml. In a second terminal:
  linepilot status     linepilot tags
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
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config: string; seed: number }) => {
      const config = loadConfigFile(opts.config);
      const plcConnection = config.connections.find((c) => c.protocol === "modbus-tcp");
      const plc = new DemoPlc({
        port: plcConnection?.protocol === "modbus-tcp" ? plcConnection.port : 0,
        seed: opts.seed,
      });
      await plc.start();
      console.error(
        `demo PLC serving Modbus TCP on 127.0.0.1:${plc.port}; daemon API on http://${config.api.host}:${config.api.port}`,
      );
      console.error("try: npx linepilot status   npx linepilot tags   (Ctrl-C stops)");
      await runDaemon(config);
    });
}
