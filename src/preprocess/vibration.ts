/**
 * Features of a vibration waveform block (docs/design.md §1: the FFT is computed on the gateway):
 * RMS, crest factor, kurtosis, the dominant frequency and energy per frequency band. The FFT is
 * fft.js (radix-4, well kept); the rest are a few sums over the block.
 */
import FFT from "fft.js";

export interface VibrationFeatures {
  rms: number;
  peak: number;
  crestFactor: number;
  /** Pearson kurtosis (3 for a Gaussian, 1.5 for a sine): bearing impacts raise it. */
  kurtosis: number;
  dominantHz: number;
  /** Energy (sum of squared spectral magnitudes, scaled to the signal's mean square) per band. */
  bandEnergy: number[];
}

const ffts = new Map<number, { fft: FFT; out: number[]; input: number[] }>();

/**
 * `bands` are [lowHz, highHz) pairs. The block length must be a power of two (1,024 typically);
 * the mean is removed first, so a DC offset never shows up as energy.
 */
export function vibrationFeatures(
  block: ArrayLike<number>,
  rateHz: number,
  bands: readonly [number, number][],
): VibrationFeatures {
  const n = block.length;
  if (n < 4 || (n & (n - 1)) !== 0)
    throw new RangeError(`a waveform block needs a power-of-two length, not ${n}`);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += block[i]!;
  mean /= n;
  let m2 = 0;
  let m4 = 0;
  let peak = 0;
  let cached = ffts.get(n);
  if (cached === undefined) {
    const fft = new FFT(n);
    cached = { fft, out: fft.createComplexArray() as number[], input: new Array<number>(n).fill(0) };
    ffts.set(n, cached);
  }
  const input = cached.input;
  for (let i = 0; i < n; i++) {
    const d = block[i]! - mean;
    input[i] = d;
    m2 += d * d;
    m4 += d * d * d * d;
    if (Math.abs(d) > peak) peak = Math.abs(d);
  }
  m2 /= n;
  m4 /= n;
  const rms = Math.sqrt(m2);
  cached.fft.realTransform(cached.out, input);
  const out = cached.out;
  const binHz = rateHz / n;
  const bandEnergy = bands.map(() => 0);
  let dominant = 0;
  let dominantPower = -1;
  // One-sided spectrum: bins 1..n/2; Parseval scaling so the bands add up to the mean square.
  for (let k = 1; k <= n / 2; k++) {
    const re = out[2 * k]!;
    const im = out[2 * k + 1]!;
    const power = ((re * re + im * im) / (n * n)) * (k === n / 2 ? 1 : 2);
    const hz = k * binHz;
    if (power > dominantPower) {
      dominantPower = power;
      dominant = hz;
    }
    for (let b = 0; b < bands.length; b++)
      if (hz >= bands[b]![0] && hz < bands[b]![1]) bandEnergy[b]! += power;
  }
  return {
    rms,
    peak,
    crestFactor: rms === 0 ? 0 : peak / rms,
    kurtosis: m2 === 0 ? 0 : m4 / (m2 * m2),
    dominantHz: dominant,
    bandEnergy,
  };
}

export interface EnvelopeSpectrum {
  /** Hz per bin. */
  binHz: number;
  /** Magnitude per bin, 0 .. rate / 2 (the envelope's mean removed). */
  magnitude: Float64Array;
}

/**
 * The envelope spectrum of a waveform block: the signal band-passed to `band` (where bearing
 * impacts ring the structure), its envelope (the magnitude of the analytic signal, by the Hilbert
 * transform), and the spectrum of that envelope, where a bearing defect shows as a line at its
 * defect frequency (BPFI, BPFO, BSF, FTF). Band-pass and Hilbert transform are one FFT with the
 * negative and out-of-band frequencies zeroed, then one inverse FFT. The block is cut to the
 * largest power of two.
 */
