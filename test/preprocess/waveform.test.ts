import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { extractFeatures, featuresFor, StoreSeries } from "../../src/preprocess/features.js";
import { defectOrders, seriesTags, waveformSeries } from "../../src/preprocess/waveform.js";
import { openStoreForReading } from "../../src/store/store.js";
import { waveformBlockAt } from "../../src/store/waveforms.js";
import { OpcuaPlcServer } from "../../src/twin/opcuaServer.js";
import { parseFault, SimPlc } from "../../src/twin/simPlc.js";
import { ROOT, runCliToEnd, tempDir, waitFor, writeFile } from "../helpers.js";
import { freePort } from "../peers/peers.js";

// CWRU's drive-end bearing, an SKF 6205-2RS JEM: 9 balls of 7.94 mm on a 39.04 mm pitch circle.
const SKF_6205 = "{ balls: 9, ballDiameterMm: 7.94, pitchDiameterMm: 39.04 }";

function cwru(file: string): Float32Array {
  const lines = readFileSync(join(ROOT, "test/fixtures/real", file), "utf8")
    .trim()
    .split("\n")
    .slice(1);
  return Float32Array.from(lines, Number);
}

function latest(
  db: ReturnType<typeof openStoreForReading>,
  tag: string,
): { value: number; status: number; n: number } {
  const row = db
    .prepare(
      `SELECT s.value, s.status, (SELECT count(*) FROM sensor_data x WHERE x.tag_id = t.id) AS n
       FROM sensor_data s JOIN tags t ON t.id = s.tag_id WHERE t.name = ? ORDER BY s.id DESC LIMIT 1`,
    )
    .get(tag) as { value: number | null; status: number; n: number } | undefined;
  return row === undefined
    ? { value: Number.NaN, status: -1, n: 0 }
    : { ...row, value: row.value ?? Number.NaN };
}

test("a bearing's geometry gives its datasheet defect orders; a waveform tag is stored as named series", () => {
  const o = defectOrders({
    shaftHzPerUnit: 1 / 60,
    geometry: { balls: 9, ballDiameterMm: 7.94, pitchDiameterMm: 39.04, contactAngleDeg: 0 },
  });
  // SKF's figures for the 6205-2RS JEM, as CWRU publishes them.
  assert.ok(Math.abs(o.bpfi! - 5.4152) < 1e-3 && Math.abs(o.bpfo! - 3.5848) < 1e-3, JSON.stringify(o));
  assert.ok(Math.abs(o.bsf! - 2.357) < 1e-3 && Math.abs(o.ftf! - 0.3983) < 1e-3, JSON.stringify(o));
  const config = parseConfig(
    `version: 1
line: { enterprise: a, site: b, area: c, name: d }
machines: [{ id: 1, name: Fan 1 }]
connections: [{ id: plc, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840" }]
tags:
  - { name: fan1.de, machine: 1, role: acceleration, unit: g, connection: plc, nodeId: "ns=1;s=De", waveform: { sampleRateHz: 12000, length: 4096, bands: [[0, 500], [2000, 4000]], bearing: { shaftHz: 29.95, geometry: ${SKF_6205} } } }
store: { path: /tmp/x.db }
`,
    "fan.yaml",
  );
  const series = waveformSeries(config.tags[0]!);
  assert.deepEqual(
    series.map((s) => `${s.name}:${s.role}:${s.unit}`),
    [
      "fan1.de.peak:acceleration_peak:g",
      "fan1.de.crest:acceleration_crest:",
      "fan1.de.kurtosis:acceleration_kurtosis:",
      "fan1.de.band1:acceleration_band1:g",
      "fan1.de.band2:acceleration_band2:g",
      "fan1.de.bpfi:acceleration_bpfi:g",
      "fan1.de.bpfo:acceleration_bpfo:g",
      "fan1.de.bsf:acceleration_bsf:g",
      "fan1.de.ftf:acceleration_ftf:g",
    ],
  );
  const features = featuresFor(seriesTags(config.tags), { includeAge: false });
  assert.ok(features.includes("acceleration_mean"), "the block RMS is a signal");
  assert.ok(features.includes("acceleration_bpfo_mean") && features.includes("acceleration_kurtosis_max"));
  assert.ok(!features.includes("acceleration_rms"), "no RMS of a series of RMS values");
  assert.ok(!features.includes("acceleration_bpfo_kurtosis"), "a series of a waveform is a level already");
});

