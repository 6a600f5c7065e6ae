/**
 * How each model has done on this line, from what technicians found: its live counters.
 *
 * - raised: alerts the model opened; confirmed and false: those closed with that outcome;
 *   unreviewed: the rest.
 * - missed: failures (fault events and repairs, as reliability counts them) on a machine the model
 *   was scoring at the time, with no alert of its kind opened in the horizon before the failure.
 * - precision: confirmed / (confirmed + false), once at least one alert has been closed.
 * - lead time: from the alert's opening to the failure it was confirmed for (the linked repair's
 *   start, else the next failure of the machine within the horizon, else the closing time).
 * - per machine-week: alerts raised per week of one machine scored, so a model watching 20
 *   machines and one watching 2 compare.
 */
import { type AlertOutcomeRow, modelAlertOutcomes, modelWatch } from "../store/alerts.js";
import { faultEvents, maintenanceHistory } from "../store/maintenanceRecords.js";
import { mergeFailures } from "../store/seriesReader.js";
import type { Store } from "../store/store.js";

export interface ModelLiveCounters {
  modelId: number;
  kind: string;
  machineWeeks: number;
  raised: number;
  confirmed: number;
  falseAlarms: number;
  unreviewed: number;
  missed: number;
  precision: number | null;
  /** Confirmed / (confirmed + missed): failures the model caught, where outcomes say. */
  recall: number | null;
  medianLeadH: number | null;
  alertsPerMachineWeek: number | null;
}

const H = 3_600_000;
const WEEK = 7 * 24 * H;
const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Every model that scored a machine or raised an alert, with its counters. */
export function modelLiveCounters(store: Store, horizonH: number): ModelLiveCounters[] {
  const horizon = horizonH * H;
  const alerts = modelAlertOutcomes(store.db);
  const watch = modelWatch(store);
  const records = maintenanceHistory(store).filter((r) => r.failure);
  const failures = mergeFailures(
    faultEvents(store),
    records.map((r) => ({
      machine: r.machine_id,
      startedAt: r.started_at,
      completedAt: r.completed_at,
      id: r.id,
    })),
  );
  const models = new Map<string, { modelId: number; kind: string }>();
  for (const w of watch) models.set(`${w.model_id}:${w.kind}`, { modelId: w.model_id, kind: w.kind });
  for (const a of alerts)
    if (a.model_id !== null) models.set(`${a.model_id}:${a.kind}`, { modelId: a.model_id, kind: a.kind });

  return [...models.values()]
    .map(({ modelId, kind }) => {
      const mine = alerts.filter((a) => a.model_id === modelId && a.kind === kind);
      const ranges = watch.filter((w) => w.model_id === modelId && w.kind === kind);
      const machineWeeks = ranges.reduce((sum, w) => sum + (w.to - w.from) / WEEK, 0);
      const confirmed = mine.filter((a) => a.outcome === "confirmed");
      const falseAlarms = mine.filter((a) => a.outcome === "false_alarm").length;
      // A failure is charged to the model scoring its machine then (the latest to start, if two).
      const missed = failures.filter((f) => {
        const watcher = watch
          .filter(
            (w) => w.kind === kind && w.machine_id === f.machine && w.from <= f.ts && f.ts <= w.to + horizon,
          )
          .sort((x, y) => y.from - x.from)[0];
        if (watcher?.model_id !== modelId) return false;
        return !alerts.some(
          (a) =>
            a.machine_id === f.machine &&
            a.kind === kind &&
            a.opened_at <= f.ts &&
            a.opened_at >= f.ts - horizon,
        );
      }).length;
      const leads = confirmed.map((a) => leadTime(a, failures, records, horizon) / H);
      const closed = confirmed.length + falseAlarms;
      return {
        modelId,
        kind,
        machineWeeks: round(machineWeeks, 2),
        raised: mine.length,
        confirmed: confirmed.length,
        falseAlarms,
        unreviewed: mine.length - closed,
        missed,
        precision: closed === 0 ? null : round(confirmed.length / closed),
        recall:
          confirmed.length + missed === 0 ? null : round(confirmed.length / (confirmed.length + missed)),
        medianLeadH: (() => {
          const m = median(leads);
          return m === null ? null : round(m, 1);
        })(),
        alertsPerMachineWeek: machineWeeks < 1 / 7 ? null : round(mine.length / machineWeeks),
      };
    })
    .sort((a, b) => a.modelId - b.modelId || a.kind.localeCompare(b.kind));
}

function leadTime(
  a: AlertOutcomeRow,
  failures: readonly { machine: number; ts: number }[],
  records: readonly { id: number; started_at: number }[],
  horizon: number,
): number {
  const linked = records.find((r) => r.id === a.maintenance_record_id);
  if (linked !== undefined) return Math.max(0, linked.started_at - a.opened_at);
  const next = failures.find(
    (f) => f.machine === a.machine_id && f.ts >= a.opened_at && f.ts <= a.opened_at + horizon,
  );
  if (next !== undefined) return next.ts - a.opened_at;
  return Math.max(0, (a.outcome_at ?? a.opened_at) - a.opened_at);
}
