/**
 * PPO (Schulman et al. 2017, clipped objective, GAE) for the optimizer's policy, trained against the
 * twin with docs/design.md §5's reward.
 *
 * Written by hand, with its small network and Adam: npm's deep-learning libraries either download
 * native binaries at install (tfjs-node, which this machine cannot fetch) or bring a whole tensor
 * runtime for three 32-unit layers; we also need the weights in our own hands to export them to
 * ONNX, and bit-for-bit reproducibility from a seed, which a threaded BLAS does not promise.
 *
 * One episode is one shift of one machine: decisions every few minutes; an action is three numbers
 * in [-1, 1], each a fraction of the envelope's autonomous step for speed, temperature and
 * pressure. Start setpoints, wear, the goal and the twin's parameters are drawn at random per
 * episode, so the policy has to read its observation (normalised by the process window) rather
 * than learn one line by heart.
 */

import { mulberry32 } from "../common/random.js";
import type { DenseLayer } from "../inference/onnxModel.js";
import { SETPOINT_ROLES as SETPOINTS, type SetpointRole as Setpoint } from "../line/vocabulary.js";
import { DEFAULT_PARAMS, type ProcessParams } from "../process/machine.js";
import { rollout } from "../process/scenario.js";
import {
  defaultEnergyBudgetKw,
  goalShortfallCost,
  type MachineState,
  machineState,
  OBSERVATION,
  observe,
  stepReward,
  targetsFromSteps,
  twinAt,
} from "./decision.js";

// ---- a small dense network ----

export class Mlp {
  readonly sizes: number[];
  readonly w: Float64Array[];
  readonly b: Float64Array[];
  /** Output layer activation: tanh (actor, bounded actions) or none (critic). */
  readonly outTanh: boolean;
  // Activations of the last forward pass, kept for backward (no allocation per sample).
  readonly #acts: Float64Array[];
  readonly #deltas: Float64Array[];

  constructor(sizes: number[], outTanh: boolean, random: () => number, outScale = 1) {
    this.sizes = sizes;
    this.outTanh = outTanh;
    this.w = [];
    this.b = [];
    for (let l = 0; l + 1 < sizes.length; l++) {
      const fanIn = sizes[l]!;
      const fanOut = sizes[l + 1]!;
      const scale = (l + 2 === sizes.length ? outScale : 1) * Math.sqrt(1 / fanIn);
      this.w.push(
        Float64Array.from({ length: fanIn * fanOut }, () => (random() * 2 - 1) * Math.sqrt(3) * scale),
      );
      this.b.push(new Float64Array(fanOut));
    }
    this.#acts = sizes.map((n) => new Float64Array(n));
    this.#deltas = sizes.map((n) => new Float64Array(n));
  }

  forward(x: ArrayLike<number>): Float64Array {
    const a0 = this.#acts[0]!;
    for (let i = 0; i < a0.length; i++) a0[i] = x[i]!;
    const layers = this.w.length;
    for (let l = 0; l < layers; l++) {
      const input = this.#acts[l]!;
      const out = this.#acts[l + 1]!;
      const w = this.w[l]!;
      const n = out.length;
      out.set(this.b[l]!);
      for (let i = 0; i < input.length; i++) {
        const v = input[i]!;
        for (let j = 0; j < n; j++) out[j] = out[j]! + v * w[i * n + j]!;
      }
      if (l + 1 < layers || this.outTanh) for (let j = 0; j < n; j++) out[j] = Math.tanh(out[j]!);
    }
    return this.#acts[layers]!;
  }

  /** Adds d(loss)/d(parameters) for the last forward pass, given d(loss)/d(output), into `grad`. */
  backward(dOut: ArrayLike<number>, grad: { w: Float64Array[]; b: Float64Array[] }): void {
    const layers = this.w.length;
    const top = this.#deltas[layers]!;
    const outAct = this.#acts[layers]!;
    for (let j = 0; j < top.length; j++) top[j] = dOut[j]! * (this.outTanh ? 1 - outAct[j]! ** 2 : 1);
    for (let l = layers - 1; l >= 0; l--) {
      const delta = this.#deltas[l + 1]!;
      const input = this.#acts[l]!;
      const w = this.w[l]!;
      const gw = grad.w[l]!;
      const gb = grad.b[l]!;
      const n = delta.length;
      for (let j = 0; j < n; j++) gb[j] = gb[j]! + delta[j]!;
      const below = this.#deltas[l]!;
      for (let i = 0; i < input.length; i++) {
        let sum = 0;
        const v = input[i]!;
        for (let j = 0; j < n; j++) {
          gw[i * n + j] = gw[i * n + j]! + v * delta[j]!;
          sum += w[i * n + j]! * delta[j]!;
        }
        // Through the hidden tanh below (the input layer has none; its delta is unused).
        below[i] = sum * (1 - v * v);
      }
    }
  }

