import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { refusedMessages } from "../../src/store/refusedMessages.js";
import { Store } from "../../src/store/store.js";
import { PlantCommands } from "../../src/sync/commands.js";
import { jsonSchemaOf, MESSAGE_SCHEMAS, replySchema } from "../../src/sync/messages.js";
import { PlantSync } from "../../src/sync/plantSync.js";
import { DemoPlc } from "../../src/twin/demoPlc.js";
import { lineYaml, ROOT, runCli, tempDir, waitFor } from "../helpers.js";
import { makeTestPki, startMosquitto } from "../peers/peers.js";

type After = { after(fn: () => Promise<void> | void): void };
const PREFIX = "acme/lyon/assembly/test-line/linepilot";

interface Received {
  topic: string;
  payload: Record<string, unknown>;
  retain: boolean;
}

/** The plant side: a persistent-session subscriber to everything the line publishes. */
async function plant(
  t: After,
  url: string,
  tls?: { ca: string; cert: string; key: string },
  protocolVersion: 4 | 5 = 5,
) {
  const client = await mqtt.connectAsync(url, {
    clientId: `plant-${Math.random().toString(16).slice(2)}`,
    clean: false,
    protocolVersion,
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3_600 } } : {}),
    reconnectPeriod: 200,
    ...(tls ? { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) } : {}),
  });
  const received: Received[] = [];
  client.on("message", (topic, payload, packet) => {
    if (topic.endsWith("/commands")) return; // its own commands come back on the wildcard
    received.push({
      topic,
      payload: JSON.parse(payload.toString()) as Record<string, unknown>,
      retain: packet.retain,
    });
  });
  await client.subscribeAsync(`${PREFIX}/#`, { qos: 1 });
  t.after(() => client.endAsync(true));
  const ids = (topic: string) =>
    new Set(
      received.filter((m) => m.topic === `${PREFIX}/${topic}`).map((m) => m.payload.messageId as string),
    );
  const send = (payload: unknown) =>
    client.publishAsync(
      `${PREFIX}/commands`,
      typeof payload === "string" ? payload : JSON.stringify(payload),
      { qos: 1 },
    );
  return { client, received, ids, send };
}

function syncYaml(storePath: string, url: string, extra = "", drainRate = 2000) {
  return lineYaml({
    storePath,
    extra: `sync:
  url: ${url}
  drainRatePerSecond: ${drainRate}
  statusIntervalMs: 60000
  backoff: { initialMs: 100, maxMs: 500, jitter: 0.1 }
  commands:
    allow:
      set_goal: [mes]
      record_maintenance: [cmms]
      ack_alert: [cmms, scada]
${extra}`,
  });
}

async function startSync(t: After, url: string, extra = "", dir = tempDir(t), drainRate = 2000) {
  const cfg = parseConfig(syncYaml(join(dir, "line.db"), url, extra, drainRate), join(dir, "line.yaml"));
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const sync = new PlantSync(cfg.sync!, { store, log: silentLogger(), line: cfg });
  await sync.start();
  t.after(async () => {
    await sync.stop();
    store.close();
  });
  return { cfg, store, sync, dir };
}

