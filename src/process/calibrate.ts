/**
 * Fits the process model's response parameters to a line's own buffered history (docs/design.md §7), by
 * least squares over windows of steady running:
 * - output: pieces/min = rateMax * tanh(speed / rateScale) (grid over rateScale, closed form for rateMax);
 * - scrap: fraction = base + a * outsideTemp^2 + b * outsidePressure^2 + c * overSpeed^2;
 * - power: kW = p0 + p1 * speed + p2 * speed^2 + p3 * (processTemp - ambient);
 * - wear: the rate that makes the observed running hours between failures, at the observed load.
 * Parameters a window cannot inform (too few windows, no spread) keep their defaults, and the
 * result says which were fitted and how well (R^2).
 */
import { Matrix, SingularValueDecomposition, solve } from "ml-matrix";
import { roleOf } from "../line/vocabulary.js";
import { listTags, SeriesReader } from "../store/seriesReader.js";
import type { Db } from "../store/store.js";
import { DEFAULT_PARAMS, type ProcessParams, SIGNALS, type Signal } from "./machine.js";

export interface Calibration {
  params: ProcessParams;
  machines: number[];
  windows: number;
  fitted: { rate?: number; scrap?: number; power?: number; wear?: number };
  /** Terms the history could not identify (no spread in what drives them): their defaults are kept. */
  kept: string[];
  /** Latest known state per machine: setpoints, vibration, running hours. */
  latest: Map<number, Partial<Record<Signal, number>>>;
  from: number | null;
  to: number | null;
}

interface Window {
  speed: number;
  temp: number;
  pressure: number;
  ratePerMin: number;
  scrapFraction: number;
  powerKw: number;
  loadFactor: number;
}

/**
 * Which tag is which process-model signal, per machine, by the line's one rule (line/vocabulary.ts): a
 * tag's `role` from the config when given, else a name ending in `.<signal>` (press7.speed).
 */
export function signalTags(
  db: Db,
  roles: ReadonlyMap<string, string> = new Map(),
): Map<number, Map<Signal, number>> {
  const known = new Set<string>(SIGNALS);
  const out = new Map<number, Map<Signal, number>>();
  for (const r of listTags(db)) {
    const signal = roleOf({ name: r.name, role: roles.get(r.name) });
    if (signal === undefined || !known.has(signal)) continue;
    if (!out.has(r.machine)) out.set(r.machine, new Map());
    out.get(r.machine)!.set(signal as Signal, r.id);
  }
  return out;
}

