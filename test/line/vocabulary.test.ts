import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { parseConfig } from "../../src/config/load.js";
import { roleOf } from "../../src/line/vocabulary.js";
import { featureKey, featuresFor, PM_FEATURES, parseFeature } from "../../src/preprocess/features.js";
import { ROOT } from "../helpers.js";

const PUMP_LINE = `version: 1
line: { enterprise: acme, site: lyon, area: utilities, name: pumps }
machines: [{ id: 1, name: Pump 1, kind: pump }]
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1 }]
tags:
  - { name: pump1.flow, machine: 1, role: flow, unit: m3/h, connection: plc, modbus: { area: input, address: 0, dataType: float32 } }
  - { name: pump1.de_bearing, machine: 1, role: bearing_temperature, unit: degC, connection: plc, modbus: { area: input, address: 2, dataType: float32 } }
  - { name: pump1.vib, machine: 1, role: velocity, unit: mm/s, connection: plc, modbus: { area: input, address: 4, dataType: float32 } }
  - { name: pump1.seal_leak, machine: 1, role: seal_leakage, unit: l/h, connection: plc, modbus: { area: input, address: 6, dataType: float32 } }
  - { name: pump1.Suction_Bar, machine: 1, modelInput: true, unit: bar, connection: plc, modbus: { area: input, address: 8, dataType: float32 } }
  - { name: pump1.hours, machine: 1, role: running_hours, unit: h, connection: plc, modbus: { area: input, address: 10, dataType: uint32 } }
  - { name: pump1.state, machine: 1, role: state, connection: plc, modbus: { area: holding, address: 20 } }
store: { path: /tmp/pumps.db }
`;

test("roles are the line's: standard, open (its own names) or none, by one rule; a tag without a role can be a model input", () => {
  assert.equal(roleOf({ name: "press7.motor_temperature" }), "motor_temperature", "the name rule");
  assert.equal(
    roleOf({ name: "pump1.flow", role: "discharge_pressure" }),
    "discharge_pressure",
    "the YAML wins",
  );
  assert.equal(roleOf({ name: "pump1.mystery" }), undefined);
  const cfg = parseConfig(PUMP_LINE, "/tmp/pumps.yaml");
  const keys = cfg.tags.map((t) => featureKey(t));
  assert.deepEqual(keys, [
    "flow",
    "bearing_temperature",
    "velocity",
    "seal_leakage",
    "suction_bar",
    "running_hours",
    "state",
  ]);
  assert.throws(
    () => parseConfig(PUMP_LINE.replace("role: flow", "role: Flow Rate"), "/tmp/pumps.yaml"),
    /pumps\.yaml:6:.*role.*lower-case letters/s,
  );
});

test("features come from the machine's own tags: window statistics per signal, vibration adds RMS, crest and kurtosis, counters only as age", () => {
  const cfg = parseConfig(PUMP_LINE, "/tmp/pumps.yaml");
  const features = featuresFor(cfg.tags, { includeAge: true });
  for (const f of [
    "flow_mean",
    "flow_std",
    "flow_slope",
    "flow_dev",
    "bearing_temperature_max",
    "seal_leakage_mean",
    "suction_bar_min",
  ])
    assert.ok(features.includes(f), f);
  for (const f of ["velocity_rms", "velocity_crest", "velocity_kurtosis"]) assert.ok(features.includes(f), f);
  assert.ok(!features.includes("flow_rms"), "no vibration statistics for a flow");
  assert.ok(features.includes("running_hours") && features.includes("hours_since_maintenance"));
  assert.ok(!features.some((f) => f.startsWith("state")), "a state is not a signal");
  assert.deepEqual(parseFeature("vibration_rms_mean_6h"), {
    key: "vibration_rms",
    stat: "mean",
    spanMs: 6 * 3_600_000,
  });
  assert.deepEqual(parseFeature("bearing_temperature_dev"), {
    key: "bearing_temperature",
    stat: "dev",
    spanMs: 0,
  });
  assert.deepEqual(parseFeature("running_hours"), { key: "running_hours", stat: "latest", spanMs: 0 });
  // The shipped press model's features are the same grammar.
  for (const f of PM_FEATURES)
    assert.ok(parseFeature(f).key !== "" || parseFeature(f).stat === "since_maintenance", f);
});

test("nothing imports the simulated plant (src/twin/) but the simulated plant and its own commands", () => {
  // The commands that start the simulated PLC, the demo line and the generated history are the
  // simulated plant's front door; the daemon, optimizer, API and everything below them are not.
  const frontDoor = [
    "src/cli/commands/demo.ts",
    "src/cli/commands/generate.ts",
    "src/cli/commands/simPlc.ts",
  ];
  const importers: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (path.endsWith(".ts")) {
        const file = relative(ROOT, path);
        if (file.startsWith("src/twin/")) continue;
        if (/from "(\.\.\/)+twin\//.test(readFileSync(path, "utf8"))) importers.push(file);
      }
    }
  };
  walk(join(ROOT, "src"));
  assert.deepEqual(
    importers.sort(),
    frontDoor,
    "the line's vocabulary is src/line, the process model src/process",
  );
});
