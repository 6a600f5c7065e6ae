/**
 * Improvement recommendations from the line's own history: what the maintenance records, the
 * PLC's faults and alarms, and the telemetry say could be done better, each with its evidence and
 * an estimated yearly saving from the line's costs (maintenance.costs).
 *
 * Five analyses, each silent without enough evidence (`minEvents`), and saying so:
 * 1. Preventive interval. The machine's age at failure (time since its last maintenance) against
 *    its planned-maintenance interval. Failures that come before the next planned visit mean the
 *    visit is too late: shorten it to the age most failures come after. Many planned cycles
 *    without any failure mean it may be too early (the rule of three bounds the failure risk).
 * 2. Repeated failure modes. A machine failing of the same mode more often than the rest of the
 *    line (a rate ratio with its 95 % interval) wants a root-cause analysis.
 * 3. Operating conditions before failures. An operating condition (CONDITION_ROLES: speed,
 *    process or ambient temperature, pressure, ...) whose level in the horizon before failures
 *    differs from its level at other times (Welch's difference of means, 95 % interval, and
 *    Cohen's d >= 0.5). Symptoms such as vibration are left out: they show a failure, not its cause.
 * 4. Alarms that precede failures. A PLC alarm followed by a failure of its machine within the
 *    horizon most of the times it is raised: a trigger for planned work before the failure.
 * 5. Operating conditions and losses. A machine's days (from its counters: pieces, scrap, kWh)
 *    split by an operating condition's daily level into thirds: scrap or energy per piece in the
 *    worst third against the opposite third (Welch's interval and Cohen's d, as in 3); the saving
 *    is the worst third's excess over the other two thirds, priced per piece or kWh.
 *
 * Statistics by simple-statistics; the windows' levels are read by hourly probes of the store (a
 * condition is slow; a probe an hour costs 48 indexed lookups per 48 h window, not a scan).
 */
import { mean, median, quantile, sampleStandardDeviation } from "simple-statistics";
import type { CostsConfig, LineConfig } from "../config/schema.js";
import { CONDITION_ROLES, DEFAULT_STATE, roleOf } from "../line/vocabulary.js";
import {
  alarmEvents,
  faultEvents,
  maintenanceHistory,
  type StoredMaintenanceRecord,
} from "../store/maintenanceRecords.js";
import { listTags, mergeFailures, SeriesReader } from "../store/seriesReader.js";
import type { Store } from "../store/store.js";

export interface Recommendation {
  /** Stable for the same finding: "<kind>:<machine>:<subject>". */
  id: string;
  kind:
    | "preventive_interval"
    | "repeated_failure_mode"
    | "operating_condition"
    | "alarm_precedes_failure"
    | "scrap_condition"
    | "energy_condition";
  machine_id: number | null;
  title: string;
  evidence: Record<string, unknown>;
  /** Estimated from maintenance.costs; null when the costs it needs are not configured. */
  yearlySaving: number | null;
  currency: string;
}

export interface Insights {
  ts: string;
  lookbackDays: number;
  recommendations: Recommendation[];
  /** What was looked at and gave no recommendation, and how much evidence that would have needed. */
  notEnoughEvidence: string[];
}

export interface InsightOptions {
  minEvents: number;
  lookbackDays: number;
  horizonH: number;
  costs: CostsConfig;
}

const H = 3_600_000;
const DAY = 24 * H;
const YEAR_H = 8_766;
const r2 = (v: number) => Math.round(v * 100) / 100;

interface Failure {
  machine: number;
  ts: number;
  record?: StoredMaintenanceRecord;
}

