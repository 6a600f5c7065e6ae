/**
 * The one door to the PLC (docs/design.md §6). Every setpoint write, whoever asks for it (the
 * optimizer, a technician, the plant), passes here; the connectors' write() is called from nowhere
 * else in the daemon. The rules are checked against the PLC's current value, the tag's absolute
 * limits, the time since the tag last changed, and the active SAFETY alerts; a model's output
 * cannot change them. Every request is audited before anything happens: the request, then either
 * the refusal with its reason or the write, its read-back, and a failed verification.
 */
import { errorMessage, LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { SafetyConfig, TagConfig } from "../config/schema.js";
import type { Connector, WriteResult } from "../connectors/connector.js";
import { openAlert } from "../store/alerts.js";
import type { Store } from "../store/store.js";

export type Mode = "assisted" | "autonomous";

export interface WriteRequest {
  tag: string;
  value: number;
  /** Who asks: "optimizer", "technician:anna", "plant:scada". */
  requestedBy: string;
  mode: Mode;
  /** The person who approved it; without one, the autonomous step limit applies and no stop is allowed. */
  approvedBy?: string;
  reason?: string;
}

export type Rule =
  | "unknown_tag"
  | "not_writable"
  | "not_finite"
  | "no_current_value"
  | "stop_needs_a_person"
  | "max_change"
  | "autonomous_step"
  | "absolute_limits"
  | "rate_limit"
  | "safety_alert";

export type Verdict = { allowed: true } | { allowed: false; rule: Rule; reason: string };

export interface EnvelopeState {
  /** The PLC's current value of a tag (engineering units), NaN when unknown or bad. */
  current(tag: string): number;
  /** Active SAFETY alerts, with their reasons. */
  safetyAlerts(): string[];
  /** When the tag was last written through the envelope (ms), or undefined. */
  lastWrite(tag: string): number | undefined;
  now(): number;
}

/** The roles whose value 0 (or below) stops the machine: a stop needs a person. */
const STOPPING_ROLES = new Set(["speed_setpoint"]);

/** The rules alone, pure: what the property tests drive with random sequences. */
export function checkWrite(
  req: WriteRequest,
  tag: TagConfig | undefined,
  s: SafetyConfig,
  state: EnvelopeState,
): Verdict {
  const refuse = (rule: Rule, reason: string): Verdict => ({ allowed: false, rule, reason });
  if (tag === undefined) return refuse("unknown_tag", `no tag ${req.tag} in this line`);
  if (!tag.writable) return refuse("not_writable", `${tag.name} is not writable`);
  if (!Number.isFinite(req.value)) return refuse("not_finite", `${req.value} is not a number to write`);
  const alerts = state.safetyAlerts();
  if (alerts.length > 0) return refuse("safety_alert", `a SAFETY alert is active: ${alerts.join("; ")}`);
  const human = req.approvedBy !== undefined && req.approvedBy.length > 0;
  if (tag.role !== undefined && STOPPING_ROLES.has(tag.role) && req.value <= 0 && !human)
    return refuse(
      "stop_needs_a_person",
      `setting ${tag.name} to ${req.value} stops the machine: a person must approve it`,
    );
  if (tag.min !== undefined && req.value < tag.min)
    return refuse("absolute_limits", `${req.value} is below ${tag.name}'s minimum ${tag.min}`);
  if (tag.max !== undefined && req.value > tag.max)
    return refuse("absolute_limits", `${req.value} is above ${tag.name}'s maximum ${tag.max}`);
  const current = state.current(tag.name);
  if (!Number.isFinite(current))
    return refuse("no_current_value", `${tag.name} has no good current value to bound the change against`);
  const change = Math.abs(req.value - current);
  const base = Math.abs(current);
  const limit = (base * s.maxChangePercent) / 100;
  if (change > limit + 1e-9)
    return refuse(
      "max_change",
      `${tag.name}: ${current} -> ${req.value} is a ${pct(change, base)} change; at most ${s.maxChangePercent} %`,
    );
  if (!human && change > (base * s.autonomousStepPercent) / 100 + 1e-9)
    return refuse(
      "autonomous_step",
      `${tag.name}: ${current} -> ${req.value} is a ${pct(change, base)} step; without a person's approval at most ${s.autonomousStepPercent} %`,
    );
  const last = state.lastWrite(tag.name);
  if (last !== undefined && state.now() - last < s.minIntervalMs)
    return refuse(
      "rate_limit",
      `${tag.name} was changed ${Math.round((state.now() - last) / 1000)} s ago; at most one change per ${s.minIntervalMs / 1000} s`,
    );
  return { allowed: true };
}

function pct(change: number, base: number): string {
  return base === 0 ? "∞ %" : `${((100 * change) / base).toFixed(1)} %`;
}

export interface EnvelopeDeps {
  store: Store;
  log: Logger;
  tags: readonly TagConfig[];
  /** The one owner of the active SAFETY conditions (the safety monitor). */
  safety: { activeReasons(): string[] };
  connectorOf(tag: string): Connector | undefined;
  current(tag: string): number;
  now?: () => number;
}

export type WriteOutcome =
  | { written: true; result: WriteResult; auditId: number }
  | { written: false; rule: Rule | "write_failed" | "audit_failed"; reason: string; auditId: number | null };

export class SafetyEnvelope {
  readonly #cfg: SafetyConfig;
  readonly #deps: EnvelopeDeps;
  readonly #tags: Map<string, TagConfig>;
  readonly #lastWrite = new Map<string, number>();
  readonly #now: () => number;
  refused = 0;
  written = 0;
  failed = 0;

  constructor(cfg: SafetyConfig, deps: EnvelopeDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
    this.#tags = new Map(deps.tags.map((t) => [t.name, t]));
    // The minimum interval between changes runs on the monotonic clock: a wall clock stepped back
    // by NTP would otherwise refuse every write until it caught up.
    this.#now = deps.now ?? (() => performance.now());
  }

  state(): EnvelopeState {
    return {
      current: (tag) => this.#deps.current(tag),
      safetyAlerts: () => this.#deps.safety.activeReasons(),
      lastWrite: (tag) => this.#lastWrite.get(tag),
      now: this.#now,
    };
  }

  check(req: WriteRequest): Verdict {
    return checkWrite(req, this.#tags.get(req.tag), this.#cfg, this.state());
  }

  /** The tag's value in the PLC now, or why it cannot be read. */
  async readNow(tagName: string): Promise<{ value: number; error?: string }> {
    const connector = this.#deps.connectorOf(tagName);
    if (connector === undefined) return { value: Number.NaN, error: "no connector reads this tag" };
    try {
      return { value: await connector.read(tagName) };
    } catch (error) {
      return { value: Number.NaN, error: errorMessage(error) };
    }
  }

  /**
   * Reads the tag from the PLC, checks every rule against that value, audits, writes with
   * read-back, and retries a failed verification once. The last poll is never what a change is
   * bounded against: another client (an HMI, an operator) may have moved the PLC since.
   */
  async write(req: WriteRequest): Promise<WriteOutcome> {
    const tag = this.#tags.get(req.tag);
    const connector = this.#deps.connectorOf(req.tag);
    let current = Number.NaN;
    let readError: string | undefined;
    if (tag?.writable === true) ({ value: current, error: readError } = await this.readNow(req.tag));
    let verdict = checkWrite(req, tag, this.#cfg, { ...this.state(), current: () => current });
    if (!verdict.allowed && verdict.rule === "no_current_value" && readError !== undefined)
      verdict = {
        allowed: false,
        rule: "no_current_value",
        reason: `${req.tag} could not be read from the PLC before the write (${readError}): nothing written`,
      };
    const audit = (decision: string, reason: string, details: Record<string, unknown>) =>
      this.#deps.store.recordDecision({
        kind: "setpoint_write",
        actor: req.requestedBy,
        decision,
        reason,
        tag: req.tag,
        ...(tag !== undefined ? { machineId: tag.machine } : {}),
        details: {
          value: req.value,
          mode: req.mode,
          approvedBy: req.approvedBy ?? null,
          // the PLC's value at the moment of the write, the one every rule was checked against
          current: Number.isFinite(current) ? current : null,
          ...details,
        },
      });
    // Nothing happens that is not audited first: a store that cannot record (a full disk) refuses
    // the write too.
    const audited = (decision: string, reason: string, details: Record<string, unknown>) => {
      try {
        return audit(decision, reason, details);
      } catch (error) {
        this.#deps.log.error(
          { tag: req.tag, err: errorMessage(error) },
          "a setpoint request could not be audited",
        );
        return { unaudited: errorMessage(error) };
      }
    };
    if (!verdict.allowed) {
      this.refused++;
      const auditId = audited("refused", verdict.reason, { rule: verdict.rule, request: req.reason ?? null });
      this.#deps.log.warn({ tag: req.tag, value: req.value, rule: verdict.rule }, verdict.reason);
      return {
        written: false,
        rule: verdict.rule,
        reason: verdict.reason,
        auditId: typeof auditId === "number" ? auditId : null,
      };
    }
    // Audited before it takes effect (docs/design.md §6).
    const auditId = audited("write", req.reason ?? "within the envelope", {});
    if (typeof auditId !== "number") {
      this.refused++;
      return {
        written: false,
        rule: "audit_failed",
        reason: `the write could not be audited (${auditId.unaudited}): nothing written`,
        auditId: null,
      };
    }
    this.#lastWrite.set(req.tag, this.#now());
    let lastError = "no connector reads this tag";
    for (let attempt = 1; attempt <= 2 && connector !== undefined; attempt++) {
      try {
        const result = await connector.write(req.tag, req.value);
        this.written++;
        audit("written", `read back ${result.readBack}`, { attempt, readBack: result.readBack });
        return { written: true, result, auditId };
      } catch (error) {
        lastError = errorMessage(error);
        if (!(error instanceof LinepilotError) || error.code !== "LP_ERR_WRITE_VERIFY") break;
      }
    }
    this.failed++;
    // Never silently assumed: the failure is audited and raised as an alert for the plant.
    const store = this.#deps.store;
    store.transaction(() => {
      audit("write failed", lastError, {});
      openAlert(store, {
        actor: "safety_envelope",
        ts: Date.now(),
        reason: `setpoint write to ${req.tag} failed: ${lastError}`,
        machineId: tag?.machine ?? 0,
        kind: "write_failed",
        severity: "HIGH",
        details: {
          tag: req.tag,
          value: req.value,
          error: lastError,
          reason: `setpoint write to ${req.tag} failed`,
        },
      });
    });
    this.#deps.log.error(
      { tag: req.tag, value: req.value, err: lastError },
      "setpoint write failed after a retry",
    );
    return { written: false, rule: "write_failed", reason: lastError, auditId };
  }

  health(): Record<string, unknown> {
    return { written: this.written, refused: this.refused, failed: this.failed };
  }
}
