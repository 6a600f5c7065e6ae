import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import modbusSerial from "modbus-serial";
import { summarize } from "../../../src/cli/commands/status.js";
import type { ModbusConnector } from "../../../src/connectors/modbus/modbusConnector.js";
import { STATUS } from "../../../src/connectors/quality.js";
import { DemoPlc } from "../../../src/twin/demoPlc.js";
import { lineYaml, tempDir, waitFor } from "../../helpers.js";
import { freePort, startPtyPair, startPymodbusTcp } from "../../peers/peers.js";
import { startConnector } from "../harness.js";

type T = TestContext;

function connect(t: { after(fn: () => Promise<void> | void): void }, yaml: string) {
  return startConnector<ModbusConnector>(t, yaml);
}

const pymodbusTags = `  - { name: big_float, machine: 7, connection: plc, intervalMs: 50, modbus: { area: holding, address: 0, dataType: float32 } }
  - { name: swapped_float, machine: 7, connection: plc, intervalMs: 50, modbus: { area: holding, address: 2, dataType: float32, wordOrder: little } }
  - { name: swapped_read_as_big, machine: 7, connection: plc, intervalMs: 50, modbus: { area: holding, address: 2, dataType: float32 } }
  - { name: int32, machine: 7, connection: plc, intervalMs: 50, modbus: { area: holding, address: 4, dataType: int32 } }
  - { name: scaled, machine: 7, connection: plc, intervalMs: 50, scale: 0.1, modbus: { area: holding, address: 6, dataType: uint16 } }
  - { name: pi, machine: 7, connection: plc, intervalMs: 50, modbus: { area: holding, address: 8, dataType: float64 } }
  - { name: setpoint, machine: 7, connection: plc, intervalMs: 50, writable: true, min: 0, max: 100, scale: 0.5, modbus: { area: holding, address: 12, dataType: uint16 } }
  - { name: beyond_map, machine: 7, connection: plc, intervalMs: 50, modbus: { area: holding, address: 100, dataType: uint16 } }`;

async function checkIndependentServer(t: T, yaml: string) {
  const { connector, latest, store, writer } = await connect(t, yaml);
  await waitFor(() => latest("pi").ts > 0 && latest("beyond_map").ts > 0, 10_000, "first poll");
  assert.equal(latest("big_float").value, 1234.5);
  assert.equal(latest("swapped_float").value, -42.25, "word order little decodes a word-swapped float");
  assert.notEqual(
    latest("swapped_read_as_big").value,
    -42.25,
    "the wrong word order gives a visibly wrong value",
  );
  assert.equal(latest("int32").value, -5);
  assert.equal(latest("scaled").value, 70);
  assert.equal(latest("pi").value, Math.PI);
  // An exception response (illegal address) is a bad-quality sample naming the cause and a counted
  // error, not a crash; the connection is degraded while an address is refused.
  assert.equal(latest("beyond_map").status, STATUS.BadNodeIdUnknown);
  assert.ok(Number.isNaN(latest("beyond_map").value));
  const health = connector.health();
  assert.equal(health.state, "degraded");
  assert.ok((health.details.errors as number) > 0);
  assert.match(String(health.details.lastError), /exception 2/);
  // Coalescing: the seven mapped tags (13 registers) are one read; the far one another.
  assert.equal(connector.blocks.length, 2);
  // Write with read-back, in engineering units.
  const result = await connector.write("setpoint", 42.5);
  assert.deepEqual(result, { tag: "setpoint", requested: 42.5, readBack: 42.5, ok: true });
  await waitFor(() => latest("setpoint").value === 42.5, 5_000, "polled setpoint");
  await assert.rejects(connector.write("big_float", 1), /not writable/);
  writer.flush();
  const stored = store.db
    .prepare(
      "SELECT count(*) AS n FROM sensor_data s JOIN tags t ON t.id = s.tag_id WHERE t.name = 'pi' AND s.value = ?",
    )
    .get(Math.PI) as { n: number };
  assert.ok(stored.n > 0, "samples reach the store");
}

