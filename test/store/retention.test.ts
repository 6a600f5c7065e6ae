import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { Retention } from "../../src/store/retention.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers.js";

const DAY = 86_400_000;

function fill(store: Store, rows: number, tsOf: (i: number) => number) {
  const tagId = store.syncTags([{ name: "t", machine: 1, unit: "" }]).get("t")!.id;
  const insert = store.db.prepare("INSERT INTO sensor_data (tag_id, ts, value, status) VALUES (?, ?, ?, 0)");
  store.db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(tagId, tsOf(i), Math.random());
  })();
}

function keepers(store: Store) {
  store.db
    .prepare(
      "INSERT INTO alerts (machine_id, kind, severity, state, opened_at, updated_at) VALUES (1, 'risk', 'HIGH', 'open', 0, 0)",
    )
    .run();
  store.recordDecision({ kind: "write", actor: "optimizer", decision: "written" });
  store.enqueueOutbox("telemetry", "telemetry", { version: 1 });
}

test("retention deletes telemetry older than maxAgeDays and nothing else", async (t) => {
  const store = new Store({ path: join(tempDir(t), "line.db"), synchronous: "NORMAL" }, silentLogger());
  store.open();
  t.after(() => store.close());
  const now = 100 * DAY;
  fill(store, 5_000, (i) => now - (i < 3_000 ? 40 * DAY : DAY) + i);
  keepers(store);
  // The hourly rollup goes by its own, longer limit: 45 days old stays, 61 days old goes.
  const hour = store.db.prepare(
    "INSERT INTO sensor_hourly (tag_id, hour, min, max, sum, count) VALUES (1, ?, 1, 1, 1, 1)",
  );
  hour.run(now - 45 * DAY);
  hour.run(now - 61 * DAY);
  const retention = new Retention(
    store,
    { maxAgeDays: 30, maxSizeMb: 1_000, checkIntervalMs: 60_000, deleteChunkRows: 500, hourlyMaxAgeDays: 60 },
    silentLogger(),
    () => now,
  );
  const result = await retention.runOnce();
  assert.equal(result.deletedByAge, 3_000);
  assert.equal((store.db.prepare("SELECT count(*) AS n FROM sensor_data").get() as { n: number }).n, 2_000);
  assert.equal(
    (store.db.prepare("SELECT min(ts) AS m FROM sensor_data").get() as { m: number }).m >= now - 30 * DAY,
    true,
  );
  for (const table of ["alerts", "ai_decisions_audit"]) {
    assert.equal((store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n, 1, table);
  }
  assert.equal((store.db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number }).n, 2);
  assert.deepEqual(
    store.db.prepare("SELECT hour FROM sensor_hourly").all(),
    [{ hour: now - 45 * DAY }],
    "hourly trends outlive raw samples, up to hourlyMaxAgeDays",
  );
});

test("over the size cap, the oldest telemetry goes first until the store fits; alerts, audit and outbox stay", async (t) => {
  const store = new Store({ path: join(tempDir(t), "line.db"), synchronous: "NORMAL" }, silentLogger());
  store.open();
  t.after(() => store.close());
  fill(store, 200_000, (i) => 1_000_000 + i);
  keepers(store);
  const before = store.sizes().usedBytes;
  assert.ok(before > 4 * 1024 * 1024, `test data should exceed the cap (${before})`);
  const retention = new Retention(
    store,
    {
      maxAgeDays: 3650,
      maxSizeMb: 2,
      checkIntervalMs: 60_000,
      deleteChunkRows: 5_000,
      hourlyMaxAgeDays: 730,
    },
    silentLogger(),
    () => 2_000_000,
  );
  const result = await retention.runOnce();
  assert.ok(result.deletedBySize > 0);
  assert.ok(store.sizes().usedBytes <= 2 * 1024 * 1024);
  const { n, m } = store.db.prepare("SELECT count(*) AS n, min(ts) AS m FROM sensor_data").get() as {
    n: number;
    m: number;
  };
  assert.equal(n, 200_000 - result.deletedBySize);
  assert.equal(m, 1_000_000 + result.deletedBySize, "the survivors are the newest rows");
  assert.equal((store.db.prepare("SELECT count(*) AS n FROM alerts").get() as { n: number }).n, 1);
  assert.equal(
    (store.db.prepare("SELECT count(*) AS n FROM ai_decisions_audit").get() as { n: number }).n,
    1,
  );
  assert.equal((store.db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number }).n, 2);
});
