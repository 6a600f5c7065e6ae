/**
 * The SQLite store of one line (better-sqlite3, WAL). Owns the database handle: other components
 * use the typed methods here (and the SampleWriter for telemetry), never raw SQL on the handle.
 */
import { randomUUID } from "node:crypto";
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  statSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage, LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.js";

export type Db = Database.Database;

export interface StoreOptions {
  path: string;
  synchronous: "NORMAL" | "FULL";
}

export interface TagRow {
  id: number;
  name: string;
  machineId: number;
  unit: string;
}

export type OutboxClass =
  | "telemetry"
  | "status"
  | "metrics"
  | "prediction"
  | "alert"
  | "audit"
  | "work_order"
  | "reply";

export interface AuditDecision {
  kind: string;
  actor: string;
  decision: string;
  reason?: string;
  machineId?: number;
  tag?: string;
  modelId?: number;
  details?: Record<string, unknown>;
}

export interface MachineEvent {
  machineId: number;
  ts: number;
  kind: string;
  tag?: string;
  code?: number;
  message?: string;
}

export interface MaintenanceRecord {
  machineId: number;
  workOrder?: string;
  startedAt: number;
  completedAt: number;
  downtimeMin: number;
  /** A repair after a failure (1) or planned maintenance (0): failures label the learning data. */
  failure: boolean;
  parts?: string[];
  technician?: string;
  notes?: string;
  /** What failed (STANDARD_FAILURE_MODES or the plant's own word); failures only. */
  failureMode?: string;
  /** The alert this repair answered, when the technician names it. */
  alertId?: number;
  /** Who entered the record ("technician:anna", "plant:cmms"). */
  recordedBy?: string;
  source: "cli" | "plant" | "twin" | "import";
}

export class Store implements Component {
  readonly name = "store";
  #db: Db | undefined;
  // Statements used once per event or message, prepared once per open handle.
  #statements:
    | { event: Database.Statement; outbox: Database.Statement; audit: Database.Statement }
    | undefined;
  readonly #options: StoreOptions;
  readonly #log: Logger;
  readonly #outboxListeners: (() => void)[] = [];

  constructor(options: StoreOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
  }

  /** The SQLite file (workers open their own read-only connection to it). */
  get path(): string {
    return this.#options.path;
  }