async function startAedes(t: After): Promise<string> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
      }),
  );
  return `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function audit(store: Store, n: number) {
  for (let i = 0; i < n; i++)
    store.recordDecision({ kind: "test", actor: "test", decision: `decision ${i}` });
}

test("the outbox drains in order with QoS 1, each message once with a stable id; status is retained with birth", async (t) => {
  const url = await startAedes(t);
  const subscriber = await plant(t, url, undefined, 4); // aedes speaks MQTT 3.1.1; the sync falls back to it
  const { store, sync } = await startSync(t, url);
  audit(store, 500);
  await waitFor(() => subscriber.ids("audit").size === 500, 20_000, "500 audit messages");
  assert.equal(sync.health().details.protocolVersion, 4, "fell back to MQTT 3.1.1");
  assert.equal(
    sync.health().details.lastError,
    null,
    "the refused MQTT 5 attempt is not shown as a current error",
  );
  const audits = subscriber.received.filter((m) => m.topic === `${PREFIX}/audit`);
  assert.deepEqual(
    audits.map((m) => m.payload.decision),
    Array.from({ length: 500 }, (_, i) => `decision ${i}`),
    "in the order recorded",
  );
  assert.equal(audits[0]!.payload.version, 1);
  await waitFor(() => sync.outboxDepth() === 0, 5_000, "the outbox emptied after the PUBACKs");
  const status = subscriber.received.filter((m) => m.topic === `${PREFIX}/status`);
  assert.ok(
    status.some((m) => m.payload.state === "online"),
    "birth",
  );
  assert.ok(
    status.some((m) => m.payload.state === "running" && m.retain === false),
    "periodic health",
  );
  assert.equal(sync.health().details.connected, true);
});

test("plant commands: validated, allow-listed, idempotent by id, audited, answered on the reply topic", async (t) => {
  const url = await startAedes(t);
  const subscriber = await plant(t, url, undefined, 4); // aedes speaks MQTT 3.1.1; the sync falls back to it
  const { store, sync } = await startSync(t, url);
  await waitFor(() => sync.connected, 5_000, "connected");
  const replies = () =>
    subscriber.received.filter((m) => m.topic === `${PREFIX}/replies`).map((m) => m.payload);
  const goal = {
    version: 1,
    id: "cmd-goal-0001",
    sender: "mes",
    command: "set_goal",
    args: { targetPieces: 5000, quality: "A", dueAt: new Date(Date.now() + 8 * 3_600_000).toISOString() },
  };
  await subscriber.send(goal);
  await subscriber.send(goal); // the same command again (a retry by the plant)
  await subscriber.send("{not json");
  await subscriber.send({ ...goal, id: "cmd-goal-0002", sender: "intruder" });
  await subscriber.send({
    version: 1,
    id: "cmd-bad-0001",
    sender: "mes",
    command: "set_goal",
    args: { targetPieces: -5 },
  });
  const now = Date.now();
  store.db
    .prepare(
      "INSERT INTO alerts (machine_id, kind, severity, state, opened_at, updated_at) VALUES (7, 'test', 'HIGH', 'open', ?, ?)",
    )
    .run(now, now);
  await subscriber.send({
    version: 1,
    id: "cmd-ack-0001",
    sender: "scada",
    command: "ack_alert",
    args: { alertId: 1 },
  });
  await subscriber.send({
    version: 1,
    id: "cmd-mnt-0001",
    sender: "cmms",
    command: "record_maintenance",
    args: {
      machineId: 7,
      startedAt: "2026-11-24T06:00:00Z",
      completedAt: "2026-11-24T07:30:00Z",
      failure: true,
      parts: ["bearing 6205"],
    },
  });
  await waitFor(() => replies().length === 7, 10_000, `7 replies, got ${JSON.stringify(replies())}`);
  const r = replies();
  assert.equal(r[0]!.ok, true);
  assert.equal(r[1]!.duplicate, true, "a repeated id is answered again, not executed again");
  assert.deepEqual(r[1]!.result, r[0]!.result);
  assert.equal(r[2]!.ok, false);
  assert.equal(r[2]!.commandId, null);
  assert.match(String(r[2]!.error), /not JSON/);
  assert.match(String(r[3]!.error), /sender 'intruder' may not send set_goal \(see sync\.commands\.allow\)$/);
  assert.doesNotMatch(String(r[3]!.error), /mes/, "the allow-list is not told to a refused sender");
  assert.match(String(r[4]!.error), /invalid command/);
  assert.equal(r[5]!.ok, true);
  assert.equal(r[6]!.ok, true);
  const count = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
  assert.equal(
    count("SELECT count(*) AS n FROM production_goals WHERE status = 'active'"),
    1,
    "executed once",
  );
  assert.equal(
    count(
      "SELECT count(*) AS n FROM alerts WHERE state = 'acknowledged' AND acknowledged_by = 'plant:scada'",
    ),
    1,
  );
  assert.equal(
    count("SELECT count(*) AS n FROM maintenance_records WHERE source = 'plant' AND downtime_min = 90"),
    1,
  );
  assert.equal(
    count("SELECT count(*) AS n FROM ai_decisions_audit WHERE kind = 'plant_command'"),
    7,
    "every command audited, the repeat as a duplicate",
  );
  assert.equal(count("SELECT count(*) AS n FROM ai_decisions_audit WHERE decision LIKE 'refused%'"), 3);
  assert.deepEqual(sync.health().details.commands, { received: 7, refused: 3, duplicates: 1 });
});

test("the outbox cap drops the oldest telemetry first and never alerts or audit records", async (t) => {
  const dir = tempDir(t);
  const { store, sync } = await startSync(t, "mqtt://127.0.0.1:1", "  outboxMaxMessages: 1000\n", dir);
  store.db.transaction(() => {
    for (let i = 0; i < 1_500; i++) store.enqueueOutbox("telemetry", "telemetry", { version: 1, i });
    for (let i = 0; i < 20; i++) store.enqueueOutbox("alert", "alerts", { version: 1, i });
  })();
  audit(store, 20);
  const before = sync.outboxDepth();
  const dropped = sync.enforceCap();
  assert.equal(dropped, before - 1_000);
  const left = store.db
    .prepare("SELECT class, count(*) AS n, min(payload) AS first FROM outbox GROUP BY class")
    .all() as {
    class: string;
    n: number;
  }[];
  const by = Object.fromEntries(left.map((r) => [r.class, r.n]));
  assert.equal(by.alert, 20);
  assert.equal(by.audit, 20);
  const oldest = store.db
    .prepare("SELECT payload FROM outbox WHERE class = 'telemetry' ORDER BY id LIMIT 1")
    .get() as {
    payload: string;
  };
  assert.equal(
    (JSON.parse(oldest.payload) as { i: number }).i,
    1_500 - by.telemetry!,
    "the oldest went first",
  );
});

test("mosquitto stopped for a while and restarted, also mid-drain: nothing lost, the backlog drains", async (t) => {
  const dir = tempDir(t);
  const broker = await startMosquitto(t, dir);
  const subscriber = await plant(t, broker.url);
  const { store, sync } = await startSync(t, broker.url, "", tempDir(t), 400);
  audit(store, 400);
  await waitFor(() => subscriber.ids("audit").size >= 100, 10_000, "the drain under way");
  await broker.stop(); // mid-drain
  await waitFor(() => !sync.connected, 10_000, "loss noticed");
  audit(store, 400); // recorded while the broker is away
  await new Promise((r) => setTimeout(r, 1_000));
  await broker.start();
  await waitFor(
    () => subscriber.ids("audit").size === 800,
    30_000,
    `800 unique messages, have ${subscriber.ids("audit").size}`,
  );
  await waitFor(() => sync.outboxDepth() <= 1, 10_000, "outbox drained");
});

test("a broker that refuses a message (an ACL: reason 0x87) gets the refusal policy: kept with the reason, counted, and every later message still delivered and deleted", async (t) => {
  const dir = tempDir(t);
  // The line may publish its audit and status, not alerts; the plant reads everything.
  const acl = join(dir, "acl");
  writeFileSync(
    acl,
    [
      `topic readwrite ${PREFIX}/audit`,
      `topic readwrite ${PREFIX}/status`,
      `topic readwrite ${PREFIX}/commands`,
      `topic readwrite ${PREFIX}/replies`,
      `topic read ${PREFIX}/#`,
      "",
    ].join("\n"),
  );
  const broker = await startMosquitto(t, dir, undefined, [`acl_file ${acl}`]);
  const subscriber = await plant(t, broker.url);
  const { store, sync } = await startSync(t, broker.url);
  audit(store, 50);
  for (let i = 0; i < 3; i++) store.enqueueOutbox("alert", "alerts", { alert: i });
  audit(store, 50);
  await waitFor(
    () => subscriber.ids("audit").size === 100,
    15_000,
    "every audit message, also those after the refused ones",
  );
  await waitFor(() => sync.outboxDepth() === 0, 10_000, `the outbox emptied (depth ${sync.outboxDepth()})`);
  const refused = refusedMessages(store.db);
  assert.equal(refused.length, 3);
  assert.ok(
    refused.every((r) => r.topic === "alerts" && /Not authorized.*0x87/.test(r.reason)),
    JSON.stringify(refused),
  );
  const health = sync.health().details as { refusedByBroker: number; lastRefusal: { reason: string } };
  assert.equal(health.refusedByBroker, 3);
  assert.match(health.lastRefusal.reason, /Not authorized/);
  assert.equal(subscriber.ids("alerts").size, 0);
});

