/**
 * The maintenance figures the plant and Prometheus read (MTBF/MTTR per machine, the models' live
 * counters), computed at most once a minute: they change when a record or an outcome is entered,
 * not per scrape, and a line with thousands of tags should not pay a lookup per tag per scrape.
 */
import type { Store } from "../store/store.js";
import { type ModelLiveCounters, modelLiveCounters } from "./alertOutcomes.js";
import { type MachineReliability, reliability } from "./reliability.js";

export interface MaintenanceFigures {
  at: number;
  reliability: MachineReliability[];
  models: ModelLiveCounters[];
}

export function cachedMaintenanceFigures(
  store: () => Store | undefined,
  machines: readonly number[],
  horizonH: number,
  maxAgeMs = 60_000,
): () => MaintenanceFigures | undefined {
  let last: MaintenanceFigures | undefined;
  return () => {
    const s = store();
    if (s === undefined) return undefined;
    const now = Date.now();
    if (last === undefined || now - last.at >= maxAgeMs)
      last = { at: now, reliability: reliability(s, now, machines), models: modelLiveCounters(s, horizonH) };
    return last;
  };
}
