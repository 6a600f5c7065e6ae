import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { liveStateReader, unmodelledMachines } from "../../src/optimizer/liveState.js";
import { Optimizer, tunedTags } from "../../src/optimizer/optimizer.js";
import { SafetyEnvelope } from "../../src/optimizer/safetyEnvelope.js";
import { NO_SAFETY_SIGNALS } from "../../src/optimizer/safetyMonitor.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers.js";

test("a machine whose output, scrap and energy the process model cannot see gets no suggestion, and its last decision says why", async (t) => {
  const cfg = parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: utilities, name: mixed }
machines: [{ id: 1, name: Pump 1, kind: pump }, { id: 2, name: Press 2, kind: press }]
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1 }]
tags:
  - { name: pump1.speed_setpoint, machine: 1, role: speed_setpoint, writable: true, min: 10, max: 50, connection: plc, modbus: { area: holding, address: 0 } }
  - { name: pump1.speed, machine: 1, role: speed, connection: plc, modbus: { area: input, address: 2 } }
  - { name: pump1.flow, machine: 1, role: flow, connection: plc, modbus: { area: input, address: 0 } }
  - { name: press2.speed_setpoint, machine: 2, role: speed_setpoint, writable: true, min: 10, max: 50, connection: plc, modbus: { area: holding, address: 10 } }
  - { name: press2.speed, machine: 2, role: speed, connection: plc, modbus: { area: input, address: 20 } }
  - { name: press2.pieces, machine: 2, role: piece_count, connection: plc, modbus: { area: input, address: 10 } }
  - { name: press2.scrap, machine: 2, role: scrap_count, connection: plc, modbus: { area: input, address: 12 } }
  - { name: press2.energy, machine: 2, role: energy_kwh, connection: plc, modbus: { area: input, address: 14 } }
store: { path: /tmp/mixed.db }
optimizer: {}
`,
    "/tmp/mixed.yaml",
  );
  const tuned = tunedTags(cfg, cfg.optimizer!);
  assert.deepEqual([...tuned.keys()], [1, 2]);
  assert.deepEqual(
    [...unmodelledMachines(cfg, tuned)],
    [
      [
        1,
        "not modelled: no piece_count or good_count, no scrap_count, no energy_kwh tag, so the effect of a change cannot be computed",
      ],
    ],
  );
  const store = new Store({ path: join(tempDir(t), "mixed.db"), synchronous: "NORMAL" }, silentLogger());
  store.open();
  t.after(() => store.close());
  const envelope = new SafetyEnvelope(cfg.safety, {
    store,
    log: silentLogger(),
    tags: cfg.tags,
    safety: NO_SAFETY_SIGNALS,
    connectorOf: () => undefined,
    current: () => Number.NaN,
  });
  // The live values as the sample writer holds them: nothing read yet.
  const n = cfg.tags.length;
  const live = {
    latestValue: new Float64Array(n),
    latestStatus: new Uint32Array(n),
    latestTs: new Float64Array(n),
  };
  const optimizer = new Optimizer(cfg.optimizer!, {
    store,
    log: silentLogger(),
    line: cfg,
    envelope,
    readState: liveStateReader(cfg, live, store, tuned),
  });
  assert.deepEqual(await optimizer.decideOnce(), []);
  assert.match(optimizer.lastDecision[1]!, /^not modelled: no piece_count or good_count/);
  assert.match(
    optimizer.lastDecision[2]!,
    /no good current value/,
    "the press is modelled; it waits for values",
  );
});
