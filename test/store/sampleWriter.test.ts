import assert from "node:assert/strict";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import Database from "better-sqlite3";
import { createLogger, silentLogger } from "../../src/common/logger.js";
import { SampleWriter } from "../../src/store/sampleWriter.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers.js";

async function setup(t: { after(fn: () => void): void }, opts: { batchSize: number; deadband?: number }) {
  const path = join(tempDir(t), "line.db");
  const store = new Store({ path, synchronous: "NORMAL" }, silentLogger());
  store.open();
  const rows = store.syncTags([
    { name: "a", machine: 1, unit: "" },
    { name: "b", machine: 1, unit: "" },
  ]);
  const tags = ["a", "b"].map((name) => ({
    id: rows.get(name)!.id,
    name,
    machineId: 1,
    deadband: opts.deadband ?? 0,
  }));
  const writer = new SampleWriter(
    store,
    tags,
    { batchSize: opts.batchSize, flushIntervalMs: 60_000 },
    silentLogger(),
  );
  await writer.start();
  t.after(() => store.close());
  const count = () => (store.db.prepare("SELECT count(*) AS n FROM sensor_data").get() as { n: number }).n;
  return { store, writer, count, path };
}

test("samples are committed one batch per transaction, not one per sample", async (t) => {
  const { writer, count } = await setup(t, { batchSize: 100 });
  let accepted = 0;
  for (let i = 0; i < 99; i++) writer.accept(i % 2, 1_000 + i, i, 0);
  assert.equal(count(), 0, "nothing is committed before the batch is full");
  assert.equal(writer.pending, 99);
  writer.accept(1, 2_000, 1, 0);
  assert.equal(count(), 100, "the full batch is committed at once");
  assert.equal(writer.pending, 0);
  for (let i = 0; i < 250; i++) if (writer.accept(0, 3_000 + i, i, 0)) accepted++;
  assert.equal(accepted, 250);
  assert.equal(count(), 300);
  await writer.stop();
  assert.equal(count(), 350, "stop() commits the partial batch");
  assert.equal(writer.committed, 350);
  assert.equal(writer.accepted, 350);
});

test("a bad reading is kept as bad with no value; good values keep their value and time", async (t) => {
  const { store, writer } = await setup(t, { batchSize: 10 });
  writer.accept(0, 5_000, 42.5, 0);
  writer.accept(1, 5_001, Number.NaN, 0x800a0000);
  await writer.stop();
  const rows = store.db
    .prepare(
      "SELECT t.name, s.ts, s.value, s.status FROM sensor_data s JOIN tags t ON t.id = s.tag_id ORDER BY s.id",
    )
    .all();
  assert.deepEqual(rows, [
    { name: "a", ts: 5_000, value: 42.5, status: 0 },
    { name: "b", ts: 5_001, value: null, status: 0x800a0000 },
  ]);
  assert.equal(writer.latestStatus[1], 0x800a0000);
});

test("the deadband stores only changes at least that large, but always a change of quality", async (t) => {
  const { writer, count } = await setup(t, { batchSize: 1_000, deadband: 0.5 });
  for (const v of [10, 10.2, 10.4, 10.6, 10.7, 11.2]) writer.accept(0, Date.now(), v, 0);
  writer.accept(0, Date.now(), Number.NaN, 0x80050000);
  await writer.stop();
  assert.equal(count(), 4); // 10, 10.6, 11.2, and the bad reading
  assert.equal(writer.suppressedByDeadband, 3);
  assert.equal(writer.latestValue[0], Number.NaN);
});

test("when SQLite cannot commit, samples are kept and retried; a full buffer refuses and counts, never loses silently", async (t) => {
  const { store, writer, count, path } = await setup(t, { batchSize: 64 });
  store.db.pragma("busy_timeout = 0"); // fail fast instead of waiting 5 s for the lock
  const blocker = new Database(path);
  blocker.exec("BEGIN IMMEDIATE"); // another writer holds the write lock
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 200; i++) {
    if (writer.accept(0, i, i, 0)) accepted++;
    else refused++;
  }
  // The buffer holds 2 * batchSize samples; the rest are refused and counted.
  assert.equal(accepted, 128);
  assert.equal(refused, 72);
  assert.equal(writer.dropped, 72);
  assert.ok(writer.flushErrors > 0);
  assert.equal(writer.health().state, "degraded");
  assert.equal(count(), 0);
  blocker.exec("ROLLBACK");
  blocker.close();
  await writer.stop();
  assert.equal(count(), 128, "every accepted sample is committed once the lock is free");
});

test("a full disk: one log line per distinct error, not one per batch; status says why; the error clears after recovery", async (t) => {
  const { store, writer, count } = await setup(t, { batchSize: 64 });
  const lines: { msg: string; err?: string; failedCommits?: number }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).trim().split("\n")) lines.push(JSON.parse(l));
      done();
    },
  });
  const logged = new SampleWriter(
    store,
    writer.tags,
    { batchSize: 64, flushIntervalMs: 60_000 },
    createLogger("info", sink),
  );
  await logged.start();
  await writer.stop();
  // SQLite's own "disk full": the file may not grow past its current size.
  const pages = store.db.pragma("page_count", { simple: true }) as number;
  store.db.pragma(`max_page_count = ${pages}`);
  for (let i = 0; i < 20_000; i++) logged.accept(i % 2, i, i * 1.5, 0);
  await new Promise((r) => setImmediate(r));
  const failures = lines.filter((l) => /could not be committed/.test(l.msg));
  assert.equal(failures.length, 1, `${failures.length} error lines for ${logged.flushErrors} failed commits`);
  assert.match(failures[0]!.err!, /full/);
  const health = logged.health();
  assert.equal(health.state, "degraded");
  assert.match(String(health.details.lastError), /full/);
  assert.ok(health.details.failingSince !== null);
  assert.ok(logged.dropped > 0, "a full buffer refuses, and counts");
  store.db.pragma("max_page_count = 1073741823");
  await logged.stop();
  assert.equal(logged.committed, logged.accepted, "every accepted sample is committed once there is room");
  assert.equal(count(), logged.committed);
  assert.equal(
    logged.accepted + logged.dropped,
    20_000,
    "each sample either committed or counted as refused",
  );
  assert.ok(lines.some((l) => /commits work again/.test(l.msg)));
  assert.equal(logged.health().details.lastError, null);
});
