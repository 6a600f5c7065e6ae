/**
 * The maintenance loop end to end on a running daemon: a technician records maintenance and
 * closes alerts from the CLI (over the daemon's socket), the plant does the same over its
 * commands with the same checks, MTTR/MTBF and the models' live counters follow, and work orders
 * reach a real HTTP server (the test's) that is down, slow, failing and refusing in turn.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { applyModelAlert } from "../../src/store/alerts.js";
import { insertPrediction } from "../../src/store/predictions.js";
import type { Store } from "../../src/store/store.js";
import { PlantCommands } from "../../src/sync/commands.js";
import { ROOT, runCliToEnd, tempDir, waitFor } from "../helpers.js";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** The maintenance system: a real HTTP server whose behaviour the test changes as it goes. */
async function cmms(t: { after(fn: () => unknown): void }) {
  // biome-ignore lint/suspicious/noExplicitAny: the bodies are whatever the template made
  const requests: { key: string; body: any; auth: string | undefined; status: number }[] = [];
  let handler: Handler = (_req, _body, res) => res.writeHead(201).end("{}");
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const record = {
        key: String(req.headers["idempotency-key"]),
        body: JSON.parse(body),
        auth: req.headers.authorization,
        status: 0,
      };
      requests.push(record);
      const write = res.writeHead.bind(res);
      res.writeHead = ((status: number, ...rest: unknown[]) => {
        record.status = status;
        return (write as (...a: unknown[]) => ServerResponse)(status, ...rest);
      }) as typeof res.writeHead;
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return {
    port,
    requests,
    answer(h: Handler) {
      handler = h;
    },
    async down() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
    async up() {
      await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    },
  };
}

function config(dir: string, cmmsPort: number) {
  process.env.LP_TEST_CMMS_AUTH = "Basic dGVjaDpzZWNyZXQ=";
  return parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: pumps, name: loop-line }
machines:
  - { id: 1, name: Pump 1, assetId: "10004711" }
  - { id: 2, name: Pump 2 }
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1, port: 1, timeoutMs: 200 }]
tags:
  - { name: pump1.flow, machine: 1, role: flow, connection: plc, modbus: { area: input, address: 0, dataType: float32 } }
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
api: { host: 127.0.0.1, port: 0 }
maintenance:
  model: ${JSON.stringify(join(ROOT, "models/predictive_maintenance.onnx"))}
  tickMs: 3600000
  costs: { currency: EUR, downtimePerHour: 2000, repairParts: 900, preventiveVisit: 300 }
  workOrders:
    http:
      url: http://127.0.0.1:${cmmsPort}/sap/opu/odata4/sap/api_maintnotification/MaintenanceNotification
      secretHeaders: { Authorization: "\${env:LP_TEST_CMMS_AUTH}" }
      headers: { sap-client: "100" }
      timeoutMs: 500
      retry: { initialMs: 100, maxMs: 1000 }
      body: >-
        { "NotificationText": $substring("linepilot: " & requested_action, 0, 40),
          "TechnicalObject": asset, "MaintPriority": priority = "urgent" ? "1" : priority = "high" ? "2" : "3",
          "NotificationType": "M2", "LongText": $join(reasons, "; "), "linepilotAlert": alertId, "escalation": escalation }
      idFrom: d.MaintenanceNotification
