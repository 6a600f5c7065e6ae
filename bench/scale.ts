/**
 * The cost of learning at plant scale (issue 16's note): a line of 20 machines x 50 tags at 10 s,
 * `--days` of it in a store, then each machine's baseline learned in its worker and a forest
 * candidate trained in the learner's worker, while the main thread ingests into another store the
 * way the daemon does. Prints the time and memory of each, the ingestion rate alone and during
 * each, and what a year costs by the measured rate (the store of a year at this scale holds
 * 3.2 billion samples, about 120 GB: measured here on `--days`, scaled by the windows it reads).
 *
 *   npm run bench:scale [-- --days 7 --machines 20 --tags 50]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { silentLogger } from "../src/common/logger.js";
import { mulberry32 } from "../src/common/random.js";
import { trainInWorker } from "../src/learning/learningWorker.js";
import { DEFAULT_ALERTS } from "../src/maintenance/alertPolicy.js";
import { baselineFeatures } from "../src/maintenance/baseline.js";
import { learnBaselineInWorker } from "../src/maintenance/baselineWorker.js";
import { trainModel } from "../src/maintenance/train.js";
import { DEFAULT_WINDOW, type FeatureTag, featuresFor } from "../src/preprocess/features.js";
import { SampleWriter } from "../src/store/sampleWriter.js";
import { openStoreForReading, Store } from "../src/store/store.js";

const { values: args } = parseArgs({
  options: {
    days: { type: "string", default: "7" },
    machines: { type: "string", default: "20" },
    tags: { type: "string", default: "50" },
    "interval-s": { type: "string", default: "10" },
  },
});
const DAYS = Number(args.days);
const MACHINES = Number(args.machines);
const TAGS = Number(args.tags);
const INTERVAL_S = Number(args["interval-s"]);
const dir = mkdtempSync(join(tmpdir(), "lp-scale-"));
const START = Date.UTC(2026, 0, 1);
/** Each figure is printed as soon as it is measured: a long run shows its progress. */
const results = new Proxy({} as Record<string, unknown>, {
  set(target, name, value) {
    target[name as string] = value;
    console.log(`${String(name)}: ${JSON.stringify(value)}`);
    return true;
  },
});
const STRIDE_MIN = 60;

/** The line's tags: model inputs without a role, named after what a historian export would say. */
const tags: FeatureTag[] = [];
for (let m = 1; m <= MACHINES; m++)
  for (let k = 1; k <= TAGS; k++) tags.push({ name: `m${m}.signal_${k}`, machine: m, modelInput: true });

/**
 * Writes the history straight into the store's table in large transactions (index built once at
 * the end), as `linepilot import` does for a fresh store: daily cycles, noise, and for every
 * second machine a failure, announced by a rise in five of its tags for 48 h.
 */