export function lineInsights(store: Store, line: LineConfig, o: InsightOptions, now: number): Insights {
  const since = now - o.lookbackDays * DAY;
  const records = maintenanceHistory(store).filter((r) => r.completed_at >= since && r.started_at <= now);
  const failures: Failure[] = mergeFailures(
    faultEvents(store).filter((f) => f.ts >= since && f.ts <= now),
    records
      .filter((r) => r.failure)
      .map((r) => ({
        machine: r.machine_id,
        startedAt: r.started_at,
        completedAt: r.completed_at,
        record: r,
      })),
  ).map((f) => ({
    machine: f.machine,
    ts: f.ts,
    ...(f.repair !== undefined ? { record: f.repair.record } : {}),
  }));
  const out: Insights = {
    ts: new Date(now).toISOString(),
    lookbackDays: o.lookbackDays,
    recommendations: [],
    notEnoughEvidence: [],
  };
  const machines = line.machines.map((m) => m.id);
  const costs = new FailureCosts(o.costs, records);
  for (const machine of machines) preventiveInterval(machine, records, failures, o, costs, now, out);
  repeatedModes(machines, failures, o, costs, since, now, out);
  operatingConditions(store, line, failures, o, costs, since, now, out);
  precedingAlarms(store, line, failures, o, costs, since, now, out);
  conditionsAndLosses(store, line, o, since, now, out);
  out.recommendations.sort(
    (a, b) => (b.yearlySaving ?? -1) - (a.yearlySaving ?? -1) || a.id.localeCompare(b.id),
  );
  return out;
}

/** What a failure and a planned visit cost, from the configured costs and the recorded repair times. */
class FailureCosts {
  readonly currency: string;
  readonly #costs: CostsConfig;
  readonly #records: readonly StoredMaintenanceRecord[];

  constructor(costs: CostsConfig, records: readonly StoredMaintenanceRecord[]) {
    this.#costs = costs;
    this.#records = records;
    this.currency = costs.currency;
  }