  get db(): Db {
    if (this.#db === undefined) throw new LinepilotError("LP_ERR_STORE", "the store is not open");
    return this.#db;
  }

  async start(): Promise<void> {
    this.open();
  }

  /** Synchronous open, for CLI commands that read the store without a daemon. */
  open(): void {
    if (this.#db !== undefined) return;
    try {
      const fresh = prepareStoreFile(this.#options.path);
      const db = new Database(this.#options.path);
      try {
        if (!fresh) checkExistingStore(db, this.#options.path, this.#log);
      } catch (error) {
        db.close();
        throw error;
      }
      // auto_vacuum must be chosen before the first table exists; INCREMENTAL lets retention give
      // freed pages back to the file system without a full VACUUM that would block ingestion.
      if ((db.pragma("user_version", { simple: true }) as number) === 0)
        db.pragma("auto_vacuum = INCREMENTAL");
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${this.#options.synchronous}`);
      db.pragma("busy_timeout = 5000");
      db.pragma("foreign_keys = ON");
      this.#db = db;
      this.#migrate(db);
      this.#statements = {
        event: db.prepare(
          "INSERT INTO machine_events (machine_id, ts, kind, tag, code, message) VALUES (?, ?, ?, ?, ?, ?)",
        ),
        outbox: db.prepare(
          "INSERT INTO outbox (message_id, class, topic, payload, created_at) VALUES (?, ?, ?, ?, ?)",
        ),
        audit: db.prepare(
          `INSERT INTO ai_decisions_audit (ts, kind, actor, machine_id, tag, model_id, decision, reason, details)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ),
      };
    } catch (error) {
      this.#db?.close();
      this.#db = undefined;
      this.#statements = undefined;
      if (error instanceof LinepilotError) throw error;
      throw new LinepilotError(
        "LP_ERR_STORE",
        `cannot open the store ${this.#options.path}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  #migrate(db: Db): void {
    const current = db.pragma("user_version", { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new LinepilotError(
        "LP_ERR_STORE",
        `${this.#options.path} has schema version ${current}, written by a newer linepilot (this one knows ${SCHEMA_VERSION})`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.transaction(() => {
        db.exec(m.sql);
        db.pragma(`user_version = ${m.version}`);
      })();
      this.#log.info({ version: m.version, description: m.description }, "store migrated");
    }
  }

  async stop(): Promise<void> {
    this.close();
  }

  close(): void {
    if (this.#db === undefined) return;
    try {
      // Fold the WAL back into the main file so a copied .db file is complete on its own.
      this.#db.pragma("wal_checkpoint(TRUNCATE)");
    } catch (error) {
      this.#log.warn({ err: errorMessage(error) }, "WAL checkpoint at close failed");
    }
    this.#db.close();
    this.#db = undefined;
    this.#statements = undefined;
  }

  health(): ComponentHealth {
    if (this.#db === undefined) return { state: "stopped", details: {} };
    return { state: "ok", details: { path: this.#options.path, ...this.sizes() } };
  }

  #stmt() {
    if (this.#statements === undefined) throw new LinepilotError("LP_ERR_STORE", "the store is not open");
    return this.#statements;
  }

  schemaVersion(): number {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  /** Bytes used by live pages (what retention caps), and the file's total size in pages. */
  sizes(): { usedBytes: number; fileBytes: number; outboxDepth: number } {
    const db = this.db;
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const pages = db.pragma("page_count", { simple: true }) as number;
    const free = db.pragma("freelist_count", { simple: true }) as number;
    const outbox = db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number };
    return { usedBytes: (pages - free) * pageSize, fileBytes: pages * pageSize, outboxDepth: outbox.n };
  }

  /** Registers the configured tags (new ones get an id; known ones keep theirs) and returns them by name. */
  syncTags(tags: readonly { name: string; machine: number; unit: string }[]): Map<string, TagRow> {
    const db = this.db;
    const upsert = db.prepare(
      `INSERT INTO tags (name, machine_id, unit, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET machine_id = excluded.machine_id, unit = excluded.unit`,
    );
    const now = Date.now();
    db.transaction(() => {
      for (const t of tags) upsert.run(t.name, t.machine, t.unit, now);
    })();
    const rows = db.prepare("SELECT id, name, machine_id AS machineId, unit FROM tags").all() as TagRow[];
    return new Map(rows.map((r) => [r.name, r]));
  }

  insertMachineEvent(event: MachineEvent): number {
    const info = this.#stmt().event.run(
      event.machineId,
      event.ts,
      event.kind,
      event.tag ?? null,
      event.code ?? null,
      event.message ?? "",
    );
    return Number(info.lastInsertRowid);
  }

  insertMaintenanceRecord(r: MaintenanceRecord): number {
    const info = this.db
      .prepare(
        `INSERT INTO maintenance_records (machine_id, work_order, started_at, completed_at, downtime_min, failure,
           parts, technician, notes, source, created_at, failure_mode, alert_id, recorded_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.machineId,
        r.workOrder ?? null,
        r.startedAt,
        r.completedAt,
        r.downtimeMin,
        r.failure ? 1 : 0,
        JSON.stringify(r.parts ?? []),
        r.technician ?? null,
        r.notes ?? "",
        r.source,
        Date.now(),
        r.failureMode ?? null,
        r.alertId ?? null,
        r.recordedBy ?? null,
      );
    return Number(info.lastInsertRowid);
  }

  /** Called after each enqueue (the plant sync wakes its drain; it reads after the commit). */
  onOutbox(listener: () => void): void {
    this.#outboxListeners.push(listener);
  }

  /**
   * Puts a message for the plant in the outbox. Callers that record something (an alert, an audit
   * record) call this inside the same transaction, so a record never exists without its message.
   */
  enqueueOutbox(cls: OutboxClass, topic: string, payload: Record<string, unknown>): string {
    const messageId = randomUUID();
    this.#stmt().outbox.run(messageId, cls, topic, JSON.stringify({ ...payload, messageId }), Date.now());
    for (const listener of this.#outboxListeners) listener();
    return messageId;
  }

  /**
   * For a bulk load into a fresh store: drops the (tag, time) index and returns the step that
   * builds it again, once, at the end (several times faster than keeping it up to date row by row).
   */
  suspendSampleIndex(): () => void {
    const sql = (
      this.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'sensor_data_tag_ts'").get() as {
        sql: string;
      }
    ).sql;
    this.db.exec("DROP INDEX sensor_data_tag_ts");
    return () => this.db.exec(sql);
  }

  /** A value kept across restarts for a component (the meta table), or undefined. */
  getMeta(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)
      ?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(key, value);
  }

  /**
   * Runs `fn` as one transaction: what several store modules write together (an alert, its audit
   * record and its outbox message) commits or rolls back as one. Nested calls join the outer one.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Writes an AI decision to ai_decisions_audit and its copy to the outbox, in one transaction. */
  recordDecision(decision: AuditDecision, topic = "audit"): number {
    const db = this.db;
    return db.transaction(() => {
      const ts = Date.now();
      const info = this.#stmt().audit.run(
        ts,
        decision.kind,
        decision.actor,
        decision.machineId ?? null,
        decision.tag ?? null,
        decision.modelId ?? null,
        decision.decision,
        decision.reason ?? "",
        JSON.stringify(decision.details ?? {}),
      );
      const id = Number(info.lastInsertRowid);
      this.enqueueOutbox("audit", topic, { version: 1, auditId: id, ts, ...decision });
      return id;
    })();
  }
}

/**
 * Opens a store for reading by a tool (simulate, train) while the daemon may be writing it. A file
 * that is missing or is not a linepilot store is a usage error naming the file, not a SQLite trace.
 */
const QUICK_CHECK_MAX_BYTES = 2 * 1024 ** 3;

/** Kernel file systems: a store there cannot work, and a recursive mkdir under /proc never ends. */
const KERNEL_FS = /^\/(proc|sys|dev)(\/|$)/;

/**
 * Makes the store's folder (0750) and file (0640) whatever the umask: telemetry and the audit are
 * the plant's, not every local user's. Fails fast, with the path, where a store cannot be: a
 * kernel file system, a parent that is a file, a folder or file this user cannot write. Returns
 * whether the file is new.
 */
function prepareStoreFile(path: string): boolean {
  const file = resolve(path);
  if (KERNEL_FS.test(file))
    throw new LinepilotError(
      "LP_ERR_STORE",
      `cannot open the store ${path}: ${dirname(file)} is a kernel file system, not a place for a database`,
    );
  // The folders to make, from the nearest existing ancestor down (one mkdir each, no recursion).
  const missing: string[] = [];
  let dir = dirname(file);
  while (!existsSync(dir)) {
    missing.unshift(dir);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (!statSync(dir).isDirectory())
    throw new LinepilotError("LP_ERR_STORE", `cannot open the store ${path}: ${dir} is a file, not a folder`);
  for (const d of missing) {
    mkdirSync(d, { mode: 0o750 });
    chmodSync(d, 0o750);
  }
  if (existsSync(file)) {
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
    } catch {
      throw new LinepilotError(
        "LP_ERR_STORE",
        `cannot open the store ${path}: the file is read-only for this user (mode ${(statSync(file).mode & 0o777).toString(8)}); the daemon writes to it`,
      );
    }
    return false;
  }
  try {
    accessSync(dirname(file), constants.W_OK);
  } catch {
    throw new LinepilotError(
      "LP_ERR_STORE",
      `cannot open the store ${path}: its folder ${dirname(file)} is not writable for this user`,
    );
  }
  // SQLite gives its -wal and -shm files the main file's mode.
  closeSync(openSync(file, "a", 0o640));
  chmodSync(file, 0o640);
  return true;
}

/** An existing file must be a sound linepilot store (or an empty one) before anything migrates it. */
function checkExistingStore(db: Db, path: string, log: Logger): void {
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  ).map((t) => t.name);
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version === 0 && tables.length > 0)
    throw new LinepilotError(
      "LP_ERR_STORE",
      `${path} is another program's SQLite database (tables ${tables.slice(0, 5).join(", ")}${tables.length > 5 ? ", ..." : ""}), not a linepilot store: it is left as it is; give store.path a new file`,
    );
  // A damaged page found now is a clear error; found later it would be a failed insert mid-shift.
  // quick_check reads every page: beyond a few GB it would hold the start past systemd's timeout.
  const bytes = statSync(path).size;
  if (bytes > QUICK_CHECK_MAX_BYTES) {
    log.info(
      { path, bytes },
      "store integrity check skipped at start (large file); run PRAGMA quick_check offline",
    );
    return;
  }
  const check = db.pragma("quick_check(3)", { simple: false }) as { quick_check: string }[];
  if (check[0]?.quick_check !== "ok")
    throw new LinepilotError(
      "LP_ERR_STORE",
      `${path} is damaged (${check.map((c) => c.quick_check).join("; ")}): restore it from a backup, or move it aside to start an empty store`,
    );
}

export function openStoreForReading(path: string): Db {
  if (!existsSync(path))
    throw new LinepilotError(
      "LP_ERR_USAGE",
      `the store ${path} does not exist yet: it is made when the line first runs (linepilot run or demo), or by linepilot import or generate`,
    );
  let db: Db | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const version = db.pragma("user_version", { simple: true }) as number;
    if (
      version < 1 ||
      db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sensor_data'").get() === undefined
    )
      throw new Error("it has no linepilot tables");
    return db;
  } catch (error) {
    db?.close();
    throw new LinepilotError("LP_ERR_USAGE", `${path} is not a linepilot store: ${errorMessage(error)}`);
  }
}
