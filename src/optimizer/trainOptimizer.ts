/**
 * `linepilot train-optimizer`: trains the PPO actor on the twin, exports it to ONNX, checks that
 * onnxruntime gives the trained network's actions, and compares it with the twin search on the
 * same 8-hour shifts, untouched vs autonomous. Writes the model, its card (how it was trained, what
 * it scored, against what) and its learning curve (CSV, one row per PPO iteration).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { mulberry32 } from "../common/random.js";
import { mlpToOnnx, POLICY_INPUT, POLICY_OUTPUT } from "../inference/onnxModel.js";
import { OBSERVATION } from "./decision.js";
import { PpoPolicy, SearchPolicy } from "./optimizer.js";
import { PPO_DEFAULTS, type PpoOptions, trainPpo } from "./ppo.js";
import { runShift, type ShiftReport } from "./shift.js";

/** The shifts both policies are judged on: how a line may be found at the start of a shift. */
export const EVALUATION_SHIFTS = [
  { name: "drifted: hot, fast, high pressure", start: { speed: 34, temperature: 196, pressure: 7.0 } },
  { name: "nominal", start: { speed: 30, temperature: 182, pressure: 6.0 } },
  { name: "slow and cold", start: { speed: 25, temperature: 168, pressure: 5.0 } },
] as const;

export interface EvaluationRow {
  shift: string;
  policy: string;
  reward: number;
  baseline_reward: number;
  ai_scrap_rate_reduction_percent: number;
  ai_energy_savings_kwh: number;
  good: number;
  baseline_good: number;
  goal_met: boolean;
  writes: number;
  violations: number;
}

function row(shift: string, r: ShiftReport): EvaluationRow {
  return {
    shift,
    policy: r.policy,
    reward: r.optimized.reward,
    baseline_reward: r.baseline.reward,
    ai_scrap_rate_reduction_percent: r.ai_scrap_rate_reduction_percent,
    ai_energy_savings_kwh: r.ai_energy_savings_kwh,
    good: r.optimized.good,
    baseline_good: r.baseline.good,
    goal_met: r.optimized.goal_met,
    writes: r.writes,
    violations: r.violations.length,
  };
}