test("Modbus TCP against pymodbus: every data type and word order, exceptions as bad quality, write with read-back", async (t) => {
  const peer = await startPymodbusTcp(t);
  await checkIndependentServer(t, lineYaml({ storePath: "x.db", plcPort: peer.port, tags: pymodbusTags }));
});

test("Modbus RTU over a socat pseudo-terminal pair against pymodbus", async (t) => {
  const dir = tempDir(t);
  const { a, b } = await startPtyPair(t, dir);
  const { spawn } = await import("node:child_process");
  const server = spawn("/usr/bin/python3", [join(process.cwd(), "test/peers/pymodbus_server.py"), "rtu", b], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
  });
  server.stderr.on("data", (d) => {
    out += d;
  });
  t.after(async () => {
    server.kill("SIGKILL");
    await new Promise((r) => server.once("exit", r));
  });
  await waitFor(() => out.includes("ready"), 15_000, `pymodbus RTU: ${out}`);
  const yaml = lineYaml({ storePath: "x.db", tags: pymodbusTags }).replace(
    /connections:\n.*\n/,
    `connections:\n  - { id: plc, protocol: modbus-rtu, path: ${JSON.stringify(a)}, baudRate: 19200, parity: none, timeoutMs: 500, backoff: { initialMs: 50, maxMs: 500, jitter: 0.1 } }\n`,
  );
  await checkIndependentServer(t, yaml);
});

test("an unreachable PLC at start is retried with backoff; data flows once it appears, and resumes after a restart", async (t) => {
  const port = await freePort();
  const { connector, latest, store } = await connect(t, lineYaml({ storePath: "x.db", plcPort: port }));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(connector.connected, false);
  assert.ok((connector.health().details.errors as number) >= 1, "failed connects are counted");
  const plc = new DemoPlc({ port });
  await plc.start();
  await waitFor(() => connector.connected && latest("press7.speed").value === 30, 10_000, "first data");
  // Server restart mid-stream.
  await plc.stop();
  await waitFor(() => !connector.connected, 10_000, "disconnect noticed");
  assert.equal(latest("press7.speed").status, STATUS.BadNotConnected, "the gap is visible as bad quality");
  const plc2 = new DemoPlc({ port });
  await plc2.start();
  t.after(() => plc2.stop());
  const since = Date.now();
  await waitFor(
    () => connector.connected && latest("press7.speed").ts > since && latest("press7.speed").status === 0,
    10_000,
    "data resumes",
  );
  const events = store.db
    .prepare("SELECT kind FROM machine_events WHERE kind LIKE 'connection%' ORDER BY id")
    .all() as { kind: string }[];
  assert.deepEqual([...new Set(events.map((e) => e.kind))], ["connection_lost", "connection_restored"]);
});

/** A modbus-serial TCP server on a free port whose input registers answer through `read`; its port. */
async function inputRegisterServer(
  t: TestContext,
  read: (addr: number, unitID: number, cb: (err: unknown, v?: number) => void) => void,
): Promise<number> {
  const server = new modbusSerial.ServerTCP({ getInputRegister: read } as never, {
    host: "127.0.0.1",
    port: "0" as unknown as number,
    unitID: 255,
  });
  await new Promise<void>((r) => server.on("initialized", () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of server.socks.keys()) s.destroy();
        server.close(() => r());
      }),
  );
  return (server as unknown as { _server: { address(): { port: number } } })._server.address().port;
}