export function envelopeSpectrum(
  block: ArrayLike<number>,
  rateHz: number,
  band: readonly [number, number] = [rateHz / 12, rateHz / 2.4],
): EnvelopeSpectrum {
  let n = 1;
  while (n * 2 <= block.length) n *= 2;
  if (n < 64)
    throw new RangeError(`a waveform block of ${block.length} samples is too short for an envelope`);
  const fft = new FFT(n);
  const input = fft.createComplexArray() as number[];
  let mean = 0;
  for (let i = 0; i < n; i++) mean += block[i]!;
  mean /= n;
  for (let i = 0; i < n; i++) input[2 * i] = block[i]! - mean;
  const spectrum = fft.createComplexArray() as number[];
  fft.transform(spectrum, input);
  const binHz = rateHz / n;
  // Analytic signal of the band: keep positive in-band frequencies, doubled; zero the rest.
  for (let k = 0; k < n; k++) {
    const hz = k * binHz;
    const keep = k > 0 && k < n / 2 && hz >= band[0] && hz <= band[1];
    spectrum[2 * k] = keep ? 2 * spectrum[2 * k]! : 0;
    spectrum[2 * k + 1] = keep ? 2 * spectrum[2 * k + 1]! : 0;
  }
  const analytic = fft.createComplexArray() as number[];
  fft.inverseTransform(analytic, spectrum);
  const envelope = fft.createComplexArray() as number[];
  let envMean = 0;
  for (let i = 0; i < n; i++) {
    const re = analytic[2 * i]!;
    const im = analytic[2 * i + 1]!;
    const e = Math.sqrt(re * re + im * im);
    envelope[2 * i] = e;
    envelope[2 * i + 1] = 0;
    envMean += e;
  }
  envMean /= n;
  for (let i = 0; i < n; i++) envelope[2 * i] = envelope[2 * i]! - envMean;
  const out = fft.createComplexArray() as number[];
  fft.transform(out, envelope);
  const magnitude = new Float64Array(n / 2);
  for (let k = 0; k < n / 2; k++) magnitude[k] = Math.hypot(out[2 * k]!, out[2 * k + 1]!) / n;
  return { binHz, magnitude };
}

/** Bearing defect frequencies as multiples of the shaft frequency (from the bearing's datasheet). */
export interface DefectOrders {
  bpfi?: number;
  bpfo?: number;
  bsf?: number;
  ftf?: number;
}

export interface DefectLine {
  name: keyof DefectOrders;
  expectedHz: number;
  /** The strongest envelope line within the tolerance of the expected frequency. */
  peakHz: number;
  /** Its magnitude over the median magnitude of the envelope spectrum up to 500 Hz: > 5 stands out. */
  prominence: number;
  /** The sum of the envelope's power within the tolerance (for a feature vector). */
  energy: number;
}

/**
 * The energy and the peak of the envelope spectrum at each configured defect frequency, within
 * `tolerance` (a share of the frequency: shaft speed and slip are never exact).
 */
export function defectLines(
  env: EnvelopeSpectrum,
  shaftHz: number,
  orders: DefectOrders,
  tolerance = 0.03,
): DefectLine[] {
  const upTo = Math.min(env.magnitude.length, Math.ceil(500 / env.binHz));
  const floor = Float64Array.from(env.magnitude.subarray(1, upTo)).sort()[Math.floor((upTo - 1) / 2)] ?? 0;
  const lines: DefectLine[] = [];
  for (const name of ["bpfi", "bpfo", "bsf", "ftf"] as const) {
    const order = orders[name];
    if (order === undefined) continue;
    const expectedHz = order * shaftHz;
    const lo = Math.max(1, Math.floor((expectedHz * (1 - tolerance)) / env.binHz));
    const hi = Math.min(env.magnitude.length - 1, Math.ceil((expectedHz * (1 + tolerance)) / env.binHz));
    let peak = lo;
    let energy = 0;
    for (let k = lo; k <= hi; k++) {
      const m = env.magnitude[k]!;
      energy += m * m;
      if (m > env.magnitude[peak]!) peak = k;
    }
    lines.push({
      name,
      expectedHz,
      peakHz: peak * env.binHz,
      prominence: floor === 0 ? 0 : env.magnitude[peak]! / floor,
      energy,
    });
  }
  return lines;
}
