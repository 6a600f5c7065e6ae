/**
 * `npm run bench`: prints figures, asserts nothing. Store insert throughput (batched), the daemon's
 * idle RSS, Modbus registers/s polled from a local server and OPC UA value changes/s ingested from
 * a local server, each with the daemon's CPU and RSS.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import mqtt from "mqtt";
import { silentLogger } from "../src/common/logger.js";
import { mulberry32 } from "../src/common/random.js";
import { parseConfig } from "../src/config/load.js";
import { ModelRunner } from "../src/inference/engine.js";
import { trainInWorker } from "../src/learning/learningWorker.js";
import { DEFAULT_ALERTS } from "../src/maintenance/alertPolicy.js";
import { Predictor } from "../src/maintenance/predictor.js";
import { defaultEnergyBudgetKw, machineState } from "../src/optimizer/decision.js";
import { PpoPolicy, SearchPolicy } from "../src/optimizer/optimizer.js";
import { runShift, SHIFT_LIMITS } from "../src/optimizer/shift.js";
import { PM_FEATURES } from "../src/preprocess/features.js";
import { DEFAULT_PARAMS } from "../src/process/machine.js";
import { SampleWriter } from "../src/store/sampleWriter.js";
import { Store } from "../src/store/store.js";
import { PlantSync } from "../src/sync/plantSync.js";
import { DemoPlc } from "../src/twin/demoPlc.js";
import { generateHistory } from "../src/twin/generate.js";
import { OpcuaPlcServer, type ServedVariable } from "../src/twin/opcuaServer.js";
import { CLI, driftedLine, lineYaml, ROOT } from "../test/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "lp-bench-"));

/** A store with 100 tags of machine 1 and its started batch writer. */
async function benchWriter(path: string, synchronous: "NORMAL" | "FULL", batchSize: number) {
  const store = new Store({ path, synchronous }, silentLogger());
  store.open();
  const tags = Array.from({ length: 100 }, (_, i) => ({ name: `tag${i}`, machine: 1, unit: "" }));
  const rows = store.syncTags(tags);
  const writer = new SampleWriter(
    store,
    tags.map((t) => ({ id: rows.get(t.name)!.id, name: t.name, machineId: 1, deadband: 0 })),
    { batchSize, flushIntervalMs: 60_000 },
    silentLogger(),
  );
  await writer.start();
  return { store, writer };
}

async function storeThroughput(synchronous: "NORMAL" | "FULL", batchSize: number, samples: number) {
  const { store, writer } = await benchWriter(
    join(dir, `store-${synchronous}-${batchSize}.db`),
    synchronous,
    batchSize,
  );
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let i = 0; i < samples; i++) writer.accept(i % 100, 1_700_000_000_000 + i, i * 0.5, 0);
  await writer.stop();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const heapDelta = process.memoryUsage().heapUsed - heapBefore;
  store.close();
  return { samplesPerSecond: Math.round(samples / seconds), heapDeltaMb: +(heapDelta / 1e6).toFixed(1) };
}

function procStats(pid: number): { rssMb: number; cpuS: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  const rss = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096;
  return { rssMb: +(rss / 1e6).toFixed(1), cpuS: ticks / 100 };
}

