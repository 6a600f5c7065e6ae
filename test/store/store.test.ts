import assert from "node:assert/strict";
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
