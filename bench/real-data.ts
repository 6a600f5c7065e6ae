/**
 * The AI measured on real data nobody here made, through the product's own path: `linepilot
 * import` loads each data set into a line's store, `linepilot baseline` learns normal behaviour
 * without labels, `linepilot train` the failure forest, and the figures are what those commands
 * report. Run by `npm run bench:real` (after `npm run build`); reads ../shared/datasets (or
 * $LINEPILOT_DATASETS) and writes the models and cards to models/real-data/.
 *
 * - IMS bearings (run to failure, no labels): hours before the end at which bearing 1's baseline
 *   alerts on test 2, and the alerts on bearings that did not fail;
 * - C-MAPSS FD001 (100 engines run to failure): AUC, precision and recall of "fails within 30
 *   cycles", split by engine, next to scikit-learn's RandomForest on the same windows and split;
 * - CWRU (vibration waveforms): the envelope-spectrum lines at the inner- and outer-race defect
 *   frequencies.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATA = resolve(process.env.LINEPILOT_DATASETS ?? join(ROOT, "../shared/datasets"));
const OUT = join(ROOT, "models/real-data");
const work = mkdtempSync(join(tmpdir(), "lp-real-"));

function lp(args: string[]): string {
  return execFileSync(process.execPath, [join(ROOT, "dist/cli/main.js"), ...args], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
  });
}

/** A copy of an example config with its store in the scratch folder. */
function lineConfig(example: string, name: string): string {
  const text = readFileSync(join(ROOT, "config/examples", example), "utf8")
    .replace(
      /store: \{ path: [^}]+\}/,
      `store: { path: ${JSON.stringify(join(work, name, "linepilot.db"))} }`,
    )
    .replace(/model: \.\.\/\.\.\/models\//, `model: ${join(ROOT, "models")}/`);
  mkdirSync(join(work, name), { recursive: true });
  const file = join(work, name, "line.yaml");
  writeFileSync(file, text);
  return file;
}

