/**
 * Reads one line's YAML file, migrates older versions in memory (the operator's file is never
 * rewritten: zigbee2mqtt #13339), validates it against the schema and reports every error at
 * once with file:line:col, the key path, what was expected and what was found.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CORE_SCHEMA, load as loadYaml } from "js-yaml";
import { isMap, isNode, isPair, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { errorMessage, LinepilotError } from "../common/errors.js";
import { CONFIG_VERSION, type LineConfig, lineConfigSchema, SECRET_REFERENCE } from "./schema.js";
import { checkSecret } from "./secrets.js";
import { readTagFile, type TagRowOrigin } from "./tagFiles.js";

export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

export class ConfigError extends LinepilotError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super("LP_ERR_CONFIG", formatProblems(problems));
    this.problems = problems;
  }
}

/** At most this many problems are printed; the rest are counted ("and 51,000 more"). */
const SHOWN_PROBLEMS = 50;

export function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems
    .slice(0, SHOWN_PROBLEMS)
    .map((p) => `${p.file}:${p.line}:${p.column}: ${p.path === "" ? "(top level)" : p.path}: ${p.message}`);
  if (problems.length > SHOWN_PROBLEMS)
    lines.push(`... and ${(problems.length - SHOWN_PROBLEMS).toLocaleString("en")} more`);
  return `${problems.length.toLocaleString("en")} error${problems.length === 1 ? "" : "s"} in the configuration:\n${lines.join("\n")}`;
}

/**
 * Migrations of the config's shape, keyed by the version they upgrade from. Each takes the plain
 * parsed object and returns the next version's shape. Empty while only version 1 exists.
 */
const MIGRATIONS: Record<number, (raw: Record<string, unknown>) => Record<string, unknown>> = {};

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Check that every secret reference can be resolved (true for `run` and `config check`). */
  checkSecrets?: boolean;
}

/** A line's file is kilobytes to a few megabytes (100,000 tags are 12 MB); beyond this it is not one. */
const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

export function loadConfigFile(file: string, options: LoadOptions = {}): LineConfig {
  let bytes: Buffer;
  const refuse = (message: string) =>
    new ConfigError([
      { file, line: 0, column: 0, path: "", message: `cannot read the configuration: ${message}` },
    ]);
  try {
    if (statSync(file).size > MAX_CONFIG_BYTES)
      throw refuse(
        `it is ${statSync(file).size.toLocaleString("en")} bytes; a configuration is at most ${MAX_CONFIG_BYTES.toLocaleString("en")}`,
      );
    bytes = readFileSync(file);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error);
    throw refuse(reason);
  }
  // An editor on Windows may save UTF-16: YAML read as UTF-8 would then be NUL bytes and noise.
  const utf16 =
    (bytes[0] === 0xff && bytes[1] === 0xfe) ||
    (bytes[0] === 0xfe && bytes[1] === 0xff) ||
    (bytes.length >= 4 && (bytes[1] === 0 || bytes[0] === 0) && bytes.subarray(0, 64).includes(0));
  if (utf16) throw refuse("the file is UTF-16 (or has NUL bytes), not UTF-8: save it as UTF-8");
  return parseConfig(bytes.toString("utf8"), file, options);
}

/**
 * The tags of every machine that names a template: the template's tags with the machine's prefix,
 * connection, node base and register base. Problems (an unknown template, no connection, a {base}
 * with no nodeBase) are returned with their path in the YAML.
 */