`,
    join(dir, "line.yaml"),
  );
}

/** What the predictor does when a machine's risk crosses HIGH: the same store call, in one transaction. */
function raise(
  store: Store,
  machine: number,
  change: "opened" | "escalated" = "opened",
  modelId = 1,
  ts = Date.now(),
) {
  store.db.transaction(() =>
    applyModelAlert(store, change, {
      machineId: machine,
      kind: "predicted_failure",
      modelId,
      deliverHttp: true,
      event: { actor: "predictive_maintenance", ts, reason: "vibration rising", details: {} },
      workOrder: {
        priority: "high",
        requestedAction: "Inspect the drive-end bearing",
        reasons: ["vibration x2"],
        dueInH: 24,
      },
    }),
  )();
}

const alertRef = (store: Store, id: number) =>
  (store.db.prepare("SELECT work_order_ref AS r FROM alerts WHERE id = ?").get(id) as { r: string | null }).r;

test("work orders reach the maintenance system's HTTP API: retried while it is down, slow or failing, refused (and audited) on a 4xx, once per alert and escalation, across a restart; its id is kept with the alert", async (t) => {
  const dir = tempDir(t);
  const server = await cmms(t);
  const cfg = config(dir, server.port);
  let daemon = new Daemon(cfg, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  const store = () => daemon.store!;

  // 1. 503 twice, then a slow answer past the 500 ms timeout, then SAP's answer with its number.
  let calls = 0;
  server.answer((_req, _body, res) => {
    calls++;
    if (calls <= 2) res.writeHead(503, { "retry-after": "0" }).end("busy");
    else if (calls === 3) setTimeout(() => res.writeHead(201).end("{}"), 1_500);
    else
      res
        .writeHead(201, { "content-type": "application/json" })
        .end('{"d":{"MaintenanceNotification":"000010004711"}}');
  });
  raise(store(), 1);
  await waitFor(() => alertRef(store(), 1) !== null, 15_000, "alert 1's work order delivered");
  assert.equal(alertRef(store(), 1), "000010004711", "the CMMS's id is kept with the alert");
  const first = server.requests.filter((r) => r.body.linepilotAlert === 1);
  assert.ok(first.length >= 4, `retried: ${first.length} requests`);
  assert.equal(new Set(first.map((r) => r.key)).size, 1, "every retry carries the same Idempotency-Key");
  assert.equal(first[0]!.auth, "Basic dGVjaDpzZWNyZXQ=", "the secret header, resolved");
  assert.deepEqual(
    first[0]!.body,
    {
      NotificationText: "linepilot: Inspect the drive-end bearing",
      TechnicalObject: "10004711",
      MaintPriority: "2",
      NotificationType: "M2",
      LongText: "vibration x2",
      linepilotAlert: 1,
      escalation: 0,
    },
    "the JSONata body maps the work order to SAP's fields",
  );

  // 2. A 400 refuses alert 2's work order (audited, not retried); the escalation behind it still goes.
  server.answer((_req, body, res) => {
    if (JSON.parse(body).linepilotAlert === 2)
      res.writeHead(400).end('{"error":"TechnicalObject is required"}');
    else res.writeHead(201).end('{"d":{"MaintenanceNotification":"000010004712"}}');
  });
  raise(store(), 2);
  raise(store(), 1, "escalated"); // alert 1 escalates: its work order again, urgent
  await waitFor(
    () =>
      server.requests.some((r) => r.body.linepilotAlert === 1 && r.body.escalation === 1 && r.status === 201),
    10_000,
    "the escalation delivered",
  );
  const refusedAudit = store()
    .db.prepare(
      "SELECT reason FROM ai_decisions_audit WHERE decision = 'work order refused by the maintenance system'",
    )
    .all() as { reason: string }[];
  assert.equal(refusedAudit.length, 1);
  assert.match(refusedAudit[0]!.reason, /HTTP 400: \{"error":"TechnicalObject is required"\}/);
  assert.equal(server.requests.filter((r) => r.body.linepilotAlert === 2).length, 1, "a 4xx is not retried");
  assert.equal(
    server.requests.find((r) => r.body.linepilotAlert === 1 && r.body.escalation === 1)!.body.MaintPriority,
    "1",
    "urgent on escalation",
  );

  // 3. The maintenance system goes down; a work order waits; linepilot restarts; it comes back up.
  await server.down();
  await new Promise((r) => setTimeout(r, 100));
  raise(store(), 2, "opened"); // alert 3
  const before = server.requests.length;
  await waitFor(
    () =>
      (
        store().db.prepare("SELECT attempts FROM work_order_deliveries ORDER BY id DESC LIMIT 1").get() as {
          attempts: number;
        }
      ).attempts >= 1,
    5_000,
    "an attempt failed while the server is down",
  );
  const health = daemon.health().components as Record<
    string,
    { state: string; details: Record<string, unknown> }
  >;
  assert.equal(health.workOrders!.state, "degraded");
  assert.match(String(health.workOrders!.details.lastError), /ECONNREFUSED/);
  await daemon.stop();
  server.answer((_req, _body, res) =>
    res.writeHead(201).end('{"d":{"MaintenanceNotification":"000010004713"}}'),
  );
  await server.up();
  daemon = new Daemon(cfg, silentLogger());
  await daemon.start();
  const last = (store().db.prepare("SELECT max(id) AS id FROM alerts").get() as { id: number }).id;
  await waitFor(() => alertRef(store(), last) !== null, 10_000, "delivered after the restart");
  assert.equal(server.requests.length, before + 1, "nothing was sent while it was down, once after");
  // Once per alert and escalation: each (alert, escalation) came with one Idempotency-Key only,
  // even the one whose slow answer was given up on (a server that keys on it takes it once).
  const keys = new Map<string, Set<string>>();
  for (const r of server.requests) {
    const pair = `${r.body.linepilotAlert}:${r.body.escalation}`;
    keys.set(pair, (keys.get(pair) ?? new Set()).add(r.key));
  }
  assert.deepEqual([...keys.keys()].sort(), ["1:0", "1:1", "2:0", "3:0"]);
  for (const [pair, k] of keys) assert.equal(k.size, 1, `one key for ${pair}`);
  assert.equal(
    (
      store()
        .db.prepare("SELECT count(*) AS n FROM work_order_deliveries WHERE state = 'delivered'")
        .get() as { n: number }
    ).n,
    3,
  );

  const cli = await runCliToEnd(["work-orders", "--api", `unix:${cfg.api.socket}`]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /pending 0, delivered 3, refused 1/);
  const alerts = await runCliToEnd(["alerts", "--all", "--api", `unix:${cfg.api.socket}`]);
  assert.match(alerts.stdout, /000010004711/, "alerts shows the CMMS's id");
});

test("a technician records maintenance and closes alerts from the CLI; the plant's commands take the same checks; MTTR/MTBF and the models' live counters follow, on /metrics too", async (t) => {
  const dir = tempDir(t);
  const server = await cmms(t);
  const cfg = config(dir, server.port);
  const daemon = new Daemon(cfg, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  const store = daemon.store!;
  const api = ["--api", `unix:${cfg.api.socket}`];
  const H = 3_600_000;
  const now = Date.now();
  // Model 5 scored both machines for the last 30 days (what the predictor stores each tick).
  for (const m of [1, 2])
    for (const ts of [now - 30 * 24 * H, now - H])
      insertPrediction(store, {
        machine_id: m,
        ts,
        model_id: 5,
        risk_level: "LOW",
        failure_probability: 0.1,
        confidence: 0.9,
        recommended_action: "-",
        reasons: [],
      });
  raise(store, 1, "opened", 5, now - 20 * H); // alert 1
  raise(store, 2, "opened", 5, now - 20 * H); // alert 2
  const iso = (ms: number) => new Date(ms).toISOString();

  // A repair with its failure mode, naming the alert it answered.
  const record = await runCliToEnd([
    "maintenance",
    "record",
    ...api,
    "--machine",
    "1",
    "--started",
    iso(now - 10 * H),
    "--completed",
    iso(now - 6 * H),
    "--failure",
    "--mode",
    "bearing",
    "--parts",
    "bearing 6205; grease",
    "--work-order",
    "WO-1182",
    "--alert",
    "1",
    "--by",
    "anna",
  ]);
  assert.equal(record.code, 0, record.stderr);
  assert.match(record.stdout, /maintenance record 1 stored for machine 1/);
  // Refused with what is wrong: an unknown machine, a time the wrong way round, a mode on planned work.
  for (const [args, message] of [
    [
      ["--machine", "9", "--started", iso(now - H), "--completed", iso(now)],
      /machine 9 is not on this line \(machines: 1, 2\)/,
    ],
    [
      ["--machine", "1", "--started", iso(now - H), "--completed", iso(now - 2 * H)],
      /completedAt .* is before startedAt/,
    ],
    [
      ["--machine", "1", "--started", iso(now - H), "--completed", iso(now), "--mode", "seal"],
      /a failure mode belongs to a repair/,
    ],
    [["--machine", "1", "--started", "yesterday", "--completed", iso(now)], /'yesterday' is not a time/],
  ] as const) {
    const r = await runCliToEnd(["maintenance", "record", ...api, ...args, "--by", "anna"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
  }
  // The plant's CMMS sends the same wrong record and gets the same words.
  const commands = new PlantCommands(
    store,
    parseConfig(
      `${`version: 1\nline: { enterprise: a, site: b, area: c, name: d }\nmachines: [{ id: 1, name: P }]\nstore: { path: x.db }\n`}sync: { url: "mqtt://127.0.0.1:1", commands: { allow: { record_maintenance: [cmms], close_alert: [cmms] } } }\n`,
      "x.yaml",
    ).sync!,
    new Set([1, 2]),
  );
  const send = (id: string, command: string, args: unknown) =>
    commands.handle(Buffer.from(JSON.stringify({ version: 1, id, sender: "cmms", command, args })));
  const wrong = send("cmd-mnt-00001", "record_maintenance", {
    machineId: 9,
    startedAt: iso(now - H),
    completedAt: iso(now),
    failure: false,
  });
  assert.equal(wrong.ok, false);
  assert.match(String(wrong.reply.error), /machine 9 is not on this line \(machines: 1, 2\)/);
  const planned = send("cmd-mnt-00002", "record_maintenance", {
    machineId: 2,
    startedAt: iso(now - 3 * H),
    completedAt: iso(now - 2 * H),
    failure: false,
    technician: "ben",
  });
  assert.equal(planned.ok, true, JSON.stringify(planned.reply));

  // Alert 1: confirmed bearing, linked to the repair. Alert 2: the plant closes it as a false alarm.
  const close = await runCliToEnd([
    "alerts",
    "close",
    "1",
    ...api,
    "--confirmed",
    "--mode",
    "bearing",
    "--record",
    "1",
    "--by",
    "anna",
  ]);
  assert.equal(close.code, 0, close.stderr);
  assert.match(close.stdout, /alert 1 closed by anna as confirmed \(bearing\)/);
  const noMode = await runCliToEnd(["alerts", "close", "2", ...api, "--confirmed", "--by", "anna"]);
  assert.notEqual(noMode.code, 0);
  assert.match(noMode.stderr, /a confirmed alert needs the failure mode found/);
  const neither = await runCliToEnd(["alerts", "close", "2", ...api]);
  assert.notEqual(neither.code, 0);
  assert.match(neither.stderr, /--confirmed --mode MODE, or --false-alarm/);
  const falseAlarm = send("cmd-close-0001", "close_alert", {
    alertId: 2,
    outcome: "false_alarm",
    note: "sensor cable loose",
  });
  assert.equal(falseAlarm.ok, true, JSON.stringify(falseAlarm.reply));
  const again = await runCliToEnd(["alerts", "close", "2", ...api, "--false-alarm"]);
  assert.match(again.stderr, /alert 2 was already closed as false_alarm/);

  // Audited and sent to the plant.
  const count = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
  assert.equal(count("SELECT count(*) AS n FROM ai_decisions_audit WHERE kind = 'maintenance'"), 2);
  assert.equal(count("SELECT count(*) AS n FROM outbox WHERE topic = 'maintenance'"), 2);
  assert.equal(count("SELECT count(*) AS n FROM ai_decisions_audit WHERE decision = 'alert closed'"), 2);
  const closedMessage = JSON.parse(
    (
      store.db
        .prepare(
          "SELECT payload FROM outbox WHERE topic = 'alerts' AND payload LIKE '%\"closed\"%' ORDER BY id LIMIT 1",
        )
        .get() as { payload: string }
    ).payload,
  );
  assert.equal(closedMessage.outcome, "confirmed");
  assert.equal(closedMessage.failure_mode, "bearing");

  // A failure on machine 2 with no alert before it: missed by model 5.
  store.insertMachineEvent({ machineId: 2, ts: now - 2 * 24 * H, kind: "fault", message: "seal leak" });

  const list = await runCliToEnd(["maintenance", ...api]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /machine 1: MTBF [\d.]+ h, MTTR 4 h \(1 failure in/);
  assert.match(list.stdout, /bearing: 1 failure\(s\)/);
  assert.match(
    list.stdout,
    /machine 2: MTBF [\d.]+ h, MTTR - \(1 failure in [\d.]+ h observed, 1 without a repair record\)/,
  );
  assert.match(list.stdout, /WO-1182/);

  const outcomes = (await (
    await fetch(`http://127.0.0.1:${daemon.api!.address!.port}/ai/models/outcomes`)
  ).json()) as { models: Record<string, unknown>[] };
  const m5 = outcomes.models.find((m) => m.modelId === 5 && m.kind === "predicted_failure")!;
  assert.deepEqual(
    {
      raised: m5.raised,
      confirmed: m5.confirmed,
      falseAlarms: m5.falseAlarms,
      missed: m5.missed,
      precision: m5.precision,
      recall: m5.recall,
    },
    { raised: 2, confirmed: 1, falseAlarms: 1, missed: 1, precision: 0.5, recall: 0.5 },
  );
  assert.equal(m5.medianLeadH, 10, "from the alert's opening to the linked repair's start");
  assert.ok(Math.abs(Number(m5.machineWeeks) - (2 * 30 * 24 - 2) / (7 * 24)) < 0.01, String(m5.machineWeeks));
  assert.equal(m5.alertsPerMachineWeek, Math.round((2 / Number(m5.machineWeeks)) * 1000) / 1000);

  const predict = await runCliToEnd(["predict", "--machine", "1", ...api]);
  assert.match(predict.stdout, /reliability: MTBF [\d.]+ h, MTTR 4 h/);
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.api!.address!.port}/metrics`)).text();
  assert.match(metrics, /linepilot_machine_mttr_hours\{machine="1",line="loop-line"\} 4/);
  assert.match(
    metrics,
    /linepilot_model_alerts\{model="5",kind="predicted_failure",outcome="missed",line="loop-line"\} 1/,
  );
  assert.match(
    metrics,
    /linepilot_model_live_precision\{model="5",kind="predicted_failure",line="loop-line"\} 0.5/,
  );
});
