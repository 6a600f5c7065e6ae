import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { silentLogger } from "../../src/common/logger.js";
import { mulberry32 } from "../../src/common/random.js";
import { parseConfig } from "../../src/config/load.js";
import { predictProbability, trainForest } from "../../src/inference/forest.js";
import { forestToOnnx, readModelInfo } from "../../src/inference/onnxModel.js";
import { DEFAULT_ALERTS } from "../../src/maintenance/alertPolicy.js";
import { buildDataset } from "../../src/maintenance/dataset.js";
import { Predictor } from "../../src/maintenance/predictor.js";
import { evaluateScores, splitByMachine, splitByTime, trainModel } from "../../src/maintenance/train.js";
import { DEFAULT_WINDOW, windowOfModel } from "../../src/preprocess/features.js";
import { HistoryWriter } from "../../src/store/historyWriter.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers.js";

const H = 3_600_000;

/** A store of pumps whose bearing temperature climbs in the day before each failure. */
function pumpStore(dir: string, failures: { machine: number; atH: number; as: "record" | "event" }[]) {
  const store = new Store({ path: join(dir, "pumps.db"), synchronous: "NORMAL" }, silentLogger());
  store.open();
  const tags = [1, 2, 3, 4].flatMap((m) => [
    { name: `pump${m}.bearing_temperature`, machine: m, unit: "degC" },
    { name: `pump${m}.flow`, machine: m, unit: "m3/h" },
  ]);
  const ids = store.syncTags(tags);
  const writer = new HistoryWriter(store.db);
  const hours = 40 * 24;
  const random = mulberry32(3);
  for (const t of tags) {
    const n = hours * 6;
    const ts = new Float64Array(n);
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ts[i] = i * 600_000;
      const h = i / 6;
      const before = failures.filter((f) => f.machine === t.machine && f.atH > h && f.atH - h < 24);
      values[i] = t.name.endsWith("flow")
        ? 100 + random()
        : 50 + random() + (before.length > 0 ? 24 - (before[0]!.atH - h) : 0);
    }
    writer.write(n, new Int32Array(n).fill(ids.get(t.name)!.id), ts, values, new Uint32Array(n));
  }
  for (const f of failures) {
    if (f.as === "event") store.insertMachineEvent({ machineId: f.machine, ts: f.atH * H, kind: "fault" });
    else
      store.insertMaintenanceRecord({
        machineId: f.machine,
        startedAt: f.atH * H,
        completedAt: f.atH * H + 2 * H,
        downtimeMin: 120,
        failure: true,
        source: "cli",
      });
  }
  return store;
}

const WINDOW = { ...DEFAULT_WINDOW, windowMin: 60, stepMs: 600_000, maxGapMs: 1_800_000 };

test("a failure recorded only as a maintenance record (what technicians and the CMMS record) labels the windows before it", (t) => {
  const dir = tempDir(t);
  const store = pumpStore(dir, [{ machine: 1, atH: 300, as: "record" }]);
  t.after(() => store.close());
  const data = buildDataset(store.db, {
    horizonH: 24,
    strideMin: 60,
    features: ["bearing_temperature_mean", "flow_mean"],
    window: WINDOW,
  });
  assert.deepEqual(data.failures, [{ machine: 1, ts: 300 * H }]);
  const labelled = data.samples.filter((s) => s.y === 1);
  assert.ok(
    labelled.length >= 20 && labelled.every((s) => s.machine === 1 && s.ts < 300 * H && s.ts >= 276 * H),
  );
});

test("the time split keeps a gap of the whole horizon; a fleet split holds out whole machines", (t) => {
  const dir = tempDir(t);
  const store = pumpStore(
    dir,
    [1, 2, 3, 4].map((m) => ({ machine: m, atH: 880, as: "event" as const })),
  );
  t.after(() => store.close());
  const data = buildDataset(store.db, {
    horizonH: 72,
    strideMin: 60,
    features: ["bearing_temperature_mean"],
    window: WINDOW,
  });
  const { train, holdout, cut } = splitByTime(data, 0.25, 72);
  assert.ok(train.length > 0 && holdout.length > 0);
  assert.ok(
    train.every((s) => s.ts + 72 * H <= cut),
    "no training window is labelled by a failure in the holdout",
  );
  const fleet = splitByMachine(data, 0.25);
  const trainMachines = new Set(fleet.train.map((s) => s.machine));
  assert.deepEqual(fleet.holdoutMachines, [4]);
  assert.ok(!trainMachines.has(4) && trainMachines.size === 3);
});

