import type { Command } from "commander";
import type { Insights } from "../../maintenance/insights.js";
import { apiBaseUrl, apiGet, withApiOptions } from "../apiClient.js";

export const help = `Improvement recommendations from the line's history: preventive maintenance that comes
too late (or too early), failure modes a machine repeats, operating conditions that differ before
failures, PLC alarms that come before failures, and operating conditions on the days scrap or
energy per piece is worst. Each states its evidence and a yearly saving
estimated from maintenance.costs in the line's YAML; nothing is recommended without enough
evidence (maintenance.insights.minEvents), and --why lists what was looked at and why it gave
nothing. The daemon computes them once a day and sends them to <prefix>/insights.`;

export function register(program: Command): void {
  withApiOptions(program.command("insights"))
    .description("recommendations from the line's history, with their evidence and yearly savings")
    .option("--fresh", "compute them now instead of showing the latest")
    .option("--why", "also list what gave no recommendation, and why")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(
      async (opts: { config?: string; api?: string; fresh?: boolean; why?: boolean; json?: boolean }) => {
        const res = await apiGet<Insights>(apiBaseUrl(opts), `/ai/insights${opts.fresh ? "?fresh=1" : ""}`);
        if (opts.json) return console.log(JSON.stringify(res, null, 2));
        console.log(
          `insights of the last ${res.lookbackDays} days, computed ${res.ts.slice(0, 16).replace("T", " ")}`,
        );
        if (res.recommendations.length === 0) console.log("no recommendation: not enough evidence for any");
        for (const r of res.recommendations) {
          const saving =
            r.yearlySaving === null
              ? "saving not estimated (set maintenance.costs)"
              : `about ${r.yearlySaving.toLocaleString("en")} ${r.currency} a year`;
          console.log(`\n* ${r.title}\n  ${saving}`);
          for (const [k, v] of Object.entries(r.evidence))
            console.log(`  ${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
        }
        if (opts.why && res.notEnoughEvidence.length > 0) {
          console.log("\nno recommendation from:");
          for (const n of res.notEnoughEvidence) console.log(`  - ${n}`);
        }
      },
    );
}
