/**
 * The one interface every field protocol implements (docs/code-style.md §2). Samples go into the
 * store's SampleWriter; writes are typed, then read back and compared.
 */
import type { Component } from "../common/component.js";

export interface WriteResult {
  tag: string;
  requested: number;
  /** The value the PLC holds after the write, read back and scaled. */
  readBack: number;
  ok: boolean;
}

export interface Connector extends Component {
  readonly protocol: "opcua" | "modbus-tcp" | "modbus-rtu";
  readonly connected: boolean;
  /**
   * Writes a setpoint (engineering units) and reads it back. Rejects with LP_ERR_WRITE_VERIFY when
   * the read-back differs. Only the safety envelope calls this in the daemon.
   */
  write(tag: string, value: number): Promise<WriteResult>;
  /**
   * Reads a tag from the PLC now (engineering units), not from the last poll or notification:
   * what the safety envelope bounds a write against. Rejects when the PLC cannot be read or the
   * value is Bad.
   */
  read(tag: string): Promise<number>;
}

/** Counts and rates every connector reports the same way, for /health and `linepilot status`. */
export class ConnectorStats {
  samples = 0;
  errors = 0;
  lastError: string | null = null;
  lastErrorAt: number | null = null;
  samplesPerSecond = 0;
  // samples/s is measured on the monotonic clock: a wall clock stepped back froze the figure.
  #windowStart = performance.now();
  #windowSamples = 0;

  /** Distinct errors (numbers taken out), so one repeating error does not hide the others. */
  readonly #distinct = new Map<string, { message: string; count: number; since: number; last: number }>();

  error(message: string): void {
    this.errors++;
    this.lastError = message;
    this.lastErrorAt = Date.now();
    const key = message.replace(/\d+/g, "#");
    const seen = this.#distinct.get(key);
    if (seen !== undefined) {
      seen.count++;
      seen.last = this.lastErrorAt;
      seen.message = message;
    } else {
      if (this.#distinct.size >= 10) this.#distinct.delete(this.#distinct.keys().next().value!);
      this.#distinct.set(key, { message, count: 1, since: this.lastErrorAt, last: this.lastErrorAt });
    }
  }

  /** Samples/s over the last completed window of at least one second. */
  rate(now = performance.now()): number {
    const elapsed = now - this.#windowStart;
    if (elapsed >= 1000) {
      this.samplesPerSecond = Math.round(((this.samples - this.#windowSamples) * 1000 * 10) / elapsed) / 10;
      this.#windowStart = now;
      this.#windowSamples = this.samples;
    }
    return this.samplesPerSecond;
  }

  toJSON(): Record<string, unknown> {
    return {
      samples: this.samples,
      samplesPerSecond: this.rate(),
      errors: this.errors,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt === null ? null : new Date(this.lastErrorAt).toISOString(),
      recentErrors: [...this.#distinct.values()].map((e) => ({
        message: e.message,
        count: e.count,
        since: new Date(e.since).toISOString(),
        last: new Date(e.last).toISOString(),
      })),
    };
  }
}
