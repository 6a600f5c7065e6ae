import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import * as ort from "onnxruntime-node";
import { LinepilotError } from "../../common/errors.js";
import { loadConfigFile } from "../../config/load.js";
import type { LineConfig } from "../../config/schema.js";
import { runningStates } from "../../connectors/machineEvents.js";
import { predictProbability } from "../../inference/forest.js";
import { DEFAULT_ALERTS } from "../../maintenance/alertPolicy.js";
import { buildDataset } from "../../maintenance/dataset.js";
import { type TrainOptions, trainModel } from "../../maintenance/train.js";
import { windowSettings } from "../../preprocess/features.js";
import { seriesTags } from "../../preprocess/waveform.js";
import { openStoreForReading } from "../../store/store.js";
import { parseInteger, parseNumber } from "../output.js";

export const help = `Trains the predictive-maintenance model (a Random Forest) on a store's history and writes a
standard ONNX model (ai.onnx.ml TreeEnsembleClassifier) and its card (<out>.card.json): features,
horizon, training window, class balance, AUC, precision and recall at the alert threshold, alert lead
times and false alarms per machine-week on the time-ordered holdout, the sha256 of the .onnx, and
the largest difference between onnxruntime and the in-process forest.

With --config, the features come from the line's own tags (roles and modelInput tags), the window
from its maintenance.window, the alert threshold from maintenance.alerts and the running states
from its state tags; without it, the press line's features and the name rule (m3.vibration_rms).
Failures are the store's fault events and maintenance records marked as failures.

  linepilot train --data line.db --out models/predictive_maintenance.onnx
  linepilot train --config /etc/linepilot/line1.yaml --out /var/lib/linepilot/line1/models/pm.onnx
  linepilot train --config fleet.yaml --split machines --horizon 30 --out fleet.onnx`;

export function register(program: Command): void {
  program
    .command("train")
    .description("train the predictive-maintenance model to ONNX, with its model card")
    .option("-c, --config <file>", "the line's configuration (its store, tags, window and alert threshold)")
    .option("-d, --data <store>", "a store file with history (default: the config's store)")
    .requiredOption("-o, --out <file.onnx>", "where to write the model")
    .option("--holdout <store>", "also evaluate on another store (e.g. a run with injected wear)")
    .option("--horizon <hours>", "predict failures within this many hours", parseInteger, 48)
    .option("--stride <minutes>", "minutes between training windows", parseInteger, 30)
    .option("--trees <n>", "trees in the forest", parseInteger, 60)
    .option("--max-depth <n>", "maximum tree depth", parseInteger, 8)
    .option("--min-leaf <n>", "fewest training windows in a leaf", parseInteger, 5)
    .option(
      "--holdout-fraction <f>",
      "share held out: the most recent period, or of the machines",
      parseNumber,
      0.3,
    )
    .option(
      "--split <how>",
      "time (the most recent part held out) or machines (a fleet: whole machines held out)",
      "time",
    )
    .option("--seed <n>", "random seed (same data and seed: same model)", parseInteger, 7)
    .option("--model-version <v>", "model version (default: today's date)")
    .option(
      "--export-dataset <csv>",
      "also write the labelled windows (split, machine, time, label, features) as CSV, e.g. for a reference learner",
    )
    .addHelpText("after", `\n${help}`)
    .action(
      async (opts: {
        config?: string;
        data?: string;
        minLeaf: number;
        holdoutFraction: number;
        split: string;
        out: string;
        holdout?: string;
        horizon: number;
        stride: number;
        trees: number;
        maxDepth: number;
        seed: number;
        modelVersion?: string;
        exportDataset?: string;
      }) => {
        if (!opts.out.endsWith(".onnx"))
          throw new LinepilotError("LP_ERR_USAGE", "--out must name a .onnx file");
        if (opts.split !== "time" && opts.split !== "machines")
          throw new LinepilotError("LP_ERR_USAGE", `--split is time or machines, not '${opts.split}'`);
        if (!(opts.holdoutFraction > 0 && opts.holdoutFraction < 1))
          throw new LinepilotError("LP_ERR_USAGE", "--holdout-fraction is between 0 and 1, e.g. 0.3");
        const config: LineConfig | undefined =
          opts.config === undefined ? undefined : loadConfigFile(opts.config, { checkSecrets: false });
        const dataPath = opts.data ?? config?.store.path;
        if (dataPath === undefined)
          throw new LinepilotError("LP_ERR_USAGE", "give --data <store> or --config <line.yaml>");
        const db = openStoreForReading(dataPath);
        const lineOptions: Pick<TrainOptions, "tags" | "running" | "alerts" | "window"> =
          config === undefined
            ? {}
            : {
                tags: seriesTags(config.tags),
                running: runningStates(config.tags),
                alerts: config.maintenance?.alerts ?? DEFAULT_ALERTS,
                ...(config.maintenance !== undefined
                  ? { window: windowSettings(config.maintenance.window) }
                  : {}),
              };
        const holdoutDb = opts.holdout === undefined ? undefined : openStoreForReading(opts.holdout);
        const bar = new SingleBar({ format: "{stage} [{bar}] {percentage}%", stream: process.stderr });
        bar.start(1, 0, { stage: "features" });
        try {
          const { card, forest, bytes, train, holdout } = trainModel(
            db,
            opts.out,
            {
              horizonH: opts.horizon,
              strideMin: opts.stride,
              holdoutFraction: opts.holdoutFraction,
              split: opts.split,
              ...lineOptions,
              forest: {
                trees: opts.trees,
                maxDepth: opts.maxDepth,
                minSamplesLeaf: opts.minLeaf,
                seed: opts.seed,
              },
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
            features: card.features,
            ...(lineOptions.window !== undefined ? { window: lineOptions.window } : {}),
            ...(lineOptions.tags !== undefined ? { tags: lineOptions.tags } : {}),
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
          if (opts.exportDataset !== undefined) {
            const rows = [`split,machine,ts,y,${card.features.join(",")}`];
            for (const [split, samples] of [
              ["train", train],
              ["holdout", holdout],
            ] as const)
              for (const s of samples)
                rows.push(
                  `${split},${s.machine},${s.ts},${s.y},${Array.from(s.x, (v) => (Number.isNaN(v) ? "" : v)).join(",")}`,
                );
            writeFileSync(opts.exportDataset, `${rows.join("\n")}\n`);
          }
          const cardFile = opts.out.replace(/\.onnx$/, ".card.json");
          writeFileSync(cardFile, `${JSON.stringify(card, null, 2)}\n`);
          const h = card.holdout;
          console.log(
            `wrote ${opts.out} and ${cardFile}\n` +
              `holdout (${h.from.slice(0, 10)}..${h.to.slice(0, 10)}): AUC ${h.auc}, precision ${h.precision} / recall ${h.recall} at p >= ${h.threshold}; ` +
              `${h.alertedInTime}/${h.failures} failures alerted ${h.leadWindowH[0]}-${h.leadWindowH[1]} h ahead (median lead ${h.medianLeadH} h), ` +
              `${h.falseAlarmsPerMachineWeek} false alarms per machine-week; onnxruntime parity ${card.parity_with_onnxruntime.max_abs_diff}`,
          );
          if (card.external_holdout) {
            const e = card.external_holdout;
            console.log(
              `external holdout ${e.source}: AUC ${e.auc}; ${e.alertedInTime}/${e.failures} failures alerted ${e.leadWindowH[0]}-${e.leadWindowH[1]} h ahead; ${e.falseAlarmsPerMachineWeek} false alarms per machine-week`,
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