  zeroGrad(): { w: Float64Array[]; b: Float64Array[] } {
    return {
      w: this.w.map((w) => new Float64Array(w.length)),
      b: this.b.map((b) => new Float64Array(b.length)),
    };
  }

  toLayers(): DenseLayer[] {
    return this.w.map((w, l) => ({
      inputs: this.sizes[l]!,
      outputs: this.sizes[l + 1]!,
      weights: Float32Array.from(w),
      bias: Float32Array.from(this.b[l]!),
      activation: l + 1 < this.w.length || this.outTanh ? ("tanh" as const) : ("none" as const),
    }));
  }
}

class Adam {
  readonly #params: Float64Array[];
  readonly #m: Float64Array[];
  readonly #v: Float64Array[];
  #t = 0;
  constructor(
    params: Float64Array[],
    readonly lr: number,
  ) {
    this.#params = params;
    this.#m = params.map((p) => new Float64Array(p.length));
    this.#v = params.map((p) => new Float64Array(p.length));
  }
  step(grads: Float64Array[], scale: number): void {
    this.#t++;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** this.#t;
    const c2 = 1 - b2 ** this.#t;
    this.#params.forEach((p, k) => {
      const g = grads[k]!;
      const m = this.#m[k]!;
      const v = this.#v[k]!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! * scale;
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        p[i] = p[i]! - (this.lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
      }
    });
  }
}

// ---- the training environment: one machine, one shift ----

export interface EpisodeSetup {
  params: ProcessParams;
  state: MachineState;
  goalGood: number | undefined;
}

const LIMITS: Record<Setpoint, [number, number]> = {
  speed_setpoint: [10, 60],
  temperature_setpoint: [160, 200],
  pressure_setpoint: [4.5, 7.5],
};

/** A random start: the line as a shift may find it (drifted setpoints, some wear, a goal or none). */
export function randomEpisode(random: () => number): EpisodeSetup {
  const jitter = (v: number, f: number) => v * (1 + (random() * 2 - 1) * f);
  const params: ProcessParams = {
    ...DEFAULT_PARAMS,
    rateMax: jitter(DEFAULT_PARAMS.rateMax, 0.15),
    rateScale: jitter(DEFAULT_PARAMS.rateScale, 0.15),
    powerBase: jitter(DEFAULT_PARAMS.powerBase, 0.2),
    powerSpeed2: jitter(DEFAULT_PARAMS.powerSpeed2, 0.2),
    powerHeat: jitter(DEFAULT_PARAMS.powerHeat, 0.2),
    scrapTemp: jitter(DEFAULT_PARAMS.scrapTemp, 0.3),
    scrapPressure: jitter(DEFAULT_PARAMS.scrapPressure, 0.3),
    scrapSpeed: jitter(DEFAULT_PARAMS.scrapSpeed, 0.3),
  };
  const signals = {
    speed_setpoint: 22 + random() * 18,
    temperature_setpoint: 165 + random() * 34,
    pressure_setpoint: 4.8 + random() * 2.6,
    wear: random() * 0.5,
  };
  const goalGood = random() < 0.8 ? 8 * 60 * jitter(34, 0.25) : undefined;
  const state = machineState(
    1,
    {
      ...signals,
      speed: signals.speed_setpoint,
      process_temperature: signals.temperature_setpoint,
      pressure: signals.pressure_setpoint,
    },
    LIMITS,
  );
  return { params, state, goalGood };
}

