import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import * as ort from "onnxruntime-node";
import { LinepilotError } from "../../common/errors.js";
import { loadConfigFile } from "../../config/load.js";
import { runningStates } from "../../connectors/machineEvents.js";
import { DEFAULT_ALERTS } from "../../maintenance/alertPolicy.js";
import {
  baselineFeatures,
  baselinePeriod,
  learnBaseline,
  replayBaseline,
  scoreOf,
} from "../../maintenance/baseline.js";
import { windowSettings } from "../../preprocess/features.js";
import { seriesTags } from "../../preprocess/waveform.js";
import { machineRange } from "../../store/seriesReader.js";
import { openStoreForReading } from "../../store/store.js";
import { parseInteger, parseNumber } from "../output.js";

export const help = `Learns each machine's normal behaviour from its own first days in the store (no failure labels
needed) and writes one ONNX model and card per machine (<out>/baseline_m<id>.onnx, .card.json): the
features its tags give, their robust center and scale, and the alert threshold set from the alert
budget on held-out normal days. With --evaluate, the rest of the history is replayed through the
daemon's alert rules and every alert is listed with how long before the end of the data (or the
machine's next recorded failure) it came. The daemon learns the same baselines by itself once a
machine has maintenance.baseline.days of history.

  linepilot baseline --config line.yaml --out baselines/
  linepilot baseline --config config/examples/ims-bearings.yaml --days 2 --evaluate --out var/ims`;