async function daemonFigures() {
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  // 120 float32 tags on unit 1 at 100 ms: 240 registers per poll round, coalesced into 2 reads.
  const tags = Array.from(
    { length: 60 },
    (_, i) =>
      `  - { name: t${i}, machine: 7, connection: plc, intervalMs: 100, modbus: { unitId: 1, area: holding, address: ${i * 2}, dataType: float32 } }`,
  ).join("\n");
  const config = join(dir, "bench.yaml");
  writeFileSync(config, lineYaml({ storePath: join(dir, "daemon.db"), plcPort: plc.port, tags }));
  const idleConfig = join(dir, "idle.yaml");
  writeFileSync(
    idleConfig,
    lineYaml({ storePath: join(dir, "idle.db"), plcPort: plc.port, tags: "  []" }).replace(
      "tags:\n  []",
      "tags: []",
    ),
  );
  const run = async (file: string, seconds: number) => {
    const proc = spawn(process.execPath, [CLI, "run", "--config", file], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    await new Promise((r) => setTimeout(r, 3_000));
    const reads0 = plc.registerReads.get(1) ?? 0;
    const s0 = procStats(proc.pid!);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const s1 = procStats(proc.pid!);
    const registers = (plc.registerReads.get(1) ?? 0) - reads0;
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    return {
      registersPerSecond: Math.round(registers / seconds),
      cpuPercent: +((100 * (s1.cpuS - s0.cpuS)) / seconds).toFixed(1),
      rssMb: s1.rssMb,
    };
  };
  const fastConfig = join(dir, "fast.yaml");
  writeFileSync(
    fastConfig,
    lineYaml({
      storePath: join(dir, "fast.db"),
      plcPort: plc.port,
      tags: tags.replaceAll("intervalMs: 100", "intervalMs: 10"),
    }),
  );
  const idle = await run(idleConfig, 3);
  const polling = await run(config, 5);
  const saturated = await run(fastConfig, 5);
  await plc.stop();
  return { idle, polling, saturated };
}

/**
 * One subscription of 1,000 monitored items sampled every 100 ms, each value changing at every
 * sample: up to 10,000 value changes/s offered. Counts the rows the daemon commits to SQLite.
 */
async function opcuaFigures() {
  const variables: ServedVariable[] = Array.from({ length: 1_000 }, (_, i) => ({
    id: `Line.Sensor${i}`,
    dataType: "Double",
    read: () => Date.now() / 100 + i,
  }));
  const server = new OpcuaPlcServer({ pkiDir: join(dir, "server-pki"), variables, securityModes: ["None"] });
  await server.start();
  const store = join(dir, "opcua.db");
  const tags = variables
    .map(
      (v) =>
        `  - { name: s${v.id.slice(11)}, machine: 7, connection: plc, nodeId: "ns=1;s=${v.id}", intervalMs: 100 }`,
    )
    .join("\n");
  const config = join(dir, "opcua.yaml");
  writeFileSync(
    config,
    lineYaml({ storePath: store, tags }).replace(
      /connections:\n.*\n/,
      `connections:\n  - { id: plc, protocol: opcua, endpoint: "${server.endpointUrl}", publishingIntervalMs: 500 }\n`,
    ),
  );
  const proc = spawn(process.execPath, [CLI, "run", "--config", config], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const rows = () => {
    try {
      const db = new Database(store, { readonly: true });
      const n = (db.prepare("SELECT count(*) AS n FROM sensor_data").get() as { n: number }).n;
      db.close();
      return n;
    } catch {
      return 0;
    }
  };
  for (let i = 0; i < 60 && rows() === 0; i++) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 3_000));
  const seconds = 10;
  const r0 = rows();
  const s0 = procStats(proc.pid!);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const s1 = procStats(proc.pid!);
  const r1 = rows();
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  await server.stop();
  return {
    valueChangesPerSecond: Math.round((r1 - r0) / seconds),
    offeredPerSecond: 10_000,
    cpuPercent: +((100 * (s1.cpuS - s0.cpuS)) / seconds).toFixed(1),
    rssMb: s1.rssMb,
  };
}

/**
 * Outbox drain rate (a backlog of 20,000 audit messages, rate limit lifted) and the latency from an
 * audit record being written to the plant subscriber receiving it (median and p99 of 200).
 */
async function syncFigures() {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  writeFileSync(
    join(dir, "mosquitto.conf"),
    `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000000\nuser ${userInfo().username}\n`,
  );
  const broker = spawn("/usr/sbin/mosquitto", ["-c", join(dir, "mosquitto.conf")], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 500));
  const url = `mqtt://127.0.0.1:${port}`;
  const subscriber = await mqtt.connectAsync(url, { clientId: "bench-plant" });
  let received = 0;
  const arrivals = new Map<string, number>();
  subscriber.on("message", (_topic, payload) => {
    received++;
    const m = JSON.parse(payload.toString()) as { decision: string };
    arrivals.set(m.decision, performance.now());
  });
  await subscriber.subscribeAsync("acme/lyon/assembly/test-line/linepilot/audit", { qos: 1 });
  const cfg = parseConfig(
    lineYaml({
      storePath: join(dir, "sync.db"),
      extra: `sync: { url: "${url}", drainRatePerSecond: 100000, inflight: 100, statusIntervalMs: 3600000 }`,
    }),
    join(dir, "sync.yaml"),
  );
  const store = new Store(cfg.store, silentLogger());
  store.open();
  store.db.transaction(() => {
    for (let i = 0; i < 20_000; i++)
      store.recordDecision({ kind: "bench", actor: "bench", decision: `backlog ${i}` });
  })();
  const sync = new PlantSync(cfg.sync!, { store, log: silentLogger(), line: cfg });
  const started = performance.now();
  await sync.start();
  while (received < 20_000) await new Promise((r) => setTimeout(r, 20));
  const drainSeconds = (performance.now() - started) / 1000;
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    store.recordDecision({ kind: "bench", actor: "bench", decision: `latency ${i}` });
    while (!arrivals.has(`latency ${i}`)) await new Promise((r) => setImmediate(r));
    latencies.push(arrivals.get(`latency ${i}`)! - t0);
  }
  latencies.sort((a, b) => a - b);
  await sync.stop();
  store.close();
  await subscriber.endAsync();
  broker.kill("SIGTERM");
  return {
    drainMessagesPerSecond: Math.round(20_000 / drainSeconds),
    alertToPlantLatencyMsMedian: +latencies[100]!.toFixed(2),
    alertToPlantLatencyMsP99: +latencies[198]!.toFixed(2),
  };
}