test("waveform configurations that cannot work are refused with the key and the reason", () => {
  const base = (tag: string, extra = "") => `version: 1
line: { enterprise: a, site: b, area: c, name: d }
machines: [{ id: 1, name: Pump 1 }]
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1 }]
tags:
  - ${tag}
${extra}store: { path: /tmp/x.db }
`;
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parseConfig(text, "pump.yaml"),
      (e: Error) => pattern.test(e.message),
    );
  refused(
    base(
      "{ name: p.v, machine: 1, connection: plc, modbus: { area: input, address: 0, dataType: float32, count: 512 }, waveform: { sampleRateHz: 2560, length: 1024 } }",
    ),
    /pump\.yaml:6.*tags\[0\]\.modbus\.count.*needs modbus\.count 1024/s,
  );
  refused(
    base(
      "{ name: p.v, machine: 1, connection: plc, modbus: { area: input, address: 0, dataType: float32, count: 1000 }, waveform: { sampleRateHz: 2560, length: 1000 } }",
    ),
    /waveform\.length.*power of two/s,
  );
  refused(
    base(
      "{ name: p.v, machine: 1, connection: plc, modbus: { area: input, address: 0, dataType: float32, count: 1024 }, waveform: { sampleRateHz: 2560, length: 1024, bearing: { orders: { bpfo: 3.58 } } } }",
    ),
    /bearing.*shaft speed: shaftHz or shaftSpeedTag/s,
  );
  refused(
    base(
      "{ name: p.v, machine: 1, connection: plc, modbus: { area: input, address: 0, dataType: float32, count: 1024 }, waveform: { sampleRateHz: 2560, length: 1024, bearing: { shaftSpeedTag: p.rpm, orders: { bpfo: 3.58 } } } }",
    ),
    /shaftSpeedTag.*tag 'p\.rpm' is not defined/s,
  );
  refused(
    base(
      "{ name: p.v, machine: 1, connection: plc, modbus: { area: input, address: 0, dataType: float32, count: 8 } }",
    ),
    /more than one value in a row is a waveform/,
  );
});