export function expandTemplates(cfg: LineConfig): {
  tags: Record<string, unknown>[];
  origins: { template: string; index: number; machine: number }[];
  problems: { path: (string | number)[]; message: string }[];
} {
  const out = {
    tags: [] as Record<string, unknown>[],
    origins: [] as { template: string; index: number; machine: number }[],
    problems: [] as { path: (string | number)[]; message: string }[],
  };
  cfg.machines.forEach((m, mi) => {
    if (m.template === undefined) return;
    const template = cfg.templates[m.template];
    if (template === undefined) {
      const known = Object.keys(cfg.templates);
      out.problems.push({
        path: ["machines", mi, "template"],
        message: `no template '${m.template}'${known.length > 0 ? `; the templates are ${known.join(", ")}` : " (templates: is empty)"}`,
      });
      return;
    }
    if (m.connection === undefined) {
      out.problems.push({
        path: ["machines", mi],
        message: `machine ${m.id} has template '${m.template}' but no connection: (the connection its tags are read on)`,
      });
      return;
    }
    if (m.nodeBase === undefined && template.tags.some((t) => t.nodeId?.includes("{base}"))) {
      out.problems.push({
        path: ["machines", mi],
        message: `machine ${m.id}'s template '${m.template}' has node ids with {base}: give the machine a nodeBase`,
      });
      return;
    }
    const prefix = m.tagPrefix ?? `${m.template}${m.id}`;
    template.tags.forEach((t, ti) => {
      const tag: Record<string, unknown> = {
        ...t,
        name: `${prefix}.${t.name}`,
        machine: m.id,
        connection: m.connection,
      };
      if (t.nodeId !== undefined) tag.nodeId = t.nodeId.replaceAll("{base}", m.nodeBase ?? "");
      if (t.modbus !== undefined)
        tag.modbus = {
          ...t.modbus,
          address: t.modbus.address + m.registerBase,
          ...(m.unitId !== undefined ? { unitId: m.unitId } : {}),
        };
      out.tags.push(tag);
      out.origins.push({ template: m.template!, index: ti, machine: m.id });
    });
  });
  return out;
}

/** Appends the rows of `tagFiles:` to `tags:`; returns where each appended tag came from. */
function joinTagFiles(
  raw: Record<string, unknown>,
  base: string,
  problems: ConfigProblem[],
): { yamlTags: number; origins: TagRowOrigin[] } {
  const files = raw.tagFiles;
  const yaml = Array.isArray(raw.tags) ? raw.tags : [];
  if (!Array.isArray(files) || !files.every((f) => typeof f === "string"))
    return { yamlTags: yaml.length, origins: [] };
  const origins: TagRowOrigin[] = [];
  const extra: Record<string, unknown>[] = [];
  for (const f of files) {
    const contents = readTagFile(resolve(base, f));
    extra.push(...contents.tags);
    origins.push(...contents.origins);
    problems.push(...contents.problems);
  }
  raw.tags = [...yaml, ...extra];
  return { yamlTags: yaml.length, origins };
}