/**
 * Inference latency (p50/p99) of the shipped model through the worker (probabilities and TreeSHAP
 * reasons), per machine and per batch of 100; and the time from the tick that sees a worn bearing
 * to the alert in the outbox.
 */
async function maintenanceFigures() {
  const runner = new ModelRunner({
    name: "pm",
    path: join(ROOT, "models/predictive_maintenance.onnx"),
    features: PM_FEATURES,
    timeoutMs: 10_000,
  });
  await runner.start();
  const random = mulberry32(1);
  const percentile = (xs: number[], q: number) =>
    xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
  const latency = async (rows: number, runs: number) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const input = Float32Array.from({ length: rows * PM_FEATURES.length }, () => random() * 100);
      const t0 = performance.now();
      await runner.run(input, rows);
      times.push(performance.now() - t0);
    }
    return { p50Ms: +percentile(times, 0.5).toFixed(2), p99Ms: +percentile(times, 0.99).toFixed(2) };
  };
  const perMachine = await latency(1, 300);
  const perBatch = await latency(100, 100);
  await runner.stop();
  const path = join(dir, "pm.db");
  const start = Date.UTC(2026, 5, 1);
  await generateHistory({
    machineIds: [1, 2],
    durationS: 8 * 86_400,
    intervalS: 60,
    seed: 5,
    out: path,
    format: "store",
    startTs: start,
    wearFactors: new Map([[2, 2]]),
  });
  const cfg = parseConfig(
    `version: 1\nline: { enterprise: acme, site: lyon, area: a, name: bench }\nmachines: [{ id: 1, name: P1 }, { id: 2, name: P2 }]\nstore: { path: ${JSON.stringify(path)} }\nmaintenance: { model: ${JSON.stringify(join(ROOT, "models/predictive_maintenance.onnx"))}, tickMs: 3600000 }\n`,
    join(dir, "pm.yaml"),
  );
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const predictor = new Predictor(cfg.maintenance!, { store, log: silentLogger(), line: cfg });
  await predictor.start();
  let tickToAlertMs: number | null = null;
  const alerts = store.db.prepare("SELECT count(*) AS n FROM outbox WHERE class = 'alert'");
  for (let ts = start + 86_400_000; ts <= start + 8 * 86_400_000 && tickToAlertMs === null; ts += 3_600_000) {
    const before = (alerts.get() as { n: number }).n;
    const t0 = performance.now();
    await predictor.tick(ts);
    if ((alerts.get() as { n: number }).n > before) tickToAlertMs = +(performance.now() - t0).toFixed(1);
  }
  await predictor.stop();
  store.close();
  return { perMachine, perBatchOf100: perBatch, tickToAlertInOutboxMs: tickToAlertMs };
}

/**
 * Continuous learning's cost to the rest: store ingestion and PM inference measured alone, then
 * while a candidate trains (worker thread at nice 19) on 6 weeks of 4 machines.
 */