export function register(program: Command): void {
  program
    .command("baseline")
    .description("learn each machine's normal behaviour from its first days (anomaly model, no labels)")
    .requiredOption("-c, --config <file>", "the line's configuration (tags, window, baseline settings)")
    .option("-d, --data <store>", "a store with history (default: the config's store)")
    .requiredOption("-o, --out <dir>", "where to write baseline_m<id>.onnx and its card")
    .option("--machine <id...>", "only these machines")
    .option("--from <iso>", "the baseline period's start (default: each machine's first sample)")
    .option("--days <d>", "days of history to learn from (default: maintenance.baseline.days)", parseNumber)
    .option(
      "--alerts-per-week <n>",
      "alert budget per machine-week (default: maintenance.baseline)",
      parseNumber,
    )
    .option(
      "--stride <minutes>",
      "minutes between windows (default: maintenance.baseline.strideMin)",
      parseInteger,
    )
    .option("--evaluate", "replay the rest of the history through the alert rules and list the alerts")
    .option("--json", "the results as JSON")
    .addHelpText("after", `\n${help}`)
    .action(
      async (opts: {
        config: string;
        data?: string;
        out: string;
        machine?: string[];
        from?: string;
        days?: number;
        alertsPerWeek?: number;
        stride?: number;
        evaluate?: boolean;
        json?: boolean;
      }) => {
        const config = loadConfigFile(opts.config, { checkSecrets: false });
        const m = config.maintenance;
        const settings = {
          days: opts.days ?? m?.baseline?.days ?? 7,
          shadowDays: m?.baseline?.shadowDays ?? 7,
          alertsPerMachineWeek: opts.alertsPerWeek ?? m?.baseline?.alertsPerMachineWeek ?? 1,
          strideMin: opts.stride ?? m?.baseline?.strideMin ?? 10,
        };
        const fromTs = opts.from === undefined ? undefined : Date.parse(opts.from);
        if (fromTs !== undefined && Number.isNaN(fromTs))
          throw new LinepilotError("LP_ERR_USAGE", `--from '${opts.from}' is not an ISO time`);
        const window = windowSettings(
          m?.window ?? {
            minutes: 5,
            stepMs: 60_000,
            maxGapMs: 180_000,
            holdMs: 21_600_000,
            fill: "linear",
            baselineH: 24,
          },
        );
        const alerts = m?.alerts ?? DEFAULT_ALERTS;
        const running = runningStates(config.tags);
        const wanted = opts.machine?.map(Number);
        const db = openStoreForReading(opts.data ?? config.store.path);
        mkdirSync(opts.out, { recursive: true });
        const results: Record<string, unknown>[] = [];
        const lines: string[] = [];
        try {
          for (const machine of config.machines) {
            if (wanted !== undefined && !wanted.includes(machine.id)) continue;
            const features = baselineFeatures(
              seriesTags(config.tags).filter((t) => t.machine === machine.id),
              m?.baseline?.features,
            );
            const range = machineRange(db, machine.id);
            if (features.length === 0 || range === null) {
              lines.push(
                `${machine.name}: skipped (${features.length === 0 ? "no tag with a signal role or modelInput" : "no history in the store"})`,
              );
              continue;
            }
            const start = fromTs ?? range.from;
            const data = baselinePeriod(db, {
              machine: machine.id,
              features,
              window,
              tags: seriesTags(config.tags),
              running,
              fromTs: start,
              settings,
            });
            const end = data.learnedAt;
            const name = `baseline_m${machine.id}`;
            const { bytes, card, fit } = learnBaseline(data.samples, {
              machine: machine.id,
              features,
              window,
              settings,
              alerts,
              name,
              version: new Date().toISOString().slice(0, 10),
              learnedAt: end,
            });
            // Parity: onnxruntime on the written model gives the scores the card's threshold was set on.
            const session = await ort.InferenceSession.create(bytes);
            const probe = data.samples.slice(0, 200);
            const input = new Float32Array(probe.length * features.length);
            for (let i = 0; i < probe.length; i++) input.set(probe[i]!.x, i * features.length);
            const scored = (
              await session.run({
                features: new ort.Tensor("float32", input, [probe.length, features.length]),
              })
            ).score!.data as Float32Array;
            await session.release();
            let parity = 0;
            probe.forEach((s, i) => {
              parity = Math.max(
                parity,
                Math.abs(scored[i]! - scoreOf(fit, s.x)) / Math.max(1, scoreOf(fit, s.x)),
              );
            });
            const file = join(opts.out, `${name}.onnx`);
            writeFileSync(file, bytes);
            const result: Record<string, unknown> = {
              ...card,
              parity_with_onnxruntime: Number(parity.toExponential(2)),
            };
            lines.push(
              `${machine.name}: ${features.length} features, learned on ${card.training.windows} windows ${card.training.from.slice(0, 16)} .. ${card.training.held_out_from.slice(0, 16)}, threshold ${card.threshold} (held-out p99 ${card.held_out.score_p99}) -> ${file}`,
            );
            if (opts.evaluate === true) {
              const run = replayBaseline(
                db,
                { ...fit, threshold: card.threshold },
                {
                  machine: machine.id,
                  features,
                  window,
                  tags: seriesTags(config.tags),
                  running,
                  fromTs: end,
                  strideMin: settings.strideMin,
                  alerts,
                },
              );
              result.evaluation = run;
              lines.push(
                `  after the baseline (${new Date(run.from).toISOString().slice(0, 16)} .. ${new Date(run.to).toISOString().slice(0, 16)}, ${run.windows} windows, max score ${run.maxScore}): ` +
                  (run.alerts.length === 0
                    ? "no alert"
                    : `${run.alerts.length} alert${run.alerts.length > 1 ? "s" : ""}, first at ${new Date(run.alerts[0]!.ts).toISOString().slice(0, 16)} (${run.alerts[0]!.hoursBeforeEnd} h before the end of the data${run.alerts[0]!.hoursBeforeFailure !== null ? `, ${run.alerts[0]!.hoursBeforeFailure} h before a recorded failure` : ""})`),
              );
            }
            writeFileSync(join(opts.out, `${name}.card.json`), `${JSON.stringify(result, null, 2)}\n`);
            results.push(result);
          }
        } finally {
          db.close();
        }
        process.stdout.write(
          opts.json === true ? `${JSON.stringify(results, null, 2)}\n` : `${lines.join("\n")}\n`,
        );
      },
    );
}