export function parseConfig(text: string, file: string, options: LoadOptions = {}): LineConfig {
  // Two YAML parsers on purpose: js-yaml reads a valid file fast (100,000 tags in about a second),
  // and the yaml library's document, with every node's position, is built only when a problem
  // must be located (it takes ten times as long on a large file). A file js-yaml refuses (a
  // syntax error, an alias, a duplicate key, deep nesting) goes the slow way for its message.
  let parsedDoc: { doc: ReturnType<typeof parseDocument>; lineCounter: LineCounter } | undefined;
  const parsed = () => {
    if (parsedDoc === undefined) {
      const lineCounter = new LineCounter();
      parsedDoc = {
        doc: parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true }),
        lineCounter,
      };
    }
    return parsedDoc;
  };
  const at = (offset: number) => {
    const pos = parsed().lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  const doc = {
    get contents() {
      return parsed().doc.contents;
    },
  };
  let raw: unknown = fastYaml(text);
  if (raw === undefined) {
    const slow = parsed().doc;
    if (slow.errors.length > 0) {
      // Only the first syntax error: the parser's later ones are mostly consequences of it.
      const e = slow.errors[0]!;
      const hint = /flow-map|flow-seq/.test(e.message)
        ? ' (inside { } or [ ], quote values that contain { } [ ] , such as "${env:NAME}")'
        : "";
      let message = `YAML syntax: ${e.message.split("\n")[0]}${hint}`;
      if (e.code === "DUPLICATE_KEY") {
        const key = /^[^:\n]*/.exec(text.slice(e.pos[0], e.pos[0] + 100))?.[0].trim();
        message = `the key '${key}' appears twice in the same mapping (YAML keys must be unique)`;
      } else if (/call stack/i.test(e.message))
        message = "nested too deeply ([ ] and { } more than 64 levels)";
      throw new ConfigError([{ file, ...at(e.pos[0]), path: "", message }]);
    }
    try {
      raw = slow.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // An alias bomb ("billion laughs"): refused before it is expanded.
      const alias = /\*[A-Za-z0-9_-]+/.exec(text);
      throw new ConfigError([
        {
          file,
          ...at(alias?.index ?? 0),
          path: "",
          message: `YAML aliases expand too far (${errorMessage(error)}): write the values out, or use fewer aliases`,
        },
      ]);
    }
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError([
      {
        file,
        line: 1,
        column: 1,
        path: "",
        message: "expected a mapping of keys (version, line, machines, ...)",
      },
    ]);
  }
  const migrated = migrate(raw as Record<string, unknown>, file);
  const problems: ConfigProblem[] = [];
  // Tags kept in CSV files beside the YAML join the YAML's own, and are checked the same way.
  const { yamlTags, origins } = joinTagFiles(migrated, dirname(resolve(file)), problems);
  let result = lineConfigSchema.safeParse(migrated, { reportInput: true });
  // Machines of a template get its tags, and the whole is checked again with them.
  let templated:
    | { start: number; origins: { template: string; index: number; machine: number }[] }
    | undefined;
  if (result.success) {
    const expanded = expandTemplates(result.data as LineConfig);
    for (const p of expanded.problems)
      problems.push({
        file,
        ...locate(doc.contents, p.path, at),
        path: formatPath(p.path),
        message: p.message,
      });
    if (expanded.tags.length > 0) {
      const tags = migrated.tags as unknown[];
      templated = { start: tags.length, origins: expanded.origins };
      migrated.tags = [...tags, ...expanded.tags];
      result = lineConfigSchema.safeParse(migrated, { reportInput: true });
    }
  }
  if (!result.success) {
    for (const issue of result.error.issues) {
      const i = issue.path[1];
      const fromTemplate =
        templated !== undefined && issue.path[0] === "tags" && typeof i === "number" && i >= templated.start
          ? templated.origins[i - templated.start]
          : undefined;
      if (fromTemplate !== undefined) {
        const at2 = [
          "templates",
          fromTemplate.template,
          "tags",
          fromTemplate.index,
          ...issue.path.slice(2),
        ].filter((x): x is string | number => typeof x !== "symbol");
        problems.push({
          file,
          ...locate(doc.contents, at2, at),
          path: formatPath(at2),
          message: `${issue.message} (as machine ${fromTemplate.machine}'s tag)`,
        });
        continue;
      }
      const origin = issue.path[0] === "tags" && typeof i === "number" ? origins[i - yamlTags] : undefined;
      if (origin !== undefined) {
        const key = issue.path[2] === "modbus" ? issue.path[3] : issue.path[2];
        problems.push({
          file: origin.file,
          line: origin.line,
          column: (typeof key === "string" ? origin.columns.get(key) : undefined) ?? 1,
          path: typeof key === "string" ? key : "",
          message: issue.message,
        });
        continue;
      }
      problems.push(...issueToProblems(issue, migrated, doc.contents, file, at));
    }
  } else if (options.checkSecrets !== false) {
    for (const { path, ref } of findSecretReferences(result.data)) {
      const problem = checkSecret(ref, options.env ?? process.env);
      if (problem !== undefined)
        problems.push({ file, ...locate(doc.contents, path, at), path: formatPath(path), message: problem });
    }
  }
  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(problems);
  }
  const config = result.data as LineConfig;
  // Relative paths are relative to the config file, so a line's folder can be moved as a whole.
  const base = dirname(resolve(file));
  config.store.path = isAbsolute(config.store.path) ? config.store.path : resolve(base, config.store.path);
  if (config.maintenance !== undefined && !isAbsolute(config.maintenance.model))
    config.maintenance.model = resolve(base, config.maintenance.model);
  if (config.optimizer !== undefined)
    config.optimizer.model =
      config.optimizer.model === undefined
        ? fileURLToPath(new URL("../../models/production_optimizer.onnx", import.meta.url))
        : resolve(base, config.optimizer.model);
  config.api.socket = resolve(base, config.api.socket ?? join(dirname(config.store.path), "api.sock"));
  if (config.registry !== undefined) {
    const r = config.registry;
    r.dir = resolve(base, r.dir ?? join(dirname(config.store.path), "models"));
    if (r.key.source === "file") r.key.path = resolve(base, r.key.path);
    if (r.key.source === "vault" && r.key.caFile !== undefined) r.key.caFile = resolve(base, r.key.caFile);
  }
  const cmmsHttp = config.maintenance?.workOrders.http;
  if (cmmsHttp?.caFile !== undefined) cmmsHttp.caFile = resolve(base, cmmsHttp.caFile);
  const tls = config.sync?.tls;
  if (tls !== undefined) {
    tls.ca = isAbsolute(tls.ca) ? tls.ca : resolve(base, tls.ca);
    if (tls.cert !== undefined && !isAbsolute(tls.cert)) tls.cert = resolve(base, tls.cert);
  }
  for (const c of config.connections) {
    if (c.protocol === "opcua" && c.pkiDir !== undefined && !isAbsolute(c.pkiDir))
      c.pkiDir = resolve(base, c.pkiDir);
    if (c.protocol === "opcua" && c.auth.type === "certificate" && !isAbsolute(c.auth.certificateFile))
      c.auth.certificateFile = resolve(base, c.auth.certificateFile);
  }
  // The daemon replaces a stale socket at api.socket at start: it must never be a file the line
  // keeps (the store and its journal, a model, a key, a certificate).
  const kept = [
    ["store.path", config.store.path],
    ["store.path (its WAL)", `${config.store.path}-wal`],
    ["store.path (its shared memory)", `${config.store.path}-shm`],
    ["maintenance.model", config.maintenance?.model],
    ["optimizer.model", config.optimizer?.model],
    ["registry.key.path", config.registry?.key.source === "file" ? config.registry.key.path : undefined],
    ["sync.tls.ca", tls?.ca],
    ["sync.tls.cert", tls?.cert],
    ["the config file itself", resolve(file)],
  ] as const;
  // Files the daemon reads at start are checked now, in the environment `config check` runs in,
  // rather than failing the daemon later.
  if (options.checkSecrets !== false) {
    const missing: ConfigProblem[] = [];
    const need = (path: (string | number)[], file_: string | undefined, what: string, create = false) => {
      if (file_ === undefined || create || existsSync(file_)) return;
      missing.push({
        file,
        ...locate(doc.contents, path, at),
        path: formatPath(path),
        message: `${what} ${file_} does not exist`,
      });
    };
    config.connections.forEach((c, i) => {
      if (c.protocol === "opcua" && c.auth.type === "certificate")
        need(["connections", i, "auth", "certificateFile"], c.auth.certificateFile, "the user certificate");
    });
    const key = config.registry?.key;
    if (key?.source === "file") need(["registry", "key", "path"], key.path, "the model key file", key.create);
    if (key?.source === "credential") {
      const dir = (options.env ?? process.env).CREDENTIALS_DIRECTORY;
      if (dir !== undefined) need(["registry", "key", "name"], join(dir, key.name), "the systemd credential");
    }
    if (key?.source === "vault" && key.caFile !== undefined)
      need(["registry", "key", "caFile"], key.caFile, "Vault's CA file");
    const cmms = config.maintenance?.workOrders.http;
    if (cmms?.caFile !== undefined)
      need(["maintenance", "workOrders", "http", "caFile"], cmms.caFile, "the maintenance system's CA file");
    if (tls !== undefined) {
      need(["sync", "tls", "ca"], tls.ca, "the broker's CA file");
      need(["sync", "tls", "cert"], tls.cert, "the client certificate");
    }
    if (missing.length > 0) throw new ConfigError(missing);
  }
  for (const [what, path] of kept)
    if (path !== undefined && path === config.api.socket)
      throw new ConfigError([
        {
          file,
          ...locate(doc.contents, ["api", "socket"], at),
          path: "api.socket",
          message: `the API socket ${config.api.socket} is ${what}: the daemon would replace it at start; choose another path`,
        },
      ]);
  return deepFreeze(config);
}

