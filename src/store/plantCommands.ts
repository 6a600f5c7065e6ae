/** Plant commands remembered per sender and id, so a repeated id is answered, not executed again. */
import type { Db } from "./store.js";

export function seenCommand(
  db: Db,
  sender: string,
  id: string,
): { ok: boolean; reply: Record<string, unknown> } | undefined {
  const row = db
    .prepare("SELECT ok, reply FROM plant_commands WHERE sender = ? AND command_id = ?")
    .get(sender, id) as { ok: number; reply: string } | undefined;
  return row === undefined
    ? undefined
    : { ok: row.ok === 1, reply: JSON.parse(row.reply) as Record<string, unknown> };
}

export function rememberCommand(
  db: Db,
  c: { sender: string; id: string; command: string; ok: boolean; reply: Record<string, unknown>; at: number },
): void {
  db.prepare(
    "INSERT OR IGNORE INTO plant_commands (sender, command_id, received_at, command, ok, reply) VALUES (?, ?, ?, ?, ?, ?)",
  ).run(c.sender, c.id, c.at, c.command, c.ok ? 1 : 0, JSON.stringify(c.reply));
}
