import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { mulberry32 } from "../../src/common/random.js";
import { loadModelFile, ModelRunner } from "../../src/inference/engine.js";
import {
  baseValue,
  type Forest,
  predictProbability,
  type Tree,
  trainForest,
  treeShap,
} from "../../src/inference/forest.js";
import { forestToOnnx, onnxToForest } from "../../src/inference/onnxModel.js";
import { auc } from "../../src/maintenance/train.js";
import { tempDir } from "../helpers.js";

const FEATURES = ["vibration", "temperature", "current", "noise"];

function data(n: number, seed: number) {
  const r = mulberry32(seed);
  const x: Float32Array[] = [];
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = Float32Array.from([r() * 5, 40 + r() * 50, r() * 20, r()]);
    x.push(row);
    y[i] = row[0]! / 5 + (row[1]! - 40) / 100 + 0.3 * r() > 1 ? 1 : 0;
  }
  return { x, y };
}

/** E[f(x) | x_S] along the tree's own cover, the quantity TreeSHAP attributes. */
function conditional(tree: Tree, row: Float32Array, known: Set<number>, node = 0): number {
  if (tree.feature[node]! < 0) return tree.value[node]!;
  const f = tree.feature[node]!;
  if (known.has(f))
    return conditional(
      tree,
      row,
      known,
      Math.fround(row[f]!) <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!,
    );
  const l = tree.left[node]!;
  const r = tree.right[node]!;
  return (
    (tree.cover[l]! * conditional(tree, row, known, l) + tree.cover[r]! * conditional(tree, row, known, r)) /
    tree.cover[node]!
  );
}

function bruteForceShapley(forest: Forest, row: Float32Array): number[] {
  const m = forest.features.length;
  const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1));
  const phi = new Array<number>(m).fill(0);
  for (const tree of forest.trees)
    for (let i = 0; i < m; i++)
      for (let mask = 0; mask < 1 << m; mask++) {
        if (mask & (1 << i)) continue;
        const s = new Set<number>();
        for (let j = 0; j < m; j++) if (mask & (1 << j)) s.add(j);
        const weight = (factorial(s.size) * factorial(m - s.size - 1)) / factorial(m);
        const withI = new Set(s).add(i);
        phi[i]! +=
          (weight * (conditional(tree, row, withI) - conditional(tree, row, s))) / forest.trees.length;
      }
  return phi;
}

test("TreeSHAP is exact (equals brute-force Shapley values) and additive (base + contributions = prediction)", () => {
  const { x, y } = data(800, 1);
  const forest = trainForest(x, y, FEATURES, { trees: 15, maxDepth: 5, minSamplesLeaf: 3, seed: 2 });
  const base = baseValue(forest);
  for (const row of x.slice(0, 20)) {
    const phi = treeShap(forest, row);
    const exact = bruteForceShapley(forest, row);
    for (let i = 0; i < phi.length; i++)
      assert.ok(Math.abs(phi[i]! - exact[i]!) < 1e-12, `feature ${i}: ${phi[i]} vs ${exact[i]}`);
    const sum = phi.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(base + sum - predictProbability(forest, row)) < 1e-12, "local accuracy");
  }
});

