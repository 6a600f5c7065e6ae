import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Predictor } from "../../src/maintenance/predictor.js";
import { Store } from "../../src/store/store.js";
import { generateHistory } from "../../src/twin/generate.js";
import { ROOT, runCli, runCliToEnd, tempDir, waitFor } from "../helpers.js";
import { freePort } from "../peers/peers.js";

const MODEL = join(ROOT, "models/predictive_maintenance.onnx");

function config(
  storePath: string,
  extra = "",
  machines = "[{ id: 1, name: Press 1 }, { id: 2, name: Press 2 }]",
) {
  return `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: pm-line }
machines: ${machines}
store: { path: ${JSON.stringify(storePath)} }
maintenance: { model: ${JSON.stringify(MODEL)}, tickMs: 1000${extra} }
`;
}

/** A predictor on a store, as the daemon runs it, stopped after the test. */
async function startPredictor(t: { after(fn: () => Promise<void>): void }, yaml: string, dir: string) {
  const cfg = parseConfig(yaml, join(dir, "line.yaml"));
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const predictor = new Predictor(cfg.maintenance!, { store, log: silentLogger(), line: cfg });
  await predictor.start();
  t.after(async () => {
    await predictor.stop();
    store.close();
  });
  return { store, predictor };
}

test("on a held-out twin run with injected bearing wear, HIGH alerts come 24-72 h before most failures, with reasons, stored, audited and in the outbox", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "run.db");
  const start = Date.UTC(2026, 5, 1);
  await generateHistory({
    machineIds: [1, 2],
    durationS: 16 * 86_400,
    intervalS: 60,
    seed: 5,
    out: path,
    format: "store",
    startTs: start,
    wearFactors: new Map([[2, 2]]),
  });
  const { store, predictor } = await startPredictor(t, config(path), dir);
  for (let ts = start + 86_400_000; ts <= start + 16 * 86_400_000; ts += 2 * 3_600_000)
    await predictor.tick(ts);
  const db = store.db;
  const failures = db
    .prepare("SELECT machine_id AS m, ts FROM machine_events WHERE kind = 'fault' AND ts > ? ORDER BY ts")
    .all(start + 2 * 86_400_000) as { m: number; ts: number }[];
  const alerts = db
    .prepare("SELECT id, machine_id AS m, opened_at AS at, state, details FROM alerts ORDER BY id")
    .all() as { id: number; m: number; at: number; state: string; details: string }[];
  assert.ok(failures.length >= 3, `failures in the run: ${failures.length}`);
  const inTime = failures.filter((f) =>
    alerts.some((a) => a.m === f.m && f.ts - a.at >= 24 * 3_600_000 && f.ts - a.at <= 72 * 3_600_000),
  );
  assert.ok(
    inTime.length / failures.length >= 0.5,
    `${inTime.length} of ${failures.length} failures alerted 24-72 h ahead`,
  );
  assert.ok(
    alerts.length <= failures.length + 2,
    `no flapping: ${alerts.length} alerts for ${failures.length} failures`,
  );
  assert.ok(
    alerts.some((a) => a.state === "cleared"),
    "alerts clear once the bearing is replaced",
  );
  // What the plant received when the first alert opened: the reasons and the action.
  const opened = db.prepare("SELECT payload FROM outbox WHERE class = 'alert' ORDER BY id LIMIT 1").get() as {
    payload: string;
  };
  const message = JSON.parse(opened.payload) as {
    change: string;
    reasons: { feature: string; text: string }[];
    recommended_action: string;
  };
  assert.equal(message.change, "opened");
  assert.ok(
    message.reasons.length >= 3 && message.reasons.some((r) => r.feature.startsWith("vibration")),
    opened.payload,
  );
  assert.match(message.recommended_action, /bearing/);
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const changes = count("SELECT count(*) AS n FROM ai_decisions_audit WHERE kind = 'alert'");
  assert.equal(
    count("SELECT count(*) AS n FROM outbox WHERE class = 'alert'"),
    changes,
    "every change audited and sent",
  );
  assert.equal(
    count("SELECT count(*) AS n FROM outbox WHERE class = 'work_order'"),
    alerts.length + count("SELECT count(*) AS n FROM ai_decisions_audit WHERE decision = 'alert escalated'"),
    "a work-order request per alert, and again (urgent) when it escalates",
  );
  assert.equal(
    count("SELECT count(*) AS n FROM predictions"),
    count("SELECT count(*) AS n FROM outbox WHERE class = 'prediction'"),
  );
  // A machine under repair (state fault) is not scored: the model never saw such windows.
  const downtimes = db
    .prepare("SELECT machine_id AS m, ts AS down FROM machine_events WHERE kind = 'fault'")
    .all() as { m: number; down: number }[];
  assert.ok(predictor.downMachines > 0, "ticks during repairs skipped the machine under repair");
  for (const d of downtimes) {
    const during = count(
      `SELECT count(*) AS n FROM predictions WHERE machine_id = ${d.m} AND ts > ${d.down} AND ts < ${d.down + 3 * 3_600_000}`,
    );
    assert.equal(
      during,
      0,
      `no prediction for machine ${d.m} in the 3 h after its failure (4 h repair) at ${d.down}`,
    );
  }
  const p = predictor.latest.get(2)!;
  for (const key of [
    "machine_id",
    "risk_level",
    "failure_probability",
    "recommended_action",
    "confidence",
    "reasons",
  ])
    assert.ok(key in p, key);
});