async function learningFigures() {
  const path = await driftedLine(join(dir, "learn.db"));
  const model = readFileSync(join(ROOT, "models/predictive_maintenance.onnx"));
  const runner = new ModelRunner({
    name: "pm",
    path: "bench",
    bytes: model,
    features: PM_FEATURES,
    timeoutMs: 10_000,
  });
  await runner.start();
  const { store, writer } = await benchWriter(join(dir, "ingest.db"), "FULL", 1000);
  let ts = 1_700_000_000_000;
  const random = mulberry32(3);
  /** Alternates 100,000 samples into the store and 20 one-machine inferences, for `ms`. */
  const measure = async (until: () => boolean) => {
    let samples = 0;
    let ingestS = 0;
    const times: number[] = [];
    do {
      const t0 = performance.now();
      for (let i = 0; i < 100_000; i++) writer.accept(i % 100, ts++, i * 0.5, 0);
      ingestS += (performance.now() - t0) / 1000;
      samples += 100_000;
      for (let i = 0; i < 20; i++) {
        const input = Float32Array.from({ length: PM_FEATURES.length }, () => random() * 100);
        const t1 = performance.now();
        await runner.run(input, 1);
        times.push(performance.now() - t1);
      }
    } while (!until());
    times.sort((a, b) => a - b);
    return {
      samplesPerSecond: Math.round(samples / ingestS),
      inferenceP50Ms: +times[Math.floor(times.length / 2)]!.toFixed(2),
      inferenceP99Ms: +times[Math.floor(times.length * 0.99)]!.toFixed(2),
    };
  };
  const t0 = Date.now();
  const alone = await measure(() => Date.now() - t0 > 10_000);
  const started = Date.now();
  let done = false;
  const training = trainInWorker(path, model, {
    horizonH: 48,
    strideMin: 30,
    holdoutFraction: 0.25,
    forest: { trees: 60, maxDepth: 8, minSamplesLeaf: 5, seed: 7 },
    alerts: DEFAULT_ALERTS,
    name: "predictive_maintenance",
    version: "bench",
  });
  const trained = training.result.finally(() => {
    done = true;
  });
  const during = await measure(() => done);
  const result = await trained;
  await writer.stop();
  await runner.stop();
  store.close();
  return {
    trainingSeconds: +((Date.now() - started) / 1000).toFixed(1),
    trainingThreadNice19: result.tid !== null,
    holdout: { candidateAuc: result.candidate.auc, activeAuc: result.active.auc },
    alone,
    whileTraining: during,
  };
}

/** One optimizer decision per machine: the twin search (in process) and the PPO actor (ONNX worker). */
async function optimizerFigures() {
  const state = machineState(
    1,
    {
      speed_setpoint: 34,
      temperature_setpoint: 196,
      pressure_setpoint: 7,
      speed: 34,
      process_temperature: 196,
      pressure: 7,
      vibration_rms: 2,
    },
    SHIFT_LIMITS,
    { remainingGood: 15_000, remainingH: 6, totalH: 8 },
  );
  const ctx = {
    params: DEFAULT_PARAMS,
    budgetKw: defaultEnergyBudgetKw(DEFAULT_PARAMS),
    stepFraction: 0.1,
    seed: 1,
  };
  const ms = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    return {
      p50Ms: +xs[Math.floor(xs.length / 2)]!.toFixed(2),
      p99Ms: +xs[Math.floor(xs.length * 0.99)]!.toFixed(2),
    };
  };
  const out: Record<string, unknown> = {};
  for (const policy of [
    new SearchPolicy({ lookaheadMin: 30, minGainPerHour: 20 }),
    new PpoPolicy(join(ROOT, "models/production_optimizer.onnx"), 5_000),
  ]) {
    await policy.start();
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      await policy.propose(state, ctx);
      times.push(performance.now() - t);
    }
    await policy.stop();
    out[policy.name] = ms(times);
  }
  const started = Date.now();
  const shift = await runShift({
    storePath: join(dir, "shift.db"),
    policy: new SearchPolicy({ lookaheadMin: 30, minGainPerHour: 20 }),
    mode: "autonomous",
  });
  out["8-hour shift, 2 machines, search, autonomous"] = {
    seconds: +((Date.now() - started) / 1000).toFixed(1),
    ai_scrap_rate_reduction_percent: shift.ai_scrap_rate_reduction_percent,
    ai_energy_savings_kwh: shift.ai_energy_savings_kwh,
    writes: shift.writes,
    violations: shift.violations.length,
  };
  return out;
}

/**
 * History import: a long CSV of 1,000,000 rows (100 tags x 10,000 times) into a fresh store, then
 * the same file again (every row already there), beside the bare stack on the same file:
 * papaparse and a plain prepared INSERT in transactions of 50,000 (no mapping, no check for what
 * the store has already).
 */
