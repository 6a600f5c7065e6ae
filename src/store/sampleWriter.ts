/**
 * Batches telemetry samples into SQLite: one transaction per batch, prepared multi-row inserts.
 *
 * The hot path (`accept`, once per sample) writes into preallocated typed-array columns and
 * allocates nothing. A batch is committed when it reaches `batchSize` or when `flushIntervalMs`
 * has passed, and on `stop()`: a clean stop (SIGTERM) loses no accepted sample. A sample is durable
 * once its batch commits; a kill -9 can lose at most the samples of the last `flushIntervalMs`
 * (they were read from the PLC but never acknowledged to anyone).
 *
 * Memory is bounded: the buffer holds `2 * batchSize` samples. If SQLite refuses to commit (disk
 * full, locked file) the buffer is kept and retried; when it is full, new samples are refused and
 * counted as dropped, never silently lost.
 */

import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { Store } from "./store.js";

/** Rows per multi-row INSERT statement: fewer statement calls, well under SQLite's 32766 parameter limit. */
const ROWS_PER_STATEMENT = 64;

export interface TagState {
  /** Database id of the tag. */
  id: number;
  name: string;
  machineId: number;
  deadband: number;
}

export interface SampleWriterOptions {
  batchSize: number;
  flushIntervalMs: number;
}

export type SampleListener = (tagIndex: number, ts: number, value: number, status: number) => void;
/** A Good waveform block, in engineering units; valid only during the call (the buffer is reused). */
export type BlockListener = (tagIndex: number, ts: number, block: Float64Array) => void;

export class SampleWriter implements Component {
  readonly name = "sampleWriter";
  readonly #store: Store;
  readonly #log: Logger;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #tags: readonly TagState[];
  readonly #byName: Map<string, number>;

  // Pending batch, column-wise.
  readonly #tagIds: Int32Array;
  readonly #ts: Float64Array;
  readonly #values: Float64Array;
  readonly #status: Uint32Array;
  #count = 0;

  // Latest value per tag (for `linepilot tags` and the deadband), indexed by tag index.
  readonly latestValue: Float64Array;
  readonly latestTs: Float64Array;
  readonly latestStatus: Uint32Array;
  readonly #lastStoredValue: Float64Array;
  readonly #lastStoredStatus: Uint32Array;

  #timer: NodeJS.Timeout | undefined;
  #multiInsert: ((args: (number | null)[]) => unknown) | undefined;
  #singleInsert: ((...args: unknown[]) => unknown) | undefined;
  readonly #multiArgs: (number | null)[];
  #listeners: SampleListener[] = [];
  #readingListeners: SampleListener[] = [];
  #blockListeners: BlockListener[] = [];

  // Counters for health and bench.
  accepted = 0;
  committed = 0;
  dropped = 0;
  suppressedByDeadband = 0;
  flushErrors = 0;
  /** Listeners that threw: counted and logged, never let through to the connector's loop. */
  listenerErrors = 0;
  lastError: string | undefined;
  #failingSince: number | undefined;
  #lastFailureAt = 0;
  #lastLogAt = 0;
  #lastLogged: string | undefined;
  #failuresSinceLog = 0;

  constructor(store: Store, tags: readonly TagState[], options: SampleWriterOptions, log: Logger) {
    this.#store = store;
    this.#log = log;
    this.#tags = tags;
    this.#batchSize = options.batchSize;
    this.#flushIntervalMs = options.flushIntervalMs;
    const capacity = Math.max(2 * options.batchSize, ROWS_PER_STATEMENT);
    this.#tagIds = new Int32Array(capacity);
    this.#ts = new Float64Array(capacity);
    this.#values = new Float64Array(capacity);
    this.#status = new Uint32Array(capacity);
    this.latestValue = new Float64Array(tags.length).fill(Number.NaN);
    this.latestTs = new Float64Array(tags.length);
    // Never read yet is not Good: OPC UA's BadWaitingForInitialData until the first reading.
    this.latestStatus = new Uint32Array(tags.length).fill(0x80320000);
    this.#lastStoredValue = new Float64Array(tags.length).fill(Number.NaN);
    this.#lastStoredStatus = new Uint32Array(tags.length).fill(0xffffffff);
    this.#multiArgs = new Array(ROWS_PER_STATEMENT * 4).fill(null);
    this.#byName = new Map(tags.map((t, i) => [t.name, i]));
  }

