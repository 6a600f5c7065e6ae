import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { isDown, MachineEventDeriver, runningStates } from "../../src/connectors/machineEvents.js";
import { STATUS } from "../../src/connectors/quality.js";
import { SampleWriter } from "../../src/store/sampleWriter.js";
import { Store } from "../../src/store/store.js";
import { lineYaml, tempDir } from "../helpers.js";

test("state enumerations and alarm bit masks become machine_events; bad readings never do", async (t) => {
  const dir = tempDir(t);
  const tags = `  - name: press7.state
    machine: 7
    connection: plc
    modbus: { area: input, address: 0 }
    events: { type: enum, states: { "0": stop, "1": running, "3": fault } }
  - name: press7.alarms
    machine: 7
    connection: plc
    modbus: { area: input, address: 1 }
    events: { type: bits, bits: { "0": motor over-temperature, "2": lubrication low } }`;
  const cfg = parseConfig(lineYaml({ storePath: join(dir, "line.db"), tags }), join(dir, "line.yaml"));
  const store = new Store(cfg.store, silentLogger());
  store.open();
  t.after(() => store.close());
  const rows = store.syncTags(cfg.tags);
  const writer = new SampleWriter(
    store,
    cfg.tags.map((tg) => ({ id: rows.get(tg.name)!.id, name: tg.name, machineId: 7, deadband: 0 })),
    cfg.store,
    silentLogger(),
  );
  await writer.start();
  const deriver = new MachineEventDeriver(store, writer, cfg.tags, silentLogger());
  await deriver.start();
  t.after(() => deriver.stop());
  const [state, alarms] = [0, 1];
  for (const [ts, v] of [
    [1, 1],
    [2, 1],
    [3, 3],
    [4, 2],
    [5, 0],
  ] as const)
    writer.accept(state, ts, v, STATUS.Good);
  writer.accept(state, 6, Number.NaN, STATUS.BadTimeout); // a read error is not a stop
  for (const [ts, v] of [
    [10, 0b001],
    [11, 0b101],
    [12, 0b100],
    [13, 0b010],
  ] as const)
    writer.accept(alarms, ts, v, STATUS.Good);
  assert.deepEqual(deriver.health().details, { tags: 2, derived: 7, failed: 0 });
  // Stopped, it leaves the writer alone: its listener is removed, so later samples derive nothing.
  await deriver.stop();
  writer.accept(state, 20, 3, STATUS.Good);
  await writer.stop();
  const events = store.db.prepare("SELECT ts, kind, code, message FROM machine_events ORDER BY id").all();
  assert.deepEqual(events, [
    { ts: 1, kind: "running", code: 1, message: "press7.state = 1" },
    { ts: 3, kind: "fault", code: 3, message: "press7.state = 3" },
    { ts: 5, kind: "stop", code: 0, message: "press7.state = 0" },
    { ts: 10, kind: "alarm", code: 0, message: "motor over-temperature" },
    { ts: 11, kind: "alarm", code: 2, message: "lubrication low" },
    { ts: 12, kind: "alarm_cleared", code: 0, message: "motor over-temperature" },
    { ts: 13, kind: "alarm_cleared", code: 2, message: "lubrication low" },
  ]);
});

test("a machine is down by its own line's encoding: the values its state enumeration names running", () => {
  const config = parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: enc-line }
machines: [{ id: 1, name: P1 }, { id: 2, name: P2 }, { id: 3, name: P3 }]
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1, port: 1 }]
tags:
  - { name: m1.state, machine: 1, role: state, connection: plc, modbus: { area: input, address: 0 }, events: { type: enum, states: { "1": idle, "2": running, "4": fault } } }
  - { name: m2.state, machine: 2, role: state, connection: plc, modbus: { area: input, address: 1 } }
store: { path: /tmp/unused.db }
`,
    "/tmp/enc-line.yaml",
  );
  const running = runningStates(config.tags);
  assert.equal(isDown(running, 1, 2), false, "2 is this PLC's running");
  assert.equal(isDown(running, 1, 1), true, "1 is idle here, not running");
  assert.equal(isDown(running, 1, 4), true);
  assert.equal(isDown(running, 1, Number.NaN), false, "no good reading says nothing");
  assert.equal(isDown(running, 2, 0), false, "a state tag without an enumeration never says down");
  // No configured state tag (a generated history's m3.state): the twin's encoding, 1 = running.
  assert.equal(isDown(running, 3, 1), false);
  assert.equal(isDown(running, 3, 3), true);
  assert.equal(isDown(undefined, 1, 3), true);
});