async function importFigures() {
  const { importCsv } = await import("../src/history/csvImport.js");
  const { HistoryWriter } = await import("../src/store/historyWriter.js");
  const Papa = (await import("papaparse")).default;
  const { createReadStream } = await import("node:fs");
  const file = join(dir, "historian.csv");
  const lines = ["time,tag,value"];
  const t0 = Date.UTC(2025, 0, 1);
  for (let k = 0; k < 10_000; k++) {
    const iso = new Date(t0 + k * 10_000).toISOString();
    for (let i = 0; i < 100; i++) lines.push(`${iso},tag${i},${(k * 0.37 + i) % 100}`);
  }
  writeFileSync(file, `${lines.join("\n")}\n`);
  const tags = Array.from(
    { length: 100 },
    (_, i) => `  - { name: tag${i}, machine: 1, connection: c, nodeId: "ns=1;s=${i}" }`,
  ).join("\n");
  const config = parseConfig(
    `version: 1
line: { enterprise: a, site: b, area: c, name: d }
machines: [{ id: 1, name: M1 }]
connections: [{ id: c, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840" }]
tags:
${tags}
store: { path: ${JSON.stringify(join(dir, "import.db"))} }
`,
    join(dir, "import.yaml"),
  );
  const store = new Store(config.store, silentLogger());
  store.open();
  const ids = new Map([...store.syncTags(config.tags)].map(([name, row]) => [name, row.id]));
  const spec = {
    file,
    format: "long" as const,
    delimiter: ",",
    time: { format: "iso", zone: "UTC" },
    map: new Map<string, string>(),
    scale: new Map<string, { scale: number; offset: number }>(),
    skipUnmapped: false,
  };
  const first = await importCsv(spec, config, ids, new HistoryWriter(store.db));
  const again = await importCsv(spec, config, ids, new HistoryWriter(store.db));
  store.close();
  // The bare stack: parse and insert, nothing else.
  const bare = new Database(join(dir, "bare.db"));
  bare.pragma("journal_mode = WAL");
  bare.exec(
    "CREATE TABLE s (tag_id INTEGER, ts INTEGER, value REAL); CREATE INDEX s_tag_ts ON s(tag_id, ts)",
  );
  const insert = bare.prepare("INSERT INTO s VALUES (?, ?, ?)");
  let batch: [number, number, number][] = [];
  const flush = bare.transaction((rows: [number, number, number][]) => {
    for (const r of rows) insert.run(r[0], r[1], r[2]);
  });
  const started = performance.now();
  let header = true;
  await new Promise<void>((resolve) =>
    Papa.parse<string[]>(createReadStream(file) as unknown as File, {
      step: (r) => {
        if (header) {
          header = false;
          return;
        }
        const row = r.data;
        if (row.length < 3) return;
        batch.push([Number(row[1]!.slice(3)), Date.parse(row[0]!), Number(row[2])]);
        if (batch.length === 50_000) {
          flush(batch);
          batch = [];
        }
      },
      complete: () => resolve(),
    }),
  );
  flush(batch);
  const bareSeconds = (performance.now() - started) / 1000;
  bare.close();
  return {
    "linepilot import, fresh store (rows/s)": Math.round(first.rows / first.seconds),
    "linepilot import, every row already there (rows/s)": Math.round(again.rows / again.seconds),
    "bare papaparse + better-sqlite3 INSERT (rows/s)": Math.round(1_000_000 / bareSeconds),
    inserted: first.inserted,
    skippedOnReimport: again.duplicates,
  };
}

/** `config check`'s load (YAML, schema, cross-checks) of a line with N Modbus tags. */
function configLoadFigures() {
  const out: Record<string, number> = {};
  for (const n of [10_000, 100_000]) {
    const machines = Array.from({ length: 100 }, (_, i) => `  - { id: ${i + 1}, name: M${i + 1} }`);
    const tags = Array.from(
      { length: n },
      (_, i) =>
        `  - { name: m${(i % 100) + 1}.t${i}, machine: ${(i % 100) + 1}, connection: plc, modbus: { unitId: ${1 + Math.floor(i / 60_000)}, area: holding, address: ${i % 60_000}, dataType: uint16 } }`,
    );
    const text = `version: 1\nline: { enterprise: a, site: b, area: c, name: big }\nmachines:\n${machines.join("\n")}\nconnections:\n  - { id: plc, protocol: modbus-tcp, host: 127.0.0.1 }\ntags:\n${tags.join("\n")}\nstore: { path: /tmp/big.db }\n`;
    const t0 = performance.now();
    parseConfig(text, join(dir, "big.yaml"));
    out[`${n.toLocaleString("en")} tags (${(text.length / 1e6).toFixed(1)} MB), s`] = +(
      (performance.now() - t0) /
      1000
    ).toFixed(2);
  }
  return out;
}

