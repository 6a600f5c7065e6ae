/**
 * Labelled windows for training and evaluation: one feature vector per machine every `strideMin`,
 * labelled 1 when the machine fails (a `fault` machine event) within `horizonH` after the window.
 * Windows while the machine is down, and windows whose horizon runs past the end of the data with
 * no failure seen (we cannot know), are left out.
 */

import { isDown, type RunningStates } from "../connectors/machineEvents.js";
import {
  DEFAULT_WINDOW,
  extractFeatures,
  PM_FEATURES,
  StoreSeries,
  type WindowSettings,
} from "../preprocess/features.js";
import type { Db } from "../store/store.js";
import type { Signal } from "../twin/machine.js";

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
  window?: WindowSettings;
  roles?: ReadonlyMap<string, Signal>;
  /** The line's running state values (its YAML); without them, the twin's encoding. */
  running?: RunningStates;
  /** Only windows from this time on (continuous learning's history limit). */
  fromTs?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface Dataset {
  features: readonly string[];
  samples: Sample[];
  from: number;
  to: number;
  failures: { machine: number; ts: number }[];
  incomplete: number;
}

export function buildDataset(db: Db, o: DatasetOptions): Dataset {
  const source = new StoreSeries(db, o.roles);
  const window = o.window ?? DEFAULT_WINDOW;
  const range = db.prepare("SELECT min(ts) AS a, max(ts) AS b FROM sensor_data").get() as {
    a: number | null;
    b: number | null;
  };
  if (range.a === null || range.b === null)
    return { features: PM_FEATURES, samples: [], from: 0, to: 0, failures: [], incomplete: 0 };
  const failures = db
    .prepare("SELECT machine_id AS machine, ts FROM machine_events WHERE kind = 'fault' ORDER BY ts")
    .all() as {
    machine: number;
    ts: number;
  }[];
  const samples: Sample[] = [];
  let incomplete = 0;
  const strideMs = o.strideMin * 60_000;
  const first = Math.max(range.a, o.fromTs ?? range.a) + 6 * 3_600_000; // the longest feature looks back 6 h
  const machines = source.machines.filter((m) => source.has(m, "vibration_rms"));
  const total = machines.length * Math.max(0, Math.floor((range.b - first) / strideMs));
  let done = 0;
  for (const machine of machines) {
    const own = failures.filter((f) => f.machine === machine).map((f) => f.ts);
    for (let ts = first; ts <= range.b; ts += strideMs) {
      done++;
      if (done % 500 === 0) o.onProgress?.(done, total);
      if (isDown(o.running, machine, source.latest(machine, "state", ts))) continue; // nothing to predict
      const next = own.find((f) => f > ts);
      const hoursToFailure = next === undefined ? Number.POSITIVE_INFINITY : (next - ts) / 3_600_000;
      if (next === undefined && range.b - ts < o.horizonH * 3_600_000) continue; // censored
      const fv = extractFeatures(source, machine, ts, window, range.a);
      if (!fv.complete) {
        incomplete++;
        continue;
      }
      samples.push({ machine, ts, x: fv.values, y: hoursToFailure <= o.horizonH ? 1 : 0, hoursToFailure });
    }
  }
  return { features: PM_FEATURES, samples, from: range.a, to: range.b, failures, incomplete };
}
