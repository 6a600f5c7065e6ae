/**
 * The model registry (docs/design.md §9): the ai_models table, with exactly one active model per
 * name (a unique partial index in the database), the previous one kept as fallback, and every model
 * file encrypted at rest (AES-256-GCM) with its sha256 checked at every load.
 *
 * A change of the active model is prepared first (the new model is decrypted, checked and started
 * by whoever runs it), then recorded and audited in one transaction, and only then takes effect.
 * Files are written to a temporary name, synced and renamed before their row is committed, and on
 * start a file no row refers to is removed: a crash at any point leaves no half-registered model.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage, LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { RegistryConfig } from "../config/schema.js";
import { readModelInfo } from "../inference/onnxModel.js";
import {
  getModel,
  insertModel,
  listModels,
  type ModelEntry,
  type ModelStatus,
  modelIdByVersion,
  modelWithStatus,
  nextModelId,
  switchActiveModel,
} from "../store/models.js";
import type { Store } from "../store/store.js";
import { decryptModel, encryptModel, isEncryptedModel } from "./modelCrypto.js";
import { loadModelKey } from "./modelKey.js";

export type { ModelEntry, ModelStatus } from "../store/models.js";

export interface NewModel {
  name: string;
  version: string;
  type: string;
  metrics?: Record<string, unknown>;
  trainedAt?: number;
  status: "candidate" | "rejected";
}

/**
 * Prepares `bytes` (a decrypted, checked ONNX model) to run, and returns the step that makes it
 * the one in use (commit) or drops it (abort). Called before the registry records the change; a
 * throw cancels the change.
 */
export type Activator = (
  bytes: Buffer,
  entry: ModelEntry,
) => Promise<{ commit(): void; abort(): Promise<void> }>;

const FILE = /^(.+)-(\d+)\.lpm$/;

export class ModelRegistry implements Component {
  readonly name = "registry";
  readonly #cfg: RegistryConfig;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #env: NodeJS.ProcessEnv;
  readonly #activators = new Map<string, Activator>();
  #key: Buffer | undefined;
  refusedLoads = 0;
  lastRefusal: string | null = null;
  /** Models of a name whose active one was refused and is not replaced yet: what keeps health degraded. */
  readonly #refusedActive = new Set<string>();

  constructor(cfg: RegistryConfig, deps: { store: Store; log: Logger; env?: NodeJS.ProcessEnv }) {
    this.#cfg = cfg;
    this.#store = deps.store;
    this.#log = deps.log.child({ component: "registry" });
    this.#env = deps.env ?? process.env;
  }

  get dir(): string {
    return this.#cfg.dir!;
  }

