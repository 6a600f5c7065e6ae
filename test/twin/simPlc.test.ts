import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { STATUS } from "../../src/connectors/quality.js";
import { generateHistory } from "../../src/twin/generate.js";
import { parseFault, SimPlc } from "../../src/twin/simPlc.js";
import { startConnector } from "../connectors/harness.js";
import { runCli, runCliToEnd, tempDir, waitFor, writeFile } from "../helpers.js";
import { freePort, startPtyPair } from "../peers/peers.js";

type After = { after(fn: () => Promise<void> | void): void };

const ROLES = [
  ["speed_setpoint", "float32", "holding", "writable: true, min: 10, max: 60"],
  ["speed", "float32", "input", ""],
  ["process_temperature", "float32", "input", ""],
  ["vibration_rms", "float32", "input", ""],
  ["motor_current", "int16", "input", "scale: 0.1"],
  ["piece_count", "uint32", "input", ""],
  ["state", "uint16", "input", ""],
] as const;

/** A line of two presses: 7 on OPC UA, 8 on Modbus TCP (or RTU on `rtuPath`). */
function lineConfig(o: {
  opcuaPort: number;
  modbusPort: number;
  store: string;
  apiPort?: number;
  rtuPath?: string;
}) {
  const modbusTags = ROLES.map(([role, dataType, area, extra], i) => {
    const a = area === "holding" ? 0 : 2 * i; // two registers per input, in role order
    return `  - { name: press8.${role}, machine: 8, role: ${role}, connection: press8, intervalMs: 100, modbus: { unitId: 3, area: ${area}, address: ${a}, dataType: ${dataType}, wordOrder: little }${extra ? `, ${extra}` : ""} }`;
  });
  const opcuaTags = ROLES.map(
    ([role, , , extra]) =>
      `  - { name: press7.${role}, machine: 7, role: ${role}, connection: press7, intervalMs: 100, nodeId: "ns=1;s=Press7.${role}"${extra && !extra.startsWith("scale") ? `, ${extra}` : ""} }`,
  );
  const modbus =
    o.rtuPath === undefined
      ? `{ id: press8, protocol: modbus-tcp, host: 127.0.0.1, port: ${o.modbusPort}, timeoutMs: 500, backoff: { initialMs: 100, maxMs: 500, jitter: 0.1 } }`
      : `{ id: press8, protocol: modbus-rtu, path: ${JSON.stringify(o.rtuPath)}, baudRate: 38400, parity: none, timeoutMs: 500, backoff: { initialMs: 100, maxMs: 500, jitter: 0.1 } }`;
  return `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: sim-line }
machines:
  - { id: 7, name: Press 7 }
  - { id: 8, name: Press 8 }
connections:
  - { id: press7, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:${o.opcuaPort}", publishingIntervalMs: 100, backoff: { initialMs: 100, maxMs: 800, jitter: 0.1 } }
  - ${modbus}
tags:
${[...opcuaTags, ...modbusTags].join("\n")}
store: { path: ${JSON.stringify(o.store)}, batchSize: 100, flushIntervalMs: 100 }
api: { host: 127.0.0.1, port: ${o.apiPort ?? 0} }
`;
}

