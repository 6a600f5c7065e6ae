/** Plant commands that are too big, too deep or carry an oversized id: answered and audited, bounded. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Store } from "../../src/store/store.js";
import { PlantCommands } from "../../src/sync/commands.js";
import { lineYaml, tempDir } from "../helpers.js";

function setup(t: { after(fn: () => void): void }) {
  const dir = tempDir(t);
  const cfg = parseConfig(
    lineYaml({
      storePath: join(dir, "line.db"),
      extra: `sync: { url: "mqtt://127.0.0.1:1", commands: { allow: { ack_alert: [scada] } } }\n`,
    }),
    join(dir, "line.yaml"),
  );
  const store = new Store(cfg.store, silentLogger());
  store.open();
  t.after(() => store.close());
  const commands = new PlantCommands(store, cfg.sync!, new Set(cfg.machines.map((m) => m.id)));
  const last = () => {
    const reply = store.db
      .prepare("SELECT payload FROM outbox WHERE topic = 'replies' ORDER BY id DESC LIMIT 1")
      .get() as { payload: string } | undefined;
    const audit = store.db
      .prepare(
        "SELECT reason, details FROM ai_decisions_audit WHERE kind = 'plant_command' ORDER BY id DESC LIMIT 1",
      )
      .get() as { reason: string; details: string } | undefined;
    return { reply: reply?.payload ?? "", audit: audit === undefined ? "" : audit.reason + audit.details };
  };
  return { commands, last };
}

test("a 1 MB command id is not echoed: the reply and the audit stay small, and say why", (t) => {
  const { commands, last } = setup(t);
  const outcome = commands.handle(
    Buffer.from(
      JSON.stringify({
        version: 1,
        id: "x".repeat(60_000),
        sender: "scada",
        command: "ack_alert",
        args: { alertId: 1 },
      }),
    ),
  );
  assert.equal(outcome.ok, false);
  assert.equal(outcome.commandId, null);
  const { reply, audit } = last();
  assert.ok(reply.length < 2_000 && audit.length < 3_000, `reply ${reply.length} B, audit ${audit.length} B`);
  assert.match(reply, /"commandId":null/);
  assert.match(reply, /at most 100 characters|too big|too long/i);
  const huge = commands.handle(Buffer.from(JSON.stringify({ version: 1, id: "y".repeat(1_000_000) })));
  assert.equal(huge.ok, false);
  assert.match(last().reply, /a command is at most 65536 bytes/);
  assert.ok(last().audit.length < 3_000);
});

test("a command nested 30,000 deep is answered and audited, not a stack overflow", (t) => {
  const { commands, last } = setup(t);
  // Valid JSON, 30,000 deep (within the size bound): the depth is refused before any parser recurses.
  const deep = `${"[".repeat(30_000)}${"]".repeat(30_000)}`;
  const outcome = commands.handle(Buffer.from(`{"version":1,"id":"deep-0001","x":${deep}}`));
  assert.equal(outcome.ok, false);
  assert.match(last().reply, /nests at most 32 levels/);
  assert.match(last().audit, /nests at most 32 levels/);
  // Brackets inside strings are text, not nesting.
  const fine = commands.handle(
    Buffer.from(
      JSON.stringify({
        version: 1,
        id: "text-0001",
        sender: "scada",
        command: "ack_alert",
        args: { alertId: 1, note: "[[[[".repeat(100) },
      }),
    ),
  );
  assert.doesNotMatch(last().reply, /nests/);
  assert.equal(fine.commandId, "text-0001");
});
