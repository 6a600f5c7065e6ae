import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { readBaseline } from "../../src/inference/onnxModel.js";
import { DEFAULT_ALERTS } from "../../src/maintenance/alertPolicy.js";
import { chooseThreshold, fitBaseline, learnBaseline, scoreOf } from "../../src/maintenance/baseline.js";
import { BaselineMonitor } from "../../src/maintenance/baselineMonitor.js";
import { DEFAULT_WINDOW } from "../../src/preprocess/features.js";
import { HistoryWriter } from "../../src/store/historyWriter.js";
import { Store } from "../../src/store/store.js";
import { FIXTURES, IMS_MAP, IMS_TIME, imsRigConfig, runCliToEnd, tempDir, waitFor } from "../helpers.js";

test("on the IMS rig, bearing 1's baseline learned from its first day and a half alerts as it fails; onnxruntime gives the same scores", async (t) => {
  const dir = tempDir(t);
  const config = imsRigConfig(dir);
  const imported = await runCliToEnd([
    "import",
    "--config",
    config,
    join(FIXTURES, "ims_test2_excerpt.csv"),
    ...IMS_TIME,
    ...IMS_MAP,
  ]);
  assert.equal(imported.code, 0, imported.stderr);
  const r = await runCliToEnd([
    "baseline",
    "--config",
    config,
    "--evaluate",
    "--out",
    join(dir, "b"),
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const results = JSON.parse(r.stdout) as {
    machine: number;
    features: string[];
    threshold: number;
    training: { windows: number };
    parity_with_onnxruntime: number;
    evaluation: { alerts: { ts: number }[]; openAtEnd: { hoursBeforeEnd: number } | null };
  }[];
  assert.equal(results.length, 4);
  const b1 = results[0]!;
  assert.deepEqual(b1.features, ["acceleration_mean", "acceleration_max", "acceleration_std"]);
  assert.equal(
    b1.training.windows,
    144,
    "the first 1.5 days at a 10-minute stride, two thirds of them to fit",
  );
  assert.ok(b1.parity_with_onnxruntime < 1e-5, `parity ${b1.parity_with_onnxruntime}`);
  assert.ok(b1.threshold >= 1.5);
  // Nothing alerted on the normal days right after the baseline; the alert opened on the failing
  // bearing stayed open to the end.
  assert.ok(
    b1.evaluation.alerts.every((a) => a.ts > Date.UTC(2004, 1, 17)),
    JSON.stringify(b1.evaluation.alerts),
  );
  assert.ok(
    b1.evaluation.openAtEnd !== null && b1.evaluation.openAtEnd.hoursBeforeEnd > 20,
    JSON.stringify(b1.evaluation),
  );
  const card = JSON.parse(readFileSync(join(dir, "b/baseline_m1.card.json"), "utf8")) as {
    type: string;
    held_out: { alerts: number };
  };
  assert.equal(card.type, "baseline");
  assert.equal(card.held_out.alerts, 0);
  const model = readBaseline(readFileSync(join(dir, "b/baseline_m1.onnx")));
  assert.deepEqual(model.upperOnly, [1, 1, 1], "a bearing does not fail by vibrating less");
});

test("the threshold keeps held-out normal days within the alert budget; a feature that never moved does not make every change infinite", async () => {
  const day = 86_400_000;
  let seed = 1;
  const noise = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647 - 0.5;
  };
  const samples = Array.from({ length: 600 }, (_, i) => ({
    machine: 1,
    ts: i * 600_000,
    // a tenth of the windows carry a spike twice the usual spread: normal, if rare
    x: Float32Array.from([60 + noise() * (i % 10 === 0 ? 4 : 2), 5, noise() * 0.01]),
    y: 0 as const,
    hoursToFailure: Number.POSITIVE_INFINITY,
  }));
  const features = ["bearing_temperature_mean", "flow_min", "flow_slope"];
  const fit = fitBaseline(
    samples.slice(0, 400).map((s) => s.x),
    features,
  );
  assert.ok(fit.scale[1]! >= 0.05, "a constant feature gets 1 % of its level as scale");
  const series = samples.slice(400).map((s) => ({ ts: s.ts, score: scoreOf(fit, s.x) }));
  const strict = chooseThreshold(series, DEFAULT_ALERTS, 0.5);
  const loose = chooseThreshold(series, DEFAULT_ALERTS, 50);
  assert.equal(strict.heldOutAlerts, 0, "1.4 days held out, half an alert a week: none allowed");
  assert.ok(loose.threshold <= strict.threshold);
  const learned = learnBaseline(samples, {
    machine: 1,
    features,
    window: DEFAULT_WINDOW,
    settings: { days: 4, shadowDays: 0, alertsPerMachineWeek: 1, strideMin: 10 },
    alerts: DEFAULT_ALERTS,
    name: "baseline_m1",
    version: "t",
    learnedAt: 600 * 600_000,
  });
  const session = await ort.InferenceSession.create(learned.bytes);
  const probe = Float32Array.from([60, 5, 0, 70, 5, 0, 40, 5.5, 0.2]);
  const out = await session.run({ features: new ort.Tensor("float32", probe, [3, 3]) });
  const scores = out.score!.data as Float32Array;
  for (let i = 0; i < 3; i++)
    assert.ok(Math.abs(scores[i]! - scoreOf(learned.fit, probe.subarray(i * 3, i * 3 + 3))) < 1e-4);
  assert.ok(scores[1]! > learned.card.threshold, "10 degC above normal alerts");
  await session.release();
  void day;
});

const PUMP = (dir: string, shadowDays: number) => `version: 1
line: { enterprise: acme, site: lyon, area: utilities, name: pumps }
machines: [{ id: 1, name: Pump 1, kind: pump }]
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1 }]
tags:
  - { name: pump1.flow, machine: 1, role: flow, unit: m3/h, connection: plc, modbus: { area: input, address: 0, dataType: float32 } }
  - { name: pump1.de_bearing, machine: 1, role: bearing_temperature, unit: degC, connection: plc, modbus: { area: input, address: 2, dataType: float32 } }
store: { path: ${JSON.stringify(join(dir, "pumps.db"))} }
maintenance:
  model: ${JSON.stringify(join(dir, "none.onnx"))}
  tickMs: 60000
  window: { minutes: 30 }
  baseline: { days: 1, shadowDays: ${shadowDays}, alertsPerMachineWeek: 1, strideMin: 10 }
`;

test("in the daemon, a pump with no failure labels learns its normal from its first day, scores in shadow, then alerts with reasons in its own units", async (t) => {
  const dir = tempDir(t);
  const cfg = parseConfig(PUMP(dir, 0.5), join(dir, "pumps.yaml"));
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const ids = store.syncTags(cfg.tags);
  const now = Date.now();
  const start = now - 2 * 86_400_000;
  // Two days of normal running at one sample a minute, then (in the future the test ticks at) a
  // bearing running 8 degC hot while the flow stays normal.
  const writer = new HistoryWriter(store.db);
  const write = (from: number, to: number, hotBy: number) => {
    const n = Math.floor((to - from) / 60_000);
    const tags = new Int32Array(2 * n);
    const ts = new Float64Array(2 * n);
    const values = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      const t0 = from + i * 60_000;
      tags[2 * i] = ids.get("pump1.flow")!.id;
      ts[2 * i] = t0;
      values[2 * i] = 120 + Math.sin(i / 7) * 2;
      tags[2 * i + 1] = ids.get("pump1.de_bearing")!.id;
      ts[2 * i + 1] = t0;
      values[2 * i + 1] = 55 + Math.sin(i / 11) * 0.5 + hotBy;
    }
    writer.write(2 * n, tags, ts, values, new Uint32Array(2 * n));
  };
  write(start, now, 0);
  write(now + 3_600_000, now + 4 * 3_600_000, 8);
  write(now + 86_400_000, now + 86_400_000 + 3 * 3_600_000, 8);
  const monitor = new BaselineMonitor(cfg.maintenance!, { store, log: silentLogger(), line: cfg });
  await monitor.start();
  t.after(async () => {
    await monitor.stop();
    store.close();
  });
  await monitor.tick(now);
  assert.equal(
    (monitor.health().details.machines as Record<string, { phase: string }>)["1"]!.phase,
    "learning",
  );
  await waitFor(() => monitor.learned === 1, 30_000, "the baseline learned in its worker");
  // Inside the shadow period: scored and recorded, never alerted.
  const shadowed = await monitor.tick(now + 3 * 3_600_000);
  assert.equal(shadowed.length, 1);
  assert.equal(shadowed[0]!.shadow, true);
  assert.equal(shadowed[0]!.level, "HIGH");
  const count = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
  assert.equal(count("SELECT count(*) AS n FROM alerts"), 0, "no alert in the shadow period");
  // After it: the same deviation opens an alert, its reasons in the tag's own unit.
  const [after] = await monitor.tick(now + 86_400_000 + 2 * 3_600_000);
  assert.equal(after!.shadow, false);
  assert.match(
    after!.reasons[0]!.text,
    /^pump1\.de_bearing (mean|max) \d+(\.\d+)? degC, normal 5\d(\.\d+)? degC: \d+\.\d robust SDs above since /,
  );
  const alert = store.db.prepare("SELECT kind, severity, state, details FROM alerts").get() as {
    kind: string;
    severity: string;
    state: string;
    details: string;
  };
  assert.deepEqual([alert.kind, alert.severity, alert.state], ["anomaly", "HIGH", "open"]);
  assert.equal(count("SELECT count(*) AS n FROM anomaly_scores WHERE shadow = 1"), 1);
  assert.equal(count("SELECT count(*) AS n FROM outbox WHERE class = 'work_order'"), 1);
  assert.equal(count("SELECT count(*) AS n FROM ai_decisions_audit WHERE decision = 'baseline learned'"), 1);
  // The learned baseline is kept beside the store with its card, and used again after a restart.
  const card = JSON.parse(readFileSync(join(dir, "models/baseline_m1.card.json"), "utf8")) as {
    features: string[];
  };
  assert.ok(card.features.includes("bearing_temperature_mean") && card.features.includes("flow_std"));
  const again = new BaselineMonitor(cfg.maintenance!, { store, log: silentLogger(), line: cfg });
  await again.start();
  const [restarted] = await again.tick(now + 86_400_000 + 2 * 3_600_000);
  await again.stop();
  assert.equal(restarted!.score, after!.score);
});
