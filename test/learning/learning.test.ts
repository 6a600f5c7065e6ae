import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { summarize } from "../../src/cli/commands/status.js";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import type { LineConfig } from "../../src/config/schema.js";
import { onnxToForest } from "../../src/inference/onnxModel.js";
import { Learner } from "../../src/learning/learner.js";
import { DEFAULT_ALERTS } from "../../src/maintenance/alertPolicy.js";
import { buildDataset } from "../../src/maintenance/dataset.js";
import { PM_MODEL_NAME, Predictor } from "../../src/maintenance/predictor.js";
import { evaluate, splitByTime } from "../../src/maintenance/train.js";
import { PM_FEATURES } from "../../src/preprocess/features.js";
import { isEncryptedModel } from "../../src/registry/modelCrypto.js";
import { ModelRegistry } from "../../src/registry/registry.js";
import { Store } from "../../src/store/store.js";
import { DRIFT_START, driftedLine, ROOT, tempDir, waitFor } from "../helpers.js";

const MODEL = join(ROOT, "models/predictive_maintenance.onnx");
const START = DRIFT_START;
const DAYS = 42;
const END = START + DAYS * 86_400_000;

function config(dir: string, storePath: string): LineConfig {
  const yaml = `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: learn-line }
machines: [{ id: 1, name: Press 1 }, { id: 2, name: Press 2 }, { id: 3, name: Press 3 }, { id: 4, name: Press 4 }]
store: { path: ${JSON.stringify(storePath)} }
maintenance: { model: ${JSON.stringify(MODEL)}, tickMs: 60000 }
registry: { key: { source: file, path: model.key, create: true } }
learning: { schedule: "0 3 * * 0" }
`;
  return parseConfig(yaml, join(dir, "line.yaml"));
}

function history(dir: string, drift: boolean): Promise<string> {
  return driftedLine(join(dir, drift ? "drift.db" : "steady.db"), drift);
}

async function line(t: { after(fn: () => Promise<void>): void }, cfg: LineConfig) {
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const registry = new ModelRegistry(cfg.registry!, { store, log: silentLogger() });
  await registry.start();
  const predictor = new Predictor(cfg.maintenance!, { store, log: silentLogger(), line: cfg, registry });
  await predictor.start();
  const learner = new Learner(cfg.learning!, {
    store,
    registry,
    log: silentLogger(),
    line: cfg,
    now: () => END,
  });
  await learner.start();
  t.after(async () => {
    await learner.stop();
    await predictor.stop();
    await registry.stop();
    store.close();
  });
  return { store, registry, predictor, learner };
}

/** Failures of the winding in the holdout that the model alerted 24-72 h ahead, of all of them. */
function windingDetection(store: Store, model: Uint8Array): { inTime: number; failures: number } {
  const data = buildDataset(store.db, { horizonH: 48, strideMin: 30, features: PM_FEATURES });
  const { holdout } = splitByTime(data, 0.25);
  const winding = store.db
    .prepare(
      "SELECT machine_id AS machine, ts FROM machine_events WHERE kind = 'fault' AND message LIKE 'motor winding%'",
    )
    .all() as { machine: number; ts: number }[];
  const e = evaluate(onnxToForest(model).forest, holdout, winding, DEFAULT_ALERTS);
  return { inTime: e.alertedInTime, failures: e.failures };
}

function predictionsAt(store: Store, ts: number): string {
  return JSON.stringify(
    store.db
      .prepare(
        "SELECT machine_id, failure_probability, risk_level, confidence, reasons FROM predictions WHERE ts = ? ORDER BY machine_id, id",
      )
      .all(ts),
  );
}

