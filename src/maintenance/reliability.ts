/**
 * MTTR and MTBF per machine and per failure mode, from the maintenance records technicians and the
 * CMMS enter and the PLC's fault events.
 *
 * - A failure is a fault event or a repair recorded as a failure; the two are one failure when the
 *   repair started within a day after the fault (mergeFailures).
 * - MTTR is the mean repair time of the recorded repairs: the downtime the technician gave, or
 *   else completed minus started. A fault with no repair record has no repair time and is left
 *   out of MTTR (and counted in `unrecordedRepairs`, so the gap shows).
 * - MTBF is the machine's operating time (observed period minus repair time) over the number of
 *   failures. The observed period runs from the machine's first sample, event or record to now.
 *   With no failure there is no MTBF, only a lower bound: "no failure in N h".
 * - A failure mode comes from the repair record, or else from an alert closed as confirmed.
 */
import {
  faultEvents,
  firstSeen,
  maintenanceHistory,
  type StoredMaintenanceRecord,
} from "../store/maintenanceRecords.js";
import { mergeFailures } from "../store/seriesReader.js";
import type { Store } from "../store/store.js";

export interface ModeFigures {
  mode: string;
  failures: number;
  mttrH: number | null;
  mtbfH: number | null;
}

export interface MachineReliability {
  machine: number;
  observedH: number;
  failures: number;
  /** Failures with no repair record (a fault event nobody recorded a repair for). */
  unrecordedRepairs: number;
  plannedMaintenance: number;
  mttrH: number | null;
  mtbfH: number | null;
  /** Operating hours with no failure, when there was none: MTBF is at least this. */
  failureFreeH: number | null;
  lastFailureAt: number | null;
  modes: ModeFigures[];
}

const H = 3_600_000;
const round = (v: number) => Math.round(v * 100) / 100;

function repairHours(r: StoredMaintenanceRecord): number {
  return r.downtime_min > 0 ? r.downtime_min / 60 : (r.completed_at - r.started_at) / H;
}

/** The figures of every machine the store knows (or of `machines`), at `now`. */
export function reliability(store: Store, now: number, machines?: readonly number[]): MachineReliability[] {
  const records = maintenanceHistory(store);
  const repairs = records
    .filter((r) => r.failure)
    .map((r) => ({ machine: r.machine_id, startedAt: r.started_at, completedAt: r.completed_at, record: r }));
  const failures = mergeFailures(faultEvents(store), repairs);
  const seen = firstSeen(store);
  const ids = [...new Set([...(machines ?? seen.keys())])].sort((a, b) => a - b);
  return ids.map((machine) => {
    const mine = failures.filter((f) => f.machine === machine && f.ts <= now);
    const repaired = mine.flatMap((f) => (f.repair === undefined ? [] : [f.repair.record]));
    const repairH = repaired.reduce((sum, r) => sum + repairHours(r), 0);
    const observedH = Math.max(0, (now - (seen.get(machine) ?? now)) / H);
    const operatingH = Math.max(0, observedH - repairH);
    const byMode = new Map<string, StoredMaintenanceRecord[]>();
    for (const r of repaired) {
      const mode = r.failure_mode ?? "unspecified";
      byMode.set(mode, [...(byMode.get(mode) ?? []), r]);
    }
    return {
      machine,
      observedH: round(observedH),
      failures: mine.length,
      unrecordedRepairs: mine.length - repaired.length,
      plannedMaintenance: records.filter((r) => r.machine_id === machine && !r.failure && r.started_at <= now)
        .length,
      mttrH: repaired.length === 0 ? null : round(repairH / repaired.length),
      mtbfH: mine.length === 0 ? null : round(operatingH / mine.length),
      failureFreeH: mine.length === 0 ? round(operatingH) : null,
      lastFailureAt: mine.length === 0 ? null : mine[mine.length - 1]!.ts,
      modes: [...byMode]
        .map(([mode, rs]) => ({
          mode,
          failures: rs.length,
          mttrH: round(rs.reduce((sum, r) => sum + repairHours(r), 0) / rs.length),
          mtbfH: round(operatingH / rs.length),
        }))
        .sort((a, b) => b.failures - a.failures || a.mode.localeCompare(b.mode)),
    };
  });
}