test("the ONNX export gives onnxruntime's probabilities equal to the forest's (1e-5), and reads back to the same forest", async () => {
  const { x, y } = data(3_000, 3);
  const forest = trainForest(x, y, FEATURES, { trees: 40, maxDepth: 8, minSamplesLeaf: 5, seed: 4 });
  const bytes = forestToOnnx(forest, {
    name: "pm",
    version: "t",
    features: FEATURES,
    metadata: { horizon_h: "48" },
  });
  const session = await ort.InferenceSession.create(bytes);
  const test = data(1_000, 99).x;
  const input = new Float32Array(test.length * 4);
  for (let i = 0; i < test.length; i++) input.set(test[i]!, i * 4);
  const out = await session.run({ features: new ort.Tensor("float32", input, [test.length, 4]) });
  const p = out.probabilities!.data as Float32Array;
  let maxDiff = 0;
  test.forEach((row, i) => {
    maxDiff = Math.max(maxDiff, Math.abs(p[i * 2 + 1]! - predictProbability(forest, row)));
    assert.ok(Math.abs(p[i * 2]! + p[i * 2 + 1]! - 1) < 1e-5);
  });
  assert.ok(maxDiff < 1e-5, `max difference ${maxDiff}`);
  await session.release();
  const back = onnxToForest(bytes);
  assert.deepEqual(back.info.features, FEATURES);
  assert.equal(back.info.metadata.horizon_h, "48");
  for (const row of test.slice(0, 200))
    assert.ok(Math.abs(predictProbability(back.forest, row) - predictProbability(forest, row)) < 1e-6);
  // Same data and seed: the same model, byte for byte.
  const again = forestToOnnx(
    trainForest(x, y, FEATURES, { trees: 40, maxDepth: 8, minSamplesLeaf: 5, seed: 4 }),
    {
      name: "pm",
      version: "t",
      features: FEATURES,
      metadata: { horizon_h: "48" },
    },
  );
  assert.deepEqual(Buffer.from(again), Buffer.from(bytes));
  const scores = test.map((row) => predictProbability(forest, row));
  const labels = data(1_000, 99).y;
  assert.ok(auc(scores, [...labels]) > 0.9, "the forest learned the rule");
});

test("models are checked at load; a model that times out is isolated and restarted; ingestion never waits", async (t) => {
  const dir = tempDir(t);
  const { x, y } = data(500, 5);
  const bytes = forestToOnnx(
    trainForest(x, y, FEATURES, { trees: 5, maxDepth: 4, minSamplesLeaf: 3, seed: 1 }),
    {
      name: "pm",
      version: "t",
      features: FEATURES,
      metadata: {},
    },
  );
  const good = join(dir, "pm.onnx");
  writeFileSync(good, bytes);
  const spec = { name: "pm", path: good, features: FEATURES, timeoutMs: 5_000 };
  assert.throws(
    () => loadModelFile({ ...spec, path: join(dir, "missing.onnx") }),
    /model pm: cannot read .*missing\.onnx/,
  );
  const corrupt = join(dir, "corrupt.onnx");
  writeFileSync(corrupt, Buffer.from(bytes).subarray(0, 1_000));
  assert.throws(
    () => loadModelFile({ ...spec, path: corrupt }),
    /model pm: .*corrupt\.onnx is not a valid linepilot ONNX model/,
  );
  assert.throws(
    () => loadModelFile({ ...spec, sha256: "0".repeat(64) }),
    /has sha256 [0-9a-f]{64}, expected 0{64}: refused/,
  );
  assert.throws(
    () => loadModelFile({ ...spec, features: ["vibration", "temperature", "voltage", "noise"] }),
    /model pm: feature 2 is 'current' in the model but 'voltage' here/,
  );
  assert.throws(
    () => loadModelFile({ ...spec, features: ["vibration"] }),
    /linepilot feeds float32 \[N, 1\]/,
  );

  const runner = new ModelRunner({ ...spec, timeoutMs: 1 });
  await runner.start();
  t.after(() => runner.stop());
  const big = new Float32Array(20_000 * 4).fill(1);
  await assert.rejects(runner.run(big, 20_000), /did not answer within 1 ms; restarted/);
  assert.equal(runner.timeouts, 1);
  await new Promise((r) => setTimeout(r, 500));
  await assert.rejects(runner.run(new Float32Array(3), 1), /3 values for 1 rows of 4 features/);
  const ok = new ModelRunner(spec);
  await ok.start();
  t.after(() => ok.stop());
  const scored = await ok.run(Float32Array.from(x[0]!), 1);
  assert.equal(scored.probabilities.length, 1);
  assert.equal(scored.contributions?.length, 4, "exact reasons computed in the worker");
});
