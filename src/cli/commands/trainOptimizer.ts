import type { Command } from "commander";
import { LinepilotError } from "../../common/errors.js";
import { trainOptimizer } from "../../optimizer/trainOptimizer.js";
import { parseInteger, table } from "../output.js";

export const help = `Trains the production optimizer's PPO policy against the digital twin (docs/design.md §5's
reward), exports the actor to ONNX, checks onnxruntime against the trained network, and compares it
with the twin search on the same 8-hour shifts (untouched vs autonomous, through the real safety
envelope). Writes <out>.onnx, <out>.card.json (training, figures, which policy is better) and
<out>.learning_curve.csv. The same seed gives the same model, byte for byte.

  linepilot train-optimizer --out models/production_optimizer.onnx --seed 7`;

export function register(program: Command): void {
  program
    .command("train-optimizer")
    .description("train the optimizer's PPO policy on the twin, to ONNX, compared with the twin search")
    .requiredOption("-o, --out <file.onnx>", "where to write the policy")
    .option("--seed <n>", "random seed (same seed: same model)", parseInteger, 7)
    .option("--iterations <n>", "PPO iterations (8 shifts each)", parseInteger, 150)
    .option("--model-version <v>", "model version (default: today's date)")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { out: string; seed: number; iterations: number; modelVersion?: string }) => {
      if (!opts.out.endsWith(".onnx"))
        throw new LinepilotError("LP_ERR_USAGE", "--out must name a .onnx file");
      const { card, sha256 } = await trainOptimizer(opts.out, {
        seed: opts.seed,
        iterations: opts.iterations,
        ...(opts.modelVersion !== undefined ? { version: opts.modelVersion } : {}),
        onIteration: (i, r) => {
          if (i % 10 === 0)
            process.stderr.write(`iteration ${i}/${opts.iterations}: mean shift return ${Math.round(r)}\n`);
        },
      });
      const ev = card.evaluation as {
        shifts: Record<string, string | number | boolean>[];
        better: string;
      };
      console.log(
        table(
          [
            "SHIFT",
            "POLICY",
            "REWARD",
            "UNTOUCHED",
            "SCRAP RATE -%",
            "ENERGY SAVED kWh",
            "WRITES",
            "VIOLATIONS",
          ],
          ev.shifts.map((r) => [
            String(r.shift),
            String(r.policy),
            String(r.reward),
            String(r.baseline_reward),
            String(r.ai_scrap_rate_reduction_percent),
            String(r.ai_energy_savings_kwh),
            String(r.writes),
            String(r.violations),
          ]),
        ),
      );
      console.log(`\nwrote ${opts.out} (sha256 ${sha256}); better on these shifts: ${ev.better}`);
    });
}
