/**
 * Features of a vibration waveform block (SPEC.md section 1: the FFT is computed on the gateway):
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