interface BaselineResult {
  machine: number;
  threshold: number;
  training: { from: string; to: string; windows: number };
  evaluation: {
    from: number;
    to: number;
    windows: number;
    alerts: { ts: number; hoursBeforeEnd: number }[];
    openAtEnd: { ts: number; hoursBeforeEnd: number } | null;
  };
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");
const figures: Record<string, unknown> = {};

function ims(test: 1 | 2): void {
  const example = test === 2 ? "ims-bearings.yaml" : "ims-test1.yaml";
  const config = lineConfig(example, `ims-test${test}`);
  const channels =
    test === 2
      ? [1, 2, 3, 4].map((b) => `Bearing ${b}=bearing${b}.vibration`)
      : [1, 2, 3, 4].flatMap((b) => [`Bearing ${b}-A=bearing${b}.x`, `Bearing ${b}-B=bearing${b}.y`]);
  const file = join(DATA, `ims/ims_test${test}_10min.csv`);
  const imported = lp([
    "import",
    "--config",
    config,
    file,
    "--time-column",
    "Datetime",
    "--time-format",
    "yyyy.MM.dd.HH.mm.ss",
    ...channels.flatMap((c) => ["--map", c]),
  ]);
  process.stdout.write(`IMS test ${test}: ${imported}`);
  const out = join(OUT, `ims-test${test}`);
  mkdirSync(out, { recursive: true });
  const results = JSON.parse(
    lp(["baseline", "--config", config, "--evaluate", "--out", out, "--json"]),
  ) as BaselineResult[];
  for (const r of results) {
    const e = r.evaluation;
    const alerts = e.alerts.map((a) => `${iso(a.ts)} (${a.hoursBeforeEnd} h before the end)`);
    console.log(
      `  bearing ${r.machine}: baseline ${r.training.windows} windows from ${r.training.from.slice(0, 10)}, threshold ${r.threshold}; ` +
        `replayed ${iso(e.from)} .. ${iso(e.to)}: ${e.alerts.length} alert${e.alerts.length === 1 ? "" : "s"}` +
        (alerts.length > 0 ? `: ${alerts.slice(0, 6).join(", ")}${alerts.length > 6 ? ", ..." : ""}` : "") +
        (e.openAtEnd !== null
          ? `; open at the end since ${iso(e.openAtEnd.ts)} (${e.openAtEnd.hoursBeforeEnd} h)`
          : ""),
    );
  }
  figures[`ims_test${test}`] = results.map((r) => ({
    bearing: r.machine,
    threshold: r.threshold,
    alerts: r.evaluation.alerts.length,
    first_alert_hours_before_end: r.evaluation.alerts[0]?.hoursBeforeEnd ?? null,
    open_at_end_hours_before_end: r.evaluation.openAtEnd?.hoursBeforeEnd ?? null,
  }));
}

/** C-MAPSS FD001: 100 engines, one row per cycle; each engine a machine, one cycle an hour. */
function cmapss(): void {
  const dir = join(work, "cmapss");
  mkdirSync(dir, { recursive: true });
  const file = join(DATA, "cmapss/train_FD001.txt");
  const columns = [
    "unit",
    "cycle",
    "setting1",
    "setting2",
    "setting3",
    ...Array.from({ length: 21 }, (_, i) => `s${i + 1}`),
  ];
  const signals = columns.slice(2);
  const lastCycle = new Map<number, number>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [unit, cycle] = line.trim().split(/\s+/).map(Number);
    if (unit !== undefined && cycle !== undefined && !Number.isNaN(unit))
      lastCycle.set(unit, Math.max(cycle, lastCycle.get(unit) ?? 0));
  }
  const units = [...lastCycle.keys()].sort((a, b) => a - b);
  const yaml = [
    "# C-MAPSS FD001 as a fleet: each engine a machine, each cycle an hour (generated by bench/real-data.ts)",
    "version: 1",
    "line: { enterprise: nasa, site: cmapss, area: fd001, name: fleet }",
    "machines:",
    ...units.map((u) => `  - { id: ${u}, name: Engine ${u}, kind: turbofan }`),
    "connections:",
    '  - { id: fleet, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840" }',
    "tags:",
    ...units.flatMap((u) =>
      signals.map(
        (s) =>
          `  - { name: engine${u}.${s}, machine: ${u}, modelInput: true, connection: fleet, nodeId: "ns=1;s=E${u}.${s}", intervalMs: 3600000 }`,
      ),
    ),
    `store: { path: ${JSON.stringify(join(dir, "linepilot.db"))} }`,
    "maintenance:",
    `  model: ${join(ROOT, "models/predictive_maintenance.onnx")}`,
    "  # ten cycles a window; drift against the last thirty",
    "  window: { minutes: 600, stepMs: 3600000, maxGapMs: 7200000, holdMs: 3600000, baselineH: 30 }",
    "  alerts: { medium: 0.3, high: 0.5, escalate: 0.8, clearBelow: 0.3 }",
    "",
  ].join("\n");
  const config = join(dir, "fleet.yaml");
  writeFileSync(config, yaml);
  const origin = Date.parse("2020-01-01T00:00:00Z");
  // The last cycle of each engine is its failure: recorded, as a technician would, as a
  // maintenance record marked as a failure at the end of that cycle.
  const failures = join(dir, "failures.csv");
  writeFileSync(
    failures,
    `machine,started,completed,failure,mode\n${units
      .map((u) => {
        const at = new Date(origin + (lastCycle.get(u)! + 0.5) * 3_600_000).toISOString();
        return `${u},${at},${at},yes,hpc_degradation`;
      })
      .join("\n")}\n`,
  );
  const started = performance.now();
  const imported = lp([
    "import",
    "--config",
    config,
    file,
    "--delimiter",
    "whitespace",
    "--no-header",
    "--columns",
    columns.join(","),
    "--machine-column",
    "unit",
    "--tag-pattern",
    "engine{machine}.{column}",
    "--time-column",
    "cycle",
    "--time-format",
    "cycle",
    "--origin",
    "2020-01-01T00:00:00Z",
    "--cycle-ms",
    "3600000",
    "--maintenance",
    failures,
  ]);
  const importSeconds = (performance.now() - started) / 1000;
  process.stdout.write(`C-MAPSS FD001: ${imported}`);
  mkdirSync(OUT, { recursive: true });
  const model = join(OUT, "cmapss_fd001.onnx");
  const windows = join(dir, "windows.csv");
  const trained = lp([
    "train",
    "--config",
    config,
    "--split",
    "machines",
    "--holdout-fraction",
    "0.3",
    "--horizon",
    "30",
    "--stride",
    "60",
    "--trees",
    "60",
    "--max-depth",
    "8",
    "--min-leaf",
    "5",
    "--seed",
    "7",
    "--model-version",
    "fd001-1",
    "--export-dataset",
    windows,
    "--out",
    model,
  ]);
  process.stdout.write(`  linepilot train: ${trained}`);
  const cardFile = model.replace(/\.onnx$/, ".card.json");
  const card = JSON.parse(readFileSync(cardFile, "utf8")) as {
    holdout: {
      auc: number;
      precision: number;
      recall: number;
      threshold: number;
      samples: number;
      machines?: number[];
    };
    training: { samples: number };
    training_seconds: number;
    features: string[];
    reference?: Record<string, unknown>;
  };
  // Debian's python3 (where python3-sklearn installs), before whatever python3 is first on the PATH.
  const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const hasSklearn = spawnSync(python, ["-c", "import sklearn"]).status === 0;
  let reference: Record<string, unknown> | undefined;
  if (hasSklearn) {
    const r = spawnSync(
      python,
      [
        join(ROOT, "bench/real-data/sklearn_reference.py"),
        windows,
        "60",
        "8",
        "5",
        "7",
        String(card.holdout.threshold),
      ],
      { encoding: "utf8" },
    );
    if (r.status === 0) {
      reference = JSON.parse(r.stdout) as Record<string, unknown>;
      card.reference = reference;
      writeFileSync(cardFile, `${JSON.stringify(card, null, 2)}\n`);
    } else console.log(`  scikit-learn reference failed: ${r.stderr.trim().split("\n").at(-1)}`);
  } else
    console.log("  scikit-learn reference: python3-sklearn is not installed (apt install python3-sklearn)");
  const h = card.holdout;
  console.log(
    `  fails within 30 cycles, ${h.machines?.length ?? "?"} engines held out (${h.samples} windows): linepilot AUC ${h.auc}, precision ${h.precision}, recall ${h.recall} at p >= ${h.threshold}; forest trained in ${card.training_seconds} s on ${card.training.samples} windows x ${card.features.length} features`,
  );
  if (reference !== undefined)
    console.log(
      `  scikit-learn ${reference.version} RandomForest, same windows and split: AUC ${reference.auc}, precision ${reference.precision}, recall ${reference.recall}; trained in ${reference.training_seconds} s`,
    );
  figures.cmapss_fd001 = {
    import_seconds: Number(importSeconds.toFixed(1)),
    linepilot: {
      auc: h.auc,
      precision: h.precision,
      recall: h.recall,
      threshold: h.threshold,
      training_seconds: card.training_seconds,
    },
    scikit_learn: reference ?? null,
  };
}