function buildHistory(path: string): { samples: number; seconds: number; gb: number } {
  const store = new Store({ path, synchronous: "NORMAL" }, silentLogger());
  store.open();
  const rows = store.syncTags(tags.map((t) => ({ name: t.name, machine: t.machine, unit: "" })));
  const db = store.db;
  db.exec("DROP INDEX sensor_data_tag_ts");
  const PER = 200;
  const insert = db.prepare(
    `INSERT INTO sensor_data (tag_id, ts, value, status) VALUES ${new Array(PER).fill("(?, ?, ?, 0)").join(",")}`,
  );
  const args: number[] = new Array(PER * 3);
  const random = mulberry32(11);
  const steps = Math.floor((DAYS * 86_400) / INTERVAL_S);
  const failAt = new Map<number, number>();
  // Half the machines fail once: at 35 % of the span (in the training part) or 75 % (held out).
  for (let m = 2; m <= MACHINES; m += 2)
    failAt.set(m, START + (m % 4 === 0 ? 0.75 : 0.35) * DAYS * 86_400_000);
  const t0 = performance.now();
  let n = 0;
  let pending = 0;
  const tx = db.transaction((fromStep: number, toStep: number) => {
    for (let s = fromStep; s < toStep; s++) {
      const ts = START + s * INTERVAL_S * 1000;
      const day = Math.sin((2 * Math.PI * (ts % 86_400_000)) / 86_400_000);
      for (const t of tags) {
        const k = Number(t.name.slice(t.name.lastIndexOf("_") + 1));
        const fail = failAt.get(t.machine);
        const rise =
          fail !== undefined && k <= 5 && ts > fail - 48 * 3_600_000
            ? (ts - (fail - 48 * 3_600_000)) / 3_600_000
            : 0;
        const base = 10 * k;
        const v = base + base * 0.05 * day + (random() - 0.5) * base * 0.02 + rise * base * 0.01;
        const i = pending * 3;
        args[i] = rows.get(t.name)!.id;
        args[i + 1] = ts;
        args[i + 2] = v;
        if (++pending === PER) {
          insert.run(args);
          pending = 0;
        }
        n++;
      }
    }
  });
  const chunk = Math.max(1, Math.floor(200_000 / tags.length));
  for (let s = 0; s < steps; s += chunk) tx(s, Math.min(steps, s + chunk));
  const last = pending;
  if (last > 0) {
    const single = db.prepare("INSERT INTO sensor_data (tag_id, ts, value, status) VALUES (?, ?, ?, 0)");
    for (let i = 0; i < last; i++) single.run(args[i * 3], args[i * 3 + 1], args[i * 3 + 2]);
  }
  db.exec("CREATE INDEX sensor_data_tag_ts ON sensor_data (tag_id, ts)");
  for (const [machine, ts] of failAt)
    store.insertMachineEvent({
      machineId: machine,
      ts,
      kind: "fault",
      message: "bearing seized (synthetic)",
    });
  const gb = +(store.sizes().usedBytes / 1e9).toFixed(2);
  store.close();
  return { samples: n, seconds: +((performance.now() - t0) / 1000).toFixed(1), gb };
}

/** Ingestion the daemon's way (SampleWriter, synchronous=FULL, batches of 1,000) until `until()`. */
async function ingest(until: () => boolean, minMs: number) {
  const store = new Store(
    { path: join(dir, `ingest-${Math.random()}.db`), synchronous: "FULL" },
    silentLogger(),
  );
  store.open();
  const rows = store.syncTags(tags.map((t) => ({ name: t.name, machine: t.machine, unit: "" })));
  const writer = new SampleWriter(
    store,
    tags.map((t) => ({ id: rows.get(t.name)!.id, name: t.name, machineId: t.machine, deadband: 0 })),
    { batchSize: 1000, flushIntervalMs: 1000 },
    silentLogger(),
  );
  await writer.start();
  const t0 = performance.now();
  let ts = 1_700_000_000_000;
  let busyS = 0;
  let worstBurstMs = 0;
  do {
    const b0 = performance.now();
    for (let i = 0; i < 50_000; i++) writer.accept(i % tags.length, ts++, i * 0.5, 0);
    const ms = performance.now() - b0;
    busyS += ms / 1000;
    worstBurstMs = Math.max(worstBurstMs, ms);
    // Give the event loop a turn, as the daemon's connectors do between reads.
    await new Promise((r) => setImmediate(r));
  } while (!until() || performance.now() - t0 < minMs);
  await writer.stop();
  const out = {
    samplesPerSecond: Math.round(writer.committed / busyS),
    committed: writer.committed,
    dropped: writer.dropped,
    "worst 50,000-sample burst (ms)": +worstBurstMs.toFixed(0),
  };
  store.close();
  return out;
}

/** Peak resident memory of the process while `work` runs, above what it was before. */
async function withMemory<T>(
  work: () => Promise<T>,
): Promise<{ value: T; seconds: number; peakExtraMb: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  const t0 = performance.now();
  try {
    const value = await work();
    return {
      value,
      seconds: +((performance.now() - t0) / 1000).toFixed(1),
      peakExtraMb: Math.round((peak - before) / 1e6),
    };
  } finally {
    clearInterval(timer);
  }
}

const storePath = join(dir, "line.db");
const built = buildHistory(storePath);
results[`history: ${MACHINES} machines x ${TAGS} tags at ${INTERVAL_S} s, ${DAYS} days`] = built;
results["ingestion alone"] = await ingest(() => true, 5_000);