test("a new failure mode after week 3: the learned candidate detects it and is promoted; rollback restores the previous predictions exactly; a flipped byte is caught", async (t) => {
  const dir = tempDir(t);
  const cfg = config(dir, await history(dir, true));
  const { store, registry, predictor, learner } = await line(t, cfg);
  const shipped = registry.withStatus(PM_MODEL_NAME, "active")!;
  assert.equal(predictor.modelId, shipped.id, "the shipped model was registered (encrypted) and runs");
  assert.ok(isEncryptedModel(readFileSync(shipped.path)), "the registry's copy is encrypted");

  // Predictions with the shipped model, at three times inside the drifted weeks.
  const times = [START + 33 * 86_400_000, START + 37 * 86_400_000, START + 40 * 86_400_000];
  const before: string[] = [];
  for (const ts of times) {
    await predictor.tick(ts);
    before.push(predictionsAt(store, ts));
  }

  const run = await learner.runNow("test");
  assert.equal(run.state, "promoted", run.reason);
  const candidate = run.metrics.candidate!;
  const active = run.metrics.active!;
  assert.ok(candidate.auc >= active.auc + 0.01, `AUC ${candidate.auc} vs ${active.auc}`);
  assert.ok(candidate.precision >= active.precision);
  const promoted = registry.withStatus(PM_MODEL_NAME, "active")!;
  assert.equal(promoted.id, run.candidateId);
  assert.equal(
    registry.withStatus(PM_MODEL_NAME, "fallback")?.id,
    shipped.id,
    "the shipped model is kept as fallback",
  );
  assert.equal(predictor.modelId, promoted.id, "the predictor swapped models without a restart");

  // The promoted model detects the new failure mode; the shipped one does not.
  const learned = windingDetection(store, registry.load(promoted));
  const old = windingDetection(store, registry.load(shipped));
  assert.ok(learned.failures >= 5, `winding failures in the holdout: ${learned.failures}`);
  assert.ok(
    learned.inTime / learned.failures >= 0.8,
    `learned: ${learned.inTime}/${learned.failures} in time`,
  );
  assert.ok(old.inTime / old.failures <= 0.2, `shipped: ${old.inTime}/${old.failures} in time`);

  // Audited with both models' metrics.
  const audit = store.db
    .prepare(
      "SELECT kind, decision, details FROM ai_decisions_audit WHERE kind IN ('learning_run', 'model_promoted', 'model_rollback') ORDER BY id",
    )
    .all() as { kind: string; decision: string; details: string }[];
  const runAudit = audit.find((a) => a.kind === "learning_run")!;
  const details = JSON.parse(runAudit.details) as { candidate: { auc: number }; active: { auc: number } };
  assert.equal(runAudit.decision, "promoted");
  assert.equal(details.candidate.auc, candidate.auc);
  assert.equal(details.active.auc, active.auc);

  // Promoted model: different predictions. Rollback: the shipped model's, exactly.
  store.db.prepare("DELETE FROM predictions").run();
  await predictor.tick(times[1]!);
  assert.notEqual(predictionsAt(store, times[1]!), before[1]);
  await registry.rollback(PM_MODEL_NAME, "anna", "test");
  assert.equal(predictor.modelId, shipped.id);
  store.db.prepare("DELETE FROM predictions").run();
  for (const [i, ts] of times.entries()) {
    await predictor.tick(ts);
    assert.equal(predictionsAt(store, ts), before[i], `predictions at ${new Date(ts).toISOString()}`);
  }
  assert.equal(
    (
      store.db
        .prepare(
          "SELECT count(*) AS n FROM ai_decisions_audit WHERE kind = 'model_rollback' AND actor = 'anna'",
        )
        .get() as { n: number }
    ).n,
    1,
    "the rollback is audited with who asked",
  );

  // A flipped byte in the learned model's file: promoting it is refused, the shipped model stays.
  const file = readFileSync(promoted.path);
  file[file.length - 100]! ^= 0x01;
  writeFileSync(promoted.path, file);
  await assert.rejects(registry.promote(promoted.id, "anna"), /sha256 .* altered or replaced; refused/);
  assert.equal(registry.withStatus(PM_MODEL_NAME, "active")?.id, shipped.id);
  assert.equal(predictor.modelId, shipped.id);
});

test("with no new failure mode the candidate is rejected with its metrics, and a run with no new labels trains nothing", async (t) => {
  const dir = tempDir(t);
  const cfg = config(dir, await history(dir, false));
  const { store, registry, learner } = await line(t, cfg);
  const shipped = registry.withStatus(PM_MODEL_NAME, "active")!;
  const run = await learner.runNow("test");
  assert.equal(run.state, "rejected", run.reason);
  assert.match(run.reason, /does not beat|precision/);
  const candidate = registry.get(run.candidateId!);
  assert.equal(candidate.status, "rejected");
  assert.equal(typeof candidate.metrics.auc, "number");
  assert.equal(registry.withStatus(PM_MODEL_NAME, "active")?.id, shipped.id, "nothing promoted");
  const again = await learner.runNow("test");
  assert.equal(again.state, "skipped");
  assert.match(again.reason, /no new information/);
  assert.equal(registry.list(PM_MODEL_NAME).length, 2, "no model registered by the skipped run");
  assert.equal(
    (
      store.db.prepare("SELECT count(*) AS n FROM ai_decisions_audit WHERE kind = 'learning_run'").get() as {
        n: number;
      }
    ).n,
    2,
  );
});

