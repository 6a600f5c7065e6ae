import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { PpoPolicy, SearchPolicy } from "../../src/optimizer/optimizer.js";
import { runShift } from "../../src/optimizer/shift.js";
import { ROOT, tempDir } from "../helpers.js";

const search = () => new SearchPolicy({ lookaheadMin: 30, minGainPerHour: 20 });

test("8-hour shift on the twin, autonomous: scrap and energy down against the untouched run, every write inside the envelope and audited first", async (t) => {
  const r = await runShift({ storePath: join(tempDir(t), "shift.db"), policy: search(), mode: "autonomous" });
  console.log(
    `search, autonomous: ai_scrap_rate_reduction_percent=${r.ai_scrap_rate_reduction_percent} ai_energy_savings_kwh=${r.ai_energy_savings_kwh} writes=${r.writes}`,
  );
  assert.ok(r.writes > 0, "the optimizer wrote");
  assert.deepEqual(r.violations, [], "no write left docs/design.md §6's envelope or went unaudited");
  assert.ok(r.writes_seen.every((w) => w.audited && w.approvedBy === null));
  assert.ok(r.writes_seen.every((w) => Math.abs(w.to - w.from) <= 0.1 * Math.abs(w.from) + 1e-9));
  assert.ok(
    r.optimized.scrap_rate_percent < r.baseline.scrap_rate_percent,
    `scrap rate ${r.optimized.scrap_rate_percent} % vs ${r.baseline.scrap_rate_percent} % untouched`,
  );
  assert.ok(r.ai_scrap_rate_reduction_percent > 20);
  assert.ok(r.ai_energy_savings_kwh > 0, `energy saved: ${r.ai_energy_savings_kwh} kWh`);
  assert.ok(r.optimized.goal_met, "the goal is still met");
  assert.ok(r.optimized.reward > r.baseline.reward);
});

test("assisted shift: nothing is written without an approval; approved suggestions are written and name the approver", async (t) => {
  const dir = tempDir(t);
  const idle = await runShift({ storePath: join(dir, "idle.db"), policy: search(), mode: "assisted" });
  assert.ok(idle.suggestions > 5, "suggestions were made");
  assert.equal(idle.writes, 0, "no approval, no write");
  assert.deepEqual(idle.optimized, idle.baseline, "the line ran untouched");

  const approved = await runShift({
    storePath: join(dir, "approved.db"),
    policy: search(),
    mode: "assisted",
    approve: (s) => (s.machineId === 1 ? "technician:anna" : undefined),
  });
  assert.ok(approved.writes > 0);
  assert.deepEqual(approved.violations, []);
  assert.ok(approved.writes_seen.every((w) => w.approvedBy === "technician:anna" && w.tag.startsWith("m1.")));
  assert.ok(approved.ai_scrap_rate_reduction_percent > 0, "machine 1's approved changes reduced scrap");
});

test("the shipped PPO policy, run by onnxruntime, drives a shift inside the envelope and reduces scrap from a drifted start", async (t) => {
  const r = await runShift({
    storePath: join(tempDir(t), "ppo.db"),
    policy: new PpoPolicy(join(ROOT, "models/production_optimizer.onnx"), 5_000),
    mode: "autonomous",
    hours: 4,
  });
  console.log(
    `ppo, autonomous, 4 h: ai_scrap_rate_reduction_percent=${r.ai_scrap_rate_reduction_percent} ai_energy_savings_kwh=${r.ai_energy_savings_kwh} writes=${r.writes}`,
  );
  assert.equal(r.policy, "ppo");
  assert.ok(r.writes > 0);
  assert.deepEqual(r.violations, []);
  assert.ok(r.ai_scrap_rate_reduction_percent > 20);
});
