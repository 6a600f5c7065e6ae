import type { Command } from "commander";
import type { PredictionAnswer } from "../answers.js";
import { apiBaseUrl, apiGet } from "../apiClient.js";
import { parseInteger } from "../output.js";

export const help = `The latest failure-risk assessment of a machine (SPEC.md section 4): risk level, probability,
confidence, recommended action and the reasons (TreeSHAP contributions of the features, and any
rule that fired).`;

export function register(program: Command): void {
  program
    .command("predict")
    .description("show a machine's latest failure risk with its reasons")
    .requiredOption("-m, --machine <id>", "machine id", parseInteger)
    .option("-c, --config <file>", "find the API from this line's configuration")
    .option("--api <url>", "the daemon's API base URL")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { machine: number; config?: string; api?: string; json?: boolean }) => {
      const res = await apiGet<{ predictions: PredictionAnswer[] }>(
        apiBaseUrl(opts),
        `/ai/predictions?machine=${opts.machine}&limit=1`,
      );
      const p = res.predictions[0];
      if (opts.json) return console.log(JSON.stringify(p ?? null, null, 2));
      if (p === undefined)
        return console.log(`no prediction for machine ${opts.machine} yet (is maintenance configured?)`);
      console.log(
        `machine ${p.machine_id} at ${p.ts}: ${p.risk_level} risk, P(failure within the horizon) ${p.failure_probability.toFixed(2)}, confidence ${p.confidence.toFixed(2)}`,
      );
      for (const r of p.reasons) console.log(`  - ${r.text}`);
      console.log(`=> ${p.recommended_action}`);
    });
}
