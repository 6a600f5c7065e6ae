import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { liveValue } from "../../src/api/tagsRoute.js";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { stalenessLimits, usableValue } from "../../src/connectors/quality.js";
import { SampleWriter } from "../../src/store/sampleWriter.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers.js";

test("one rule for a usable current value: never read, Bad, NaN or a polled value gone stale are not usable; an OPC UA value holds while unchanged", async (t) => {
  const dir = tempDir(t);
  const cfg = parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: q-line }
machines: [{ id: 7, name: Press 7 }]
connections:
  - { id: rack, protocol: modbus-tcp, host: 127.0.0.1, timeoutMs: 500 }
  - { id: plc, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840" }
tags:
  - { name: speed_sp, machine: 7, connection: rack, intervalMs: 1000, modbus: { area: holding, address: 0, dataType: float32 } }
  - { name: temp_sp, machine: 7, connection: plc, nodeId: "ns=1;s=T", intervalMs: 1000 }
store: { path: ${JSON.stringify(join(dir, "q.db"))} }
`,
    join(dir, "q.yaml"),
  );
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const rows = store.syncTags(cfg.tags);
  const writer = new SampleWriter(
    store,
    cfg.tags.map((x) => ({ id: rows.get(x.name)!.id, name: x.name, machineId: 7, deadband: 0 })),
    cfg.store,
    silentLogger(),
  );
  await writer.start();
  t.after(async () => {
    await writer.stop();
    store.close();
  });
  const limits = stalenessLimits(cfg);
  assert.deepEqual(Array.from(limits), [3 * 1000 + 500, Number.POSITIVE_INFINITY]);
  const t0 = 1_800_000_000_000;
  assert.ok(
    Number.isNaN(usableValue(writer, 0, t0, limits[0]!)),
    "never read is not Good (status 0 used to say so)",
  );
  writer.accept(0, t0, 30, 0);
  writer.accept(1, t0, 180, 0);
  assert.equal(usableValue(writer, 0, t0 + 1_000, limits[0]!), 30);
  assert.ok(
    Number.isNaN(usableValue(writer, 0, t0 + 4_000, limits[0]!)),
    "a polled value not refreshed in three intervals is stale",
  );
  assert.equal(usableValue(writer, 1, t0 + 3_600_000, limits[1]!), 180, "OPC UA reports changes only");
  assert.equal(liveValue(cfg.tags[0]!, 0, writer, t0 + 4_000, limits[0]).quality, "stale");
  assert.equal(liveValue(cfg.tags[0]!, 0, writer, t0 + 1_000, limits[0]).quality, "good");
  writer.accept(0, t0 + 5_000, Number.NaN, 0);
  assert.ok(Number.isNaN(usableValue(writer, 0, t0 + 5_000, limits[0]!)), "NaN");
  writer.accept(0, t0 + 6_000, 31, 0x808b0000);
  assert.ok(Number.isNaN(usableValue(writer, 0, t0 + 6_000, limits[0]!)), "Bad");
});
