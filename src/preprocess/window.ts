/**
 * One machine's tags over one window, made fit for a model (docs/design.md §2): put on a regular
 * grid with gaps filled (linear or last value carried forward) up to a maximum gap, beyond which
 * the window is marked incomplete instead of invented; outliers replaced by the local median
 * (Hampel filter) and counted; then summarised (mean, std, min, max, last, slope per hour).
 * Written by hand: it is a few loops over typed arrays, and the rules (max gap, what counts) are ours.
 */

export interface Series {
  /** Epoch ms, ascending. */
  ts: ArrayLike<number>;
  /** NaN for a bad sample. */
  values: ArrayLike<number>;
}

export interface GridOptions {
  startTs: number;
  endTs: number;
  stepMs: number;
  maxGapMs: number;
  fill: "linear" | "locf";
  /** How long an unchanged value (no new sample after a good one) stays valid; default maxGapMs. */
  holdMs?: number;
}

export interface Grid {
  values: Float64Array;
  /** Every grid point has a value from samples no further apart than maxGapMs. */
  complete: boolean;
  /** Grid points that had no sample of their own. */
  filled: number;
}

/**
 * Samples on the grid start, start+step, ..., <= end. Two kinds of hole:
 * - no sample for a while after a good one: the value did not change (OPC UA reports changes
 *   only, and the store skips values inside the deadband; a lost connection always leaves a Bad
 *   sample), so it is held, up to `holdMs`;
 * - Bad samples (NaN): a real gap, filled linearly or by the last value only when the good samples
 *   around it are at most `maxGapMs` apart; otherwise the window is incomplete.
 */
export function toGrid(series: Series, o: GridOptions): Grid {
  const n = Math.floor((o.endTs - o.startTs) / o.stepMs) + 1;
  const values = new Float64Array(n);
  const ts = series.ts;
  const v = series.values;
  const holdMs = o.holdMs ?? o.maxGapMs;
  let complete = true;
  let filled = 0;
  let j = 0; // index of the first sample after the grid point
  for (let k = 0; k < n; k++) {
    const t = o.startTs + k * o.stepMs;
    while (j < ts.length && ts[j]! <= t) j++;
    const latest = j - 1; // the newest sample at or before t, good or bad
    // The good samples around t: the last at or before, the first after.
    let before = latest;
    while (before >= 0 && Number.isNaN(v[before]!)) before--;
    let after = j;
    while (after < ts.length && Number.isNaN(v[after]!)) after++;
    const tb = before >= 0 ? ts[before]! : Number.NEGATIVE_INFINITY;
    const ta = after < ts.length ? ts[after]! : Number.POSITIVE_INFINITY;
    if (tb === t) {
      values[k] = v[before]!;
      continue;
    }
    filled++;
    const badInBetween = latest > before;
    if (!badInBetween && before >= 0) {
      // Unchanged since a good sample: linear between close samples, else the held value.
      if (o.fill === "linear" && ta - tb <= o.maxGapMs)
        values[k] = v[before]! + ((v[after]! - v[before]!) * (t - tb)) / (ta - tb);
      else if (t - tb <= holdMs) values[k] = v[before]!;
      else {
        values[k] = Number.NaN;
        complete = false;
      }
    } else if (before >= 0 && after < ts.length && ta - tb <= o.maxGapMs) {
      values[k] =
        o.fill === "locf" ? v[before]! : v[before]! + ((v[after]! - v[before]!) * (t - tb)) / (ta - tb);
    } else {
      values[k] = Number.NaN;
      complete = false;
    }
  }
  return { values, complete, filled };
}

/**
 * Hampel filter: a point further than `threshold` scaled MADs from the median of its
 * 2*halfWindow+1 neighbourhood is replaced by that median. Returns the number replaced.
 */
export function hampel(values: Float64Array, halfWindow = 3, threshold = 3): number {
  const n = values.length;
  const original = Float64Array.from(values);
  const scratch: number[] = [];
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    scratch.length = 0;
    for (let j = Math.max(0, i - halfWindow); j <= Math.min(n - 1, i + halfWindow); j++)
      if (!Number.isNaN(original[j]!)) scratch.push(original[j]!);
    if (scratch.length < 3 || Number.isNaN(original[i]!)) continue;
    const median = medianOf(scratch);
    for (let j = 0; j < scratch.length; j++) scratch[j] = Math.abs(scratch[j]! - median);
    const mad = 1.4826 * medianOf(scratch);
    if (mad > 0 && Math.abs(original[i]! - median) > threshold * mad) {
      values[i] = median;
      replaced++;
    }
  }
  return replaced;
}

function medianOf(xs: number[]): number {
  xs.sort((a, b) => a - b);
  const m = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
}

export interface Summary {
  mean: number;
  std: number;
  min: number;
  max: number;
  last: number;
  /** Least-squares slope, per hour. */
  slopePerHour: number;
  /** Root mean square of the values (not of their deviations): a vibration level. */
  rms: number;
  /** Largest deviation from the mean over the standard deviation: impacts raise it. */
  crest: number;
  /** Pearson kurtosis of the values (3 for Gaussian noise). */
  kurtosis: number;
}

export function summarise(values: Float64Array, stepMs: number): Summary {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let last = Number.NaN;
  let sx = 0;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    const x = (i * stepMs) / 3_600_000;
    n++;
    sum += v;
    sumSq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
    last = v;
    sx += x;
    sxy += x * v;
    sxx += x * x;
  }
  if (n === 0)
    return {
      mean: Number.NaN,
      std: Number.NaN,
      min: Number.NaN,
      max: Number.NaN,
      last,
      slopePerHour: Number.NaN,
      rms: Number.NaN,
      crest: Number.NaN,
      kurtosis: Number.NaN,
    };
  const mean = sum / n;
  const denominator = n * sxx - sx * sx;
  // Central moments in a second pass: the one-pass formula loses precision on large offsets.
  let m2 = 0;
  let m4 = 0;
  let peak = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    const d = v - mean;
    m2 += d * d;
    m4 += d * d * d * d;
    if (Math.abs(d) > peak) peak = Math.abs(d);
  }
  m2 /= n;
  m4 /= n;
  const std = Math.sqrt(m2);
  return {
    mean,
    // one-pass, as the shipped models were trained with (their files reproduce byte for byte)
    std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)),
    min,
    max,
    last,
    slopePerHour: denominator === 0 ? 0 : (n * sxy - sx * sum) / denominator,
    rms: Math.sqrt(sumSq / n),
    crest: std === 0 ? 0 : peak / std,
    kurtosis: m2 === 0 ? 0 : m4 / (m2 * m2),
  };
}
