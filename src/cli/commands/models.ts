import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { basename } from "node:path";
import type { Command } from "commander";
import { LinepilotError } from "../../common/errors.js";
import type { LearningRun } from "../../learning/learner.js";
import type { ModelLiveCounters } from "../../maintenance/alertOutcomes.js";
import { apiBaseUrl, apiGet, apiPost, withApiOptions } from "../apiClient.js";
import { parseInteger, table } from "../output.js";

export const help = `The model registry: every model the line has had, encrypted at rest (AES-256-GCM), with
its holdout metrics and status. Exactly one model per name is active; the one before it is kept
as the fallback. Promotion and rollback take effect at once, between two inference ticks, and are
audited with who asked.

  linepilot models
  linepilot models promote 4 --reason "validated on line B"
  linepilot models rollback                    (the fallback becomes active again)
  linepilot models import forest.onnx --model-version 2026.12-lab
  linepilot learn now                          (train, compare, promote only if better)
  linepilot learn                              (the last learning runs)`;

type ModelRow = {
  id: number;
  name: string;
  version: string;
  type: string;
  status: string;
  metrics: { auc?: number; precision?: number; recall?: number };
  trainedAt: string | null;
  deployedAt: string | null;
};

const f3 = (v: number | undefined) => (typeof v === "number" ? v.toFixed(3) : "-");
const by = (opts: { by?: string }) => opts.by ?? userInfo().username;

