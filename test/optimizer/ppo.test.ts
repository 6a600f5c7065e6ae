import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { mulberry32 } from "../../src/common/random.js";
import { ModelRunner } from "../../src/inference/engine.js";
import { mlpToOnnx } from "../../src/inference/onnxModel.js";
import { OBSERVATION } from "../../src/optimizer/decision.js";
import { Mlp, trainPpo } from "../../src/optimizer/ppo.js";
import { ROOT, tempDir } from "../helpers.js";

test("the network's gradients match finite differences", () => {
  const random = mulberry32(3);
  const net = new Mlp([4, 5, 5, 2], true, random);
  const x = [0.3, -0.7, 0.1, 0.9];
  const weights = [0.7, -1.3];
  const loss = () => {
    const y = net.forward(x);
    return weights[0]! * y[0]! + weights[1]! * y[1]!;
  };
  loss();
  const grad = net.zeroGrad();
  net.backward(weights, grad);
  let checked = 0;
  for (let l = 0; l < net.w.length; l++)
    for (const [params, g] of [
      [net.w[l]!, grad.w[l]!],
      [net.b[l]!, grad.b[l]!],
    ] as const)
      for (let i = 0; i < params.length; i += 3) {
        const keep = params[i]!;
        params[i] = keep + 1e-6;
        const up = loss();
        params[i] = keep - 1e-6;
        const down = loss();
        params[i] = keep;
        assert.ok(Math.abs((up - down) / 2e-6 - g[i]!) < 1e-6, `layer ${l} parameter ${i}`);
        checked++;
      }
  assert.ok(checked > 20);
});

test("PPO is reproducible from its seed, learns, and its ONNX export gives the network's actions in onnxruntime", async (t) => {
  const small = { iterations: 25, episodesPerIteration: 4, decisions: 48, seed: 11 };
  const a = trainPpo(small);
  const b = trainPpo(small);
  const info = { name: "production_optimizer", version: "t", features: [...OBSERVATION], metadata: {} };
  const bytesA = mlpToOnnx(a.actor.toLayers(), info);
  assert.deepEqual(bytesA, mlpToOnnx(b.actor.toLayers(), info), "same seed, same model, byte for byte");
  const first = a.curve.slice(0, 5).reduce((s, c) => s + c.meanReturn, 0) / 5;
  const last = a.curve.slice(-5).reduce((s, c) => s + c.meanReturn, 0) / 5;
  assert.ok(last > first, `mean shift return rose from ${first} to ${last}`);

  const path = join(tempDir(t), "policy.onnx");
  writeFileSync(path, bytesA);
  const runner = new ModelRunner({
    name: "policy",
    path,
    features: OBSERVATION,
    kind: "policy",
    timeoutMs: 5_000,
  });
  await runner.start();
  t.after(() => runner.stop());
  const random = mulberry32(5);
  const input = Float32Array.from({ length: 16 * OBSERVATION.length }, () => random() * 2 - 1);
  const out = await runner.run(input, 16);
  assert.equal(out.width, 3);
  for (let r = 0; r < 16; r++) {
    const own = a.actor.forward(input.subarray(r * 8, r * 8 + 8));
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(own[k]! - out.values[r * 3 + k]!) < 1e-5);
  }
  // A forest is not a policy, and the engine says so.
  assert.throws(
    () =>
      new ModelRunner({
        name: "policy",
        path: join(ROOT, "models/predictive_maintenance.onnx"),
        features: OBSERVATION,
        kind: "policy",
        timeoutMs: 1_000,
      }),
    /is a forest model, not a policy/,
  );
});

test("the shipped policy's card reports how it was trained and both policies' shift figures", () => {
  const card = JSON.parse(readFileSync(join(ROOT, "models/production_optimizer.card.json"), "utf8"));
  assert.equal(card.training.seed, 7);
  assert.ok(card.onnxruntime_max_abs_difference < 1e-5);
  assert.ok(["search", "ppo"].includes(card.evaluation.better));
  assert.equal(card.evaluation.shifts.length, 6);
  assert.ok(card.evaluation.shifts.every((s: { violations: number }) => s.violations === 0));
  const curve = readFileSync(join(ROOT, "models/production_optimizer.learning_curve.csv"), "utf8")
    .trim()
    .split("\n");
  assert.equal(curve.length, 1 + card.training.iterations);
});