function cwru(): void {
  const out = JSON.parse(
    lp([
      "vibration",
      ...["inner_race_007_0hp", "outer_race_007_at6_0hp", "ball_007_0hp", "normal_0hp"].map((f) =>
        join(DATA, `cwru/${f}.csv`),
      ),
      "--rate",
      "12000",
      "--rpm",
      "1797",
      "--bpfi",
      "5.4152",
      "--bpfo",
      "3.5848",
      "--bsf",
      "2.3568",
      "--ftf",
      "0.39828",
      "--json",
    ]),
  ) as {
    file: string;
    rms: number;
    lines: { name: string; expectedHz: number; peakHz: number; prominence: number }[];
  }[];
  console.log("CWRU 6205 bearing, 1797 rpm, 12 kHz (envelope spectrum of the 1-5 kHz band):");
  for (const r of out) {
    const name = r.file.replace(/^.*\//, "");
    console.log(
      `  ${name}: rms ${r.rms.toFixed(3)} g; ` +
        r.lines
          .map(
            (l) =>
              `${l.name.toUpperCase()} ${l.expectedHz.toFixed(1)} Hz -> peak ${l.peakHz.toFixed(2)} Hz (x${l.prominence.toFixed(0)})`,
          )
          .join(", "),
    );
  }
  figures.cwru = out.map((r) => ({
    file: r.file.replace(/^.*\//, ""),
    rms: Number(r.rms.toFixed(4)),
    lines: r.lines.map((l) => ({
      name: l.name,
      expected_hz: Number(l.expectedHz.toFixed(2)),
      peak_hz: Number(l.peakHz.toFixed(2)),
      prominence: Number(l.prominence.toFixed(1)),
    })),
  }));
}

if (!existsSync(join(DATA, "README.md"))) {
  console.log(`no data sets at ${DATA} (set LINEPILOT_DATASETS): nothing measured`);
  process.exit(0);
}
// `npm run bench:real -- cmapss cwru` measures only those.
const only = new Set(process.argv.slice(2));
const wanted = (name: string) => only.size === 0 || only.has(name);
try {
  if (wanted("ims")) {
    ims(2);
    ims(1);
  }
  if (wanted("cmapss")) cmapss();
  if (wanted("cwru")) cwru();
  // Sections not measured in this run keep their last figures.
  const file = join(OUT, "figures.json");
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  writeFileSync(
    file,
    `${JSON.stringify({ ...before, ...figures, measured_at: new Date().toISOString() }, null, 2)}\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
