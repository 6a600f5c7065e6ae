import type { Command } from "commander";
import { createLogger } from "../../common/logger.js";
import { loadConfigFile } from "../../config/load.js";
import { type FaultSpec, parseFault, SimPlc } from "../../twin/simPlc.js";
import { parseInteger } from "../output.js";

export const help = `Serves the digital twin as the PLCs a line's configuration names: every OPC UA
connection becomes an OPC UA server at its endpoint (variables ns=1;s=... per tag), every Modbus
TCP connection a Modbus server at its host:port, every Modbus RTU connection a Modbus server on its
serial device. Tags carry the twin signal their 'role' names; writable setpoints drive the twin.
Point the daemon at the same file and it reads the simulated line.

  linepilot sim-plc --config config/demo.yaml --accel 60 --fault wear-rate:7=5
  linepilot sim-plc --config line.yaml --fault dropout:press7.vibration_rms --fault spike:press8.speed

Faults: wear-rate:MACHINE=FACTOR (the bearing wears FACTOR times faster), dropout:TAG (the sensor
fails: Bad quality / Modbus exception 4), stuck:TAG (the value freezes), spike:TAG (every fiftieth
tick reads four times the true value). --accel runs simulated time faster than real time.`;

export function register(program: Command): void {
  program
    .command("sim-plc")
    .description("serve the digital twin over OPC UA and Modbus, as the line's config describes")
    .requiredOption("-c, --config <file>", "the line's configuration")
    .option("--seed <n>", "random seed", parseInteger, 1)
    .option("--accel <factor>", "simulated seconds per real second", parseInteger, 1)
    .option("--fault <spec...>", "inject faults (see below)")
    .option("--repair-hours <h>", "simulated hours a failed machine stays down", parseInteger, 4)
    .addHelpText("after", `\n${help}`)
    .action(
      async (opts: {
        config: string;
        seed: number;
        accel: number;
        fault?: string[];
        repairHours: number;
      }) => {
        const config = loadConfigFile(opts.config);
        const faults: FaultSpec[] = (opts.fault ?? []).map(parseFault);
        const sim = await startSimPlc(config, {
          seed: opts.seed,
          acceleration: opts.accel,
          faults,
          repairHours: opts.repairHours,
        });
        const stop = async () => {
          await sim.stop();
          process.exit(0);
        };
        process.once("SIGINT", () => void stop());
        process.once("SIGTERM", () => void stop());
      },
    );
}

export async function startSimPlc(
  config: ReturnType<typeof loadConfigFile>,
  options: { seed: number; acceleration: number; faults?: FaultSpec[]; repairHours?: number },
): Promise<SimPlc> {
  const log = createLogger(config.logging.level, 2).child({ component: "sim-plc" });
  const sim = new SimPlc({ config, log, ...options });
  await sim.start();
  console.error(
    `simulated PLC of ${config.line.name} (x${options.acceleration} time): ${sim.endpoints.join("  ")}`,
  );
  return sim;
}
