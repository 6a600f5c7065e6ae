/** The registry's refusals are decisions too: audited, and never claiming what did not happen. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { ModelRegistry } from "../../src/registry/registry.js";
import { Store } from "../../src/store/store.js";
import { ROOT, tempDir } from "../helpers.js";

const MODEL = readFileSync(join(ROOT, "models/predictive_maintenance.onnx"));

async function open(t: { after(fn: () => Promise<void> | void): void }, dir: string, keyFile: string) {
  const cfg = parseConfig(
    `version: 1
line: { enterprise: a, site: b, area: c, name: reg }
machines: [{ id: 1, name: M1 }]
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
registry: { dir: ${JSON.stringify(join(dir, "models"))}, key: { source: file, path: ${JSON.stringify(keyFile)}, create: true } }
`,
    join(dir, "line.yaml"),
  );
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const registry = new ModelRegistry(cfg.registry!, { store, log: silentLogger() });
  await registry.start();
  t.after(async () => {
    await registry.stop();
    store.close();
  });
  const audit = (kind: string) =>
    store.db
      .prepare("SELECT decision, reason FROM ai_decisions_audit WHERE kind = ? ORDER BY id")
      .all(kind) as {
      decision: string;
      reason: string;
    }[];
  return { registry, store, audit };
}

test("a refused promotion is audited with who asked and why; the active model stays", async (t) => {
  const dir = tempDir(t);
  const { registry, audit } = await open(t, dir, join(dir, "model.key"));
  const first = registry.add(
    MODEL,
    { name: "pm", version: "1", type: "random_forest", status: "candidate" },
    "anna",
    "test",
  );
  await registry.promote(first.id, "anna");
  const second = registry.add(
    MODEL,
    { name: "pm", version: "2", type: "random_forest", status: "candidate" },
    "anna",
    "test",
  );
  registry.setActivator("pm", async () => {
    throw new Error("its features do not match the line's tags");
  });
  await assert.rejects(registry.promote(second.id, "bob", "lab validated"), /features do not match/);
  const refused = audit("model_promote_refused");
  assert.equal(refused.length, 1);
  assert.match(refused[0]!.decision, /pm: #2 \(2\) not made active; #1 stays/);
  assert.match(refused[0]!.reason, /features do not match the line's tags \(asked: lab validated\)/);
  assert.equal(registry.withStatus("pm", "active")?.id, first.id);
});

test("after a wrong key the audit does not claim the fallback runs when it was refused too", async (t) => {
  const dir = tempDir(t);
  const keyFile = join(dir, "model.key");
  {
    const { registry } = await open(t, dir, keyFile);
    for (const v of ["1", "2"]) {
      const e = registry.add(
        MODEL,
        { name: "pm", version: v, type: "random_forest", status: "candidate" },
        "anna",
        "test",
      );
      await registry.promote(e.id, "anna");
    }
  }
  writeFileSync(keyFile, Buffer.alloc(32, 7).toString("base64"), { mode: 0o600 }); // another key
  const { registry, audit } = await open(t, dir, keyFile);
  assert.throws(
    () => registry.loadActive("pm"),
    (e: Error & { code?: string }) =>
      e.code === "LP_ERR_MODEL" && /fallback #1 was refused too/.test(e.message),
  );
  const [load] = audit("model_load");
  assert.match(load!.decision, /^refused, and fallback #1 refused too$/);
  assert.doesNotMatch(load!.decision, /running fallback/);
});