  async start(): Promise<void> {
    this.#key = await loadModelKey(this.#cfg.key, this.#env);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // Leftovers of a crash between writing a file and committing its row.
    const known = new Set(this.list().map((e) => e.path));
    for (const file of readdirSync(this.dir)) {
      const path = join(this.dir, file);
      if ((file.endsWith(".tmp") || FILE.test(file)) && !known.has(path)) {
        rmSync(path, { force: true });
        this.#log.warn(
          { file: path },
          "removed a model file no registry entry refers to (interrupted import or training)",
        );
      }
    }
  }

  async stop(): Promise<void> {
    this.#key?.fill(0);
    this.#key = undefined;
  }

  health(): ComponentHealth {
    const active = this.list().filter((e) => e.status === "active");
    return {
      // Degraded while an active model stands refused; a refusal that was dealt with is history.
      state: this.#key === undefined ? "stopped" : this.#refusedActive.size > 0 ? "degraded" : "ok",
      details: {
        dir: this.dir,
        active: Object.fromEntries(active.map((e) => [e.name, { id: e.id, version: e.version }])),
        refusedLoads: this.refusedLoads,
        lastRefusal: this.lastRefusal,
        refusedActive: [...this.#refusedActive],
      },
    };
  }

  /** Who runs models of `name` (the predictor): told of every change of the active model. */
  setActivator(name: string, activator: Activator): void {
    this.#activators.set(name, activator);
  }

  list(name?: string): ModelEntry[] {
    return listModels(this.#store, name);
  }

  get(id: number): ModelEntry {
    const entry = getModel(this.#store, id);
    if (entry === undefined)
      throw new LinepilotError("LP_ERR_USAGE", `no model with id ${id} (see linepilot models)`);
    return entry;
  }

  withStatus(name: string, status: ModelStatus): ModelEntry | undefined {
    return modelWithStatus(this.#store, name, status);
  }

  #requireKey(): Buffer {
    if (this.#key === undefined)
      throw new LinepilotError("LP_ERR_MODEL", "the model registry is not started");
    return this.#key;
  }

  /**
   * The model's ONNX bytes: the file's sha256 against the registry, then AES-GCM authentication,
   * then the ONNX structure. Any failure is a refusal naming the model and the file.
   */
  load(entry: ModelEntry): Buffer {
    const what = `model #${entry.id} (${entry.name} ${entry.version}) at ${entry.path}`;
    try {
      let file: Buffer;
      try {
        file = readFileSync(entry.path);
      } catch (error) {
        throw new LinepilotError("LP_ERR_MODEL", `${what}: cannot read the file: ${errorMessage(error)}`);
      }
      const sha256 = createHash("sha256").update(file).digest("hex");
      if (sha256 !== entry.sha256)
        throw new LinepilotError(
          "LP_ERR_MODEL",
          `${what}: the file's sha256 is ${sha256}, the registry has ${entry.sha256}: the file was altered or replaced; refused`,
        );
      const bytes = decryptModel(file, this.#requireKey(), what);
      try {
        readModelInfo(bytes);
      } catch (error) {
        throw new LinepilotError("LP_ERR_MODEL", `${what}: not a valid ONNX model (${errorMessage(error)})`);
      }
      return bytes;
    } catch (error) {
      this.refusedLoads++;
      this.lastRefusal = errorMessage(error);
      throw error;
    }
  }

  /**
   * The model of `name` to run at start: the active one, or, when it is refused, the fallback (the
   * refusal is logged, audited and shown in health). Undefined when the registry has neither.
   */
  loadActive(name: string): { entry: ModelEntry; bytes: Buffer; refused?: string } | undefined {
    const active = this.withStatus(name, "active");
    if (active === undefined) return undefined;
    try {
      const bytes = this.load(active);
      this.#refusedActive.delete(name);
      return { entry: active, bytes };
    } catch (error) {
      this.#refusedActive.add(name);
      const refused = errorMessage(error);
      const fallback = this.withStatus(name, "fallback");
      // The fallback is tried before anything is said about it: the audit must not claim a
      // fallback runs when it was refused too (the same wrong key refuses both).
      let loaded: Buffer | undefined;
      let fallbackRefused: string | undefined;
      if (fallback !== undefined)
        try {
          loaded = this.load(fallback);
        } catch (e) {
          fallbackRefused = errorMessage(e);
        }
      this.#log.error(
        { err: refused, fallback: fallback?.id ?? null, fallbackRefused: fallbackRefused ?? null },
        "the active model was refused at load",
      );
      this.#store.recordDecision({
        kind: "model_load",
        actor: "linepilot",
        modelId: active.id,
        decision:
          fallback === undefined
            ? "refused, no fallback"
            : loaded === undefined
              ? `refused, and fallback #${fallback.id} refused too`
              : `refused, running fallback #${fallback.id}`,
        reason:
          fallbackRefused === undefined
            ? refused
            : `${refused}; fallback #${fallback!.id}: ${fallbackRefused}`,
        details: {
          name,
          active: active.id,
          fallback: fallback?.id ?? null,
          fallbackRefused: fallbackRefused ?? null,
        },
      });
      if (fallback === undefined) throw error;
      if (loaded === undefined)
        throw new LinepilotError(
          "LP_ERR_MODEL",
          `${refused}; the fallback #${fallback.id} was refused too: ${fallbackRefused}`,
        );
      return { entry: fallback, bytes: loaded, refused };
    }
  }

  /** Encrypts and registers a model; the file is on disk (synced) before its row is committed. */
  add(bytes: Uint8Array, model: NewModel, actor: string, reason: string): ModelEntry {
    if (isEncryptedModel(bytes))
      throw new LinepilotError(
        "LP_ERR_USAGE",
        "this file is already an encrypted model file; import the plain .onnx",
      );
    try {
      readModelInfo(bytes);
    } catch (error) {
      throw new LinepilotError("LP_ERR_MODEL", `not a valid ONNX model (${errorMessage(error)}): refused`);
    }
    const exists = modelIdByVersion(this.#store, model.name, model.version);
    if (exists !== undefined)
      throw new LinepilotError(
        "LP_ERR_USAGE",
        `${model.name} ${model.version} is already registered as #${exists}`,
      );
    const file = encryptModel(bytes, this.#requireKey());
    const sha256 = createHash("sha256").update(file).digest("hex");
    const onnxSha256 = createHash("sha256").update(bytes).digest("hex");
    // The file is named after the row id it will get, so an orphan is recognisable after a crash.
    const next = nextModelId(this.#store);
    const path = join(this.dir, `${model.name}-${next}.lpm`);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, file);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const now = Date.now();
    try {
      const id = this.#store.transaction(() => {
        const id = insertModel(this.#store, {
          id: next,
          name: model.name,
          version: model.version,
          type: model.type,
          path,
          sha256,
          metrics: { ...model.metrics, onnx_sha256: onnxSha256 },
          trainedAt: model.trainedAt ?? null,
          status: model.status,
          createdAt: now,
        });
        this.#store.recordDecision({
          kind: "model_registered",
          actor,
          modelId: id,
          decision: `registered ${model.name} ${model.version} as ${model.status}`,
          reason,
          details: {
            id,
            name: model.name,
            version: model.version,
            status: model.status,
            metrics: model.metrics ?? {},
          },
        });
        return id;
      });
      return this.get(id);
    } catch (error) {
      rmSync(path, { force: true });
      throw error;
    }
  }

  /** Makes `id` the active model of its name; the active one becomes the fallback. */
  async promote(
    id: number,
    actor: string,
    reason = "",
  ): Promise<{ active: ModelEntry; fallback?: ModelEntry }> {
    const entry = this.get(id);
    if (entry.status === "active") throw new LinepilotError("LP_ERR_USAGE", `model #${id} is already active`);
    const current = this.withStatus(entry.name, "active");
    return this.#switch(entry, current, actor, "promote", reason);
  }

  /** The fallback becomes active again in one step; the rolled-back model is deprecated. */
  async rollback(
    name: string,
    actor: string,
    reason = "",
  ): Promise<{ active: ModelEntry; fallback?: ModelEntry }> {
    const fallback = this.withStatus(name, "fallback");
    if (fallback === undefined)
      throw new LinepilotError(
        "LP_ERR_USAGE",
        `${name} has no fallback model to roll back to (see linepilot models)`,
      );
    return this.#switch(fallback, this.withStatus(name, "active"), actor, "rollback", reason);
  }

  async #switch(
    next: ModelEntry,
    current: ModelEntry | undefined,
    actor: string,
    action: "promote" | "rollback",
    reason: string,
  ): Promise<{ active: ModelEntry; fallback?: ModelEntry }> {
    let prepared: Awaited<ReturnType<Activator>> | undefined;
    try {
      const bytes = this.load(next); // a tampered file is refused here, before anything changes
      const activator = this.#activators.get(next.name);
      prepared = activator === undefined ? undefined : await activator(bytes, next);
    } catch (error) {
      // A refused promotion is a decision too: who asked, which model, and why it was refused.
      this.#store.recordDecision({
        kind: action === "promote" ? "model_promote_refused" : "model_rollback_refused",
        actor,
        modelId: next.id,
        decision: `${next.name}: #${next.id} (${next.version}) not made active; #${current?.id ?? "none"} stays`,
        reason: `${errorMessage(error)}${reason === "" ? "" : ` (asked: ${reason})`}`,
        details: { name: next.name, refused: next.id, active: current?.id ?? null },
      });
      throw error;
    }
    const now = Date.now();
    try {
      this.#record(next, current, actor, action, reason, now);
    } catch (error) {
      await prepared?.abort();
      throw error;
    }
    prepared?.commit();
    this.#refusedActive.delete(next.name); // a model that loaded and was activated is running
    this.#log.info(
      { name: next.name, active: next.id, previous: current?.id ?? null, action, actor },
      "active model changed",
    );
    const active = this.get(next.id);
    const fallback = this.withStatus(next.name, "fallback");
    return fallback === undefined ? { active } : { active, fallback };
  }

  #record(
    next: ModelEntry,
    current: ModelEntry | undefined,
    actor: string,
    action: "promote" | "rollback",
    reason: string,
    now: number,
  ): void {
    this.#store.transaction(() => {
      switchActiveModel(this.#store, next, current, action, now);
      this.#store.recordDecision({
        kind: action === "promote" ? "model_promoted" : "model_rollback",
        actor,
        modelId: next.id,
        decision:
          action === "promote"
            ? `${next.name}: #${next.id} (${next.version}) active${current !== undefined ? `, #${current.id} (${current.version}) kept as fallback` : ""}`
            : `${next.name}: rolled back to #${next.id} (${next.version})${current !== undefined ? `, #${current.id} (${current.version}) deprecated` : ""}`,
        reason,
        details: {
          name: next.name,
          active: { id: next.id, version: next.version, metrics: next.metrics },
          previous:
            current === undefined
              ? null
              : { id: current.id, version: current.version, metrics: current.metrics },
        },
      });
    });
  }

  /** On a new registry, the shipped (plain) model file becomes the first active model of `name`. */
  bootstrap(name: string, plainPath: string, type: string): ModelEntry | undefined {
    if (this.list(name).some((e) => e.status === "active" || e.status === "fallback")) return undefined;
    const bytes = readFileSync(plainPath);
    const info = readModelInfo(bytes);
    const entry = this.add(
      bytes,
      {
        name,
        version: info.info.version || "shipped",
        type,
        metrics: metricsOf(plainPath, info.info.metadata),
        status: "candidate",
      },
      "linepilot",
      `first start: the configured model ${plainPath}`,
    );
    // Nothing runs yet (the predictor loads the active model next): recorded like any promotion.
    this.#record(
      entry,
      undefined,
      "linepilot",
      "promote",
      `first start: the configured model ${plainPath}`,
      Date.now(),
    );
    return this.get(entry.id);
  }
}

/** A shipped model's holdout figures: from its card beside it, else from the model's metadata. */
function metricsOf(plainPath: string, metadata: Record<string, string>): Record<string, unknown> {
  try {
    const card = JSON.parse(readFileSync(plainPath.replace(/\.onnx$/, ".card.json"), "utf8")) as {
      holdout?: { auc?: number; precision?: number; recall?: number; threshold?: number };
    };
    if (card.holdout !== undefined) {
      const { auc, precision, recall, threshold } = card.holdout;
      return { auc, precision, recall, threshold, source: "model card" };
    }
  } catch {
    // no card: a model trained elsewhere
  }
  return metadata.holdout_auc !== undefined ? { auc: Number(metadata.holdout_auc) } : {};
}
