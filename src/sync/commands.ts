/**
 * Commands from the plant: read, checked against their schema and then the allow-list, executed
 * at most once per (sender, command id), audited, answered. All of it in one SQLite transaction, so
 * a command is either fully done (effect, audit record, remembered id, reply queued) or not at
 * all. Only commands from an allowed sender are remembered: a refused sender cannot squat an id.
 */
import { z } from "zod";
import type { SyncConfig } from "../config/schema.js";
import { enterAlertOutcome, enterMaintenanceRecord, RecordRefused } from "../maintenance/records.js";
import { acknowledgeAlert } from "../store/alerts.js";
import { setGoal } from "../store/goals.js";
import { rememberCommand, seenCommand } from "../store/plantCommands.js";
import type { Store } from "../store/store.js";
import { decideSuggestion } from "../store/suggestions.js";
import { type PlantCommand, plantCommandSchema } from "./messages.js";

export interface CommandOutcome {
  commandId: string | null;
  ok: boolean;
  duplicate: boolean;
  reply: Record<string, unknown>;
}

class Refusal extends Error {}

export class PlantCommands {
  readonly #store: Store;
  readonly #allow: SyncConfig["commands"]["allow"];
  received = 0;
  refused = 0;
  duplicates = 0;

  readonly #machines: ReadonlySet<number>;

  constructor(store: Store, config: SyncConfig, machines: ReadonlySet<number>) {
    this.#store = store;
    this.#allow = config.commands.allow;
    this.#machines = machines;
  }