/** A plain YAML file the fast way, or undefined for anything the careful parser should see. */
function fastYaml(text: string): unknown {
  try {
    return loadYaml(text, { schema: CORE_SCHEMA, maxAliases: 0, maxDepth: 64 });
  } catch {
    return undefined;
  }
}

function migrate(raw: Record<string, unknown>, file: string): Record<string, unknown> {
  let current = raw;
  let version = current.version;
  while (typeof version === "number" && version < CONFIG_VERSION && MIGRATIONS[version] !== undefined) {
    current = MIGRATIONS[version]!(current);
    version = current.version;
  }
  if (typeof version === "number" && version > CONFIG_VERSION) {
    throw new ConfigError([
      {
        file,
        line: 1,
        column: 1,
        path: "version",
        message: `version ${version} was written for a newer linepilot; this one reads up to ${CONFIG_VERSION}`,
      },
    ]);
  }
  return current;
}

type Position = { line: number; column: number };

function issueToProblems(
  issue: z.core.$ZodIssue,
  raw: unknown,
  root: unknown,
  file: string,
  at: (offset: number) => Position,
): ConfigProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      file,
      ...locate(root, [...path, key], at, true),
      path: formatPath([...path, key]),
      message: `unknown key '${key}' (a typo?); allowed here: ${allowedKeysHint(path, raw)}`,
    }));
  }
  if (issue.code === "invalid_union" && "errors" in issue && issue.errors.length > 0) {
    // A discriminated union names the discriminator's allowed values; a plain one, its first branch's problems.
    const first = issue.errors[0] ?? [];
    if (
      issue.errors.every((branch) => branch.length > 0) &&
      first.length > 0 &&
      issue.message.includes("discriminator")
    ) {
      return [{ file, ...locate(root, path, at), path: formatPath(path), message: issue.message }];
    }
  }
  // zod 4 reports a discriminated union's unknown tag with the whole mapping as its input.
  const options = (issue as { options?: unknown[] }).options;
  if (issue.code === "invalid_union" && Array.isArray(options) && options.length > 0) {
    const node = getNode(root, path);
    const found = isScalar(node) ? `, found ${JSON.stringify(node.value)}` : "";
    return [
      {
        file,
        ...locate(root, path, at),
        path: formatPath(path),
        message: `expected one of ${options.map((o) => String(o)).join(", ")}${found}`,
      },
    ];
  }
  const found = describeFound(issue, root, path);
  return [
    { file, ...locate(root, path, at), path: formatPath(path), message: `${expectation(issue)}${found}` },
  ];
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined ? `missing; expected ${issue.expected}` : `expected ${issue.expected}`;
    case "invalid_value":
      if (issue.input === undefined)
        return `missing; expected ${issue.message.startsWith("Invalid") ? issue.values.map((v) => JSON.stringify(v)).join(" or ") : issue.message}`;
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return issue.origin === "array"
        ? `expected at least ${String(issue.minimum)} item(s)`
        : `expected >= ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "array"
        ? `expected at most ${String(issue.maximum)} item(s)`
        : `expected <= ${String(issue.maximum)}`;
    case "invalid_format":
      return `expected ${issue.message.replace(/^Invalid string: /, "")}`;
    case "not_multiple_of":
      return `expected a multiple of ${String(issue.divisor)}`;
    case "invalid_union":
      return issue.message.startsWith("Invalid input")
        ? "expected one of the documented forms"
        : issue.message;
    default:
      return issue.message;
  }
}

function describeFound(issue: z.core.$ZodIssue, root: unknown, path: (string | number)[]): string {
  if (issue.code === "custom" || issue.code === "unrecognized_keys") return "";
  if (issue.code === "invalid_type" && issue.input === undefined) return "";
  const node = getNode(root, path);
  const value =
    "input" in issue && issue.input !== undefined ? issue.input : isScalar(node) ? node.value : undefined;
  if (value === undefined) return "";
  if (typeof value === "number" && Number.isNaN(value)) return ", found .nan (not a number)";
  if (typeof value === "number" && !Number.isFinite(value))
    return `, found ${value > 0 ? "" : "-"}.inf (infinity)`;
  if (
    typeof value === "string" &&
    /^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$/.test(value) &&
    !Number.isFinite(Number(value))
  )
    return `, found ${value}, which is beyond the range of a number`;
  const shown =
    typeof value === "object"
      ? Array.isArray(value)
        ? `a list of ${value.length} item${value.length === 1 ? "" : "s"}`
        : "a mapping"
      : JSON.stringify(value);
  return `, found ${typeof value === "object" ? "" : `${typeof value} `}${shown}`;
}

function allowedKeysHint(path: (string | number)[], raw: unknown): string {
  // zod does not carry the allowed keys in the issue: walk the schema along the path, choosing the
  // branch of a discriminated union by the discriminator found in the file.
  const keys = shapeKeysAt(path, raw);
  return keys.length > 0 ? keys.join(", ") : "see the README's configuration reference";
}

type SchemaDef = {
  def?: { type?: string; element?: unknown; shape?: Record<string, unknown>; options?: unknown[] };
};

function shapeKeysAt(path: (string | number)[], raw: unknown): string[] {
  let schema: unknown = lineConfigSchema;
  let value: unknown = raw;
  for (const segment of [...path, null]) {
    schema = pickBranch(unwrap(schema), value);
    if (segment === null) break;
    value =
      value !== null && typeof value === "object"
        ? (value as Record<string | number, unknown>)[segment]
        : undefined;
    const def = (schema as SchemaDef).def;
    if (typeof segment === "number") {
      if (def?.type !== "array") return [];
      schema = def.element;
    } else {
      const shape = objectShape(schema);
      if (shape === undefined || !(segment in shape)) return [];
      schema = shape[segment];
    }
  }
  const shape = objectShape(schema);
  return shape === undefined ? [] : Object.keys(shape);
}

function pickBranch(schema: unknown, value: unknown): unknown {
  const def = (schema as SchemaDef).def;
  if (def?.type !== "union" || def.options === undefined) return schema;
  const record = value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
  const branch = def.options.find((option) => {
    const shape = objectShape(unwrap(option));
    if (shape === undefined) return false;
    return Object.entries(shape).every(([key, field]) => {
      const fdef = (field as { def?: { type?: string; values?: unknown[] } }).def;
      return fdef?.type !== "literal" || fdef.values?.includes(record[key]) === true;
    });
  });
  return branch === undefined ? schema : unwrap(branch);
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { type?: string; innerType?: unknown; in?: unknown } };
  for (let i = 0; i < 10 && s?.def !== undefined; i++) {
    const t = s.def.type;
    if (t === "default" || t === "optional" || t === "nullable" || t === "prefault" || t === "readonly")
      s = s.def.innerType as typeof s;
    else if (t === "pipe") s = s.def.in as typeof s;
    else break;
  }
  return s;
}

function objectShape(schema: unknown): Record<string, unknown> | undefined {
  const def = (schema as { def?: { type?: string; shape?: Record<string, unknown> } }).def;
  return def?.type === "object" ? def.shape : undefined;
}

function getNode(root: unknown, path: readonly (string | number)[]): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (!isNode(node)) return undefined;
    const collection = node as Node & { get?: (key: unknown, keepScalar: boolean) => unknown };
    if (typeof collection.get !== "function") return undefined;
    node = collection.get(segment, true);
  }
  return node;
}

/** The position of the deepest node on `path` that exists (or of the key itself, for unknown keys). */
function locate(
  root: unknown,
  path: readonly (string | number)[],
  at: (offset: number) => Position,
  keyItself = false,
): Position {
  if (keyItself && path.length > 0) {
    const parent = getNode(root, path.slice(0, -1));
    if (isMap(parent)) {
      const pair = parent.items.find(
        (p) => isPair(p) && isScalar(p.key) && p.key.value === path[path.length - 1],
      );
      if (pair !== undefined && isScalar(pair.key) && pair.key.range) return at(pair.key.range[0]);
    }
  }
  for (let depth = path.length; depth >= 0; depth--) {
    const node = getNode(root, path.slice(0, depth));
    if (isNode(node) && node.range) return at(node.range[0]);
  }
  return { line: 1, column: 1 };
}

function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function findSecretReferences(
  value: unknown,
  path: (string | number)[] = [],
): { path: (string | number)[]; ref: string }[] {
  if (typeof value === "string") return SECRET_REFERENCE.test(value) ? [{ path, ref: value }] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => findSecretReferences(v, [...path, i]));
  if (value !== null && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => findSecretReferences(v, [...path, k]));
  return [];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
