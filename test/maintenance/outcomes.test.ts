/**
 * Alert outcomes as labels: a confirmed alert with no repair record is a failure to learn from,
 * a candidate model is compared on the alerts technicians reviewed, and the messages the plant
 * gets for records, work orders and insights follow their published schemas.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { promotionVerdict } from "../../src/learning/candidate.js";
import { InsightsPublisher } from "../../src/maintenance/insightsPublisher.js";
import type { Evaluation } from "../../src/maintenance/train.js";
import { applyModelAlert, closeAlert, openAlert } from "../../src/store/alerts.js";
import { recordMaintenance } from "../../src/store/maintenanceRecords.js";
import { failureTimes } from "../../src/store/seriesReader.js";
import { Store } from "../../src/store/store.js";
import { insightsSchema, maintenanceSchema, workOrderSchema } from "../../src/sync/messages.js";
import { ROOT, tempDir } from "../helpers.js";

function line(dir: string) {
  return parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: pumps, name: outcomes }
machines: [{ id: 1, name: P1 }, { id: 2, name: P2 }]
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
maintenance: { model: ${JSON.stringify(join(ROOT, "models/predictive_maintenance.onnx"))} }
`,
    join(dir, "line.yaml"),
  );
}

test("a confirmed alert without a repair record labels a failure at its closing; a false alarm labels none; a SAFETY alert keeps its block until its cause clears", (t) => {
  const dir = tempDir(t);
  const cfg = line(dir);
  const store = new Store(cfg.store, silentLogger());
  store.open();
  t.after(() => store.close());
  const alert = (machine: number) =>
    openAlert(store, {
      machineId: machine,
      kind: "predicted_failure",
      severity: "HIGH",
      actor: "test",
      ts: 1_000,
      reason: "r",
    });
  const a = alert(1);
  const b = alert(2);
  assert.deepEqual(failureTimes(store.db), []);
  assert.deepEqual(
    closeAlert(store, a, { outcome: "confirmed", failureMode: "bearing", by: "technician:anna", ts: 5_000 }),
    {
      ok: true,
      state: "cleared",
    },
  );
  assert.equal(closeAlert(store, b, { outcome: "false_alarm", by: "technician:anna", ts: 6_000 }).ok, true);
  assert.deepEqual(
    failureTimes(store.db),
    [{ machine: 1, ts: 5_000 }],
    "the confirmed one only, when it was found",
  );
  // Linked to a repair, the repair is the failure (counted once).
  const c = alert(2);
  const record = recordMaintenance(
    store,
    {
      machineId: 2,
      startedAt: 10_000,
      completedAt: 20_000,
      downtimeMin: 0,
      failure: true,
      failureMode: "seal",
      source: "cli",
    },
    "technician:anna",
  );
  closeAlert(store, c, {
    outcome: "confirmed",
    failureMode: "seal",
    maintenanceRecordId: record,
    by: "technician:anna",
    ts: 30_000,
  });
  assert.deepEqual(failureTimes(store.db), [
    { machine: 1, ts: 5_000 },
    { machine: 2, ts: 10_000 },
  ]);
  const safety = openAlert(store, {
    machineId: 1,
    kind: "safety",
    severity: "SAFETY",
    actor: "safety_monitor",
    ts: 1,
    reason: "guard open",
  });
  const refused = closeAlert(store, safety, { outcome: "false_alarm", by: "technician:anna", ts: 2 });
  assert.equal(refused.ok, false);
  assert.match(refused.ok ? "" : refused.message, /SAFETY alert still active: it clears when its cause does/);
  assert.equal(refused.ok ? "" : refused.refusal, "conflict", "a domain refusal, not an HTTP status");
  const wrongRecord = closeAlert(store, alert(1), {
    outcome: "confirmed",
    failureMode: "seal",
    maintenanceRecordId: record,
    by: "x",
    ts: 3,
  });
  assert.match(
    wrongRecord.ok ? "" : wrongRecord.message,
    /maintenance record 1 is of machine 2, the alert of machine 1/,
  );
  assert.equal(wrongRecord.ok ? "" : wrongRecord.refusal, "invalid");
  const missing = closeAlert(store, 999, { outcome: "false_alarm", by: "x", ts: 4 });
  assert.equal(missing.ok ? "" : missing.refusal, "not_found");
});

const evaluation = (auc: number, precision: number): Evaluation => ({
  samples: 100,
  positives: 10,
  auc,
  threshold: 0.7,
  precision,
  recall: 0.8,
  failures: 3,
  leadWindowH: [24, 72],
  alertedInTime: 3,
  recallInLeadWindow: 1,
  medianLeadH: 30,
  falseAlarms: 1,
  falseAlarmsPerMachineWeek: 0.1,
  machineWeeks: 10,
});

test("a candidate better on the holdout is still refused when it would do worse on the alerts technicians reviewed", () => {
  const better = evaluation(0.95, 0.9);
  const active = evaluation(0.9, 0.8);
  assert.equal(promotionVerdict(better, active, 0.01).promote, true, "no reviews: the holdout decides");
  const fewReviews = { reviewed: 2, confirmed: 1, falseAlarms: 1, candidateConfirmed: 0, candidateFalse: 1 };
  assert.equal(
    promotionVerdict(better, active, 0.01, fewReviews).promote,
    true,
    "two reviews are an anecdote",
  );
  const worse = { reviewed: 6, confirmed: 4, falseAlarms: 2, candidateConfirmed: 2, candidateFalse: 2 };
  const refused = promotionVerdict(better, active, 0.01, worse);
  assert.equal(refused.promote, false);
  assert.match(
    refused.reason,
    /on the 6 alerts technicians reviewed \(4 confirmed, 2 false\), the candidate would raise 2 confirmed and 2 false: precision 0\.500 below the live 0\.667/,
  );
  const good = { reviewed: 6, confirmed: 4, falseAlarms: 2, candidateConfirmed: 4, candidateFalse: 0 };
  const promoted = promotionVerdict(better, active, 0.01, good);
  assert.equal(promoted.promote, true);
  assert.match(promoted.reason, /would raise 4 confirmed and 0 false/);
});

test("the plant's maintenance, work-order and insights messages follow their published schemas", (t) => {
  const dir = tempDir(t);
  const cfg = line(dir);
  const store = new Store(cfg.store, silentLogger());
  store.open();
  t.after(() => store.close());
  recordMaintenance(
    store,
    {
      machineId: 1,
      startedAt: 1_000,
      completedAt: 2_000,
      downtimeMin: 1,
      failure: true,
      failureMode: "bearing",
      parts: ["6205"],
      source: "cli",
    },
    "technician:anna",
  );
  store.db.transaction(() =>
    applyModelAlert(store, "opened", {
      machineId: 1,
      kind: "anomaly",
      modelId: null,
      event: { actor: "baseline", ts: 5_000, reason: "r" },
      workOrder: { priority: "medium", requestedAction: "Inspect", reasons: ["a"], dueInH: 72 },
    }),
  )();
  new InsightsPublisher(cfg.maintenance!, { store, line: cfg, log: silentLogger() }).publish();
  const payload = (topic: string) =>
    JSON.parse(
      (store.db.prepare("SELECT payload FROM outbox WHERE topic = ?").get(topic) as { payload: string })
        .payload,
    );
  assert.equal(
    maintenanceSchema.safeParse(payload("maintenance")).success,
    true,
    JSON.stringify(payload("maintenance")),
  );
  assert.equal(
    workOrderSchema.safeParse(payload("work_orders")).success,
    true,
    JSON.stringify(payload("work_orders")),
  );
  const insights = insightsSchema.safeParse(payload("insights"));
  assert.equal(insights.success, true, JSON.stringify(payload("insights")));
  assert.equal(insights.data!.recommendations.length, 0, "one repair is no evidence for anything");
  assert.equal(
    (store.db.prepare("SELECT count(*) AS n FROM work_order_deliveries").get() as { n: number }).n,
    0,
    "no HTTP delivery queued without maintenance.workOrders.http",
  );
});

test("the work-order delivery's config names what is wrong: a body that is not JSONata, a CA file that is not there", (t) => {
  const dir = tempDir(t);
  const yaml = (http: string) => `version: 1
line: { enterprise: a, site: b, area: c, name: d }
machines: [{ id: 1, name: P1 }]
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
maintenance:
  model: m.onnx
  workOrders:
    http: ${http}
`;
  assert.throws(
    () => parseConfig(yaml('{ url: "http://cmms/api", body: "{ \\"a\\": " }'), join(dir, "line.yaml")),
    /line\.yaml:8:\d+: maintenance\.workOrders\.http\.body: body is not a valid JSONata expression: .* \(at character \d+\)/,
  );
  assert.throws(
    () => parseConfig(yaml('{ url: "ftp://cmms/api" }'), join(dir, "line.yaml")),
    /maintenance\.workOrders\.http\.url: expected an http:\/\/ or https:\/\/ URL of the maintenance system's API/,
  );
  assert.throws(
    () => parseConfig(yaml('{ url: "https://cmms/api", caFile: plant-ca.pem }'), join(dir, "line.yaml")),
    /maintenance\.workOrders\.http\.caFile: the maintenance system's CA file .*plant-ca\.pem does not exist/,
  );
});