// Each machine's baseline from its first `days` (what the daemon does, one machine at a time).
const baselineDays = Math.min(DAYS - 1, 7);
const window = DEFAULT_WINDOW;
let baselineDone = false;
const baselineRun = withMemory(async () => {
  const perMachine: number[] = [];
  for (let m = 1; m <= MACHINES; m++) {
    const machineTags = tags.filter((t) => t.machine === m);
    const t0 = performance.now();
    const outcome = await learnBaselineInWorker({
      storePath,
      machine: m,
      features: baselineFeatures(machineTags),
      window,
      tags: machineTags,
      running: new Map(),
      fromTs: START,
      settings: { days: baselineDays, shadowDays: 0, alertsPerMachineWeek: 1, strideMin: 10 },
      alerts: DEFAULT_ALERTS,
      name: "baseline",
      version: "bench",
    }).result;
    if (!outcome.ok) throw new Error(`machine ${m}: ${outcome.message}`);
    perMachine.push((performance.now() - t0) / 1000);
  }
  return perMachine;
}).finally(() => {
  baselineDone = true;
});
const ingestDuringBaseline = await ingest(() => baselineDone, 0);
const baseline = await baselineRun;
const features = baselineFeatures(tags.filter((t) => t.machine === 1)).length;
results[
  `baselines, ${MACHINES} machines x ${baselineDays} days (${features} features, 10-min stride, worker at nice 19)`
] = {
  seconds: baseline.seconds,
  "per machine (s)": +(baseline.value.reduce((a, b) => a + b, 0) / MACHINES).toFixed(2),
  peakExtraRssMb: baseline.peakExtraMb,
  "a year of history costs the same": "a baseline learns from its first days only",
};
results["ingestion while the baselines learn"] = ingestDuringBaseline;

// The forest: an active model trained on a few windows, then the learner's candidate on every
// hour of every machine, in the learner's worker (its features: 6 statistics of each tag, with
// the drift against its own last 24 h, and the maintenance age).
const db = openStoreForReading(storePath);
const activePath = join(dir, "active.onnx");
const forest = { trees: 100, maxDepth: 10, minSamplesLeaf: 5, seed: 1 };
trainModel(db, activePath, {
  horizonH: 48,
  strideMin: 120,
  holdoutFraction: 0.4,
  forest: { ...forest, trees: 5 },
  tags,
  window,
  name: "bench",
  version: "0",
});
db.close();
const forestFeatures = featuresFor(
  tags.filter((t) => t.machine === 1),
  { includeAge: true },
).length;
let forestDone = false;
const forestRun = withMemory(
  () =>
    trainInWorker(storePath, readFileSync(activePath), {
      horizonH: 48,
      strideMin: STRIDE_MIN,
      // A week ends in two days nobody can label (no failure seen, horizon past the end): the
      // holdout is the last 40 %, so it holds machines that ran on as well as one that failed.
      holdoutFraction: 0.4,
      forest,
      alerts: DEFAULT_ALERTS,
      tags,
      window,
      name: "bench",
      version: "1",
    }).result,
).finally(() => {
  forestDone = true;
});
const ingestDuringForest = await ingest(() => forestDone, 0);
const trained = await forestRun;
const windows = trained.value.training.samples + (trained.value.candidate.samples ?? 0);
const perWindowMs = (trained.seconds * 1000) / windows;
const yearWindows = MACHINES * ((365 * 24 * 60) / STRIDE_MIN);
results[
  `forest candidate, ${MACHINES} machines x ${DAYS} days, 1 window per ${STRIDE_MIN} min (${forestFeatures} features, ${forest.trees} trees, worker at nice 19)`
] = {
  seconds: trained.seconds,
  windows,
  "ms per window (features + training)": +perWindowMs.toFixed(1),
  peakExtraRssMb: trained.peakExtraMb,
  holdoutAuc: trained.value.candidate.auc,
  "a year by this rate (h)": +((perWindowMs * yearWindows) / 3_600_000).toFixed(1),
  "a year's feature matrix (MB, float32)": Math.round((yearWindows * forestFeatures * 4) / 1e6),
};
results["ingestion while the forest trains"] = ingestDuringForest;
rmSync(dir, { recursive: true, force: true });