test("CWRU's damaged races served as OPC UA arrays: the daemon stores each block's series, and the defect line of the damaged race stands out", async (t) => {
  const dir = tempDir(t);
  const inner = cwru("cwru_inner_race_007_16k.csv");
  const outer = cwru("cwru_outer_race_007_16k.csv");
  // Each read serves the next 4,096 samples of the recording, as a data collector's block would.
  const cursor = { inner: 0, outer: 0 };
  const next = (data: Float32Array, key: "inner" | "outer") => () => {
    cursor[key] = (cursor[key] + 4096) % (data.length - 4096);
    return data.slice(cursor[key], cursor[key] + 4096);
  };
  const server = new OpcuaPlcServer({
    pkiDir: join(dir, "server-pki"),
    port: await freePort(),
    variables: [
      { id: "Fan1.De", dataType: "Float", read: () => 0, readBlock: next(inner, "inner") },
      { id: "Fan2.De", dataType: "Float", read: () => 0, readBlock: next(outer, "outer") },
      { id: "Fan2.Rpm", dataType: "Double", read: () => 1797 },
    ],
  });
  await server.start();
  t.after(() => server.stop());
  const wave = (bearing: string) =>
    `waveform: { sampleRateHz: 12000, length: 4096, keepEveryMs: 1000, bearing: ${bearing} }`;
  const yaml = `version: 1
line: { enterprise: a, site: b, area: c, name: fans }
machines: [{ id: 1, name: Fan 1 }, { id: 2, name: Fan 2 }]
connections:
  - { id: plc, protocol: opcua, endpoint: "${server.endpointUrl}", publishingIntervalMs: 100, backoff: { initialMs: 100, maxMs: 500, jitter: 0.1 } }
tags:
  - { name: fan1.de, machine: 1, role: acceleration, unit: g, connection: plc, nodeId: "ns=1;s=Fan1.De", intervalMs: 200, ${wave(`{ shaftHz: 29.95, geometry: ${SKF_6205} }`)} }
  - { name: fan2.rpm, machine: 2, role: rpm, unit: rpm, connection: plc, nodeId: "ns=1;s=Fan2.Rpm", intervalMs: 200 }
  - { name: fan2.de, machine: 2, role: acceleration, unit: g, connection: plc, nodeId: "ns=1;s=Fan2.De", intervalMs: 200, ${wave(`{ shaftSpeedTag: fan2.rpm, geometry: ${SKF_6205} }`)} }
store: { path: ${JSON.stringify(join(dir, "fans.db"))}, batchSize: 50, flushIntervalMs: 100 }
api: { host: 127.0.0.1, port: 0 }
`;
  const config = parseConfig(yaml, join(dir, "fans.yaml"));
  const daemon = new Daemon(config, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  const db = openStoreForReading(config.store.path);
  t.after(() => db.close());
  await waitFor(
    () => latest(db, "fan1.de.bpfi").n >= 5 && latest(db, "fan2.de.bpfo").n >= 5,
    20_000,
    "five blocks of each fan stored as series",
  );
  const amplitude = (tag: string) => {
    const rows = db
      .prepare(
        "SELECT avg(s.value) AS v FROM sensor_data s JOIN tags t ON t.id = s.tag_id WHERE t.name = ? AND s.status = 0",
      )
      .get(tag) as { v: number };
    return rows.v;
  };
  const [i1, o1] = [amplitude("fan1.de.bpfi"), amplitude("fan1.de.bpfo")];
  const [i2, o2] = [amplitude("fan2.de.bpfi"), amplitude("fan2.de.bpfo")];
  assert.ok(i1 > 2 * o1, `inner race: envelope at BPFI ${i1.toFixed(4)} g vs BPFO ${o1.toFixed(4)} g`);
  assert.ok(
    o2 > 2 * i2,
    `outer race, shaft speed from its rpm tag: BPFO ${o2.toFixed(4)} g vs BPFI ${i2.toFixed(4)} g`,
  );
  // The tag's own value is the block's RMS, in g; crest factor and kurtosis are ratios.
  const rms = latest(db, "fan1.de");
  assert.equal(rms.status, 0);
  assert.ok(rms.value > 0.1 && rms.value < 2, `block RMS ${rms.value} g`);
  assert.ok(latest(db, "fan2.de.kurtosis").value > 3, "impacts: kurtosis above a Gaussian's 3");
  const block = waveformBlockAt(db, "fan1.de");
  assert.ok(
    block !== undefined && block.samples.length === 4096 && block.rateHz === 12000,
    "a raw block kept",
  );
  // The window features a model declares come from those series, like any tag's.
  const source = new StoreSeries(db, seriesTags(config.tags));
  const features = ["acceleration_bpfi_mean", "acceleration_bpfo_max", "acceleration_kurtosis_mean"];
  const v = extractFeatures(
    source,
    1,
    Date.now(),
    { windowMin: 1, stepMs: 200, maxGapMs: 5_000, holdMs: 60_000, fill: "locf", baselineMs: 3_600_000 },
    features,
  );
  assert.deepEqual(v.missing, []);
  assert.ok([...v.values].every(Number.isFinite) && v.values[0]! > v.values[1]!, String([...v.values]));
  const health = daemon.health().components as Record<string, { details: Record<string, number> }>;
  assert.ok(health.waveforms!.details.blocks! >= 10 && health.waveforms!.details.errors === 0);
  // A technician looks at a kept block with the tag's own rate, bearing and shaft speed.
  const file = writeFile(dir, "fans.yaml", yaml);
  const shown = await runCliToEnd(["vibration", "--config", file, "--tag", "fan2.de"]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^fan2\.de at \S+Z: 4096 samples, rms/m);
  assert.match(
    shown.stdout,
    /BPFO 107\.4 Hz: envelope peak at 10[6-9]\.\d+ Hz, x[\d.]+ the spectrum's median {2}<- stands out/,
  );
  const unknown = await runCliToEnd(["vibration", "--config", file, "--tag", "fan2.rpm"]);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /tag fan2\.rpm has no waveform block; the waveform tags are fan1\.de, fan2\.de/,
  );
});

