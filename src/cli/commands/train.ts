import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import * as ort from "onnxruntime-node";
import { LinepilotError } from "../../common/errors.js";
import { buildDataset } from "../../maintenance/dataset.js";
import { predictProbability } from "../../maintenance/forest.js";
import { trainModel } from "../../maintenance/train.js";
import { openStoreForReading } from "../../store/store.js";
import { parseInteger } from "../output.js";

export const help = `Trains the predictive-maintenance model (a Random Forest) on a store's history and writes a
standard ONNX model (ai.onnx.ml TreeEnsembleClassifier) and its card (<out>.card.json): features,
horizon, training window, class balance, AUC, precision and recall at the alert threshold, alert lead
times and false alarms per machine-week on the time-ordered holdout, the sha256 of the .onnx, and
the largest difference between onnxruntime and the in-process forest.

  linepilot train --data line.db --out models/predictive_maintenance.onnx
  linepilot train --data history.db --holdout injected-wear.db --seed 7 --out /var/lib/linepilot/line1/models/pm.onnx`;

export function register(program: Command): void {
  program
    .command("train")
    .description("train the predictive-maintenance model to ONNX, with its model card")
    .requiredOption(
      "-d, --data <store>",
      "a store file with history (the daemon's, or from linepilot generate)",
    )
    .requiredOption("-o, --out <file.onnx>", "where to write the model")
    .option("--holdout <store>", "also evaluate on another store (e.g. a run with injected wear)")
    .option("--horizon <hours>", "predict failures within this many hours", parseInteger, 48)
    .option("--stride <minutes>", "minutes between training windows", parseInteger, 30)
    .option("--trees <n>", "trees in the forest", parseInteger, 60)
    .option("--max-depth <n>", "maximum tree depth", parseInteger, 8)
    .option("--seed <n>", "random seed (same data and seed: same model)", parseInteger, 7)
    .option("--model-version <v>", "model version (default: today's date)")
    .addHelpText("after", `\n${help}`)
    .action(
      async (opts: {
        data: string;
        out: string;
        holdout?: string;
        horizon: number;
        stride: number;
        trees: number;
        maxDepth: number;
        seed: number;
        modelVersion?: string;
      }) => {
        if (!opts.out.endsWith(".onnx"))
          throw new LinepilotError("LP_ERR_USAGE", "--out must name a .onnx file");
        const db = openStoreForReading(opts.data);
        const holdoutDb = opts.holdout === undefined ? undefined : openStoreForReading(opts.holdout);
        const bar = new SingleBar({ format: "{stage} [{bar}] {percentage}%", stream: process.stderr });
        bar.start(1, 0, { stage: "features" });
        try {
          const { card, forest, bytes } = trainModel(
            db,
            opts.out,
            {
              horizonH: opts.horizon,
              strideMin: opts.stride,
              holdoutFraction: 0.3,
              forest: { trees: opts.trees, maxDepth: opts.maxDepth, minSamplesLeaf: 5, seed: opts.seed },
              ...(opts.modelVersion !== undefined ? { version: opts.modelVersion } : {}),
              onProgress: (stage, done, total) => {
                bar.setTotal(Math.max(1, total));
                bar.update(done, { stage });
              },
            },
            holdoutDb === undefined
              ? undefined
              : { db: holdoutDb, source: opts.holdout!.replace(/^.*\//, "") },
          );
          bar.stop();
          // Parity: onnxruntime on the written file must give the forest's probabilities.
          const session = await ort.InferenceSession.create(readFileSync(opts.out));
          const sample = buildDataset(holdoutDb ?? db, {
            horizonH: opts.horizon,
            strideMin: opts.stride * 4,
          }).samples.slice(0, 500);
          const width = card.features.length;
          const input = new Float32Array(sample.length * width);
          for (let i = 0; i < sample.length; i++) input.set(sample[i]!.x, i * width);
          const out = await session.run({
            features: new ort.Tensor("float32", input, [sample.length, width]),
          });
          const probabilities = out.probabilities!.data as Float32Array;
          let maxDiff = 0;
          sample.forEach((s, i) => {
            maxDiff = Math.max(
              maxDiff,
              Math.abs(probabilities[i * 2 + 1]! - predictProbability(forest, s.x)),
            );
          });
          await session.release();
          card.parity_with_onnxruntime = {
            max_abs_diff: Number(maxDiff.toExponential(2)),
            samples: sample.length,
          };
          if (createHash("sha256").update(readFileSync(opts.out)).digest("hex") !== card.onnx.sha256)
            throw new LinepilotError("LP_ERR_STORE", `${opts.out} changed while it was being checked`);
          void bytes;
          const cardFile = opts.out.replace(/\.onnx$/, ".card.json");
          writeFileSync(cardFile, `${JSON.stringify(card, null, 2)}\n`);
          const h = card.holdout;
          console.log(
            `wrote ${opts.out} and ${cardFile}\n` +
              `holdout (${h.from.slice(0, 10)}..${h.to.slice(0, 10)}): AUC ${h.auc}, precision ${h.precision} / recall ${h.recall} at p >= ${h.threshold}; ` +
              `${h.alertedInTime}/${h.failures} failures alerted 24-72 h ahead (median lead ${h.medianLeadH} h), ` +
              `${h.falseAlarmsPerMachineWeek} false alarms per machine-week; onnxruntime parity ${card.parity_with_onnxruntime.max_abs_diff}`,
          );
          if (card.external_holdout) {
            const e = card.external_holdout;
            console.log(
              `external holdout ${e.source}: AUC ${e.auc}; ${e.alertedInTime}/${e.failures} failures alerted 24-72 h ahead; ${e.falseAlarmsPerMachineWeek} false alarms per machine-week`,
            );
          }
        } finally {
          bar.stop();
          db.close();
          holdoutDb?.close();
        }
      },
    );
}