test("a run stopped mid-training, or cut by a crash, leaves no half-registered model; a tampered active model falls back at start", async (t) => {
  const dir = tempDir(t);
  const path = await history(dir, true);
  const cfg = config(dir, path);
  {
    const { registry, learner } = await line(t, cfg);
    const models = registry.list().length;
    const run = learner.runNow("test");
    await new Promise((r) => setTimeout(r, 300)); // training is under way
    await learner.stop();
    await assert.rejects(run);
    assert.equal(registry.list().length, models, "no candidate registered");
    assert.equal(learner.runsList(1)[0]!.state, "interrupted");
    assert.match(learner.runsList(1)[0]!.reason, /linepilot stopped during the run/);
  }
  // A crash between writing a candidate's file and committing its row, during a run.
  const store = new Store(cfg.store, silentLogger());
  store.open();
  store.db
    .prepare(
      "INSERT INTO learning_runs (model_name, trigger, started_at, state) VALUES (?, 'schedule', 0, 'running')",
    )
    .run(PM_MODEL_NAME);
  store.close();
  writeFileSync(join(cfg.registry!.dir!, `${PM_MODEL_NAME}-99.lpm`), "half");
  writeFileSync(join(cfg.registry!.dir!, `${PM_MODEL_NAME}-100.lpm.tmp`), "half");
  // And a second model, promoted, then its file tampered: at start, the fallback runs.
  const { store: s2, registry, predictor, learner } = await line(t, cfg);
  assert.deepEqual(
    readdirSync(cfg.registry!.dir!).sort(),
    registry
      .list()
      .map((e) => e.path.slice(e.path.lastIndexOf("/") + 1))
      .sort(),
    "orphan files removed",
  );
  assert.equal(learner.runsList(1)[0]!.state, "interrupted");
  const shipped = registry.withStatus(PM_MODEL_NAME, "active")!;
  const copy = registry.add(
    registry.load(shipped),
    { name: PM_MODEL_NAME, version: "copy", type: "random_forest", status: "candidate" },
    "test",
    "test",
  );
  await registry.promote(copy.id, "anna");
  assert.equal(predictor.modelId, copy.id);
  const bytes = readFileSync(copy.path);
  bytes[40]! ^= 0x80;
  writeFileSync(copy.path, bytes);
  // Same sha256 as registered, but a changed ciphertext: caught by AES-GCM authentication.
  s2.db
    .prepare("UPDATE ai_models SET sha256 = ? WHERE id = ?")
    .run(createHash("sha256").update(bytes).digest("hex"), copy.id);
  assert.throws(() => registry.load(registry.get(copy.id)), /failed authentication \(AES-256-GCM\)/);
  const restarted = new Predictor(cfg.maintenance!, { store: s2, log: silentLogger(), line: cfg, registry });
  await restarted.start();
  t.after(() => restarted.stop());
  assert.equal(restarted.modelId, shipped.id, "the fallback runs");
  assert.match(restarted.fallbackReason ?? "", /failed authentication/);
  assert.equal(restarted.health().state, "degraded");
  // `status` says why, and the registry's state clears once a model that loads is made active.
  assert.match(
    summarize("maintenance", restarted.health().details),
    /RUNNING THE FALLBACK model #\d+: .*failed authentication/,
  );
  assert.equal(registry.health().state, "degraded");
  assert.match(
    summarize("registry", registry.health().details),
    /REFUSED active predictive_maintenance: .*failed authentication/,
  );
  const good = registry.add(
    registry.load(shipped),
    { name: PM_MODEL_NAME, version: "good", type: "random_forest", status: "candidate" },
    "test",
    "test",
  );
  await registry.promote(good.id, "anna");
  assert.equal(registry.health().state, "ok", "a refusal that was dealt with is history");
  assert.doesNotMatch(summarize("registry", registry.health().details), /REFUSED/);
});

test("the cron schedule in the YAML starts runs by itself, recorded with their trigger", async (t) => {
  const dir = tempDir(t);
  const yaml = `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: cron-line }
machines: [{ id: 1, name: Press 1 }]
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
maintenance: { model: ${JSON.stringify(MODEL)} }
registry: { key: { source: file, path: model.key, create: true } }
learning: { schedule: "* * * * * *" }
`;
  const cfg = parseConfig(yaml, join(dir, "line.yaml"));
  const { learner } = await line(t, cfg);
  assert.ok(learner.nextRunAt !== null && learner.nextRunAt.getTime() - Date.now() <= 1_000);
  const run = await waitFor(() => learner.runsList(1)[0], 5_000, "a scheduled run");
  assert.equal(run.trigger, "schedule");
  assert.equal(
    run.state === "running" ? "skipped" : run.state,
    "skipped",
    "an empty store has no new labels",
  );
});
