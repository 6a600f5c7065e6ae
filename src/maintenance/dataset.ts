/**
 * Labelled windows for training and evaluation: one feature vector per machine every `strideMin`,
 * labelled 1 when the machine fails within `horizonH` after the window. A failure is a `fault`
 * machine event or a maintenance record marked as a failure (what technicians and the plant's
 * CMMS record). Windows while the machine is down, windows whose horizon runs past the end of the
 * data with no failure seen (we cannot know), and machines that lack a declared feature are left
 * out, and counted.
 */

import { isDown, type RunningStates } from "../connectors/machineEvents.js";
import {
  DEFAULT_WINDOW,
  extractFeatures,
  type FeatureTag,
  parseFeature,
  StoreSeries,
  type WindowSettings,
} from "../preprocess/features.js";
import { failureTimes, sampleRange } from "../store/seriesReader.js";
import type { Db } from "../store/store.js";

export interface Sample {
  machine: number;
  ts: number;
  x: Float32Array;
  y: 0 | 1;
  /** Hours to the next failure, or Infinity when none is known. */
  hoursToFailure: number;
}

export interface DatasetOptions {
  horizonH: number;
  strideMin: number;
  /** The feature names, in the model's order. */
  features: readonly string[];
  window?: WindowSettings;
  /** The line's tags (roles, model inputs); without them, the name rule. */
  tags?: readonly FeatureTag[];
  /** The line's running state values (its YAML); without them, the default encoding. */
  running?: RunningStates;
  /** Only windows from this time on (continuous learning's history limit, a baseline's period). */
  fromTs?: number;
  /** Only windows up to this time. */
  toTs?: number;
  /** Only these machines. */
  machines?: readonly number[];
  /** Keep windows with no failure seen in the horizon at the end of the data (a baseline wants them). */
  keepCensored?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface Dataset {
  features: readonly string[];
  samples: Sample[];
  from: number;
  to: number;
  failures: { machine: number; ts: number }[];
  incomplete: number;
  /** Machines left out, with the features they lack. */
  unusable: { machine: number; missing: string[] }[];
}

/** How far back the longest feature looks (a window starting earlier would be cut short). */
export function lookbackMs(features: readonly string[], window: WindowSettings): number {
  let ms = window.windowMin * 60_000;
  for (const f of features) {
    const p = parseFeature(f);
    if (p.spanMs > ms) ms = p.spanMs;
    if (p.stat === "dev" && window.baselineMs > ms) ms = window.baselineMs;
  }
  return ms;
}

export function buildDataset(db: Db, o: DatasetOptions): Dataset {
  const source = new StoreSeries(db, o.tags);
  const window = o.window ?? DEFAULT_WINDOW;
  const range = sampleRange(db);
  const empty = { features: o.features, samples: [], failures: [], incomplete: 0, unusable: [] };
  if (range === null) return { ...empty, from: 0, to: 0 };
  const failures = failureTimes(db);
  const samples: Sample[] = [];
  let incomplete = 0;
  const strideMs = o.strideMin * 60_000;
  const first = Math.max(range.from, o.fromTs ?? range.from) + lookbackMs(o.features, window);
  const last = Math.min(range.to, o.toTs ?? range.to);
  const unusable: Dataset["unusable"] = [];
  const machines = source.machines.filter((m) => {
    if (o.machines !== undefined && !o.machines.includes(m)) return false;
    const missing = source.missing(m, o.features);
    if (missing.length > 0) unusable.push({ machine: m, missing });
    return missing.length === 0;
  });
  const total = machines.length * Math.max(0, Math.floor((last - first) / strideMs));
  let done = 0;
  for (const machine of machines) {
    const own = failures.filter((f) => f.machine === machine).map((f) => f.ts);
    let next = 0; // index of the next failure after ts (windows go forward in time)
    for (let ts = first; ts <= last; ts += strideMs) {
      done++;
      if (done % 500 === 0) o.onProgress?.(done, total);
      if (isDown(o.running, machine, source.latest(machine, "state", ts))) continue; // nothing to predict
      while (next < own.length && own[next]! <= ts) next++;
      const nextFailure = own[next];
      const hoursToFailure =
        nextFailure === undefined ? Number.POSITIVE_INFINITY : (nextFailure - ts) / 3_600_000;
      if (nextFailure === undefined && range.to - ts < o.horizonH * 3_600_000 && o.keepCensored !== true)
        continue; // censored
      const fv = extractFeatures(source, machine, ts, window, o.features, range.from);
      if (!fv.complete) {
        incomplete++;
        continue;
      }
      samples.push({ machine, ts, x: fv.values, y: hoursToFailure <= o.horizonH ? 1 : 0, hoursToFailure });
    }
  }
  return { features: o.features, samples, from: range.from, to: range.to, failures, incomplete, unusable };
}
