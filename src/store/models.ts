/**
 * The model registry's table (ai_models): one row per model version, exactly one active per name
 * (a unique partial index). The registry (registry/) owns the files and the rules of a change; this
 * module owns the rows.
 */
import type { Store } from "./store.js";

export type ModelStatus = "candidate" | "active" | "fallback" | "deprecated" | "rejected";

export interface ModelEntry {
  id: number;
  name: string;
  version: string;
  type: string;
  path: string;
  sha256: string;
  metrics: Record<string, unknown>;
  trainedAt: number | null;
  deployedAt: number | null;
  status: ModelStatus;
  createdAt: number;
}

interface Row {
  id: number;
  name: string;
  version: string;
  type: string;
  path: string;
  sha256: string;
  metrics: string;
  trained_at: number | null;
  deployed_at: number | null;
  status: ModelStatus;
  created_at: number;
}

function entryOf(r: Row): ModelEntry {
  return {
    id: r.id,
    name: r.name,
    version: r.version,
    type: r.type,
    path: r.path,
    sha256: r.sha256,
    metrics: JSON.parse(r.metrics) as Record<string, unknown>,
    trainedAt: r.trained_at,
    deployedAt: r.deployed_at,
    status: r.status,
    createdAt: r.created_at,
  };
}

export function listModels(store: Store, name?: string): ModelEntry[] {
  const rows = (
    name === undefined
      ? store.db.prepare("SELECT * FROM ai_models ORDER BY id").all()
      : store.db.prepare("SELECT * FROM ai_models WHERE name = ? ORDER BY id").all(name)
  ) as Row[];
  return rows.map(entryOf);
}

export function getModel(store: Store, id: number): ModelEntry | undefined {
  const row = store.db.prepare("SELECT * FROM ai_models WHERE id = ?").get(id) as Row | undefined;
  return row === undefined ? undefined : entryOf(row);
}

/** The most recently deployed model of `name` with `status`. */
export function modelWithStatus(store: Store, name: string, status: ModelStatus): ModelEntry | undefined {
  const row = store.db
    .prepare(
      "SELECT * FROM ai_models WHERE name = ? AND status = ? ORDER BY deployed_at DESC, id DESC LIMIT 1",
    )
    .get(name, status) as Row | undefined;
  return row === undefined ? undefined : entryOf(row);
}

export function modelIdByVersion(store: Store, name: string, version: string): number | undefined {
  return (
    store.db.prepare("SELECT id FROM ai_models WHERE name = ? AND version = ?").get(name, version) as
      | { id: number }
      | undefined
  )?.id;
}

/** The id the next model will get (its file is named after it before the row exists). */
export function nextModelId(store: Store): number {
  return (store.db.prepare("SELECT coalesce(max(id), 0) + 1 AS id FROM ai_models").get() as { id: number })
    .id;
}

/** Inserts a model's row (in the caller's transaction, with its audit record). */
export function insertModel(store: Store, m: Omit<ModelEntry, "deployedAt">): number {
  const info = store.db
    .prepare(
      "INSERT INTO ai_models (id, name, version, type, path, sha256, metrics, trained_at, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .run(
      m.id,
      m.name,
      m.version,
      m.type,
      m.path,
      m.sha256,
      JSON.stringify(m.metrics),
      m.trainedAt,
      m.status,
      m.createdAt,
    );
  return Number(info.lastInsertRowid);
}

/**
 * Makes `next` the active model of its name (in the caller's transaction). Promote: the active one
 * becomes the fallback, an older fallback is deprecated. Rollback: the active one is deprecated and
 * the model deployed before `next`, if any, becomes the fallback.
 */
export function switchActiveModel(
  store: Store,
  next: { id: number; name: string },
  current: { id: number } | undefined,
  action: "promote" | "rollback",
  now: number,
): void {
  const db = store.db;
  const set = db.prepare("UPDATE ai_models SET status = ? WHERE id = ?");
  if (action === "promote") {
    db.prepare("UPDATE ai_models SET status = 'deprecated' WHERE name = ? AND status = 'fallback'").run(
      next.name,
    );
    if (current !== undefined) set.run("fallback", current.id);
  } else {
    if (current !== undefined) set.run("deprecated", current.id);
    const older = db
      .prepare(
        "SELECT id FROM ai_models WHERE name = ? AND status = 'deprecated' AND deployed_at IS NOT NULL AND id NOT IN (?, ?) ORDER BY deployed_at DESC LIMIT 1",
      )
      .get(next.name, next.id, current?.id ?? -1) as { id: number } | undefined;
    if (older !== undefined) set.run("fallback", older.id);
  }
  db.prepare("UPDATE ai_models SET status = 'active', deployed_at = ? WHERE id = ?").run(now, next.id);
}

/** A candidate that lost (or whose run was interrupted) is marked rejected; others are left alone. */
export function rejectCandidate(store: Store, id: number): void {
  store.db.prepare("UPDATE ai_models SET status = 'rejected' WHERE id = ? AND status = 'candidate'").run(id);
}
