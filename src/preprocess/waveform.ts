/**
 * Waveform tags: a block of vibration samples (an OPC UA array node, or a run of Modbus
 * registers) read every `intervalMs`. The gateway computes the block's features itself
 * (docs/design.md §1) and stores them as series of their own, so everything downstream (window features,
 * baselines, the forest, retention, sync) treats them like any other tag:
 *
 *   <tag>            the block's RMS, in the tag's unit (the tag's own sample)
 *   <tag>.peak       the largest absolute sample
 *   <tag>.crest      peak / RMS (impacts raise it)
 *   <tag>.kurtosis   Pearson kurtosis (3 for Gaussian noise; bearing impacts raise it)
 *   <tag>.band<i>    RMS within the i-th configured band (`waveform.bands`)
 *   <tag>.bpfi ...   the envelope spectrum's amplitude at each bearing defect frequency (BPFI,
 *                    BPFO, BSF, FTF), when the bearing's orders or geometry are configured
 *
 * A series' feature key is the waveform tag's key and its suffix (`velocity_bpfo`), so a
 * model declares `velocity_bpfo_mean`, `velocity_kurtosis_max`, ...
 */
import { featureKey } from "./features.js";
import { type DefectOrders, defectLines, envelopeSpectrum, vibrationFeatures } from "./vibration.js";

export interface BearingSpec {
  shaftHz?: number | undefined;
  shaftSpeedTag?: string | undefined;
  shaftHzPerUnit: number;
  orders?: DefectOrders | undefined;
  geometry?:
    | { balls: number; ballDiameterMm: number; pitchDiameterMm: number; contactAngleDeg: number }
    | undefined;
}

export interface WaveformSpec {
  sampleRateHz: number;
  length: number;
  bands: readonly (readonly [number, number])[];
  envelopeBandHz?: readonly [number, number] | undefined;
  bearing?: BearingSpec | undefined;
  keepEveryMs: number;
}

/** The part of a tag's configuration this module reads. */
export interface WaveformTag {
  name: string;
  machine: number;
  unit: string;
  role?: string | undefined;
  modelInput?: boolean | undefined;
  waveform?: WaveformSpec | undefined;
}

/** One derived series of a waveform tag. */
export interface WaveformSeries {
  /** The stored tag name: `<tag>.<suffix>`. */
  name: string;
  suffix: string;
  machine: number;
  unit: string;
  /** Its feature key (the role it is stored under): `<key of the waveform tag>_<suffix>`. */
  role: string;
  modelInput: true;
  derivedFrom: string;
}

const DEFECTS = ["bpfi", "bpfo", "bsf", "ftf"] as const;

/**
 * The defect frequencies of a rolling-element bearing as multiples of the shaft speed, from its
 * geometry (the textbook kinematic formulas, which assume no slip), or as configured.
 */
export function defectOrders(bearing: BearingSpec): DefectOrders {
  if (bearing.orders !== undefined) return bearing.orders;
  const g = bearing.geometry!;
  const ratio = (g.ballDiameterMm / g.pitchDiameterMm) * Math.cos((g.contactAngleDeg * Math.PI) / 180);
  return {
    bpfi: (g.balls / 2) * (1 + ratio),
    bpfo: (g.balls / 2) * (1 - ratio),
    bsf: (g.pitchDiameterMm / (2 * g.ballDiameterMm)) * (1 - ratio * ratio),
    ftf: 0.5 * (1 - ratio),
  };
}

/** The series a waveform tag is stored as, besides its own RMS. */
export function waveformSeries(tag: WaveformTag): WaveformSeries[] {
  const w = tag.waveform;
  if (w === undefined) return [];
  const key = featureKey({ ...tag, modelInput: tag.modelInput ?? true }) ?? tag.name.toLowerCase();
  const suffixes = ["peak", "crest", "kurtosis", ...w.bands.map((_, i) => `band${i + 1}`)];
  if (w.bearing !== undefined) {
    const orders = defectOrders(w.bearing);
    for (const d of DEFECTS) if (orders[d] !== undefined) suffixes.push(d);
  }
  return suffixes.map((suffix) => ({
    name: `${tag.name}.${suffix}`,
    suffix,
    machine: tag.machine,
    // Crest factor and kurtosis are ratios; the rest are amplitudes in the tag's unit.
    unit: suffix === "crest" || suffix === "kurtosis" ? "" : tag.unit,
    role: `${key}_${suffix}`,
    modelInput: true,
    derivedFrom: tag.name,
  }));
}

/** The line's tags followed by the series its waveform tags are stored as. */
export function seriesTags<T extends WaveformTag>(tags: readonly T[]): (T | WaveformSeries)[] {
  return [...tags, ...tags.flatMap(waveformSeries)];
}

/**
 * The values of a waveform tag's derived series for one block, in `waveformSeries` order, into
 * `out`. `shaftHz` is NaN when the shaft speed is unknown: the defect amplitudes are then NaN.
 * Returns the block's RMS. The FFTs allocate their buffers per call: at one block per tag every
 * few seconds that is not a hot path, and fft.js's tables are cached by size.
 */
export function analyseBlock(
  block: ArrayLike<number>,
  spec: WaveformSpec,
  shaftHz: number,
  out: Float64Array,
): number {
  const f = vibrationFeatures(block, spec.sampleRateHz, spec.bands as [number, number][]);
  let i = 0;
  out[i++] = f.peak;
  out[i++] = f.crestFactor;
  out[i++] = f.kurtosis;
  for (const e of f.bandEnergy) out[i++] = Math.sqrt(e);
  if (spec.bearing !== undefined) {
    const orders = defectOrders(spec.bearing);
    const present = DEFECTS.filter((d) => orders[d] !== undefined);
    if (!(shaftHz > 0)) for (let k = 0; k < present.length; k++) out[i++] = Number.NaN;
    else {
      const env = envelopeSpectrum(
        block,
        spec.sampleRateHz,
        spec.envelopeBandHz ?? [spec.sampleRateHz / 12, spec.sampleRateHz / 2.4],
      );
      // Amplitude (not power): in the tag's unit, so a reason reads "velocity_bpfo 0.21 mm/s".
      for (const line of defectLines(env, shaftHz, orders)) out[i++] = Math.sqrt(line.energy);
    }
  }
  return f.rms;
}