/**
 * The console's history API on a 90-day store of 10 M rows of one tag (about 1.3 samples/s): the
 * hourly rollup's one-off cost, then 1,000 points over 90 days, 7 days and 1 day (median of 5),
 * next to the bare SQL a chart would need without the rollup (min/max/avg per bucket over the raw
 * rows) on the same file in the same run.
 */
async function historyFigures() {
  const { HourlyRollup, tagHistory } = await import("../src/store/tagHistory.js");
  const store = new Store({ path: join(dir, "history90.db"), synchronous: "NORMAL" }, silentLogger());
  store.open();
  const id = store.syncTags([{ name: "p1.temperature", machine: 1, unit: "degC" }]).get("p1.temperature")!.id;
  const rows = 10_000_000;
  const to = Date.UTC(2026, 11, 1);
  const from = to - 90 * 86_400_000;
  const step = (to - from) / rows;
  const insert = store.db.prepare("INSERT INTO sensor_data (tag_id, ts, value, status) VALUES (?, ?, ?, 0)");
  const random = mulberry32(3);
  const t0 = performance.now();
  for (let chunk = 0; chunk < rows; chunk += 500_000)
    store.db.transaction(() => {
      for (let i = chunk; i < chunk + 500_000; i++) {
        const ts = Math.floor(from + i * step);
        insert.run(id, ts, 40 + 10 * Math.sin(ts / 8.64e7) + random());
      }
    })();
  const insertS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await new HourlyRollup(store, { everyMs: 60_000, chunkRows: 200_000 }, silentLogger()).runOnce();
  const rollupS = (performance.now() - t1) / 1000;
  const median = (f: () => unknown) => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      f();
      times.push(performance.now() - t);
    }
    return +times.sort((a, b) => a - b)[2]!.toFixed(1);
  };
  const bare = store.db.prepare(
    "SELECT CAST((ts - ?) / ? AS INTEGER) AS b, min(value), max(value), avg(value) FROM sensor_data WHERE tag_id = ? AND ts >= ? AND ts < ? GROUP BY b",
  );
  const out: Record<string, unknown> = {
    rows,
    insertSeconds: +insertS.toFixed(1),
    rollupOnceSeconds: +rollupS.toFixed(1),
  };
  for (const [label, days] of [
    ["90 days", 90],
    ["7 days", 7],
    ["1 day", 1],
  ] as const) {
    const f = to - days * 86_400_000;
    const h = tagHistory(store, id, f, to, 1_000);
    out[`${label}: points, source`] = `${h.ts.length} ${h.source}`;
    out[`${label}: linepilot ms`] = median(() => tagHistory(store, id, f, to, 1_000));
    out[`${label}: bare SQL over raw rows ms`] = median(() =>
      bare.all(f, Math.ceil((to - f) / 1_000), id, f, to),
    );
  }
  store.close();
  return out;
}

/**
 * The console's cost: the daemon's RSS with the console off and on (pages loaded, ten live streams
 * open), and its CPU over 20 s with ten consoles on a machine page (its live tags, the costlier stream)
 * against none.
 */
