/**
 * A connection's gaps as machine events (issue 3: "the gap is recorded as a connection event"), the
 * same for every protocol: `connection_lost` when it drops, `connection_restored` with the length
 * of the gap when it is back, for every machine whose tags the connection reads.
 */
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { TagConfig } from "../config/schema.js";
import type { Store } from "../store/store.js";

export class ConnectionEvents {
  readonly #machines: readonly number[];
  readonly #store: Store;
  readonly #log: Logger;
  readonly #target: string;
  #lostAt: number | null = null;

  constructor(tags: readonly TagConfig[], store: Store, log: Logger, target: string) {
    this.#machines = [...new Set(tags.map((t) => t.machine))];
    this.#store = store;
    this.#log = log;
    this.#target = target;
  }

  /** Milliseconds since the connection was lost, or null while it is up. */
  get downSince(): number | null {
    return this.#lostAt;
  }

  lost(reason: string): void {
    if (this.#lostAt !== null) return;
    this.#lostAt = Date.now();
    this.#record("connection_lost", `lost ${this.#target}: ${reason}`);
  }

  restored(): void {
    if (this.#lostAt === null) return;
    const gapMs = Date.now() - this.#lostAt;
    this.#lostAt = null;
    this.#record("connection_restored", `restored ${this.#target} after ${gapMs} ms`);
  }

  #record(kind: string, message: string): void {
    const ts = Date.now();
    try {
      for (const machineId of this.#machines)
        this.#store.insertMachineEvent({ machineId, ts, kind, message });
    } catch (error) {
      // The store's own failure is reported by the store; a missing event must not stop the connector.
      this.#log.error({ err: errorMessage(error), kind }, "connection event could not be stored");
    }
  }
}
