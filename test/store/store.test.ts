import assert from "node:assert/strict";
import { chmodSync, closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { silentLogger } from "../../src/common/logger.js";
import { SCHEMA_VERSION } from "../../src/store/migrations.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers.js";

function openStore(path: string) {
  const store = new Store({ path, synchronous: "NORMAL" }, silentLogger());
  store.open();
  return store;
}

test("a new store gets every table of the spec at the current schema version, in WAL mode", (t) => {
  const path = join(tempDir(t), "sub", "line.db");
  const store = openStore(path);
  t.after(() => store.close());
  assert.equal(store.schemaVersion(), SCHEMA_VERSION);
  const tables = (
    store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  ).map((r) => r.name);
  for (const name of [
    "sensor_data",
    "machine_events",
    "maintenance_records",
    "production_goals",
    "alerts",
    "predictions",
    "ai_models",
    "ai_decisions_audit",
    "outbox",
  ]) {
    assert.ok(tables.includes(name), `missing table ${name}`);
  }
  assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
  assert.equal(store.db.pragma("auto_vacuum", { simple: true }), 2, "incremental auto_vacuum");
});

test("reopening migrates nothing twice and keeps data; a store from a newer linepilot is refused", (t) => {
  const path = join(tempDir(t), "line.db");
  const a = openStore(path);
  a.syncTags([{ name: "x", machine: 1, unit: "" }]);
  a.close();
  const b = openStore(path);
  assert.equal(b.syncTags([]).get("x")?.machineId, 1);
  b.close();
  const raw = new Database(path);
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(
    () => openStore(path),
    (e: Error & { code?: string }) => e.code === "LP_ERR_STORE" && /newer linepilot/.test(e.message),
  );
});

test("the audit log is append-only and every decision also goes to the outbox in the same transaction", (t) => {
  const store = openStore(join(tempDir(t), "line.db"));
  t.after(() => store.close());
  const id = store.recordDecision({
    kind: "suggestion",
    actor: "optimizer",
    decision: "suggested",
    machineId: 7,
    details: { speed: 33 },
  });
  assert.throws(
    () => store.db.prepare("UPDATE ai_decisions_audit SET decision = 'x' WHERE id = ?").run(id),
    /append-only/,
  );
  assert.throws(() => store.db.prepare("DELETE FROM ai_decisions_audit WHERE id = ?").run(id), /append-only/);
  const outbox = store.db.prepare("SELECT class, payload FROM outbox").all() as {
    class: string;
    payload: string;
  }[];
  assert.equal(outbox.length, 1);
  assert.equal(outbox[0]!.class, "audit");
  const payload = JSON.parse(outbox[0]!.payload);
  assert.equal(payload.auditId, id);
  assert.equal(payload.machineId, 7);
  assert.match(payload.messageId, /^[0-9a-f-]{36}$/);
});

test("the database allows exactly one active model per name", (t) => {
  const store = openStore(join(tempDir(t), "line.db"));
  t.after(() => store.close());
  const insert = store.db.prepare(
    "INSERT INTO ai_models (name, version, type, path, sha256, status, created_at) VALUES (?, ?, 'random_forest', 'm.onnx', ?, ?, 0)",
  );
  const sha = "a".repeat(64);
  insert.run("pm", "1", sha, "active");
  insert.run("pm", "2", sha, "fallback");
  insert.run("other", "1", sha, "active");
  assert.throws(() => insert.run("pm", "3", sha, "active"), /UNIQUE constraint failed/);
});

test("a store's folder is 0750 and its file 0640 whatever the umask; where a store cannot be, the start fails at once with the path", (t) => {
  const dir = tempDir(t);
  const old = process.umask(0);
  try {
    const store = openStore(join(dir, "a", "b", "line.db"));
    store.close();
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(join(dir, "a")).mode & 0o777, 0o750);
  assert.equal(statSync(join(dir, "a", "b")).mode & 0o777, 0o750);
  assert.equal(statSync(join(dir, "a", "b", "line.db")).mode & 0o777, 0o640);
  const refused = (path: string, pattern: RegExp) =>
    assert.throws(
      () => openStore(path),
      (e: Error & { code?: string }) =>
        e.code === "LP_ERR_STORE" && pattern.test(e.message) && e.message.includes(path),
    );
  // A recursive mkdir under /proc used to spin forever.
  refused("/proc/linepilot/line.db", /kernel file system/);
  writeFileSync(join(dir, "plain"), "x");
  refused(join(dir, "plain", "line.db"), /is a file, not a folder/);
});

test("an existing file is checked before anything migrates it: another program's database and a damaged store are refused, and left as they are", (t) => {
  const dir = tempDir(t);
  const foreign = join(dir, "crm.db");
  const raw = new Database(foreign);
  raw.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
  raw.close();
  const before = readFileSync(foreign);
  assert.throws(
    () => openStore(foreign),
    (e: Error & { code?: string }) =>
      e.code === "LP_ERR_STORE" && /another program's SQLite database \(tables customers\)/.test(e.message),
  );
  assert.deepEqual(readFileSync(foreign), before, "not migrated");

  const damaged = join(dir, "line.db");
  const store = openStore(damaged);
  const tags = store.syncTags([{ name: "t", machine: 1, unit: "" }]);
  const insert = store.db.prepare("INSERT INTO sensor_data (tag_id, ts, value, status) VALUES (?, ?, ?, 0)");
  store.db.transaction(() => {
    for (let i = 0; i < 20_000; i++) insert.run(tags.get("t")!.id, i, i);
  })();
  const pageSize = store.db.pragma("page_size", { simple: true }) as number;
  store.close();
  // Overwrite pages in the middle of the file, as a failing disk would.
  const fd = openSync(damaged, "r+");
  writeSync(fd, Buffer.alloc(pageSize * 4, 0xa5), 0, pageSize * 4, pageSize * 40);
  closeSync(fd);
  assert.throws(
    () => openStore(damaged),
    (e: Error & { code?: string }) =>
      e.code === "LP_ERR_STORE" && e.message.includes(damaged) && /damaged|malformed/.test(e.message),
  );
});

test("a store file this user cannot write is refused at start, naming the file", {
  skip: process.getuid?.() === 0 ? "root writes any file" : false,
}, (t) => {
  const path = join(tempDir(t), "line.db");
  openStore(path).close();
  chmodSync(path, 0o440);
  assert.throws(
    () => openStore(path),
    (e: Error & { code?: string }) => e.code === "LP_ERR_STORE" && /read-only for this user/.test(e.message),
  );
});
