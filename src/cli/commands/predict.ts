import type { Command } from "commander";
import {
  type AnomalyAnswer,
  type PredictionAnswer,
  type ReliabilityAnswer,
  reliabilityText,
} from "../answers.js";
import { apiBaseUrl, apiGet } from "../apiClient.js";
import { parseInteger } from "../output.js";

export const help = `The latest failure-risk assessment of a machine: risk level, probability, confidence,
recommended action and the reasons (TreeSHAP contributions of the features, and any rule that
fired); and its normal-behaviour baseline's latest score, with the tags that deviate from their
own normal, by how much and since when. A machine the model cannot score says why.`;

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
      const base = apiBaseUrl(opts);
      const [res, anomalies, health, rel] = await Promise.all([
        apiGet<{ predictions: PredictionAnswer[] }>(base, `/ai/predictions?machine=${opts.machine}&limit=1`),
        apiGet<{ anomalies: AnomalyAnswer[] }>(base, `/ai/anomalies?machine=${opts.machine}&limit=1`),
        apiGet<{ components: Record<string, { details: Record<string, unknown> }> }>(base, "/health"),
        apiGet<{ machines: ReliabilityAnswer[] }>(base, `/ai/reliability?machine=${opts.machine}`),
      ]);
      const reliability = rel.machines[0];
      const p = res.predictions[0];
      const a = anomalies.anomalies[0];
      if (opts.json)
        return console.log(
          JSON.stringify(
            { prediction: p ?? null, anomaly: a ?? null, reliability: reliability ?? null },
            null,
            2,
          ),
        );
      const unscored = (health.components.maintenance?.details.unscored ?? {}) as Record<string, string>;
      const baseline = (health.components.baseline?.details.machines ?? {}) as Record<
        string,
        { phase: string; reason: string }
      >;
      if (p !== undefined) {
        console.log(
          `machine ${p.machine_id} at ${p.ts}: ${p.risk_level} risk, P(failure within the horizon) ${p.failure_probability.toFixed(2)}, confidence ${p.confidence.toFixed(2)}`,
        );
        for (const r of p.reasons) console.log(`  - ${r.text}`);
        console.log(`=> ${p.recommended_action}`);
      } else if (unscored[String(opts.machine)] !== undefined)
        console.log(
          `machine ${opts.machine}: not scored by the failure model: ${unscored[String(opts.machine)]}`,
        );
      else if (a === undefined)
        console.log(`no prediction for machine ${opts.machine} yet (is maintenance configured?)`);
      if (a !== undefined) {
        console.log(
          `baseline at ${a.ts}: ${a.level}, anomaly score ${a.score.toFixed(2)} (alerts at ${a.threshold.toFixed(2)})${a.shadow ? ", shadow period: recorded, not alerted" : ""}`,
        );
        for (const r of a.reasons) console.log(`  - ${r.text}`);
      } else if (baseline[String(opts.machine)] !== undefined) {
        const b = baseline[String(opts.machine)]!;
        console.log(`baseline: ${b.phase}${b.reason ? ` (${b.reason})` : ""}`);
      }
      if (reliability !== undefined) console.log(`reliability: ${reliabilityText(reliability)}`);
    });
}
