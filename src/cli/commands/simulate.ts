import type { Command } from "commander";
import { LinepilotError } from "../../common/errors.js";
import { loadConfigFile } from "../../config/load.js";
import type { LineConfig } from "../../config/schema.js";
import { whatIf } from "../../process/whatIf.js";
import { openStoreForReading } from "../../store/store.js";
import { parseDuration, parseInteger } from "../output.js";

export const help = `Runs the digital twin forward from the line's current state, with and without a change,
and compares them (docs/design.md §7). The twin is calibrated on the line's own history in its
store (the last --history-days), so the answer reflects this line, not defaults.

  linepilot simulate --config /etc/linepilot/line1.yaml --scenario "speed +15%"
  linepilot simulate --data history.db --scenario "speed +10%, temperature -3" --goal "5000 pieces in 8h"

Scenario: PARAMETER +/-AMOUNT[%], several separated by commas; parameters speed, temperature,
pressure. The goal defaults to the line's active production goal. Reads the store only; the
daemon may keep running.`;

export function register(program: Command): void {
  program
    .command("simulate")
    .description("what-if: compare a setpoint change with the current course on the calibrated twin")
    .requiredOption("-s, --scenario <text>", 'e.g. "speed +15%"')
    .option("-c, --config <file>", "the line's configuration (its store and tag roles)")
    .option("-d, --data <store>", "a store file (e.g. from linepilot generate) instead of --config")
    .option("-m, --machine <id...>", "only these machines (default: every machine with history)")
    .option("--horizon <duration>", "how far ahead, e.g. 8h, 2d (default: the goal's span, else 8h)")
    .option("--goal <text>", 'production goal, e.g. "5000 pieces in 8h"')
    .option("--history-days <n>", "days of history to calibrate on", parseInteger, 30)
    .option("--json", "print the JSON of docs/design.md §7")
    .addHelpText("after", `\n${help}`)
    .action(
      async (opts: {
        scenario: string;
        config?: string;
        data?: string;
        machine?: string[];
        horizon?: string;
        goal?: string;
        historyDays: number;
        json?: boolean;
      }) => {
        let config: LineConfig | undefined;
        let path = opts.data;
        if (opts.config !== undefined) {
          config = loadConfigFile(opts.config, { checkSecrets: false });
          path ??= config.store.path;
        }
        if (path === undefined)
          throw new LinepilotError("LP_ERR_USAGE", "give --config FILE or --data STORE");
        const db = openStoreForReading(path);
        try {
          const result = whatIf(
            db,
            {
              scenario: opts.scenario,
              historyDays: opts.historyDays,
              ...(opts.machine ? { machines: opts.machine.map((m) => parseInteger(m)) } : {}),
              ...(opts.horizon ? { horizonH: parseDuration(opts.horizon) / 3_600_000 } : {}),
              ...(opts.goal ? { goal: opts.goal } : {}),
            },
            config,
          );
          if (opts.json) return console.log(JSON.stringify(result, null, 2));
          const r = result;
          console.log(`scenario: ${r.scenario}  (machines ${r.machines.join(", ")}, ${r.horizon_h} h ahead)`);
          for (const c of r.changes) console.log(`  ${c.parameter}: ${c.from} -> ${c.to}`);
          console.log(
            `output:  ${r.predicted_output} pieces (${r.predicted_output_per_hour}/h), now ${r.baseline_output} (${r.baseline_output_per_hour}/h)`,
          );
          console.log(`scrap:   ${r.predicted_scrap_rate} %, now ${r.baseline_scrap_rate} %`);
          console.log(
            `energy:  ${r.predicted_energy_increase >= 0 ? "+" : ""}${r.predicted_energy_increase} %`,
          );
          console.log(
            `wear:    ${r.predicted_wear_increase} (x${r.wear_rate_ratio}); failures predicted ${r.predicted_failures}, now ${r.baseline_failures}`,
          );
          if (r.goal)
            console.log(
              `goal:    ${r.goal.pieces} in ${r.goal.hours} h: ${r.goal.met ? "met" : "missed"} (${r.goal.predicted_good} good; now ${r.goal.baseline_good})`,
            );
          console.log(
            `model:   calibrated on ${r.calibration.windows} windows of history` +
              (r.calibration.defaults.length > 0
                ? `; the history cannot identify ${r.calibration.defaults.join(", ")} (no spread in what drives them): defaults kept`
                : ""),
          );
          console.log(`=> ${r.recommendation}`);
        } finally {
          db.close();
        }
      },
    );
}