  /** The index of a tag, which connectors resolve once and then pass to `accept`. */
  tagIndex(name: string): number {
    const index = this.#byName.get(name);
    if (index === undefined) throw new Error(`unknown tag ${name}`);
    return index;
  }

  get tags(): readonly TagState[] {
    return this.#tags;
  }

  get pending(): number {
    return this.#count;
  }

  /** Called for every accepted sample, after the deadband: event derivation and the preprocessor hook in here. */
  onSample(listener: SampleListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /**
   * Called for every reading, before the deadband and whether or not it can be stored (a full
   * buffer, a full disk): what safety signals are evaluated on.
   */
  onReading(listener: SampleListener): () => void {
    this.#readingListeners.push(listener);
    return () => {
      this.#readingListeners = this.#readingListeners.filter((l) => l !== listener);
    };
  }

  /** Called for every Good waveform block (preprocess/waveform.ts turns it into its series). */
  onBlock(listener: BlockListener): void {
    this.#blockListeners.push(listener);
  }

  /**
   * Takes one Good waveform block of a waveform tag (engineering units): the tag's own sample is
   * the block's RMS about its mean, and the block goes to the block listeners. A Bad block is a
   * Bad sample (`accept` with NaN), like any failed read.
   */
  acceptBlock(tagIndex: number, ts: number, block: Float64Array): boolean {
    const n = block.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += block[i]!;
    mean /= n;
    let m2 = 0;
    for (let i = 0; i < n; i++) m2 += (block[i]! - mean) ** 2;
    const stored = this.accept(tagIndex, ts, Math.sqrt(m2 / n), 0);
    for (let l = 0; l < this.#blockListeners.length; l++)
      try {
        this.#blockListeners[l]!(tagIndex, ts, block);
      } catch (error) {
        this.#listenerFailed(error);
      }
    return stored;
  }

  /** A throwing listener is counted and logged (the first, then every 1,000th); ingestion goes on. */
  #listenerFailed(error: unknown): void {
    this.listenerErrors++;
    if (this.listenerErrors === 1 || this.listenerErrors % 1_000 === 0)
      this.#log.error(
        { err: String(error), count: this.listenerErrors },
        "a sample listener failed; ingestion continues",
      );
  }

  async start(): Promise<void> {
    const db = this.#store.db;
    const row = "(?, ?, ?, ?)";
    const multi = db.prepare(
      `INSERT INTO sensor_data (tag_id, ts, value, status) VALUES ${new Array(ROWS_PER_STATEMENT).fill(row).join(", ")}`,
    );
    const single = db.prepare(`INSERT INTO sensor_data (tag_id, ts, value, status) VALUES ${row}`);
    // better-sqlite3 binds an array's items to the anonymous parameters: the argument array is reused.
    this.#multiInsert = (args) => multi.run(args);
    this.#singleInsert = single.run.bind(single);
    this.#timer = setInterval(() => this.flush(), this.#flushIntervalMs);
    this.#timer.unref();
  }

