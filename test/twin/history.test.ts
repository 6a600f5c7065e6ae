import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { parseConfig } from "../../src/config/load.js";
import { calibrate } from "../../src/process/calibrate.js";
import { DEFAULT_PARAMS } from "../../src/process/machine.js";
import { calibrateInWorker } from "../../src/process/processWorker.js";
import { parseGoal, parseScenario, simulateScenario } from "../../src/process/scenario.js";
import { SCHEMA_VERSION } from "../../src/store/migrations.js";
import { generateHistory } from "../../src/twin/generate.js";
import { lineYaml, runCliToEnd, tempDir } from "../helpers.js";

type After = { after(fn: () => void): void };

const histories = new Map<string, string>();
/** A 21-day history of 3 machines at 60 s, made once per test file. */
async function history(t: After): Promise<string> {
  const cached = histories.get("21d");
  if (cached !== undefined) return cached;
  const out = join(tempDir({ after: () => undefined }), "line-21d.db");
  await generateHistory({
    machineIds: [1, 2, 3],
    durationS: 21 * 86_400,
    intervalS: 60,
    seed: 11,
    out,
    format: "store",
  });
  histories.set("21d", out);
  void t;
  return out;
}

test("the generator writes a store with telemetry, failures, fault events and maintenance records", async (t) => {
  const path = await history(t);
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  assert.equal(count("SELECT count(*) AS n FROM tags"), 3 * 16);
  assert.equal(
    count("SELECT count(*) AS n FROM sensor_data"),
    21 * 1_440 * 3 * 16,
    "every sample, none lost",
  );
  const failures = count("SELECT count(*) AS n FROM machine_events WHERE kind = 'fault'");
  assert.ok(failures >= 3, `several failures in 3 weeks: ${failures}`);
  assert.equal(
    count("SELECT count(*) AS n FROM maintenance_records WHERE failure = 1 AND source = 'twin'"),
    failures,
  );
  const repair = db
    .prepare("SELECT started_at, completed_at, downtime_min FROM maintenance_records LIMIT 1")
    .get() as {
    started_at: number;
    completed_at: number;
    downtime_min: number;
  };
  assert.equal(repair.completed_at - repair.started_at, repair.downtime_min * 60_000);
  // The store is the daemon's own schema: the migration level is set, the index exists.
  assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sensor_data_tag_ts'").get());
});

test("calibration recovers the twin's response parameters from its own history", async (t) => {
  const db = new Database(await history(t), { readonly: true });
  t.after(() => db.close());
  const c = calibrate(db);
  assert.ok(c.windows > 500, `${c.windows} steady windows`);
  const near = (name: keyof typeof DEFAULT_PARAMS, tolerance: number) => {
    const fitted = c.params[name] as number;
    const truth = DEFAULT_PARAMS[name] as number;
    assert.ok(Math.abs(fitted - truth) / truth < tolerance, `${name}: fitted ${fitted}, truth ${truth}`);
  };
  near("rateMax", 0.05);
  near("rateScale", 0.05);
  near("powerSpeed2", 0.15);
  near("powerHeat", 0.1);
  // Scrap coefficients are less well identified (wear is hidden and adds its own scrap), but the
  // fit must see that leaving the window costs scrap.
  assert.ok(
    c.params.scrapTemp > 0 && c.params.scrapPressure > 0 && c.params.scrapSpeed > 0,
    JSON.stringify(c.params),
  );
  near("wearPerHour", 0.35);
  assert.ok((c.fitted.rate ?? 0) > 0.95 && (c.fitted.power ?? 0) > 0.95, JSON.stringify(c.fitted));
  // The daemon fits off its event loop: the worker gives the same parameters.
  const path = await history(t);
  const config = parseConfig(lineYaml({ storePath: path }), "line.yaml");
  assert.deepEqual(await calibrateInWorker(path, config, 0), c.params);
});

test('"speed +15%" agrees in direction and rough size with the history it was calibrated on', async (t) => {
  const db = new Database(await history(t), { readonly: true });
  t.after(() => db.close());
  const c = calibrate(db);
  // From a fresh bearing at nominal settings, so the comparison is about rates, not one failure.
  for (const state of c.latest.values())
    Object.assign(state, {
      speed_setpoint: 30,
      speed: 30,
      temperature_setpoint: 182,
      pressure_setpoint: 6,
      vibration_rms: 1.2,
    });
  const r = simulateScenario(c, "speed +15%", { horizonH: 8 });
  const outputGain = r.predicted_output / r.baseline_output - 1;
  // tanh saturation: +15 % speed at 30 spm gives about +9.6 % output.
  assert.ok(outputGain > 0.06 && outputGain < 0.13, `output +${(outputGain * 100).toFixed(1)} %`);
  assert.ok(
    r.predicted_energy_increase > 5 && r.predicted_energy_increase < 20,
    `energy +${r.predicted_energy_increase} %`,
  );
  assert.ok(r.wear_rate_ratio > 1.3 && r.wear_rate_ratio < 1.8, `wear x${r.wear_rate_ratio} (1.15^3 = 1.52)`);
  assert.notEqual(r.predicted_wear_increase, "LOW");
  assert.ok(r.predicted_scrap_rate >= r.baseline_scrap_rate);
  assert.equal(r.changes[0]!.to, 34.5);
  // And the reverse change gives the reverse answer.
  const slower = simulateScenario(c, "speed -15%", { horizonH: 8 });
  assert.ok(slower.predicted_output < slower.baseline_output && slower.predicted_energy_increase < 0);
  assert.equal(slower.predicted_wear_increase, "LOW");
  // A goal the current course misses but the change meets is said so.
  const goal = parseGoal(`${Math.round((r.baseline_output + r.predicted_output) / 2)} pieces in 8h`);
  const withGoal = simulateScenario(c, "speed +15%", { horizonH: 8, goal });
  assert.equal(withGoal.goal?.baseline_met, false);
  assert.equal(withGoal.goal?.met, true);
  assert.match(withGoal.recommendation, /goal/);
});