test("a message over the broker's maximum packet size is refused before sending (kept with the reason); the link goes on and stops", async (t) => {
  const dir = tempDir(t);
  const broker = await startMosquitto(t, dir, undefined, ["max_packet_size 4000"]);
  const subscriber = await plant(t, broker.url);
  const { store, sync } = await startSync(t, broker.url);
  audit(store, 20);
  store.enqueueOutbox("telemetry", "telemetry", { values: "x".repeat(20_000) });
  audit(store, 20);
  await waitFor(
    () => subscriber.ids("audit").size === 40,
    15_000,
    "the audit messages on both sides of the big one",
  );
  await waitFor(() => sync.outboxDepth() === 0, 10_000, `the outbox emptied (depth ${sync.outboxDepth()})`);
  const [big] = refusedMessages(store.db);
  assert.equal(big?.topic, "telemetry");
  assert.match(big!.reason, /over the broker's maximum packet size of 4000/);
  assert.ok(sync.connected, "still connected: the broker never saw the oversized packet");
  await sync.stop(); // it used to hang here ("sync did not stop within 5000 ms")
  assert.equal(sync.connected, false);
});

test("kill -9 of the daemon mid-drain loses nothing: the restarted daemon sends the rest", async (t) => {
  const dir = tempDir(t);
  const broker = await startMosquitto(t, dir);
  const subscriber = await plant(t, broker.url);
  const file = join(dir, "line.yaml");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(
    file,
    syncYaml(join(dir, "line.db"), broker.url, "", 300).replace(/tags:\n(.*\n)*?store:/, "tags: []\nstore:"),
  );
  // A backlog recorded before the daemon starts (as after a long broker outage).
  const cfg = parseConfig(readFileSync(file, "utf8"), file);
  const store = new Store(cfg.store, silentLogger());
  store.open();
  audit(store, 1_500);
  store.close();
  const first = runCli(["run", "--config", file]);
  await waitFor(
    () => subscriber.ids("audit").size >= 300,
    20_000,
    `drain started: ${first.stdout().slice(-500)}`,
  );
  first.proc.kill("SIGKILL");
  await first.exited;
  const sentBeforeKill = subscriber.ids("audit").size;
  assert.ok(sentBeforeKill < 1_500, "killed mid-drain");
  const second = runCli(["run", "--config", file]);
  t.after(async () => {
    second.proc.kill("SIGTERM");
    await second.exited;
  });
  await waitFor(
    () => subscriber.ids("audit").size === 1_500,
    30_000,
    `all 1,500, have ${subscriber.ids("audit").size}`,
  );
  const statuses = subscriber.received
    .filter((m) => m.topic === `${PREFIX}/status`)
    .map((m) => m.payload.state);
  assert.ok(statuses.includes("offline"), "the last will told the plant the daemon died");
});

test("TLS with a test CA and a client certificate; a broker signed by another CA is refused", async (t) => {
  const dir = tempDir(t);
  const pki = makeTestPki(dir);
  const broker = await startMosquitto(t, dir, { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey });
  const subscriber = await plant(t, broker.url, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
  const tls = `  tls: { ca: ${JSON.stringify(pki.ca)}, cert: ${JSON.stringify(pki.clientCert)}, key: "\${file:${pki.clientKey}}" }\n`;
  const { store } = await startSync(t, broker.url, tls);
  audit(store, 10);
  await waitFor(() => subscriber.ids("audit").size === 10, 20_000, "10 messages over TLS");
  const wrong = await startSync(t, broker.url, tls.replace(pki.ca, pki.otherCa));
  await waitFor(
    () => /certificate/i.test(String(wrong.sync.health().details.lastError)),
    10_000,
    "the refusal",
  );
  assert.equal(wrong.sync.connected, false);
});

test("the JSON Schemas in deploy/mqtt are the ones the code validates with", () => {
  for (const name of Object.keys(MESSAGE_SCHEMAS) as (keyof typeof MESSAGE_SCHEMAS)[]) {
    const file = join(ROOT, "deploy/mqtt", `${name}.schema.json`);
    assert.deepEqual(
      JSON.parse(readFileSync(file, "utf8")),
      jsonSchemaOf(name),
      `${file} is stale: npm run schemas`,
    );
  }
});

test("the daemon sends downsampled telemetry (value, quality, unit) and gateway metrics to the plant", async (t) => {
  const dir = tempDir(t);
  const url = await startAedes(t);
  const subscriber = await plant(t, url, undefined, 4);
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  t.after(() => plc.stop());
  const { writeFileSync } = await import("node:fs");
  const file = join(dir, "line.yaml");
  writeFileSync(
    file,
    lineYaml({
      storePath: join(dir, "line.db"),
      plcPort: plc.port,
      extra: `sync: { url: "${url}", telemetryEveryMs: 1000, metricsIntervalMs: 1000, backoff: { initialMs: 100, maxMs: 500, jitter: 0.1 } }`,
    }),
  );
  const daemon = runCli(["run", "--config", file]);
  t.after(async () => {
    daemon.proc.kill("SIGTERM");
    await daemon.exited;
  });
  const telemetry = await waitFor(
    () =>
      subscriber.received.find(
        (m) =>
          m.topic === `${PREFIX}/telemetry` &&
          (m.payload.values as { quality: string }[]).some((v) => v.quality === "good"),
      ),
    20_000,
    `telemetry: ${daemon.stdout().slice(-1500)}`,
  );
  const speed = (
    telemetry.payload.values as { tag: string; value: number; quality: string; unit: string }[]
  ).find((v) => v.tag === "press7.speed")!;
  assert.equal(speed.quality, "good");
  assert.ok(Math.abs(speed.value - 30) < 1);
  assert.equal(speed.unit, "", "the unit travels with the value (none configured here)");
  const metrics = await waitFor(
    () => subscriber.received.find((m) => m.topic === `${PREFIX}/metrics`),
    10_000,
    "metrics",
  );
  const components = metrics.payload.components as Record<string, Record<string, unknown>>;
  assert.ok((components["modbus:plc"]?.samples as number) > 0, JSON.stringify(components));
  assert.equal(metrics.payload.version, 1);
  // MTTR/MTBF travel in the plant's metrics message: machine 7 has no failure yet, so no MTBF,
  // only the failure-free lower bound.
  const reliability = metrics.payload.reliability as { machine: number; failures: number; mtbfH: null }[];
  const press = reliability?.find((r) => r.machine === 7);
  assert.ok(press !== undefined, JSON.stringify(metrics.payload).slice(0, 500));
  assert.deepEqual([press.failures, press.mtbfH], [0, null]);
});

test("a refused sender cannot squat a command id: ids are per sender, only allowed senders' are remembered, every reply fits its schema", async (t) => {
  const dir = tempDir(t);
  const cfg = parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: cmd-line }
machines: [{ id: 7, name: Press 7 }]
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
sync: { url: "mqtt://127.0.0.1:1", commands: { allow: { set_goal: [mes, erp] } } }
`,
    join(dir, "line.yaml"),
  );
  const store = new Store(cfg.store, silentLogger());
  store.open();
  t.after(() => store.close());
  const commands = new PlantCommands(store, cfg.sync!, new Set(cfg.machines.map((m) => m.id)));
  const goal = (sender: string, id: string) =>
    Buffer.from(
      JSON.stringify({
        version: 1,
        id,
        sender,
        command: "set_goal",
        args: { targetPieces: 100, quality: "A", dueAt: new Date(Date.now() + 3_600_000).toISOString() },
      }),
    );
  const squat = commands.handle(goal("intruder", "wo-2026-1142"));
  assert.equal(squat.ok, false);
  const genuine = commands.handle(goal("mes", "wo-2026-1142"));
  assert.deepEqual(
    [genuine.ok, genuine.duplicate],
    [true, false],
    `the genuine command runs: ${JSON.stringify(genuine.reply)}`,
  );
  const other = commands.handle(goal("erp", "wo-2026-1142"));
  assert.deepEqual([other.ok, other.duplicate], [true, false], "another sender's id is another command");
  const repeat = commands.handle(goal("mes", "wo-2026-1142"));
  assert.deepEqual([repeat.ok, repeat.duplicate], [true, true]);
  const replies = (
    store.db.prepare("SELECT payload FROM outbox WHERE class = 'reply' ORDER BY id").all() as {
      payload: string;
    }[]
  ).map((r) => JSON.parse(r.payload) as Record<string, unknown>);
  assert.equal(replies.length, 4);
  for (const reply of replies) replySchema.parse(reply);
  assert.equal(replies[3]!.duplicate, true);
  const audit = store.db
    .prepare("SELECT actor, decision FROM ai_decisions_audit WHERE kind = 'plant_command' ORDER BY id")
    .all() as { actor: string; decision: string }[];
  assert.deepEqual(
    audit.map((a) => `${a.actor}:${a.decision}`),
    ["intruder:refused set_goal", "mes:set_goal done", "erp:set_goal done", "mes:set_goal duplicate"],
  );
});

test("a link cut between CONNACK and SUBACK ends in the same reconnect loop: the plant gets the backlog and commands are answered; stop is prompt", async (t) => {
  const url = await startAedes(t);
  const brokerPort = Number(new URL(url).port);
  // A proxy that cuts the first connection the moment the gateway sends its SUBSCRIBE.
  let cuts = 0;
  const proxy = createServer((client) => {
    const upstream = connect(brokerPort, "127.0.0.1");
    client.on("data", (chunk: Buffer) => {
      if (cuts === 0 && chunk.includes(Buffer.from("/commands"))) {
        cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => client.write(chunk));
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const proxied = `mqtt://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  const subscriber = await plant(t, url, undefined, 4);
  const { store, sync } = await startSync(t, proxied);
  audit(store, 20);
  await waitFor(
    () => subscriber.ids("audit").size === 20,
    20_000,
    `the backlog after the reconnect (cuts ${cuts})`,
  );
  assert.equal(cuts, 1, "the first session was cut at its SUBSCRIBE");
  await subscriber.send({
    version: 1,
    id: "cmd-after-cut-1",
    sender: "mes",
    command: "set_goal",
    args: { targetPieces: 10, quality: "A", dueAt: new Date(Date.now() + 3_600_000).toISOString() },
  });
  await waitFor(
    () =>
      subscriber.received.some(
        (m) => m.topic === `${PREFIX}/replies` && m.payload.commandId === "cmd-after-cut-1",
      ),
    10_000,
    "the command answered",
  );
  const started = Date.now();
  await sync.stop();
  assert.ok(Date.now() - started < 5_000, "sync stops without waiting out its budget");
});

test("with the wall clock stepped back an hour, the outbox keeps draining at its rate", async (t) => {
  const url = await startAedes(t);
  const subscriber = await plant(t, url, undefined, 4);
  const { store } = await startSync(t, url, "", tempDir(t), 200);
  audit(store, 10);
  await waitFor(() => subscriber.ids("audit").size === 10, 10_000, "the first messages");
  const real = Date.now;
  Date.now = () => real() - 3_600_000;
  t.after(() => {
    Date.now = real;
  });
  audit(store, 40);
  await waitFor(() => subscriber.ids("audit").size === 50, 10_000, "the drain after the step");
});