export function calibrate(
  db: Db,
  options: {
    roles?: ReadonlyMap<string, string>;
    windowMin?: number;
    sinceTs?: number;
    ambientC?: number;
  } = {},
): Calibration {
  const windowMs = (options.windowMin ?? 30) * 60_000;
  const ambient = options.ambientC ?? 25;
  const perMachine = signalTags(db, options.roles);
  const windows: Window[] = [];
  const latest = new Map<number, Partial<Record<Signal, number>>>();
  const hoursBetweenFailures: number[] = [];
  let from: number | null = null;
  let to: number | null = null;
  const reader = new SeriesReader(db);
  for (const [machine, tags] of perMachine) {
    const load = (signal: Signal) => {
      const id = tags.get(signal);
      return id === undefined ? [] : reader.goodSamplesSince(id, options.sinceTs ?? 0);
    };
    const last: Partial<Record<Signal, number>> = {};
    for (const [signal, id] of tags) {
      const value = reader.latest(id, Number.MAX_SAFE_INTEGER);
      if (!Number.isNaN(value)) last[signal] = value;
    }
    latest.set(machine, last);
    const speed = load("speed");
    if (speed.length === 0) continue;
    from = Math.min(from ?? speed[0]!.ts, speed[0]!.ts);
    to = Math.max(to ?? speed.at(-1)!.ts, speed.at(-1)!.ts);
    const bucket = (rows: { ts: number; value: number }[]) => {
      const m = new Map<
        number,
        { first: number; last: number; sum: number; n: number; t0: number; t1: number }
      >();
      for (const r of rows) {
        const k = Math.floor(r.ts / windowMs);
        const b = m.get(k);
        if (b === undefined)
          m.set(k, { first: r.value, last: r.value, sum: r.value, n: 1, t0: r.ts, t1: r.ts });
        else {
          b.last = r.value;
          b.sum += r.value;
          b.n++;
          b.t1 = r.ts;
        }
      }
      return m;
    };
    const sp = bucket(speed);
    const temp = bucket(load("process_temperature"));
    const pres = bucket(load("pressure"));
    const pieces = bucket(load("piece_count"));
    const scrap = bucket(load("scrap_count"));
    const energy = bucket(load("energy_kwh"));
    const state = bucket(load("state"));
    for (const [k, s] of sp) {
      const st = state.get(k);
      const pc = pieces.get(k);
      // Steady running only: every state sample says running, and the speed has settled.
      if (st === undefined || st.sum !== st.n || pc === undefined || pc.n < 3) continue;
      const hours = (pc.t1 - pc.t0) / 3_600_000;
      const made = pc.last - pc.first;
      if (hours <= 0 || made <= 0) continue;
      const meanSpeed = s.sum / s.n;
      const meanTemp = temp.has(k) ? temp.get(k)!.sum / temp.get(k)!.n : Number.NaN;
      const meanPressure = pres.has(k) ? pres.get(k)!.sum / pres.get(k)!.n : Number.NaN;
      const sc = scrap.get(k);
      const en = energy.get(k);
      windows.push({
        speed: meanSpeed,
        temp: meanTemp,
        pressure: meanPressure,
        ratePerMin: made / (hours * 60),
        scrapFraction: sc === undefined ? Number.NaN : (sc.last - sc.first) / made,
        powerKw: en === undefined ? Number.NaN : (en.last - en.first) / hours,
        loadFactor:
          (meanSpeed / DEFAULT_PARAMS.nominalSpeed) ** 3 *
          (0.5 +
            0.5 *
              ((Number.isNaN(meanPressure) ? DEFAULT_PARAMS.nominalPressure : meanPressure) /
                DEFAULT_PARAMS.nominalPressure)),
      });
    }
    // Running hours between failures, from the running-hours counter at each fault event.
    const faults = reader.faultTimes(machine);
    const hoursTag = tags.get("running_hours");
    if (hoursTag !== undefined && faults.length >= 2) {
      const counter = faults.map((ts) => {
        const v = reader.latest(hoursTag, ts);
        return Number.isNaN(v) ? undefined : v;
      });
      for (let i = 1; i < counter.length; i++)
        if (counter[i] !== undefined && counter[i - 1] !== undefined)
          hoursBetweenFailures.push(counter[i]! - counter[i - 1]!);
    }
  }

  const params: ProcessParams = { ...DEFAULT_PARAMS };
  const fitted: Calibration["fitted"] = {};
  const kept: string[] = [];
  if (windows.length >= 8) {
    fitRate(windows, params, fitted);
    fitScrap(windows, params, fitted, kept);
    fitPower(windows, params, fitted, ambient, kept);
    if (hoursBetweenFailures.length >= 2) {
      const meanHours = hoursBetweenFailures.reduce((a, b) => a + b, 0) / hoursBetweenFailures.length;
      const meanLoad = windows.reduce((a, w) => a + w.loadFactor, 0) / windows.length;
      params.wearPerHour = 1 / (meanHours * meanLoad);
      fitted.wear = hoursBetweenFailures.length;
    }
  }
  return {
    params,
    machines: [...perMachine.keys()],
    windows: windows.length,
    fitted,
    kept,
    latest,
    from,
    to,
  };
}

function rSquared(y: number[], predicted: number[]): number {
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < y.length; i++) {
    ssRes += (y[i]! - predicted[i]!) ** 2;
    ssTot += (y[i]! - mean) ** 2;
  }
  return ssTot === 0 ? 0 : 1 - ssRes / ssTot;
}

function fitRate(windows: Window[], params: ProcessParams, fitted: Calibration["fitted"]): void {
  let best = { sse: Number.POSITIVE_INFINITY, scale: params.rateScale, max: params.rateMax };
  for (let scale = 5; scale <= 200; scale += 0.5) {
    let xy = 0;
    let xx = 0;
    for (const w of windows) {
      const x = Math.tanh(w.speed / scale);
      xy += x * w.ratePerMin;
      xx += x * x;
    }
    const max = xy / xx;
    let sse = 0;
    for (const w of windows) sse += (w.ratePerMin - max * Math.tanh(w.speed / scale)) ** 2;
    if (sse < best.sse) best = { sse, scale, max };
  }
  params.rateScale = best.scale;
  params.rateMax = best.max;
  fitted.rate = rSquared(
    windows.map((w) => w.ratePerMin),
    windows.map((w) => best.max * Math.tanh(w.speed / best.scale)),
  );
}