test("scenario texts: several parameters, absolute and relative; bad text is a clear usage error", () => {
  assert.deepEqual(parseScenario("speed +10%, temperature -3; pressure +0.25"), [
    { setpoint: "speed_setpoint", relative: true, amount: 0.1 },
    { setpoint: "temperature_setpoint", relative: false, amount: -3 },
    { setpoint: "pressure_setpoint", relative: false, amount: 0.25 },
  ]);
  assert.throws(() => parseScenario("faster please"), /PARAMETER \+\/-AMOUNT/);
  assert.throws(() => parseGoal("lots"), /5000 pieces in 8h/);
});

test("linepilot generate (CSV) and linepilot simulate --json on a generated store", async (t) => {
  const dir = tempDir(t);
  const csv = join(dir, "press7.csv");
  const gen = await runCliToEnd([
    "generate",
    "--machine",
    "7",
    "--duration",
    "2h",
    "--interval",
    "30s",
    "--out",
    csv,
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  assert.match(gen.stdout, /3840 samples of 16 tags/);
  const lines = readFileSync(csv, "utf8").trim().split("\n");
  assert.equal(lines[0], "ts,machine,tag,value");
  assert.equal(lines.length, 1 + 240 * 16);
  assert.match(lines[1]!, /^\d+,7,m7\.speed_setpoint,\d+(\.\d+)?$/);
  assert.equal(
    readFileSync(join(dir, "press7.events.csv"), "utf8").split("\n")[0],
    "ts,machine,kind,downtime_min,message",
  );
  const again = await runCliToEnd(["generate", "--duration", "1h", "--out", csv]);
  assert.equal(again.code, 2, "an existing file is not overwritten without --force");

  const sim = await runCliToEnd([
    "simulate",
    "--data",
    await history(t),
    "--scenario",
    "speed +15%",
    "--machine",
    "2",
    "--json",
  ]);
  assert.equal(sim.code, 0, sim.stderr);
  const result = JSON.parse(sim.stdout) as Record<string, unknown>;
  for (const key of [
    "scenario",
    "predicted_output",
    "predicted_scrap_rate",
    "baseline_scrap_rate",
    "predicted_energy_increase",
    "predicted_wear_increase",
    "recommendation",
  ])
    assert.ok(key in result, `docs/design.md §7 field ${key}`);
  assert.deepEqual(result.machines, [2]);
  const bad = await runCliToEnd(["simulate", "--data", await history(t), "--scenario", "go faster"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /cannot read 'go faster'/);
  const notAStore = await runCliToEnd(["simulate", "--data", csv, "--scenario", "speed +5%"]);
  assert.equal(notAStore.code, 2);
  assert.match(notAStore.stderr, /press7\.csv is not a linepilot store/);
  const train = await runCliToEnd(["train", "--data", join(dir, "missing.db"), "--out", join(dir, "m.onnx")]);
  assert.equal(train.code, 2);
  assert.match(train.stderr, /missing\.db does not exist yet/);
});

test("a what-if on a history whose setpoints never moved calibrates what it can and says which terms kept their defaults; a store not made yet is named as such", async (t) => {
  const dir = tempDir(t);
  const out = join(dir, "h.db");
  const made = await runCliToEnd(["generate", "--machine", "7", "--duration", "6h", "--out", out]);
  assert.equal(made.code, 0, made.stderr);
  const r = await runCliToEnd(["simulate", "--data", out, "--scenario", "speed +15%"]);
  assert.equal(r.code, 0, `it used to fail with "Matrix is rank deficient": ${r.stderr}`);
  assert.match(
    r.stdout,
    /the history cannot identify (scrap|power)\w+(, \w+)* \(no spread in what drives them\): defaults kept/,
  );
  assert.match(r.stdout, /^=> /m);
  const json = JSON.parse(
    (await runCliToEnd(["simulate", "--data", out, "--scenario", "speed +15%", "--json"])).stdout,
  ) as {
    calibration: { defaults: string[] };
  };
  assert.ok(json.calibration.defaults.length > 0);
  const missing = await runCliToEnd([
    "simulate",
    "--data",
    join(dir, "none", "line.db"),
    "--scenario",
    "speed +15%",
  ]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /the store .*none\/line\.db does not exist yet: it is made when the line first runs/,
  );
});