test("the simulated PLC serves a worn bearing's waveform as Modbus registers: the BPFO line grows, a dropout makes every series Bad", async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const config = parseConfig(
    `version: 1
line: { enterprise: a, site: b, area: c, name: pumps }
machines: [{ id: 1, name: Pump 1 }]
connections:
  - { id: plc, protocol: modbus-tcp, host: 127.0.0.1, port: ${port}, timeoutMs: 1000, backoff: { initialMs: 100, maxMs: 500, jitter: 0.1 } }
tags:
  - { name: pump1.speed, machine: 1, role: speed, unit: "%", connection: plc, intervalMs: 100, modbus: { area: input, address: 0, dataType: float32 } }
  - { name: pump1.de_velocity, machine: 1, role: velocity, unit: mm/s, connection: plc, intervalMs: 300, modbus: { area: input, address: 100, dataType: float32, count: 1024 }, waveform: { sampleRateHz: 2560, length: 1024, bearing: { shaftSpeedTag: pump1.speed, shaftHzPerUnit: 0.8333333, orders: { bpfi: 5.42, bpfo: 3.58 } } } }
store: { path: ${JSON.stringify(join(dir, "pumps.db"))}, batchSize: 50, flushIntervalMs: 100 }
api: { host: 127.0.0.1, port: 0 }
`,
    join(dir, "pumps.yaml"),
  );
  const sim = new SimPlc({ config, seed: 4, log: silentLogger() });
  await sim.start();
  t.after(() => sim.stop());
  const daemon = new Daemon(config, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  const db = openStoreForReading(config.store.path);
  t.after(() => db.close());
  const series = (n: number) =>
    waitFor(() => latest(db, "pump1.de_velocity.bpfo").n >= n, 15_000, `${n} blocks`);
  await series(3);
  const fresh = latest(db, "pump1.de_velocity.bpfo").value;
  const connector = daemon.connectors[0]!.health().details as { reads: number; registersRead: number };
  assert.ok(connector.registersRead >= 2048, "1,024 float32 values are 2,048 registers, in several requests");
  sim.twin.machine(1).wear = 0.8;
  const before = latest(db, "pump1.de_velocity.bpfo").n;
  await series(before + 3);
  const worn = latest(db, "pump1.de_velocity.bpfo").value;
  const inner = latest(db, "pump1.de_velocity.bpfi").value;
  assert.ok(worn > 5 * fresh, `BPFO envelope ${fresh.toFixed(3)} -> ${worn.toFixed(3)} mm/s`);
  assert.ok(
    worn > 3 * inner,
    `the outer race, not the inner: BPFO ${worn.toFixed(3)} vs BPFI ${inner.toFixed(3)}`,
  );
  sim.inject(parseFault("dropout:pump1.de_velocity"));
  await waitFor(() => latest(db, "pump1.de_velocity.kurtosis").status === 0x808d0000, 10_000, "Bad series");
  assert.equal(latest(db, "pump1.de_velocity").status, 0x808d0000, "the tag itself is BadSensorFailure");
  assert.equal(latest(db, "pump1.de_velocity.bpfo").status, 0x808d0000);
});