test("a corrupt model leaves predictive maintenance degraded with the reason, and the daemon running; the API and CLI show risk and alerts", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "line.db");
  await generateHistory({
    machineIds: [1],
    durationS: 2 * 86_400,
    intervalS: 60,
    seed: 8,
    out: path,
    format: "store",
    startTs: Date.now() - 2 * 86_400_000,
  });
  const broken = join(dir, "broken.onnx");
  writeFileSync(broken, "not a model");
  const apiPort = await freePort();
  const corruptFile = join(dir, "corrupt.yaml");
  writeFileSync(
    corruptFile,
    `${config(path, "", "[{ id: 1, name: Press 1 }]").replace(JSON.stringify(MODEL), JSON.stringify(broken))}api: { port: ${apiPort} }\n`,
  );
  const corrupt = runCli(["run", "--config", corruptFile]);
  await waitFor(() => corrupt.stdout().includes("linepilot running"), 20_000, `start: ${corrupt.stdout()}`);
  const status = await runCliToEnd(["status", "--config", corruptFile, "--json"]);
  const health = JSON.parse(status.stdout) as {
    components: Record<string, { state: string; details: { loadError: string } }>;
  };
  assert.equal(health.components.maintenance!.state, "degraded");
  assert.match(
    health.components.maintenance!.details.loadError,
    /broken\.onnx is not a valid linepilot ONNX model/,
  );
  corrupt.proc.kill("SIGTERM");
  await corrupt.exited;

  const file = join(dir, "line.yaml");
  writeFileSync(file, `${config(path, "", "[{ id: 1, name: Press 1 }]")}api: { port: ${apiPort} }\n`);
  const daemon = runCli(["run", "--config", file]);
  t.after(async () => {
    daemon.proc.kill("SIGTERM");
    await daemon.exited;
  });
  const predicted = await waitFor(
    async () => {
      const r = await runCliToEnd(["predict", "--machine", "1", "--config", file]);
      return r.code === 0 && r.stdout.includes("risk") && r.stdout;
    },
    20_000,
    "a prediction",
  );
  assert.match(
    predicted,
    /machine 1 at .*: (LOW|MEDIUM|HIGH) risk, P\(failure within the horizon\) \d\.\d\d/,
  );
  assert.match(predicted, /raises|lowers/);
  assert.match(predicted, /=> /);
  // An alert as the predictor would open it, acknowledged by a technician through the CLI.
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(path);
  db.prepare(
    "INSERT INTO alerts (machine_id, kind, severity, state, opened_at, updated_at, details) VALUES (1, 'predicted_failure', 'HIGH', 'open', ?, ?, ?)",
  ).run(
    Date.now(),
    Date.now(),
    JSON.stringify({
      failure_probability: 0.9,
      reasons: [{ text: "vibration_rms_mean = 3.1 raises the risk by 20.0 points" }],
      recommended_action: "Inspect the bearing",
    }),
  );
  db.close();
  const list = await runCliToEnd(["alerts", "--config", file]);
  assert.match(list.stdout, /1 +1 +HIGH +open .*0\.90 +vibration_rms_mean = 3\.1 raises the risk/);
  const ack = await runCliToEnd(["alerts", "ack", "1", "--by", "anna", "--config", file]);
  assert.equal(ack.code, 0, ack.stderr);
  assert.match(ack.stdout, /alert 1 acknowledged by anna/);
  const again = await runCliToEnd(["alerts", "ack", "1", "--by", "anna", "--config", file]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /alert 1 is acknowledged/);
  const after = await runCliToEnd(["alerts", "--config", file]);
  assert.match(after.stdout, /acknowledged by anna/);
  const check = new Database(path, { readonly: true });
  const audited = check.prepare("SELECT actor, decision FROM ai_decisions_audit WHERE kind = 'alert'").all();
  const sent = check.prepare("SELECT payload FROM outbox WHERE class = 'alert'").all() as {
    payload: string;
  }[];
  check.close();
  assert.deepEqual(
    audited,
    [{ actor: "anna", decision: "alert acknowledged" }],
    "who acknowledged is in the audit log",
  );
  assert.equal((JSON.parse(sent[0]!.payload) as { change: string; by: string }).by, "anna");
});

test("a rule raises the risk on its own and says so first in the reasons, with its action", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "run.db");
  const start = Date.UTC(2026, 5, 1);
  await generateHistory({
    machineIds: [1],
    durationS: 2 * 86_400,
    intervalS: 60,
    seed: 3,
    out: path,
    format: "store",
    startTs: start,
  });
  const rule = `, rules: [{ role: motor_temperature, above: 40, level: HIGH, reason: "motor above 40 degC (test threshold)", action: "Check the fan" }]`;
  const { store, predictor } = await startPredictor(t, config(path, rule, "[{ id: 1, name: Press 1 }]"), dir);
  const [a] = await predictor.tick(start + 36 * 3_600_000);
  assert.ok(a!.failure_probability < 0.6, `the model alone says ${a!.failure_probability}`);
  assert.equal(a!.risk_level, "HIGH");
  assert.equal(a!.reasons[0]!.text, "rule: motor above 40 degC (test threshold)");
  assert.equal(a!.recommended_action, "Check the fan");
  const alert = store.db.prepare("SELECT severity, state FROM alerts").get() as {
    severity: string;
    state: string;
  };
  assert.deepEqual(alert, { severity: "HIGH", state: "open" });
});