  #hours(machine: number, failure: boolean): number | null {
    const rs = this.#records.filter(
      (r) => r.failure === failure && (machine === 0 || r.machine_id === machine),
    );
    if (rs.length === 0) return machine === 0 ? null : this.#hours(0, failure);
    return mean(
      rs.map((r) => (r.downtime_min > 0 ? r.downtime_min / 60 : (r.completed_at - r.started_at) / H)),
    );
  }

  /** A failure: its downtime (MTTR) at the hourly cost, plus the repair's parts; null when unpriced. */
  failure(machine: number): number | null {
    const mttr = this.#hours(machine, true);
    if (this.#costs.downtimePerHour === 0 && this.#costs.repairParts === 0) return null;
    return (mttr ?? 0) * this.#costs.downtimePerHour + this.#costs.repairParts;
  }

  /** A planned visit: its downtime at the hourly cost, plus its parts and labour. */
  visit(machine: number): number | null {
    const hours = this.#hours(machine, false);
    if (this.#costs.downtimePerHour === 0 && this.#costs.preventiveVisit === 0) return null;
    return (hours ?? 0) * this.#costs.downtimePerHour + this.#costs.preventiveVisit;
  }

  /** The downtime a planned repair saves over an unplanned one (MTTR minus a planned visit's time). */
  plannedRepairSaving(machine: number): number | null {
    const unplanned = this.#hours(machine, true);
    const planned = this.#hours(machine, false);
    if (unplanned === null || planned === null || this.#costs.downtimePerHour === 0) return null;
    return Math.max(0, unplanned - planned) * this.#costs.downtimePerHour;
  }
}

function preventiveInterval(
  machine: number,
  records: readonly StoredMaintenanceRecord[],
  failures: readonly Failure[],
  o: InsightOptions,
  costs: FailureCosts,
  now: number,
  out: Insights,
): void {
  const planned = records.filter((r) => r.machine_id === machine && !r.failure);
  const mine = failures.filter((f) => f.machine === machine);
  if (planned.length < 3) {
    if (mine.length >= o.minEvents)
      out.notEnoughEvidence.push(
        `machine ${machine} preventive interval: ${planned.length} planned visits recorded, 3 needed to know the interval`,
      );
    return;
  }
  const intervalsD = planned.slice(1).map((r, i) => (r.started_at - planned[i]!.completed_at) / DAY);
  const intervalD = median(intervalsD);
  // Age at failure: days since the last maintenance of any kind (a repair renews the part too).
  const ages = mine.flatMap((f) => {
    const last = records
      .filter((r) => r.machine_id === machine && r.completed_at <= f.ts)
      .reduce((a, r) => Math.max(a, r.completed_at), Number.NEGATIVE_INFINITY);
    return Number.isFinite(last) ? [(f.ts - last) / DAY] : [];
  });
  const spanY = (now - planned[0]!.started_at) / (YEAR_H * H);
  if (ages.length >= o.minEvents) {
    const early = ages.filter((a) => a < intervalD).length;
    const medianAge = median(ages);
    if (early / ages.length < 0.5 || medianAge >= intervalD) {
      out.notEnoughEvidence.push(
        `machine ${machine} preventive interval: ${early} of ${ages.length} failures came before the next planned visit (every ${r2(intervalD)} d): no sign the interval is too long`,
      );
      return;
    }
    // The interval that would have come before three quarters of the failures seen.
    const proposedD = Math.max(1, quantile(ages, 0.25));
    const avoided = ages.filter((a) => a >= proposedD).length;
    const failuresPerYear = avoided / Math.max(spanY, 1 / 12);
    const visitsNowPerYear = 365.25 / intervalD;
    const visitsThenPerYear = 365.25 / proposedD;
    const failure = costs.failure(machine);
    const visit = costs.visit(machine);
    const saving =
      failure === null
        ? null
        : failuresPerYear * failure - (visitsThenPerYear - visitsNowPerYear) * (visit ?? 0);
    out.recommendations.push({
      id: `preventive_interval:${machine}:shorten`,
      kind: "preventive_interval",
      machine_id: machine,
      title: `Machine ${machine}: planned maintenance comes too late. ${early} of ${ages.length} failures came before the next visit (every ${r2(intervalD)} days, median ${r2(medianAge)} days after the last); plan it every ${r2(proposedD)} days`,
      evidence: {
        failures: ages.length,
        failuresBeforeNextVisit: early,
        plannedIntervalDays: r2(intervalD),
        plannedVisits: planned.length,
        ageAtFailureDays: {
          median: r2(medianAge),
          p25: r2(proposedD),
          min: r2(Math.min(...ages)),
          max: r2(Math.max(...ages)),
        },
        proposedIntervalDays: r2(proposedD),
        failuresAvoidedPerYear: r2(failuresPerYear),
        extraVisitsPerYear: r2(visitsThenPerYear - visitsNowPerYear),
        assumption:
          "a visit renews the part: failures at or after the proposed interval would have been prevented",
      },
      yearlySaving: saving === null ? null : Math.round(saving),
      currency: costs.currency,
    });
    return;
  }
  // No failures to speak of: how many planned cycles went by without one.
  const cycles = intervalsD.length;
  const failedCycles = ages.length;
  if (failedCycles === 0 && cycles >= 2 * o.minEvents) {
    const upper = 3 / cycles; // rule of three: 95 % upper bound of the failure chance per cycle
    const proposedD = intervalD * 1.25;
    const visit = costs.visit(machine);
    const fewerVisits = 365.25 / intervalD - 365.25 / proposedD;
    out.recommendations.push({
      id: `preventive_interval:${machine}:lengthen`,
      kind: "preventive_interval",
      machine_id: machine,
      title: `Machine ${machine}: ${cycles} planned cycles of ${r2(intervalD)} days without a failure; try every ${r2(proposedD)} days and watch the alerts`,
      evidence: {
        plannedCycles: cycles,
        failures: 0,
        plannedIntervalDays: r2(intervalD),
        failureChancePerCycleUpper95: r2(upper),
        proposedIntervalDays: r2(proposedD),
        fewerVisitsPerYear: r2(fewerVisits),
        assumption: "the machine's alerts (baseline, failure model) watch the longer interval",
      },
      yearlySaving: visit === null ? null : Math.round(fewerVisits * visit),
      currency: costs.currency,
    });
    return;
  }
  out.notEnoughEvidence.push(
    `machine ${machine} preventive interval: ${ages.length} failures after maintenance (${o.minEvents} needed) and ${cycles} planned cycles (${2 * o.minEvents} without a failure needed to lengthen it)`,
  );
}

function repeatedModes(
  machines: readonly number[],
  failures: readonly Failure[],
  o: InsightOptions,
  costs: FailureCosts,
  since: number,
  now: number,
  out: Insights,
): void {
  const spanY = (now - since) / (YEAR_H * H);
  const modes = new Set(failures.flatMap((f) => (f.record?.failure_mode ? [f.record.failure_mode] : [])));
  for (const mode of modes) {
    const of = failures.filter((f) => f.record?.failure_mode === mode);
    for (const machine of machines) {
      const n = of.filter((f) => f.machine === machine).length;
      if (n < o.minEvents) continue;
      const others = of.length - n;
      const otherMachines = machines.length - 1;
      // Rate ratio against the rest of the line, on the log scale (Poisson), +0.5 when the rest had none.
      const rateOthers = otherMachines === 0 ? 0 : (others === 0 ? 0.5 : others) / otherMachines;
      const ratio = n / rateOthers;
      const se = Math.sqrt(1 / n + 1 / (others === 0 ? 0.5 : others));
      const low = ratio * Math.exp(-1.96 * se);
      if (otherMachines === 0 || low <= 1) {
        out.notEnoughEvidence.push(
          `machine ${machine} ${mode} failures: ${n}, not clearly more than the rest of the line (${others} on ${otherMachines} machines)`,
        );
        continue;
      }
      const excessPerYear = (n - others / otherMachines) / Math.max(spanY, 1 / 12);
      const failure = costs.failure(machine);
      out.recommendations.push({
        id: `repeated_failure_mode:${machine}:${mode}`,
        kind: "repeated_failure_mode",
        machine_id: machine,
        title: `Machine ${machine}: ${n} ${mode} failures in ${Math.round((now - since) / DAY)} days, ${r2(ratio)}x the rest of the line; find the root cause (installation, lubrication, alignment, load)`,
        evidence: {
          mode,
          failures: n,
          otherMachinesFailures: others,
          otherMachines,
          rateRatio: r2(ratio),
          rateRatio95: [r2(low), r2(ratio * Math.exp(1.96 * se))],
          excessFailuresPerYear: r2(excessPerYear),
        },
        yearlySaving: failure === null ? null : Math.round(excessPerYear * failure),
        currency: costs.currency,
      });
    }
  }
}

/** The mean of hourly probes over [from, to): a slow condition's level, at 1 lookup an hour. */
function level(reader: SeriesReader, tagId: number, from: number, to: number): number {
  let sum = 0;
  let n = 0;
  for (let t = from + H; t <= to; t += H) {
    const v = reader.latest(tagId, t);
    if (!Number.isNaN(v)) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? Number.NaN : sum / n;
}

function operatingConditions(
  store: Store,
  line: LineConfig,
  failures: readonly Failure[],
  o: InsightOptions,
  costs: FailureCosts,
  since: number,
  now: number,
  out: Insights,
): void {
  const horizon = o.horizonH * H;
  const stored = new Map(listTags(store.db).map((t) => [t.name, t]));
  const reader = new SeriesReader(store.db);
  const spanY = (now - since) / (YEAR_H * H);
  for (const tag of line.tags) {
    const role = roleOf(tag);
    if (role === undefined || !CONDITION_ROLES.has(role)) continue;
    const row = stored.get(tag.name);
    if (row === undefined) continue;
    const mine = failures.filter((f) => f.machine === tag.machine && f.ts - horizon >= since);
    if (mine.length < o.minEvents) continue; // said once per machine by the interval analysis
    const before = mine
      .map((f) => level(reader, row.id, f.ts - horizon, f.ts))
      .filter((v) => !Number.isNaN(v));
    // Reference windows: the same length, at least two horizons from any failure, at most 200.
    const clear = (t: number) =>
      !failures.some((f) => f.machine === tag.machine && Math.abs(f.ts - t) < 2 * horizon);
    const starts: number[] = [];
    for (let t = since; t + horizon <= now; t += horizon) if (clear(t) && clear(t + horizon)) starts.push(t);
    const step = Math.max(1, Math.floor(starts.length / 200));
    const normal = starts
      .filter((_, i) => i % step === 0)
      .map((t) => level(reader, row.id, t, t + horizon))
      .filter((v) => !Number.isNaN(v));
    if (before.length < o.minEvents || normal.length < o.minEvents) {
      out.notEnoughEvidence.push(
        `${tag.name} before failures: ${before.length} failure windows and ${normal.length} reference windows with data (${o.minEvents} each needed)`,
      );
      continue;
    }
    const { ma: mb, mb: mn, diff, low, high, d } = welch(before, normal);
    const unit = "unit" in tag && typeof tag.unit === "string" ? ` ${tag.unit}` : "";
    if ((low <= 0 && high >= 0) || d < 0.5) {
      out.notEnoughEvidence.push(
        `${tag.name} before failures: ${r2(mb)}${unit} against ${r2(mn)}${unit} otherwise, difference ${r2(diff)} (95 % ${r2(low)} to ${r2(high)}), effect size ${r2(d)}: no clear link`,
      );
      continue;
    }
    // Failures whose window was beyond the normal 90th percentile, less the 10 % expected by chance.
    const edge = quantile(normal, diff > 0 ? 0.9 : 0.1);
    const beyond = before.filter((v) => (diff > 0 ? v > edge : v < edge)).length / before.length;
    const attributable = Math.max(0, beyond - 0.1);
    const perYear = (mine.length / Math.max(spanY, 1 / 12)) * attributable;
    const failure = costs.failure(tag.machine);
    out.recommendations.push({
      id: `operating_condition:${tag.machine}:${tag.name}`,
      kind: "operating_condition",
      machine_id: tag.machine,
      title: `Machine ${tag.machine}: ${tag.name} was ${diff > 0 ? "higher" : "lower"} before failures (${r2(mb)}${unit} in the ${o.horizonH} h before, ${r2(mn)}${unit} otherwise); keep it ${diff > 0 ? "at or below" : "at or above"} its usual ${r2(edge)}${unit}`,
      evidence: {
        tag: tag.name,
        role,
        failures: before.length,
        referenceWindows: normal.length,
        beforeFailures: r2(mb),
        otherwise: r2(mn),
        difference: r2(diff),
        difference95: [r2(low), r2(high)],
        effectSizeD: r2(d),
        shareOfFailuresBeyondNormal: r2(beyond),
        limit: r2(edge),
        failuresLinkedPerYear: r2(perYear),
        assumption:
          "failures beyond the normal 90th percentile, less the 10 % expected by chance, are the ones the condition explains",
      },
      yearlySaving: failure === null ? null : Math.round(perYear * failure),
      currency: costs.currency,
    });
  }
}

function precedingAlarms(
  store: Store,
  line: LineConfig,
  failures: readonly Failure[],
  o: InsightOptions,
  costs: FailureCosts,
  since: number,
  now: number,
  out: Insights,
): void {
  const horizon = o.horizonH * H;
  const stateKinds = new Set<string>([
    ...Object.keys(DEFAULT_STATE),
    "maintenance_started",
    "maintenance_completed",
  ]);
  for (const tag of line.tags)
    if (tag.events?.type === "enum")
      for (const name of Object.values(tag.events.states)) stateKinds.add(String(name));
  const alarms = alarmEvents(store, since, [...stateKinds]);
  const groups = new Map<string, typeof alarms>();
  for (const a of alarms) {
    const key = `${a.machine}:${a.kind}:${a.code ?? ""}`;
    groups.set(key, [...(groups.get(key) ?? []), a]);
  }
  const spanY = (now - since) / (YEAR_H * H);
  for (const group of groups.values()) {
    const first = group[0]!;
    const name = `${first.kind}${first.code === null ? "" : ` ${first.code}`}${first.message ? ` (${first.message})` : ""}`;
    // Alarms raised close together are one episode; the horizon must have passed to judge it.
    const episodes: number[] = [];
    for (const a of group)
      if (episodes.length === 0 || a.ts - episodes[episodes.length - 1]! > horizon) episodes.push(a.ts);
    const judged = episodes.filter((t) => t + horizon <= now);
    const leads = judged.flatMap((t) => {
      const f = failures.find((x) => x.machine === first.machine && x.ts > t && x.ts <= t + horizon);
      return f === undefined ? [] : [(f.ts - t) / H];
    });
    if (leads.length < o.minEvents) {
      if (leads.length > 0 || judged.length >= o.minEvents)
        out.notEnoughEvidence.push(
          `machine ${first.machine} PLC ${name}: followed by a failure ${leads.length} of ${judged.length} times (${o.minEvents} needed)`,
        );
      continue;
    }
    const share = leads.length / judged.length;
    if (share < 0.5) {
      out.notEnoughEvidence.push(
        `machine ${first.machine} PLC ${name}: followed by a failure ${leads.length} of ${judged.length} times, less than half`,
      );
      continue;
    }
    const perYear = leads.length / Math.max(spanY, 1 / 12);
    const saving = costs.plannedRepairSaving(first.machine);
    out.recommendations.push({
      id: `alarm_precedes_failure:${first.machine}:${first.kind}:${first.code ?? ""}`,
      kind: "alarm_precedes_failure",
      machine_id: first.machine,
      title: `Machine ${first.machine}: PLC ${name} was followed by a failure within ${o.horizonH} h ${leads.length} of ${judged.length} times (median ${r2(median(leads))} h ahead); make it a work-order trigger and plan the repair`,
      evidence: {
        alarm: first.kind,
        code: first.code,
        message: first.message,
        episodes: judged.length,
        followedByFailure: leads.length,
        share: r2(share),
        leadHours: { median: r2(median(leads)), min: r2(Math.min(...leads)), max: r2(Math.max(...leads)) },
        failuresPerYear: r2(perYear),
        assumption: "a repair planned on the alarm takes a planned visit's time instead of the MTTR",
      },
      yearlySaving: saving === null ? null : Math.round(perYear * saving),
      currency: costs.currency,
    });
  }
}

/** Welch's difference of two groups' means with its 95 % interval and Cohen's d (pooled SD). */
function welch(a: readonly number[], b: readonly number[]) {
  const ma = mean(a);
  const mb = mean(b);
  const sa = a.length > 1 ? sampleStandardDeviation(a) : 0;
  const sb = b.length > 1 ? sampleStandardDeviation(b) : 0;
  const se = Math.sqrt((sa * sa) / a.length + (sb * sb) / b.length);
  const diff = ma - mb;
  const pooled = Math.sqrt((sa * sa + sb * sb) / 2);
  return {
    ma,
    mb,
    diff,
    low: diff - 1.96 * se,
    high: diff + 1.96 * se,
    d: pooled === 0 ? (diff === 0 ? 0 : Number.POSITIVE_INFINITY) : Math.abs(diff) / pooled,
  };
}

/** Days per third below which a condition's link to scrap or energy is not looked for. */
export const MIN_DAYS_PER_THIRD = 10;

interface LossDay {
  pieces: number;
  /** Scrap or kWh per piece that day. */
  rate: number;
  level: number;
}

function conditionsAndLosses(
  store: Store,
  line: LineConfig,
  o: InsightOptions,
  since: number,
  now: number,
  out: Insights,
): void {
  const stored = new Map(listTags(store.db).map((t) => [t.name, t]));
  const reader = new SeriesReader(store.db);
  const minDays = Math.max(MIN_DAYS_PER_THIRD, o.minEvents);
  for (const machine of line.machines) {
    const tags = line.tags.filter((t) => t.machine === machine.id && stored.has(t.name));
    const byRole = (role: string) => {
      const tag = tags.find((t) => roleOf(t) === role);
      return tag === undefined ? undefined : stored.get(tag.name)!.id;
    };
    const pieces = byRole("piece_count");
    const good = byRole("good_count");
    const scrap = byRole("scrap_count");
    const energy = byRole("energy_kwh");
    const conditions = tags.filter((t) => {
      const role = roleOf(t);
      return role !== undefined && CONDITION_ROLES.has(role);
    });
    if ((scrap === undefined && energy === undefined) || conditions.length === 0) continue;
    if (pieces === undefined && (good === undefined || scrap === undefined)) {
      out.notEnoughEvidence.push(
        `machine ${machine.id} scrap and energy per piece: needs a piece_count tag (or good_count and scrap_count)`,
      );
      continue;
    }
    // Counter readings at each day's boundaries, read once and shared by neighbouring days.
    const days = Math.floor((now - since) / DAY);
    const at = (tag: number | undefined) => {
      const v = new Float64Array(days + 1);
      for (let i = 0; i <= days; i++)
        v[i] = tag === undefined ? Number.NaN : reader.latest(tag, since + i * DAY);
      return v;
    };
    const pieceAt = pieces !== undefined ? at(pieces) : undefined;
    const goodAt = pieces === undefined ? at(good) : undefined;
    const scrapAt = at(scrap);
    const energyAt = at(energy);
    const delta = (v: Float64Array, i: number) => v[i + 1]! - v[i]!;
    const made = (i: number) =>
      pieceAt !== undefined ? delta(pieceAt, i) : delta(goodAt!, i) + delta(scrapAt, i);
    for (const condition of conditions) {
      const conditionId = stored.get(condition.name)!.id;
      const levels = new Float64Array(days);
      for (let i = 0; i < days; i++)
        levels[i] = level(reader, conditionId, since + i * DAY, since + (i + 1) * DAY);
      const unit = "unit" in condition && typeof condition.unit === "string" ? ` ${condition.unit}` : "";
      for (const loss of [
        {
          kind: "scrap_condition" as const,
          counter: scrap,
          v: scrapAt,
          what: "scrap",
          price: o.costs.scrapPerPiece,
          per: "piece",
        },
        {
          kind: "energy_condition" as const,
          counter: energy,
          v: energyAt,
          what: "energy",
          price: o.costs.energyPerKwh,
          per: "kWh",
        },
      ]) {
        if (loss.counter === undefined) continue;
        const lossDays: LossDay[] = [];
        for (let i = 0; i < days; i++) {
          const n = made(i);
          const lost = delta(loss.v, i);
          // A counter reset or a day without production or data says nothing about the rate.
          if (!(n > 0) || !(lost >= 0) || Number.isNaN(levels[i]!)) continue;
          lossDays.push({ pieces: n, rate: lost / n, level: levels[i]! });
        }
        const name = `machine ${machine.id} ${loss.what} per piece against ${condition.name}`;
        const third = Math.floor(lossDays.length / 3);
        if (third < minDays) {
          out.notEnoughEvidence.push(
            `${name}: ${lossDays.length} production days with data (${3 * minDays} needed, ${minDays} in each third)`,
          );
          continue;
        }
        lossDays.sort((a, b) => a.level - b.level);
        const low = lossDays.slice(0, third);
        const high = lossDays.slice(lossDays.length - third);
        const w = welch(
          high.map((d) => d.rate),
          low.map((d) => d.rate),
        );
        const fmt = (v: number) => Number(v.toPrecision(3));
        if ((w.low <= 0 && w.high >= 0) || w.d < 0.5) {
          out.notEnoughEvidence.push(
            `${name}: ${fmt(w.ma)} in its highest third against ${fmt(w.mb)} in its lowest, difference ${fmt(w.diff)} (95 % ${fmt(w.low)} to ${fmt(w.high)}), effect size ${r2(w.d)}: no clear link`,
          );
          continue;
        }
        const highWorse = w.diff > 0;
        const worst = highWorse ? high : low;
        const rest = highWorse ? lossDays.slice(0, lossDays.length - third) : lossDays.slice(third);
        const edge = highWorse ? high[0]!.level : low[low.length - 1]!.level;
        const excess = Math.max(0, mean(worst.map((d) => d.rate)) - mean(rest.map((d) => d.rate)));
        const spanY = lossDays.length / 365.25;
        const worstPiecesPerYear = worst.reduce((s, d) => s + d.pieces, 0) / spanY;
        const perYear = excess * worstPiecesPerYear;
        out.recommendations.push({
          id: `${loss.kind}:${machine.id}:${condition.name}`,
          kind: loss.kind,
          machine_id: machine.id,
          title: `Machine ${machine.id}: ${loss.what} per piece was ${fmt(Math.max(w.ma, w.mb))} on days with ${condition.name} ${highWorse ? "above" : "below"} ${r2(edge)}${unit}, ${fmt(Math.min(w.ma, w.mb))} on days ${highWorse ? "below" : "above"} ${r2(highWorse ? low[low.length - 1]!.level : high[0]!.level)}${unit}; keep it ${highWorse ? "at or below" : "at or above"} ${r2(edge)}${unit}`,
          evidence: {
            tag: condition.name,
            role: roleOf(condition),
            productionDays: lossDays.length,
            daysPerThird: third,
            worstThird: highWorse ? "highest" : "lowest",
            perPieceHighestThird: fmt(w.ma),
            perPieceLowestThird: fmt(w.mb),
            difference: fmt(w.diff),
            difference95: [fmt(w.low), fmt(w.high)],
            effectSizeD: r2(w.d),
            limit: r2(edge),
            excessPerPiece: fmt(excess),
            piecesPerYearInWorstThird: Math.round(worstPiecesPerYear),
            [`${loss.what === "scrap" ? "scrapPieces" : "kWh"}PerYearAvoidable`]: Math.round(perYear),
            assumption: `the worst third's ${loss.what} per piece, brought to the other two thirds' mean, on the pieces made in it`,
          },
          yearlySaving: loss.price === 0 ? null : Math.round(perYear * loss.price),
          currency: o.costs.currency,
        });
      }
    }
  }
}