  /** Handles one message from the command topic; never throws for bad input. */
  handle(payload: Buffer): CommandOutcome {
    this.received++;
    // Bounded before parsing: a command is a few hundred bytes, and a deeply nested one would
    // overflow the stack of the parser or the schema check, which then could not even answer.
    if (payload.length > MAX_COMMAND_BYTES)
      return this.#refuse(
        null,
        `a command is at most ${MAX_COMMAND_BYTES} bytes, this one ${payload.length}`,
        payload.subarray(0, 200).toString("utf8"),
      );
    const text = payload.toString("utf8");
    const depth = nestingDepth(text, MAX_NESTING);
    if (depth > MAX_NESTING)
      return this.#refuse(
        null,
        `a command nests at most ${MAX_NESTING} levels deep, this one more`,
        text.slice(0, 200),
      );
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      return this.#refuse(null, `not JSON: ${(error as Error).message}`, text);
    }
    // The id is echoed in the reply and the audit only when it could be a valid one.
    const rawId = (raw as { id?: unknown } | null)?.id;
    const id = typeof rawId === "string" && rawId.length <= MAX_ID_LENGTH ? rawId : null;
    const parsed = plantCommandSchema.safeParse(raw);
    if (!parsed.success) return this.#refuse(id, `invalid command: ${z.prettifyError(parsed.error)}`, raw);
    const command = parsed.data;
    const db = this.#store.db;
    // The allow-list first, and its contents never told to a refused sender.
    const allowed = this.#allow[command.command] ?? [];
    if (!allowed.includes(command.sender))
      return this.#refuse(
        command.id,
        `sender '${command.sender}' may not send ${command.command} (see sync.commands.allow)`,
        raw,
        command,
        false,
      );
    const seen = seenCommand(db, command.sender, command.id);
    if (seen !== undefined) {
      // Idempotent: the same id gets the same answer again, audited as a repeat; no effect twice.
      this.duplicates++;
      const reply = seen.reply;
      this.#store.transaction(() => {
        this.#store.recordDecision({
          kind: "plant_command",
          actor: command.sender,
          decision: `${command.command} duplicate`,
          reason: "a command id seen before from this sender: answered again, not executed",
          details: { commandId: command.id, command: command.command },
        });
        this.#store.enqueueOutbox("reply", "replies", { ...reply, duplicate: true });
      });
      return { commandId: command.id, ok: seen.ok, duplicate: true, reply };
    }
    try {
      return this.#store.transaction(() => {
        const result = this.#execute(command);
        return this.#answer(command, true, result, undefined);
      });
    } catch (error) {
      if (error instanceof Refusal || error instanceof RecordRefused)
        return this.#refuse(command.id, error.message, raw, command);
      throw error;
    }
  }

  #execute(c: PlantCommand): Record<string, unknown> {
    const now = Date.now();
    switch (c.command) {
      case "ack_alert": {
        const was = acknowledgeAlert(this.#store, c.args.alertId, `plant:${c.sender}`, c.args.note, now);
        if (was === undefined) throw new Refusal(`no alert ${c.args.alertId}`);
        return { alertId: c.args.alertId, state: was === "open" ? "acknowledged" : was };
      }
      case "close_alert": {
        enterAlertOutcome(this.#store, c.args, `plant:${c.sender}`, now);
        return { alertId: c.args.alertId, outcome: c.args.outcome, state: "cleared" };
      }
      case "record_maintenance": {
        const id = enterMaintenanceRecord(
          this.#store,
          this.#machines,
          c.args,
          "plant",
          `plant:${c.sender}`,
          now,
        );
        return { maintenanceRecordId: id };
      }
      case "set_goal": {
        const startsAt = c.args.startsAt === undefined ? now : Date.parse(c.args.startsAt);
        const dueAt = Date.parse(c.args.dueAt);
        if (dueAt <= startsAt) throw new Refusal("dueAt must be after startsAt");
        // One active goal at a time: a new goal replaces the previous one.
        const goalId = setGoal(this.#store.db, {
          pieces: c.args.targetPieces,
          quality: c.args.quality,
          startsAt,
          dueAt,
          by: c.sender,
          at: now,
        });
        return { goalId };
      }
      case "decide_suggestion": {
        // Marked here, in the command's transaction; the optimizer writes an approval through the
        // safety envelope within a second, which checks it again against the PLC's value then.
        const a = c.args;
        const result = decideSuggestion(
          this.#store,
          a.suggestionId,
          a.decision,
          `plant:${c.sender}:${a.by}`,
          now,
          a.note,
        );
        if (!result.ok) throw new Refusal(result.message);
        return { suggestionId: a.suggestionId, state: result.suggestion.state };
      }
    }
  }

  #refuse(
    commandId: string | null,
    error: string,
    raw: unknown,
    command?: PlantCommand,
    remember = true,
  ): CommandOutcome {
    this.refused++;
    return this.#store.transaction(() =>
      this.#answer(command, false, undefined, error, commandId, raw, remember),
    );
  }

  /** Audit record, remembered id (when there is one), queued reply: one transaction, the caller's. */
  #answer(
    command: PlantCommand | undefined,
    ok: boolean,
    result: Record<string, unknown> | undefined,
    error: string | undefined,
    commandId: string | null = command?.id ?? null,
    raw?: unknown,
    remember = true,
  ): CommandOutcome {
    const reply = {
      version: 1,
      commandId,
      ok,
      ...(result !== undefined ? { result } : {}),
      ...(error !== undefined ? { error } : {}),
      ts: new Date().toISOString(),
    };
    this.#store.recordDecision({
      kind: "plant_command",
      actor: command?.sender ?? "unknown",
      decision: ok ? `${command!.command} done` : `refused${command ? ` ${command.command}` : ""}`,
      ...(error !== undefined ? { reason: error } : {}),
      details: {
        commandId,
        ...(command ? { command: command.command, args: command.args } : { raw: summarise(raw) }),
      },
    });
    // A command without a readable id cannot be remembered; it is answered and audited only.
    if (remember && commandId !== null && command !== undefined)
      rememberCommand(this.#store.db, {
        sender: command.sender,
        id: commandId,
        command: command.command,
        ok,
        reply,
        at: Date.now(),
      });
    const messageId = this.#store.enqueueOutbox("reply", "replies", reply);
    return { commandId, ok, duplicate: false, reply: { ...reply, messageId } };
  }
}

const MAX_COMMAND_BYTES = 64 * 1024;
const MAX_NESTING = 32;
const MAX_ID_LENGTH = 100;

/**
 * How deep brackets nest in a JSON text, outside strings, stopping once past `max`: a linear scan
 * that cannot overflow, done by hand because JSON.parse is the very thing that would.
 */
function nestingDepth(text: string, max: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return depth;
}

function summarise(raw: unknown): string {
  const text = typeof raw === "string" ? raw : (JSON.stringify(raw) ?? String(raw));
  return text.length > 500 ? `${text.slice(0, 500)}...` : text;
}