test("missing values go right in training as in prediction and in ONNX Runtime, and the ONNX label agrees with the probability at the threshold", async () => {
  const random = mulberry32(9);
  const x: Float32Array[] = [];
  const y = new Uint8Array(600);
  for (let i = 0; i < 600; i++) {
    // The sensor drops out (NaN) exactly on the failing machines' windows.
    y[i] = i % 3 === 0 ? 1 : 0;
    x.push(Float32Array.from([y[i] === 1 ? Number.NaN : random() * 10, random()]));
  }
  const forest = trainForest(x, y, ["a", "b"], {
    trees: 20,
    maxDepth: 4,
    minSamplesLeaf: 5,
    seed: 1,
    featuresPerSplit: 2,
  });
  const nanRow = Float32Array.from([Number.NaN, 0.5]);
  assert.ok(
    predictProbability(forest, nanRow) > 0.9,
    `NaN rows learned as failures: ${predictProbability(forest, nanRow)}`,
  );
  assert.ok(predictProbability(forest, Float32Array.from([5, 0.5])) < 0.1);
  const bytes = forestToOnnx(forest, {
    name: "t",
    version: "1",
    features: ["a", "b"],
    threshold: 0.6,
    metadata: {},
  });
  const session = await ort.InferenceSession.create(bytes);
  const rows = [nanRow, Float32Array.from([5, 0.5]), Float32Array.from([9.9, 0.1])];
  const input = new Float32Array(rows.length * 2);
  rows.forEach((r, i) => {
    input.set(r, i * 2);
  });
  const out = await session.run({ features: new ort.Tensor("float32", input, [rows.length, 2]) });
  const p = out.probabilities!.data as Float32Array;
  const label = out.label!.data as BigInt64Array;
  for (let i = 0; i < rows.length; i++) {
    assert.ok(Math.abs(p[i * 2 + 1]! - predictProbability(forest, rows[i]!)) < 1e-5);
    assert.equal(label[i], p[i * 2 + 1]! >= 0.6 ? 1n : 0n, `row ${i}: P ${p[i * 2 + 1]} label ${label[i]}`);
  }
  await session.release();
});

test("the card's lead window follows the horizon; the model records its window and the daemon scores with it", async (t) => {
  const e = evaluateScores(
    [0.9],
    [{ machine: 1, ts: 0, x: new Float32Array(0), y: 1, hoursToFailure: 10 }],
    [{ machine: 1, ts: 10 * H }],
    DEFAULT_ALERTS,
    12,
  );
  assert.deepEqual(e.leadWindowH, [6, 18]);
  assert.equal(e.alertedInTime, 1, "an alert 10 h ahead is in time for a 12 h horizon");
  const dir = tempDir(t);
  const store = pumpStore(
    dir,
    [1, 2, 3, 4].flatMap((m) =>
      [100, 300, 500, 700].map((h) => ({ machine: m, atH: h + m * 10, as: "event" as const })),
    ),
  );
  const yaml = `version: 1
line: { enterprise: acme, site: lyon, area: utilities, name: pumps }
machines: [{ id: 1, name: P1 }, { id: 2, name: P2 }, { id: 3, name: P3 }, { id: 4, name: P4 }]
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1 }]
tags:
${[1, 2, 3, 4]
  .flatMap((m) => [
    `  - { name: pump${m}.bearing_temperature, machine: ${m}, role: bearing_temperature, unit: degC, connection: plc, modbus: { area: input, address: ${m * 4} } }`,
    `  - { name: pump${m}.flow, machine: ${m}, role: flow, connection: plc, modbus: { area: input, address: ${m * 4 + 2} } }`,
  ])
  .join("\n")}
store: { path: ${JSON.stringify(join(dir, "pumps.db"))} }
maintenance: { model: ${JSON.stringify(join(dir, "pm.onnx"))}, window: { minutes: 60, stepMs: 600000, maxGapMs: 1800000 } }
`;
  const cfg = parseConfig(yaml, join(dir, "pumps.yaml"));
  const { card } = trainModel(store.db, join(dir, "pm.onnx"), {
    horizonH: 24,
    strideMin: 60,
    holdoutFraction: 0.3,
    forest: { trees: 10, maxDepth: 5, minSamplesLeaf: 5, seed: 1 },
    tags: cfg.tags,
    window: { ...WINDOW, windowMin: 60 },
  });
  assert.ok(
    card.features.includes("bearing_temperature_slope") && card.features.includes("flow_dev"),
    card.features.join(),
  );
  assert.ok(!card.features.some((f) => f.startsWith("vibration")), "no press features on a pump line");
  assert.equal(card.window.minutes, 60);
  const { readFileSync } = await import("node:fs");
  const info = readModelInfo(readFileSync(join(dir, "pm.onnx")));
  assert.equal(windowOfModel(info.info.metadata)!.windowMin, 60);
  // The YAML now says 5 minutes: the daemon still computes the model's 60-minute features.
  const five = parseConfig(
    yaml.replace("window: { minutes: 60,", "window: { minutes: 5,"),
    join(dir, "pumps.yaml"),
  );
  const predictor = new Predictor(five.maintenance!, { store, log: silentLogger(), line: five });
  await predictor.start();
  t.after(async () => {
    await predictor.stop();
    store.close();
  });
  const scored = await predictor.tick(700 * H);
  assert.equal(scored.length, 4);
  assert.equal(predictor.incompleteWindows, 0);
});