test("the daemon pointed at sim-plc ingests every simulated tag over OPC UA and Modbus TCP; what-if over the API", async (t) => {
  const dir = tempDir(t);
  const [opcuaPort, modbusPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const file = writeFile(
    dir,
    "line.yaml",
    lineConfig({ opcuaPort, modbusPort, apiPort, store: join(dir, "line.db") }),
  );
  const sim = runCli(["sim-plc", "--config", file, "--accel", "60"]);
  t.after(async () => {
    sim.proc.kill("SIGTERM");
    await sim.exited;
  });
  await waitFor(() => sim.stderr().includes("simulated PLC of sim-line"), 20_000, `sim-plc: ${sim.stderr()}`);
  assert.match(
    sim.stderr(),
    new RegExp(`opc.tcp://127.0.0.1:${opcuaPort}.*modbus-tcp://127.0.0.1:${modbusPort}`),
  );
  const daemon = runCli(["run", "--config", file]);
  t.after(async () => {
    daemon.proc.kill("SIGTERM");
    await daemon.exited;
  });
  type Tags = { tags: { name: string; quality: string; value: number | null }[] };
  const tags = await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${apiPort}/tags`).catch(() => undefined);
      if (res === undefined) return undefined;
      const body = (await res.json()) as Tags;
      return body.tags.every((tg) => tg.quality === "good") && body.tags;
    },
    30_000,
    "every tag good",
  ).catch((e: Error) => {
    throw new Error(
      `${e.message}\ndaemon: ${daemon.stdout().slice(-2000)}\nsim: ${sim.stderr().slice(-1000)}`,
    );
  });
  assert.equal(tags.length, ROLES.length * 2);
  const value = (name: string) => tags.find((tg) => tg.name === name)!.value!;
  for (const press of ["press7", "press8"]) {
    assert.ok(Math.abs(value(`${press}.speed`) - 30) < 1, `${press} speed ${value(`${press}.speed`)}`);
    assert.ok(value(`${press}.process_temperature`) > 150);
    assert.equal(value(`${press}.state`), 1);
    assert.ok(value(`${press}.motor_current`) > 5, "int16 x 0.1 scale over Modbus, Double over OPC UA");
  }
  // What-if through the daemon's API, on the history it has buffered so far.
  const res = await fetch(`http://127.0.0.1:${apiPort}/ai/simulate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ scenario: "speed +15%", horizonH: 4 }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const answer = (await res.json()) as {
    predicted_output: number;
    baseline_output: number;
    machines: number[];
  };
  assert.deepEqual(answer.machines.sort(), [7, 8]);
  assert.ok(answer.predicted_output > answer.baseline_output);
  const bad = await fetch(`http://127.0.0.1:${apiPort}/ai/simulate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ scenario: 15 }),
  });
  assert.equal(bad.status, 400);
});

async function startSim(t: After, dir: string, opts: { rtuPath?: string; faults?: string[] } = {}) {
  const [opcuaPort, modbusPort] = [await freePort(), await freePort()];
  const yaml = lineConfig({
    opcuaPort,
    modbusPort,
    store: join(dir, "line.db"),
    ...(opts.rtuPath ? { rtuPath: opts.rtuPath } : {}),
  });
  const sim = new SimPlc({
    config: parseConfig(yaml, join(dir, "line.yaml")),
    seed: 3,
    faults: (opts.faults ?? []).map(parseFault),
    pkiDir: join(dir, "sim-pki"),
    log: silentLogger(),
  });
  await sim.start();
  t.after(() => sim.stop());
  return { sim, yaml };
}

test("setpoints written over Modbus and OPC UA change the twin; faults show as bad, stuck and spiking values", async (t) => {
  const dir = tempDir(t);
  const { sim, yaml } = await startSim(t, dir, {
    faults: ["dropout:press8.vibration_rms", "stuck:press8.piece_count"],
  });
  const modbusYaml = yaml
    .replace(/\n {2}- \{ id: press7.*\n/, "\n")
    .replace(/ {2}- \{ name: press7\..*\n/g, "");
  const modbus = await startConnector(t, modbusYaml, tempDir(t));
  await waitFor(
    () => modbus.connector.connected && modbus.latest("press8.speed").ts > 0,
    10_000,
    "modbus data",
  );
  await modbus.connector.write("press8.speed_setpoint", 42.5);
  assert.equal(sim.twin.machine(8).speedSetpoint, 42.5, "the Modbus write reached the twin");
  assert.equal(modbus.latest("press8.vibration_rms").status, STATUS.BadSensorFailure, "dropout: a NaN float");
  assert.equal(modbus.latest("press8.speed").status, STATUS.Good, "its neighbours in the same read are fine");
  const stuck = modbus.latest("press8.piece_count").value;
  sim.tick(600);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(modbus.latest("press8.piece_count").value, stuck, "a stuck counter does not move");
  assert.ok(sim.twin.machine(8).pieces > stuck);

  sim.inject(parseFault("dropout:press7.speed"));
  const opcuaYaml = yaml
    .replace(/\n {2}- \{ id: press8.*\n/, "\n")
    .replace(/ {2}- \{ name: press8\..*\n/g, "");
  const opcua = await startConnector(t, opcuaYaml, tempDir(t));
  await waitFor(() => opcua.connector.connected && opcua.latest("press7.state").ts > 0, 20_000, "opcua data");
  await waitFor(() => opcua.latest("press7.speed").status === 0x808d0000, 5_000, "BadSensorFailure");
  await opcua.connector.write("press7.speed_setpoint", 25);
  assert.equal(sim.twin.machine(7).speedSetpoint, 25, "the OPC UA write reached the twin");
  sim.clear("press7.speed");
  await waitFor(() => opcua.latest("press7.speed").status === STATUS.Good, 5_000, "the sensor back");
  // A spike: one tick in fifty reads four times the true value.
  sim.inject(parseFault("spike:press7.process_temperature"));
  const temperatureTag = parseConfig(yaml, "x.yaml").tags.find(
    (tg) => tg.name === "press7.process_temperature",
  )!;
  const readings: number[] = [];
  for (let i = 0; i < 100; i++) {
    sim.tick(0);
    readings.push(sim.value(temperatureTag));
  }
  const normal = Math.min(...readings);
  assert.equal(readings.filter((v) => v > normal * 3).length, 2, "two spikes in 100 ticks");
});

test("sim-plc serves Modbus RTU on a pseudo-terminal, read by the RTU connector", async (t) => {
  const dir = tempDir(t);
  const { a, b } = await startPtyPair(t, dir);
  const { sim } = await startSim(t, dir, { rtuPath: b });
  const rtuYaml = lineConfig({ opcuaPort: 1, modbusPort: 1, store: "x.db", rtuPath: a })
    .replace(/\n {2}- \{ id: press7.*\n/, "\n")
    .replace(/ {2}- \{ name: press7\..*\n/g, "");
  const rtu = await startConnector(t, rtuYaml, tempDir(t));
  await waitFor(() => rtu.connector.connected && rtu.latest("press8.state").ts > 0, 15_000, "RTU data");
  assert.ok(Math.abs(rtu.latest("press8.speed").value - sim.twin.machine(8).speed) < 1);
  await rtu.connector.write("press8.speed_setpoint", 33);
  assert.equal(sim.twin.machine(8).speedSetpoint, 33);
});

test("a generated history is a store the daemon's tools read: simulate --config on a line whose store was generated", async (t) => {
  const dir = tempDir(t);
  const store = join(dir, "hist.db");
  await generateHistory({
    machineIds: [4],
    durationS: 2 * 86_400,
    intervalS: 60,
    seed: 2,
    out: store,
    format: "store",
  });
  const file = writeFile(
    dir,
    "line.yaml",
    `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: gen }
machines: [{ id: 4, name: Press 4 }]
store: { path: hist.db }
`,
  );
  const r = await runCliToEnd([
    "simulate",
    "--config",
    file,
    "--scenario",
    "temperature +15",
    "--horizon",
    "4h",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /scenario: temperature \+15 {2}\(machines 4, 4 h ahead\)/);
  assert.match(r.stdout, /=> /);
});

test("a simulator whose port is taken says which connection and endpoint, not a bare EADDRINUSE", async (t) => {
  const dir = tempDir(t);
  const { createServer } = await import("node:net");
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const port = (blocker.address() as { port: number }).port;
  const yaml = lineConfig({ opcuaPort: port, modbusPort: await freePort(), store: join(dir, "line.db") });
  const sim = new SimPlc({
    config: parseConfig(yaml, join(dir, "line.yaml")),
    pkiDir: join(dir, "pki"),
    log: silentLogger(),
  });
  await assert.rejects(sim.start(), {
    code: "LP_ERR_CONNECTOR",
    message: new RegExp(`simulated PLC cannot serve press7 at opc.tcp://127.0.0.1:${port}: .*EADDRINUSE`),
  });
  await sim.stop();
});
