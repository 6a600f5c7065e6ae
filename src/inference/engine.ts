/**
 * Runs models off the event loop (docs/design.md §3): one worker thread per model, each with its
 * own onnxruntime session. A model is checked at load (sha256 when known, the declared input
 * against the features it will be fed); a model that throws or does not answer in time is
 * isolated (its worker replaced), counted and reported, and ingestion never waits for it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import { errorMessage, LinepilotError } from "../common/errors.js";
import { startWorker } from "../common/worker.js";
import { readModelInfo } from "./onnxModel.js";

export interface ModelSpec {
  name: string;
  /** Where the model came from (a file, or a registry entry); read unless `bytes` are given. */
  path: string;
  /** The model itself, already read (and decrypted) by the registry. */
  bytes?: Uint8Array;
  /** The feature names the caller will feed, in order. */
  features: readonly string[];
  sha256?: string;
  timeoutMs: number;
  /** What the model must be: a forest (maintenance), a baseline (normal behaviour) or a policy (optimizer). */
  kind?: "forest" | "policy" | "baseline";
}

export interface Scored {
  /** A classifier's probability of the positive class, per row. */
  probabilities: Float64Array;
  /** The model's main output as it came, row after row (a policy's actions). */
  values: Float32Array;
  width: number;
  contributions?: Float64Array;
  agreement?: Float64Array;
}

