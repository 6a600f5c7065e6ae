/** Outbox messages the plant broker refused, kept with the reason (sync's refusal policy). */
import type { Db } from "./store.js";

/** Copies an outbox message into the refused list; the outbox row is deleted with the acknowledged. */
export function keepRefused(db: Db, outboxId: number, reason: string, at: number): void {
  db.prepare(
    `INSERT INTO outbox_refused (message_id, class, topic, payload, created_at, refused_at, reason)
     SELECT message_id, class, topic, payload, created_at, ?, ? FROM outbox WHERE id = ?`,
  ).run(at, reason, outboxId);
}

export interface RefusedMessage {
  messageId: string;
  class: string;
  topic: string;
  refusedAt: number;
  reason: string;
}

export function refusedMessages(db: Db, limit = 100): RefusedMessage[] {
  return db
    .prepare(
      `SELECT message_id AS messageId, class, topic, refused_at AS refusedAt, reason
       FROM outbox_refused ORDER BY id DESC LIMIT ?`,
    )
    .all(limit) as RefusedMessage[];
}