  /**
   * Takes one sample. `value` is NaN when no value could be read (stored as NULL); `status` is an
   * OPC UA StatusCode (0 = Good). Returns false when the sample was refused (buffer full).
   */
  accept(tagIndex: number, ts: number, value: number, status: number): boolean {
    this.latestValue[tagIndex] = value;
    this.latestTs[tagIndex] = ts;
    this.latestStatus[tagIndex] = status;
    for (let l = 0; l < this.#readingListeners.length; l++)
      try {
        this.#readingListeners[l]!(tagIndex, ts, value, status);
      } catch (error) {
        this.#listenerFailed(error);
      }
    const last = this.#lastStoredValue[tagIndex]!;
    const deadband = this.#tags[tagIndex]!.deadband;
    if (deadband > 0 && status === this.#lastStoredStatus[tagIndex] && Math.abs(value - last) < deadband) {
      this.suppressedByDeadband++;
      return true;
    }
    if (this.#count === this.#tagIds.length) {
      this.flush();
      if (this.#count === this.#tagIds.length) {
        this.dropped++;
        return false;
      }
    }
    const i = this.#count++;
    this.#tagIds[i] = this.#tags[tagIndex]!.id;
    this.#ts[i] = ts;
    this.#values[i] = value;
    this.#status[i] = status;
    this.#lastStoredValue[tagIndex] = value;
    this.#lastStoredStatus[tagIndex] = status;
    this.accepted++;
    for (let l = 0; l < this.#listeners.length; l++)
      try {
        this.#listeners[l]!(tagIndex, ts, value, status);
      } catch (error) {
        this.#listenerFailed(error);
      }
    if (this.#count >= this.#batchSize) this.flush();
    return true;
  }

  /** Commits the pending batch in one transaction. Returns the number of samples committed. */
  flush(force = false): number {
    const n = this.#count;
    if (n === 0 || this.#multiInsert === undefined) return 0;
    // While commits fail (a full disk), a full buffer would retry on every sample: once a second.
    if (!force && this.#failingSince !== undefined && performance.now() - this.#lastFailureAt < 1_000)
      return 0;
    const db = this.#store.db;
    try {
      db.exec("BEGIN");
      try {
        let i = 0;
        const args = this.#multiArgs;
        for (; i + ROWS_PER_STATEMENT <= n; i += ROWS_PER_STATEMENT) {
          for (let r = 0; r < ROWS_PER_STATEMENT; r++) {
            const k = i + r;
            const v = this.#values[k]!;
            args[r * 4] = this.#tagIds[k]!;
            args[r * 4 + 1] = this.#ts[k]!;
            args[r * 4 + 2] = Number.isNaN(v) ? null : v;
            args[r * 4 + 3] = this.#status[k]!;
          }
          this.#multiInsert(args);
        }
        for (; i < n; i++) {
          const v = this.#values[i]!;
          this.#singleInsert!(this.#tagIds[i], this.#ts[i], Number.isNaN(v) ? null : v, this.#status[i]);
        }
        db.exec("COMMIT");
      } catch (error) {
        if (db.inTransaction) db.exec("ROLLBACK");
        throw error;
      }
      this.#count = 0;
      this.committed += n;
      if (this.#failingSince !== undefined) {
        this.#log.info(
          {
            failedCommits: this.#failuresSinceLog,
            since: new Date(this.#failingSince).toISOString(),
            dropped: this.dropped,
          },
          "telemetry commits work again",
        );
        this.#failingSince = undefined;
        this.lastError = undefined;
        this.#lastLogged = undefined;
      }
      return n;
    } catch (error) {
      this.flushErrors++;
      this.lastError = errorMessage(error);
      this.#lastFailureAt = performance.now();
      this.#failingSince ??= Date.now();
      this.#failuresSinceLog++;
      // One line per distinct error a minute, with how many failed since: not one per batch.
      if (this.lastError !== this.#lastLogged || this.#lastFailureAt - this.#lastLogAt >= 60_000) {
        this.#log.error(
          { err: this.lastError, pending: n, failedCommits: this.#failuresSinceLog, dropped: this.dropped },
          "telemetry batch could not be committed; kept for retry",
        );
        this.#lastLogged = this.lastError;
        this.#lastLogAt = this.#lastFailureAt;
        this.#failuresSinceLog = 0;
      }
      return 0;
    }
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const n = this.flush(true);
    if (this.#count > 0) this.#log.error({ lost: this.#count }, "telemetry could not be committed at stop");
    this.#log.info(
      { committed: n, totalCommitted: this.committed, accepted: this.accepted },
      "sample writer flushed",
    );
    this.#multiInsert = undefined;
    this.#singleInsert = undefined;
  }

  health(): ComponentHealth {
    return {
      state:
        this.#multiInsert === undefined ? "stopped" : this.#failingSince !== undefined ? "degraded" : "ok",
      details: {
        accepted: this.accepted,
        committed: this.committed,
        pending: this.#count,
        dropped: this.dropped,
        suppressedByDeadband: this.suppressedByDeadband,
        flushErrors: this.flushErrors,
        listenerErrors: this.listenerErrors,
        lastError: this.lastError ?? null,
        failingSince: this.#failingSince === undefined ? null : new Date(this.#failingSince).toISOString(),
      },
    };
  }
}