/**
 * Least squares on the columns the data can identify: a history where the speed never changed
 * cannot tell a speed term from the constant. Columns are taken in order while they add rank (the
 * first is the constant); the others keep their `defaults`, whose effect is taken out of `y`
 * first. Returns every coefficient and which were fitted.
 */
function leastSquares(rows: number[][], y: number[], defaults: number[]): { c: number[]; fitted: boolean[] } {
  const columns = defaults.length;
  const chosen: number[] = [];
  for (let j = 0; j < columns; j++) {
    const trial = [...chosen, j];
    const m = new Matrix(rows.map((r) => trial.map((k) => r[k]!)));
    if (new SingularValueDecomposition(m, { autoTranspose: true }).rank === trial.length) chosen.push(j);
  }
  const fitted = defaults.map((_, j) => chosen.includes(j));
  const residual = y.map(
    (v, i) => v - defaults.reduce((a, d, j) => (fitted[j] ? a : a + d * rows[i]![j]!), 0),
  );
  const c = [...defaults];
  if (chosen.length > 0) {
    const solved = solve(
      new Matrix(rows.map((r) => chosen.map((k) => r[k]!))),
      Matrix.columnVector(residual),
    ).to1DArray();
    chosen.forEach((k, i) => {
      c[k] = solved[i]!;
    });
  }
  return { c, fitted };
}

function fitScrap(
  windows: Window[],
  params: ProcessParams,
  fitted: Calibration["fitted"],
  kept: string[],
): void {
  const usable = windows.filter(
    (w) => !Number.isNaN(w.scrapFraction) && !Number.isNaN(w.temp) && !Number.isNaN(w.pressure),
  );
  if (usable.length < 8) return;
  const outside = (v: number, [lo, hi]: [number, number]) => (v < lo ? lo - v : v > hi ? v - hi : 0);
  const x = usable.map((w) => [
    1,
    outside(w.temp, params.tempWindow) ** 2,
    outside(w.pressure, params.pressureWindow) ** 2,
    Math.max(0, w.speed - params.speedLimit) ** 2,
  ]);
  const y = usable.map((w) => w.scrapFraction);
  const fit = leastSquares(x, y, [
    params.scrapBase,
    params.scrapTemp,
    params.scrapPressure,
    params.scrapSpeed,
  ]);
  kept.push(...["scrapBase", "scrapTemp", "scrapPressure", "scrapSpeed"].filter((_, i) => !fit.fitted[i]));
  const [b, t, p, s] = fit.c.map((c) => Math.max(0, c));
  params.scrapBase = b!;
  params.scrapTemp = t!;
  params.scrapPressure = p!;
  params.scrapSpeed = s!;
  params.scrapWear = 0; // wear is not observed directly; its average effect is in the base rate
  fitted.scrap = rSquared(
    y,
    x.map((r) => b! + t! * r[1]! + p! * r[2]! + s! * r[3]!),
  );
}

function fitPower(
  windows: Window[],
  params: ProcessParams,
  fitted: Calibration["fitted"],
  ambient: number,
  kept: string[],
): void {
  const usable = windows.filter((w) => !Number.isNaN(w.powerKw) && !Number.isNaN(w.temp));
  if (usable.length < 8) return;
  const x = usable.map((w) => [1, w.speed, w.speed ** 2, Math.max(0, w.temp - ambient)]);
  const y = usable.map((w) => w.powerKw);
  const fit = leastSquares(x, y, [params.powerBase, params.powerSpeed, params.powerSpeed2, params.powerHeat]);
  kept.push(...["powerBase", "powerSpeed", "powerSpeed2", "powerHeat"].filter((_, i) => !fit.fitted[i]));
  const c = fit.c;
  [params.powerBase, params.powerSpeed, params.powerSpeed2, params.powerHeat] = c as [
    number,
    number,
    number,
    number,
  ];
  fitted.power = rSquared(
    y,
    x.map((r) => r.reduce((a, v, i) => a + v * c[i]!, 0)),
  );
}
