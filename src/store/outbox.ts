/**
 * The outbox to the plant, read in order by the drain (sync/plantSync.ts). Messages are put in by
 * Store.enqueueOutbox, in the transaction of what they report; they leave only once the broker has
 * acknowledged them, or by the cap's policy (telemetry, metrics and status, oldest first).
 */
import type { Statement } from "better-sqlite3";
import type { Store } from "./store.js";

export interface OutboxMessage {
  id: number;
  cls: string;
  topic: string;
  payload: string;
}

/** Classes dropped, oldest first, when the outbox reaches its cap; alerts, audit and the rest never. */
const DROPPABLE = "('telemetry', 'metrics', 'status')";

export class OutboxQueue {
  readonly #store: Store;
  #next: Statement | undefined;
  #remove: Statement | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Up to `limit` messages after `afterId`, in order (the statements are prepared once). */
  after(afterId: number, limit: number): OutboxMessage[] {
    this.#next ??= this.#store.db.prepare(
      "SELECT id, class AS cls, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
    );
    return this.#next.all(afterId, limit) as OutboxMessage[];
  }

  /** Removes every message up to `id` (acknowledged by the broker, or let go). */
  removeUpTo(id: number): void {
    this.#remove ??= this.#store.db.prepare("DELETE FROM outbox WHERE id <= ?");
    this.#remove.run(id);
  }

  depth(): number {
    return (this.#store.db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  }

  /** Drops up to `count` of the oldest droppable messages not yet sent; returns how many. */
  dropOldest(afterId: number, count: number): number {
    return this.#store.db
      .prepare(
        `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE class IN ${DROPPABLE} AND id > ? ORDER BY id LIMIT ?)`,
      )
      .run(afterId, count).changes;
  }

  /** Status messages not yet sent are superseded by the next one (in the caller's transaction). */
  dropUnsentStatus(afterId: number): void {
    this.#store.db.prepare("DELETE FROM outbox WHERE class = 'status' AND id > ?").run(afterId);
  }
}