async function consoleFigures() {
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  const tags = Array.from(
    { length: 60 },
    (_, i) =>
      `  - { name: t${i}, machine: 7, connection: plc, intervalMs: 1000, modbus: { unitId: 1, area: holding, address: ${i * 2}, dataType: float32 } }`,
  ).join("\n");
  const measure = async (consoleOn: boolean, consoles: number) => {
    const { freePort } = await import("../test/peers/peers.js");
    const port = await freePort();
    const file = join(dir, `console-${consoleOn}-${consoles}.yaml`);
    writeFileSync(
      file,
      lineYaml({
        storePath: join(dir, `console-${consoleOn}-${consoles}.db`),
        plcPort: plc.port,
        apiPort: port,
        tags,
      }).replace(
        `api: { host: 127.0.0.1, port: ${port} }`,
        `api: { host: 127.0.0.1, port: ${port}, console: ${consoleOn} }`,
      ),
    );
    const proc = spawn(process.execPath, [CLI, "run", "--config", file], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const streams: AbortController[] = [];
    if (consoleOn) {
      for (const f of ["/ui/", "/ui/app.js", "/ui/vendor/preact.js", "/ui/vendor/uplot.js", "/ui/line.json"])
        await (await fetch(base + f)).arrayBuffer();
      for (let i = 0; i < consoles; i++) {
        const abort = new AbortController();
        streams.push(abort);
        const res = await fetch(`${base}/events?machine=7`, { signal: abort.signal });
        void (async () => {
          try {
            for await (const _ of res.body!);
          } catch {}
        })();
      }
    }
    await new Promise((r) => setTimeout(r, 5_000));
    const s0 = procStats(proc.pid!);
    await new Promise((r) => setTimeout(r, 20_000));
    const s1 = procStats(proc.pid!);
    for (const a of streams) a.abort();
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    return { rssMb: s1.rssMb, cpuPercent: +((100 * (s1.cpuS - s0.cpuS)) / 20).toFixed(2) };
  };
  const off = await measure(false, 0);
  const none = await measure(true, 0);
  const ten = await measure(true, 10);
  await plc.stop();
  return {
    "console off: RSS MB, CPU %": [off.rssMb, off.cpuPercent],
    "console on, no console open": [none.rssMb, none.cpuPercent],
    "console on, 10 consoles streaming": [ten.rssMb, ten.cpuPercent],
    "10 consoles cost, % of a core": +(ten.cpuPercent - none.cpuPercent).toFixed(2),
    "console's RSS, MB": +(ten.rssMb - off.rssMb).toFixed(1),
  };
}

const results: Record<string, unknown> = {};
/** `npm run bench -- console history` runs only the figures whose group names those words. */
const only = process.argv.slice(2);
const want = (group: string) => only.length === 0 || only.some((w) => group.includes(w));
if (want("config")) results["config load (YAML, schema, cross-checks)"] = configLoadFigures();
if (want("import")) results["history import, long CSV, 1,000,000 rows (one core)"] = await importFigures();
if (want("store"))
  for (const [sync, batch] of [
    ["FULL", 1000],
    ["NORMAL", 1000],
    ["FULL", 100],
  ] as const) {
    results[`store insert, synchronous=${sync}, batch ${batch}`] = await storeThroughput(
      sync,
      batch,
      500_000,
    );
  }
if (want("twin")) {
  const started = Date.now();
  const summary = await generateHistory({
    machineIds: [1, 2, 3, 4, 5],
    durationS: 30 * 86_400,
    intervalS: 60,
    seed: 1,
    out: join(dir, "history.db"),
    format: "store",
  });
  results["twin history, 30 days x 5 machines at 60 s"] = {
    seconds: +((Date.now() - started) / 1000).toFixed(1),
    samples: summary.samples,
    failures: summary.failures,
  };
}
if (want("sync")) results["plant sync to mosquitto on loopback"] = await syncFigures();
if (want("optimizer")) results["optimizer decision per machine"] = await optimizerFigures();
if (want("maintenance"))
  results["predictive maintenance inference (worker: ONNX + TreeSHAP)"] = await maintenanceFigures();
if (want("learning"))
  results["ingestion and inference, alone and while a candidate trains"] = await learningFigures();
if (want("daemon")) {
  const daemon = await daemonFigures();
  results["daemon subscribed to 1,000 OPC UA monitored items at 100 ms (local node-opcua server)"] =
    await opcuaFigures();
  results["daemon idle (no tags)"] = { rssMb: daemon.idle.rssMb, cpuPercent: daemon.idle.cpuPercent };
  results["daemon polling 60 float32 tags at 100 ms from a local Modbus TCP server"] = daemon.polling;
  results["daemon polling the same tags at 10 ms (as fast as the bus answers)"] = daemon.saturated;
}
if (want("history"))
  results["history API (console charts, linepilot trend), 10 M rows over 90 days"] = await historyFigures();
if (want("console")) results["web console: daemon RSS and CPU, 60 tags at 1 s"] = await consoleFigures();
for (const [name, figures] of Object.entries(results)) console.log(`${name}: ${JSON.stringify(figures)}`);
rmSync(dir, { recursive: true, force: true });