export function register(program: Command): void {
  const models = withApiOptions(program.command("models"))
    .description("list, promote, roll back and import models (the encrypted model registry)")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config?: string; api?: string; json?: boolean }) => {
      const base = apiBaseUrl(opts);
      const [res, live] = await Promise.all([
        apiGet<{ models: ModelRow[] }>(base, "/ai/models"),
        apiGet<{ horizonH: number; models: ModelLiveCounters[] }>(base, "/ai/models/outcomes"),
      ]);
      if (opts.json)
        return console.log(
          JSON.stringify(
            res.models.map((m) => ({ ...m, live: live.models.filter((l) => l.modelId === m.id) })),
            null,
            2,
          ),
        );
      console.log(
        table(
          ["ID", "NAME", "VERSION", "STATUS", "AUC", "PRECISION", "RECALL", "TRAINED", "DEPLOYED"],
          res.models.map((m) => [
            String(m.id),
            m.name,
            m.version,
            m.status,
            f3(m.metrics.auc),
            f3(m.metrics.precision),
            f3(m.metrics.recall),
            m.trainedAt?.slice(0, 16).replace("T", " ") ?? "-",
            m.deployedAt?.slice(0, 16).replace("T", " ") ?? "-",
          ]),
        ),
      );
      if (live.models.length === 0) return;
      console.log(
        `\non this line (outcomes recorded by technicians; a failure within ${live.horizonH} h of no alert is missed):`,
      );
      console.log(
        table(
          [
            "ID",
            "ALERTS",
            "MACHINE-WEEKS",
            "PER M-WEEK",
            "CONFIRMED",
            "FALSE",
            "UNREVIEWED",
            "MISSED",
            "PRECISION",
            "RECALL",
            "MEDIAN LEAD",
          ],
          live.models.map((l) => [
            `${l.modelId} (${l.kind})`,
            String(l.raised),
            String(l.machineWeeks),
            f3(l.alertsPerMachineWeek ?? undefined),
            String(l.confirmed),
            String(l.falseAlarms),
            String(l.unreviewed),
            String(l.missed),
            f3(l.precision ?? undefined),
            f3(l.recall ?? undefined),
            l.medianLeadH === null ? "-" : `${l.medianLeadH} h`,
          ]),
        ),
      );
    });
  // Promote and rollback: the same change, told who and why, answering one line.
  const switchActive = (
    command: string,
    description: string,
    path: (arg: string | undefined) => string,
    body: (arg: string | undefined) => object,
  ) =>
    models
      .command(command)
      .description(description)
      .option("--by <name>", "who asks (default: your user name)")
      .option("--reason <text>", "why, for the audit log")
      .action(async (arg: string | undefined, _opts: unknown, cmd: Command) => {
        const opts = cmd.optsWithGlobals<{ config?: string; api?: string; by?: string; reason?: string }>();
        const res = await apiPost<{ message: string }>(apiBaseUrl(opts), path(arg), {
          by: by(opts),
          ...body(arg),
          ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        });
        console.log(res.message);
      });
  switchActive(
    "promote <id>",
    "make a model the active one of its name (the active one becomes the fallback)",
    (id) => `/ai/models/${parseInteger(id!)}/promote`,
    () => ({}),
  );
  switchActive(
    "rollback [name]",
    "make the fallback model active again, in one step (default name: predictive_maintenance)",
    () => "/ai/models/rollback",
    (name) => (name !== undefined ? { name } : {}),
  );
  models
    .command("import <file>")
    .description("encrypt and register an ONNX model trained elsewhere, as a candidate")
    .requiredOption("--model-version <version>", "the model's version (unique per name)")
    .option("--name <name>", "the registry name", "predictive_maintenance")
    .option("--type <type>", "the model type", "random_forest")
    .option("--by <name>", "who imports (default: your user name)")
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{
        config?: string;
        api?: string;
        modelVersion: string;
        name: string;
        type: string;
        by?: string;
      }>();
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (error) {
        throw new LinepilotError(
          "LP_ERR_USAGE",
          `cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`,
        );
      }
      if (!basename(file).endsWith(".onnx"))
        throw new LinepilotError(
          "LP_ERR_USAGE",
          `${file}: only .onnx models are accepted (pickles run code when loaded)`,
        );
      const res = await apiPost<{ message: string }>(
        apiBaseUrl(opts),
        "/ai/models/import",
        {
          name: opts.name,
          version: opts.modelVersion,
          type: opts.type,
          by: by(opts),
          onnx: bytes.toString("base64"),
        },
        120_000,
      );
      console.log(res.message);
    });

  const learn = withApiOptions(program.command("learn"))
    .description("continuous learning: the last runs, or 'learn now' to run one")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config?: string; api?: string; json?: boolean }) => {
      const res = await apiGet<{ nextRunAt: string | null; running: boolean; runs: LearningRun[] }>(
        apiBaseUrl(opts),
        "/ai/learning",
      );
      if (opts.json) return console.log(JSON.stringify(res, null, 2));
      console.log(
        `next scheduled run: ${res.nextRunAt ?? "-"}${res.running ? " (a run is in progress)" : ""}`,
      );
      if (res.runs.length > 0)
        console.log(
          table(["RUN", "STARTED", "TRIGGER", "STATE", "CANDIDATE", "REASON"], res.runs.map(runRow)),
        );
    });
  learn
    .command("now")
    .description(
      "run the learning job now: train a candidate, compare it with the active model, promote only if better",
    )
    .option("--force", "train even without new failures or maintenance since the last run")
    .option("--by <name>", "who asks (default: your user name)")
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ config?: string; api?: string; force?: boolean; by?: string }>();
      const res = await apiPost<{ ok: boolean; run: LearningRun }>(
        apiBaseUrl(opts),
        "/ai/learning/run",
        { by: by(opts), force: opts.force === true },
        30 * 60_000,
      );
      const r = res.run;
      console.log(`run ${r.id}: ${r.state}: ${r.reason}`);
      if (r.metrics.candidate !== undefined && r.metrics.active !== undefined)
        console.log(
          table(
            ["MODEL", "AUC", "PRECISION", "RECALL", "ALERTED 24-72 H"],
            [
              [
                "active",
                f3(r.metrics.active.auc),
                f3(r.metrics.active.precision),
                f3(r.metrics.active.recall),
                `${r.metrics.active.alertedInTime}/${r.metrics.active.failures}`,
              ],
              [
                `candidate #${r.candidateId}`,
                f3(r.metrics.candidate.auc),
                f3(r.metrics.candidate.precision),
                f3(r.metrics.candidate.recall),
                `${r.metrics.candidate.alertedInTime}/${r.metrics.candidate.failures}`,
              ],
            ],
          ),
        );
      if (!res.ok) process.exitCode = 1;
    });
}

function runRow(r: LearningRun): string[] {
  return [
    String(r.id),
    new Date(r.startedAt).toISOString().slice(0, 16).replace("T", " "),
    r.trigger,
    r.state,
    r.candidateId === null ? "-" : `#${r.candidateId}`,
    r.reason,
  ];
}