export interface PpoOptions {
  seed: number;
  iterations: number;
  episodesPerIteration: number;
  /** Decisions per episode and minutes between them (8 h shift: 96 x 5 min). */
  decisions: number;
  minutesPerDecision: number;
  stepFraction: number;
  hidden: number;
  epochs: number;
  minibatch: number;
  onIteration?: (i: number, meanReturn: number) => void;
}

export const PPO_DEFAULTS: PpoOptions = {
  seed: 7,
  iterations: 150,
  episodesPerIteration: 8,
  decisions: 96,
  minutesPerDecision: 5,
  stepFraction: 0.1,
  hidden: 32,
  epochs: 6,
  minibatch: 128,
};

export interface TrainedPolicy {
  actor: Mlp;
  critic: Mlp;
  logStd: Float64Array;
  curve: { iteration: number; meanReturn: number; std: number }[];
}

const REWARD_SCALE = 1 / 100;
/** Actions below this fraction of a full step are no change: a plant does not want a write every few minutes. */
export const DEAD_ZONE = 0.3;

/** Runs one episode with the given action chooser; returns per-step observations, actions, rewards. */
export function runEpisode(
  setup: EpisodeSetup,
  o: Pick<PpoOptions, "decisions" | "minutesPerDecision" | "stepFraction">,
  act: (obs: Float32Array, out: Float64Array) => void,
  seed: number,
  record?: { obs: Float32Array[]; actions: Float64Array[]; rewards: number[] },
): number {
  const { params } = setup;
  const budget = defaultEnergyBudgetKw(params);
  const twin = twinAt(params, setup.state, {}, seed);
  const hours = (o.decisions * o.minutesPerDecision) / 60;
  let total = 0;
  let good = 0;
  const action = new Float64Array(3);
  const steps = new Float64Array(3);
  for (let d = 0; d < o.decisions; d++) {
    const signals = { ...setup.state.signals };
    for (const sp of SETPOINTS) signals[sp] = twin.read(sp);
    signals.wear = twin.wear;
    const remainingH = hours - (d * o.minutesPerDecision) / 60;
    const state: MachineState = {
      machineId: 1,
      signals,
      limits: setup.state.limits,
      ...(setup.goalGood !== undefined
        ? { goal: { remainingGood: Math.max(0, setup.goalGood - good), remainingH, totalH: hours } }
        : {}),
    };
    const obs = new Float32Array(OBSERVATION.length);
    observe(params, state, budget, obs);
    act(obs, action);
    for (let k = 0; k < 3; k++) steps[k] = Math.max(-1, Math.min(1, action[k]!)) * o.stepFraction;
    const targets = targetsFromSteps(state, steps, o.stepFraction * DEAD_ZONE);
    for (const [sp, v] of Object.entries(targets) as [Setpoint, number][]) twin.setSetpoint(sp, v);
    const r = rollout(twin, o.minutesPerDecision, budget);
    good += r.good;
    let reward = stepReward(r);
    if (d === o.decisions - 1 && setup.goalGood !== undefined)
      reward -= goalShortfallCost(
        { remainingGood: setup.goalGood - good + r.good, remainingH: 0, totalH: hours },
        r,
        0,
      );
    total += reward;
    if (record !== undefined) {
      record.obs.push(obs);
      record.actions.push(Float64Array.from(action));
      record.rewards.push(reward * REWARD_SCALE);
    }
  }
  return total;
}