const WORKER = new URL(`./modelWorker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** Reads and checks a model file; every refusal names the model, the file and what is wrong. */
export function loadModelFile(spec: ModelSpec): { bytes: Uint8Array; sha256: string; baseValue?: number } {
  let bytes: Uint8Array;
  try {
    bytes = spec.bytes ?? readFileSync(spec.path);
  } catch (error) {
    throw new LinepilotError(
      "LP_ERR_MODEL",
      `model ${spec.name}: cannot read ${spec.path}: ${errorMessage(error)}`,
    );
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (spec.sha256 !== undefined && sha256 !== spec.sha256)
    throw new LinepilotError(
      "LP_ERR_MODEL",
      `model ${spec.name}: ${spec.path} has sha256 ${sha256}, expected ${spec.sha256}: refused`,
    );
  let parsed: ReturnType<typeof readModelInfo> | undefined;
  try {
    parsed = readModelInfo(bytes);
  } catch (error) {
    throw new LinepilotError(
      "LP_ERR_MODEL",
      `model ${spec.name}: ${spec.path} is not a valid linepilot ONNX model (${errorMessage(error)})`,
    );
  }
  if (spec.kind !== undefined && parsed.kind !== spec.kind)
    throw new LinepilotError(
      "LP_ERR_MODEL",
      `model ${spec.name}: ${spec.path} is a ${parsed.kind} model, not a ${spec.kind}: refused`,
    );
  const declared = parsed.info.features;
  const width = parsed.input.dims[1];
  if (parsed.input.elemType !== 1 || width !== spec.features.length)
    throw new LinepilotError(
      "LP_ERR_MODEL",
      `model ${spec.name}: its input '${parsed.input.name}' is ${parsed.input.elemType === 1 ? "float32" : `type ${parsed.input.elemType}`} [${parsed.input.dims.join(", ")}], linepilot feeds float32 [N, ${spec.features.length}]`,
    );
  declared.forEach((name, i) => {
    if (name !== spec.features[i])
      throw new LinepilotError(
        "LP_ERR_MODEL",
        `model ${spec.name}: feature ${i} is '${name}' in the model but '${spec.features[i]}' here; retrain or update linepilot`,
      );
  });
  return { bytes, sha256 };
}

export class ModelRunner {
  readonly spec: ModelSpec;
  readonly sha256: string;
  readonly bytes: Uint8Array;
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  #next = 1;
  readonly #pending = new Map<
    number,
    { resolve(s: Scored): void; reject(e: Error): void; timer: NodeJS.Timeout }
  >();
  runs = 0;
  failures = 0;
  timeouts = 0;
  restarts = 0;
  lastError: string | null = null;

  constructor(spec: ModelSpec) {
    this.spec = spec;
    const loaded = loadModelFile(spec);
    this.bytes = loaded.bytes;
    this.sha256 = loaded.sha256;
  }

  start(): Promise<void> {
    const worker = startWorker(WORKER, {
      workerData: { bytes: this.bytes, features: this.spec.features.length },
    });
    worker.unref();
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", (e) =>
        reject(new LinepilotError("LP_ERR_MODEL", `model ${this.spec.name}: ${e.message}`)),
      );
    });
    worker.on("message", (m: { id?: number; error?: string } & Scored) => {
      if (m.id === undefined) return;
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error !== undefined) {
        this.failures++;
        this.lastError = m.error;
        p.reject(new LinepilotError("LP_ERR_MODEL", `model ${this.spec.name} failed: ${m.error}`));
      } else p.resolve(m);
    });
    worker.on("error", (e) => {
      this.failures++;
      this.lastError = e.message;
      this.#failAll(new LinepilotError("LP_ERR_MODEL", `model ${this.spec.name} crashed: ${e.message}`));
    });
    return this.#ready;
  }

  /** Scores `rows` feature vectors laid end to end in `input`. */
  async run(input: Float32Array, rows: number): Promise<Scored> {
    if (input.length !== rows * this.spec.features.length)
      throw new LinepilotError(
        "LP_ERR_MODEL",
        `model ${this.spec.name}: ${input.length} values for ${rows} rows of ${this.spec.features.length} features`,
      );
    for (let i = 0; i < input.length; i++)
      if (!Number.isFinite(input[i]!) && !Number.isNaN(input[i]!))
        throw new LinepilotError(
          "LP_ERR_MODEL",
          `model ${this.spec.name}: feature ${this.spec.features[i % this.spec.features.length]} is ${input[i]}`,
        );
    await this.#ready;
    const id = this.#next++;
    this.runs++;
    return new Promise<Scored>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.timeouts++;
        this.lastError = `no answer within ${this.spec.timeoutMs} ms`;
        reject(
          new LinepilotError(
            "LP_ERR_MODEL",
            `model ${this.spec.name} did not answer within ${this.spec.timeoutMs} ms; restarted`,
          ),
        );
        void this.#restart();
      }, this.spec.timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#worker!.postMessage({ id, rows, input });
    });
  }

  /**
   * A stuck model gets a fresh worker at once. The old one is not terminated mid-run (stopping a
   * thread inside onnxruntime's native code aborts the whole process): it is abandoned, and
   * terminated as soon as its run ends and it is idle.
   */
  async #restart(): Promise<void> {
    this.restarts++;
    const old = this.#worker;
    this.#failAll(new LinepilotError("LP_ERR_MODEL", `model ${this.spec.name} restarted`));
    if (old !== undefined) {
      old.removeAllListeners("message");
      old.once("message", () => void old.terminate());
    }
    await this.start().catch((e: Error) => {
      this.lastError = e.message;
    });
  }

  #failAll(error: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(error);
      this.#pending.delete(id);
    }
  }

  async stop(): Promise<void> {
    // Let a run in progress finish first (see #restart: terminating inside native code aborts).
    const deadline = Date.now() + this.spec.timeoutMs;
    while (this.#pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.#failAll(new LinepilotError("LP_ERR_MODEL", `model ${this.spec.name} stopped`));
    await this.#worker?.terminate();
    this.#worker = undefined;
  }

  health(): Record<string, unknown> {
    return {
      model: this.spec.name,
      file: this.spec.path,
      sha256: this.sha256,
      runs: this.runs,
      failures: this.failures,
      timeouts: this.timeouts,
      restarts: this.restarts,
      lastError: this.lastError,
    };
  }
}