test("a dead unit costs only its own timeout: the other units keep their poll rate", async (t) => {
  // A modbus-serial server whose unit 3 never answers (a unit switched off on a gateway).
  let unit1Reads = 0;
  let unit3Reads = 0;
  const port = await inputRegisterServer(t, (addr, unitID, cb) => {
    if (unitID === 3) {
      unit3Reads++;
      return; // never answers
    }
    unit1Reads++;
    cb(null, addr + 1);
  });
  const tags = `  - { name: alive, machine: 7, connection: plc, intervalMs: 50, modbus: { unitId: 1, area: input, address: 0 } }
  - { name: dead, machine: 8, connection: plc, intervalMs: 50, modbus: { unitId: 3, area: input, address: 0 } }`;
  const yaml = lineYaml({ storePath: "x.db", plcPort: port, tags }).replace(
    "timeoutMs: 500",
    "timeoutMs: 200, deadUnitBackoffMs: 5000",
  );
  const { latest, connector } = await connect(t, yaml);
  await waitFor(() => latest("dead").ts > 0, 5_000, "the dead unit's timeout");
  assert.equal(latest("dead").status, STATUS.BadTimeout);
  const before = unit1Reads;
  await new Promise((r) => setTimeout(r, 1_000));
  const perSecond = unit1Reads - before;
  // 50 ms interval: about 20 reads/s. Without skipping, each 200 ms timeout of unit 3 would cut that to under 5.
  assert.ok(perSecond >= 12, `unit 1 polled ${perSecond} times in 1 s`);
  assert.ok(unit3Reads <= 3, `the dead unit was asked ${unit3Reads} times, it should be backed off`);
  assert.equal(latest("alive").value, 1);
  const units = connector.health().details.units as Record<string, { dead: boolean; timeouts: number }>;
  assert.equal(units["3"]!.dead, true);
  assert.equal(units["1"]!.dead, false);
  assert.equal(connector.health().state, "degraded", "a dead unit is not ok");
  assert.match(summarize("modbus:plc", connector.health().details), /unit 3 DEAD \(\d+ timeouts\)/);
});

test("a device without some registers inside a coalesced read: the read is split until only the missing tag is Bad (BadNodeIdUnknown), and that address is backed off", async (t) => {
  // Registers 48 and 53 exist; 50 does not (exception 2, IllegalDataAddress), nor does 70.
  const asked = new Map<number, number>();
  const port = await inputRegisterServer(t, (addr, _unit, cb) => {
    asked.set(addr, (asked.get(addr) ?? 0) + 1);
    if (addr === 50 || addr === 70) return cb({ modbusErrorCode: 2, msg: "no such register" });
    cb(null, addr * 10);
  });
  const tags = [48, 50, 53, 70]
    .map(
      (a) =>
        `  - { name: r${a}, machine: 7, connection: plc, intervalMs: 50, modbus: { area: input, address: ${a} } }`,
    )
    .join("\n");
  const { latest, connector } = await connect(t, lineYaml({ storePath: "x.db", plcPort: port, tags }));
  await waitFor(
    () => latest("r48").status === STATUS.Good && latest("r53").status === STATUS.Good,
    5_000,
    "48 and 53 read",
  );
  assert.equal(latest("r48").value, 480);
  assert.equal(latest("r53").value, 530);
  assert.equal(latest("r50").status, STATUS.BadNodeIdUnknown, "the missing register, named as such");
  assert.equal(latest("r70").status, STATUS.BadNodeIdUnknown);
  const before = asked.get(50)!;
  const goodBefore = asked.get(48)!;
  await new Promise((r) => setTimeout(r, 1_000));
  assert.ok(asked.get(48)! - goodBefore >= 10, "the registers that exist keep their rate");
  assert.ok(
    asked.get(50)! - before <= 1,
    `a refused address is backed off, asked ${asked.get(50)! - before} times in 1 s`,
  );
  const health = connector.health();
  assert.equal(health.state, "degraded");
  const refused = health.details.refusedAddresses as { address: number; tags: string[]; since: string }[];
  assert.deepEqual(refused.flatMap((r) => r.tags).sort(), ["r50", "r70"]);
  assert.ok(refused.every((r) => !Number.isNaN(Date.parse(r.since))));
  // `linepilot status` says what and since when, not "running (ok)".
  const line = summarize("modbus:plc", health.details);
  assert.match(line, /unit 1 input 50 REFUSED since \S+Z \(r50\)/);
  assert.match(line, /unit 1 input 70 REFUSED since/);
  assert.match(line, /error x\d+ since \S+: unit 1 input/);
});