/** Runs every evaluation shift with the twin search and with the ONNX policy at `modelPath`. */
export async function comparePolicies(modelPath: string | undefined, seed = 1): Promise<EvaluationRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "linepilot-shift-"));
  const rows: EvaluationRow[] = [];
  try {
    let k = 0;
    for (const shift of EVALUATION_SHIFTS) {
      const policies = [new SearchPolicy({ lookaheadMin: 30, minGainPerHour: 20 })];
      for (const policy of modelPath === undefined
        ? policies
        : [...policies, new PpoPolicy(modelPath, 5_000)]) {
        const report = await runShift({
          storePath: join(dir, `shift${k++}.db`),
          policy,
          mode: "autonomous",
          start: shift.start,
          seed,
        });
        rows.push(row(shift.name, report));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export interface TrainOptimizerResult {
  card: Record<string, unknown>;
  sha256: string;
  curveCsv: string;
}

export async function trainOptimizer(
  out: string,
  options: Partial<PpoOptions> & { version?: string; onIteration?: (i: number, r: number) => void },
): Promise<TrainOptimizerResult> {
  const o = { ...PPO_DEFAULTS, ...options };
  const started = Date.now();
  const trained = trainPpo(o);
  const trainingS = (Date.now() - started) / 1000;
  const version = options.version ?? new Date().toISOString().slice(0, 10);
  const bytes = mlpToOnnx(trained.actor.toLayers(), {
    name: "production_optimizer",
    version,
    features: [...OBSERVATION],
    metadata: {
      algorithm: "PPO (clipped surrogate, GAE), actor exported (deterministic: the Gaussian's mean)",
      seed: String(o.seed),
      action: "speed, temperature, pressure steps as fractions of the autonomous step, in [-1, 1]",
    },
  });
  writeFileSync(out, bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  // Parity: onnxruntime on the written file must give the trained actor's actions.
  const session = await ort.InferenceSession.create(bytes);
  const random = mulberry32(o.seed + 1);
  const n = OBSERVATION.length;
  const probes = 256;
  const input = Float32Array.from({ length: probes * n }, () => random() * 4 - 2);
  const onnxOut = (await session.run({ [POLICY_INPUT]: new ort.Tensor("float32", input, [probes, n]) }))[
    POLICY_OUTPUT
  ]!.data as Float32Array;
  let parity = 0;
  for (let r = 0; r < probes; r++) {
    const own = trained.actor.forward(input.subarray(r * n, (r + 1) * n));
    for (let k = 0; k < 3; k++) parity = Math.max(parity, Math.abs(own[k]! - onnxOut[r * 3 + k]!));
  }
  await session.release();
  const evaluation = await comparePolicies(out);
  const mean = (policy: string, key: keyof EvaluationRow) => {
    const rs = evaluation.filter((r) => r.policy === policy);
    return Math.round((rs.reduce((a, r) => a + Number(r[key]), 0) / rs.length) * 100) / 100;
  };
  const better = mean("ppo", "reward") > mean("search", "reward") ? "ppo" : "search";
  const curveCsv = `iteration,mean_episode_return,std\n${trained.curve.map((c) => `${c.iteration},${c.meanReturn},${c.std}`).join("\n")}\n`;
  const card = {
    name: "production_optimizer",
    version,
    file: out.replace(/^.*\//, ""),
    sha256,
    kind: "PPO actor (policy network) for the production optimizer, docs/design.md §5",
    network: `${trained.actor.sizes.join("-")}, tanh; Gemm/Tanh ONNX opset 17`,
    inputs: [...OBSERVATION],
    outputs:
      "action[3] in [-1, 1]: speed, temperature and pressure steps as fractions of safety.autonomousStepPercent",
    training: {
      environment:
        "the digital twin (src/twin/machine.ts), one machine, 8-hour shifts of 96 decisions 5 minutes apart; start setpoints, wear, goal and twin parameters drawn at random per episode",
      reward:
        "+1 per good piece, -10 per defective piece, -5 per minute above the energy budget (power at nominal speed, mid window), and the goal's shortfall costed like defective pieces",
      seed: o.seed,
      iterations: o.iterations,
      episodes_per_iteration: o.episodesPerIteration,
      epochs: o.epochs,
      minibatch: o.minibatch,
      hidden: o.hidden,
      learning_rates: { actor: 3e-4, critic: 1e-3 },
      final_log_std: Array.from(trained.logStd, (v) => Math.round(v * 1000) / 1000),
      first_iteration_return: trained.curve[0]?.meanReturn,
      last_10_iterations_return: Math.round(
        trained.curve.slice(-10).reduce((a, c) => a + c.meanReturn, 0) / 10,
      ),
      training_seconds: Math.round(trainingS),
      learning_curve: `${out.replace(/^.*\//, "").replace(/\.onnx$/, "")}.learning_curve.csv`,
    },
    onnxruntime_max_abs_difference: parity,
    evaluation: {
      method:
        "runShift: 2 machines, 8 h, goal 90 % of the untouched run's good pieces, autonomous mode through the real safety envelope and store, same random stream as the untouched run",
      shifts: evaluation,
      mean_reward: { search: mean("search", "reward"), ppo: mean("ppo", "reward") },
      mean_scrap_rate_reduction_percent: {
        search: mean("search", "ai_scrap_rate_reduction_percent"),
        ppo: mean("ppo", "ai_scrap_rate_reduction_percent"),
      },
      mean_energy_savings_kwh: {
        search: mean("search", "ai_energy_savings_kwh"),
        ppo: mean("ppo", "ai_energy_savings_kwh"),
      },
      better,
    },
    reproduce: "bash models/reproduce.sh (trains this model with the same seed, byte for byte)",
  };
  writeFileSync(out.replace(/\.onnx$/, ".card.json"), `${JSON.stringify(card, null, 2)}\n`);
  writeFileSync(out.replace(/\.onnx$/, ".learning_curve.csv"), curveCsv);
  return { card, sha256, curveCsv };
}