test("a machine without a feature the model declares is not scored, and status says which it lacks", async (t) => {
  const dir = tempDir(t);
  const store = pumpStore(dir, []);
  const yaml = `version: 1
line: { enterprise: acme, site: lyon, area: utilities, name: pumps }
machines: [{ id: 1, name: P1 }]
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1 }]
tags:
  - { name: pump1.bearing_temperature, machine: 1, role: bearing_temperature, connection: plc, modbus: { area: input, address: 0 } }
store: { path: ${JSON.stringify(join(dir, "pumps.db"))} }
maintenance: { model: ${JSON.stringify(join(import.meta.dirname, "../../models/predictive_maintenance.onnx"))} }
`;
  const cfg = parseConfig(yaml, join(dir, "pumps.yaml"));
  const predictor = new Predictor(cfg.maintenance!, { store, log: silentLogger(), line: cfg });
  await predictor.start();
  t.after(async () => {
    await predictor.stop();
    store.close();
  });
  assert.deepEqual(await predictor.tick(300 * H), []);
  const why = (predictor.health().details.unscored as Record<string, string>)["1"]!;
  assert.match(why, /lacks 12 of the model's 13 features \(vibration_rms_mean, vibration_rms_max/);
  assert.equal((store.db.prepare("SELECT count(*) AS n FROM predictions").get() as { n: number }).n, 0);
});

test("an alert's minimum hold runs on the hold clock, not on the wall time it records", async () => {
  const { AlertTracker } = await import("../../src/maintenance/alertPolicy.js");
  const tracker = new AlertTracker({ ...DEFAULT_ALERTS, clearAfterTicks: 1, minHoldMs: 30 * 60_000 });
  const wall = 1_800_000_000_000;
  assert.equal(tracker.update(wall, 0.9, false, 0), "opened");
  // The wall clock steps an hour forward; on the hold clock a minute has passed: still held.
  assert.equal(tracker.update(wall + 3_600_000, 0.1, false, 60_000), undefined);
  assert.equal(tracker.update(wall + 3_700_000, 0.1, false, 31 * 60_000), "cleared");
  // Restored after a restart: 10 minutes old on the wall, so 20 more on the hold clock.
  const restored = new AlertTracker({ ...DEFAULT_ALERTS, clearAfterTicks: 1, minHoldMs: 30 * 60_000 });
  restored.restore(wall, 5_000_000, 10 * 60_000);
  assert.equal(restored.update(wall + 15 * 60_000, 0.1, false, 5_000_000 + 5 * 60_000), undefined);
  assert.equal(restored.update(wall + 25 * 60_000, 0.1, false, 5_000_000 + 21 * 60_000), "cleared");
});
