import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { driftedLine, ROOT, runCli, runCliToEnd, tempDir, waitFor, writeFile } from "../helpers.js";
import { freePort } from "../peers/peers.js";

async function healthy(api: string): Promise<boolean> {
  try {
    const r = await fetch(`${api}/health`);
    return r.ok;
  } catch {
    return false;
  }
}

test("linepilot models / promote / rollback / import / learn now against the daemon; kill -9 mid-training leaves no half-registered model", async (t) => {
  const dir = tempDir(t);
  const storePath = join(dir, "line.db");
  await driftedLine(storePath);
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const config = writeFile(
    dir,
    "line.yaml",
    `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: learn-line }
machines: [{ id: 1, name: Press 1 }, { id: 2, name: Press 2 }, { id: 3, name: Press 3 }, { id: 4, name: Press 4 }]
store: { path: line.db }
api: { port: ${port} }
maintenance: { model: ${JSON.stringify(join(ROOT, "models/predictive_maintenance.onnx"))}, tickMs: 3600000 }
registry: { key: { source: file, path: model.key, create: true } }
learning: { schedule: "0 3 * * 0", historyDays: 3650 }
`,
  );
  const start = async () => {
    const daemon = runCli(["run", "--config", config]);
    t.after(() => {
      daemon.proc.kill("SIGKILL");
    });
    await waitFor(() => healthy(api), 30_000, "the daemon's API");
    return daemon;
  };
  let daemon = await start();
  // Reads over TCP; changes through the daemon's unix socket, found from the config.
  const cli = (...args: string[]) => runCliToEnd([...args, "--api", api]);
  const change = (...args: string[]) => runCliToEnd([...args, "--config", config]);

  const listed = await cli("models");
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /1\s+predictive_maintenance\s+2026\.11\.1\s+active\s+0\.991/);

  const imported = await change(
    "models",
    "import",
    join(ROOT, "models/predictive_maintenance.onnx"),
    "--model-version",
    "lab-1",
    "--by",
    "anna",
  );
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /imported as #2 \(candidate, encrypted\)/);
  // A file that is not a model is refused at import, with the model error (not a usage error).
  const garbage = writeFile(dir, "garbage.onnx", "not a model at all");
  const refused = await change("models", "import", garbage, "--model-version", "junk");
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /error LP_ERR_MODEL: not a readable ONNX model/);
  const pickle = await change("models", "import", join(ROOT, "package.json"), "--model-version", "x");
  assert.equal(pickle.code, 2);
  assert.match(pickle.stderr, /only \.onnx models are accepted/);

  const promoted = await change("models", "promote", "2", "--by", "anna", "--reason", "lab validated");
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(
    promoted.stdout,
    /#2 \(lab-1\) is active, #1 \(2026\.11\.1\) is the fallback \(by anna, audited\)/,
  );
  const rolled = await change("models", "rollback", "--by", "bob");
  assert.equal(rolled.code, 0, rolled.stderr);
  assert.match(rolled.stdout, /rolled back to #1 \(2026\.11\.1\) \(by bob, audited\)/);
  const again = await change("models", "rollback", "--by", "bob");
  assert.equal(again.code, 2, "no fallback left to roll back to");
  assert.match(again.stderr, /no fallback model to roll back to/);

  // kill -9 while a learning run trains.
  const learning = runCli(["learn", "now", "--config", config, "--by", "anna"]);
  const db = new Database(storePath, { readonly: true });
  t.after(() => db.close());
  await waitFor(
    () =>
      (db.prepare("SELECT count(*) AS n FROM learning_runs WHERE state = 'running'").get() as { n: number })
        .n === 1,
    10_000,
    "a learning run in progress",
  );
  daemon.proc.kill("SIGKILL");
  await daemon.exited;
  await learning.exited;
  assert.equal((db.prepare("SELECT count(*) AS n FROM ai_models").get() as { n: number }).n, 2);

  daemon = await start();
  const runs = await cli("learn");
  assert.match(runs.stdout, /1\s+\S+ \S+\s+anna\s+interrupted\s+-\s+interrupted by a restart/);
  assert.deepEqual(readdirSync(join(dir, "models")).sort(), [
    "predictive_maintenance-1.lpm",
    "predictive_maintenance-2.lpm",
  ]);

  const learned = await change("learn", "now", "--by", "anna");
  assert.equal(learned.code, 0, learned.stderr);
  assert.match(learned.stdout, /run 2: promoted: candidate AUC/);
  assert.match(learned.stdout, /candidate #3/);
  const after = await cli("models");
  assert.match(after.stdout, /3\s+predictive_maintenance\s+\S+-run2\s+active/);
  assert.match(after.stdout, /1\s+predictive_maintenance\s+2026\.11\.1\s+fallback/);
  const health = (await (await fetch(`${api}/health`)).json()) as {
    components: { maintenance: { details: { modelId: number } } };
  };
  assert.equal(health.components.maintenance.details.modelId, 3, "the daemon runs the learned model");
  daemon.proc.kill("SIGTERM");
  await daemon.exited;
});