export function trainPpo(options: Partial<PpoOptions> = {}): TrainedPolicy {
  const o = { ...PPO_DEFAULTS, ...options };
  const random = mulberry32(o.seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const n = OBSERVATION.length;
  const actor = new Mlp([n, o.hidden, o.hidden, 3], true, random, 0.01);
  const critic = new Mlp([n, o.hidden, o.hidden, 1], false, random);
  const logStd = new Float64Array(3).fill(-0.7);
  const actorOpt = new Adam([...actor.w, ...actor.b, logStd], 3e-4);
  const criticOpt = new Adam([...critic.w, ...critic.b], 1e-3);
  const curve: TrainedPolicy["curve"] = [];
  const gamma = 0.99;
  const lambda = 0.95;
  const clip = 0.2;
  for (let it = 0; it < o.iterations; it++) {
    const obs: Float32Array[] = [];
    const actions: Float64Array[] = [];
    const rewards: number[] = [];
    const returns: number[] = [];
    for (let e = 0; e < o.episodesPerIteration; e++) {
      const setup = randomEpisode(random);
      const episodeSeed = Math.floor(random() * 2 ** 31);
      returns.push(
        runEpisode(
          setup,
          o,
          (x, out) => {
            const mean = actor.forward(x);
            for (let k = 0; k < 3; k++) out[k] = mean[k]! + Math.exp(logStd[k]!) * gauss();
          },
          episodeSeed,
          { obs, actions, rewards },
        ),
      );
    }
    // Values, advantages (GAE within each episode) and old log-probabilities.
    const size = obs.length;
    const values = new Float64Array(size);
    const oldLogp = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      values[i] = critic.forward(obs[i]!)[0]!;
      oldLogp[i] = logProb(actor.forward(obs[i]!), actions[i]!, logStd);
    }
    const adv = new Float64Array(size);
    const target = new Float64Array(size);
    for (let start = 0; start < size; start += o.decisions) {
      let gae = 0;
      for (let t = start + o.decisions - 1; t >= start; t--) {
        const nextValue = t + 1 < start + o.decisions ? values[t + 1]! : 0;
        const delta = rewards[t]! + gamma * nextValue - values[t]!;
        gae = delta + gamma * lambda * gae;
        adv[t] = gae;
        target[t] = gae + values[t]!;
      }
    }
    let mean = 0;
    for (const a of adv) mean += a / size;
    let sd = 0;
    for (const a of adv) sd += (a - mean) ** 2 / size;
    sd = Math.sqrt(sd) + 1e-8;
    for (let i = 0; i < size; i++) adv[i] = (adv[i]! - mean) / sd;
    const order = Array.from({ length: size }, (_, i) => i);
    const dMean = new Float64Array(3);
    const dValue = new Float64Array(1);
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      for (let i = size - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (let b = 0; b < size; b += o.minibatch) {
        const batch = order.slice(b, b + o.minibatch);
        const ga = actor.zeroGrad();
        const gLogStd = new Float64Array(3);
        const gc = critic.zeroGrad();
        for (const i of batch) {
          const mu = actor.forward(obs[i]!);
          const a = actions[i]!;
          const ratio = Math.exp(logProb(mu, a, logStd) - oldLogp[i]!);
          const A = adv[i]!;
          // The clipped surrogate: no gradient where clipping binds.
          const clipped = (A > 0 && ratio > 1 + clip) || (A < 0 && ratio < 1 - clip);
          const dLogp = clipped ? 0 : -A * ratio;
          for (let k = 0; k < 3; k++) {
            const s2 = Math.exp(2 * logStd[k]!);
            dMean[k] = dLogp * ((a[k]! - mu[k]!) / s2);
            gLogStd[k] = gLogStd[k]! + dLogp * ((a[k]! - mu[k]!) ** 2 / s2 - 1);
          }
          actor.backward(dMean, ga);
          const v = critic.forward(obs[i]!)[0]!;
          dValue[0] = v - target[i]!;
          critic.backward(dValue, gc);
        }
        const scale = 1 / batch.length;
        actorOpt.step([...ga.w, ...ga.b, gLogStd], scale);
        criticOpt.step([...gc.w, ...gc.b], scale);
        for (let k = 0; k < 3; k++) logStd[k] = Math.max(-3, Math.min(0.5, logStd[k]!));
      }
    }
    const meanReturn = returns.reduce((x, y) => x + y, 0) / returns.length;
    const std = Math.sqrt(returns.reduce((x, y) => x + (y - meanReturn) ** 2, 0) / returns.length);
    curve.push({ iteration: it + 1, meanReturn: Math.round(meanReturn), std: Math.round(std) });
    o.onIteration?.(it + 1, meanReturn);
  }
  return { actor, critic, logStd, curve };
}

function logProb(mean: ArrayLike<number>, a: ArrayLike<number>, logStd: Float64Array): number {
  let lp = 0;
  for (let k = 0; k < 3; k++) {
    const s = Math.exp(logStd[k]!);
    lp += -(((a[k]! - mean[k]!) / s) ** 2) / 2 - logStd[k]! - 0.9189385332046727;
  }
  return lp;
}
