/**
 * Loads a historian's or a spreadsheet's export into the line's store, mapped onto the YAML's
 * tags, so the models can learn from years the gateway never saw. Two layouts:
 *
 * - wide: a time column and one column per tag (`time,Bearing 1,Bearing 2`); with a machine
 *   column, each row names its machine and the columns become tags by a pattern
 *   (`engine{machine}.{column}`), as fleet exports do;
 * - long: one sample per row (`time,tag,value[,quality]`), as most historians export.
 *
 * A file column maps to a YAML tag by `--map "Column=tag"`, or by having the tag's own name.
 * Values may be scaled to the YAML's units (`value * scale + offset`). Rows that cannot be read
 * are counted and reported by line number, never guessed; samples the store already has (same
 * tag, same time) are skipped, so an import can be repeated or overlap another. Parsing is
 * papaparse's streaming parser, row by row: memory stays flat whatever the file's size.
 */
import { createReadStream, statSync } from "node:fs";
import Papa from "papaparse";
import type { LineConfig } from "../config/schema.js";
import type { HistoryWriter, ImportedMaintenance } from "../store/historyWriter.js";
import { type TimeOptions, timeParser } from "./timeParser.js";

export interface ImportSpec {
  file: string;
  format: "wide" | "long";
  /** A delimiter character, or "whitespace" (runs of spaces or tabs, as fixed-width text exports). */
  delimiter: string;
  /** Column names when the file has no header row. */
  columns?: readonly string[];
  timeColumn?: string;
  time: TimeOptions;
  /** File column (wide) or file tag name (long) -> YAML tag name. */
  map: ReadonlyMap<string, string>;
  machineColumn?: string;
  /** With machineColumn: the YAML tag of a column for a machine, e.g. "engine{machine}.{column}". */
  tagPattern?: string;
  tagColumn?: string;
  valueColumn?: string;
  qualityColumn?: string;
  /** YAML tag -> value * scale + offset. */
  scale: ReadonlyMap<string, { scale: number; offset: number }>;
  /** Ignore columns that map to no tag, instead of refusing the file. */
  skipUnmapped: boolean;
}

export interface BadRow {
  line: number;
  reason: string;
}

export interface ImportReport {
  file: string;
  rows: number;
  samples: number;
  inserted: number;
  /** Samples the store already had (same tag and time). */
  duplicates: number;
  badRows: number;
  /** The first bad rows, with their line numbers. */
  bad: BadRow[];
  tags: string[];
  unmapped: string[];
  from: string | null;
  to: string | null;
  dryRun: boolean;
  seconds: number;
}

const QUALITY: Record<string, number> = { good: 0, uncertain: 0x40000000, bad: 0x80000000 };
const BATCH = 50_000;
const KEEP_BAD = 20;

/** Where a tag lives in the store: its id, known once the config's tags are registered. */
export type TagIds = ReadonlyMap<string, number>;

export class ImportError extends Error {}

export async function importCsv(
  spec: ImportSpec,
  line: LineConfig,
  tagIds: TagIds,
  writer: HistoryWriter | undefined,
  onProgress?: (bytes: number, total: number) => void,
): Promise<ImportReport> {
  const started = performance.now();
  const known = new Set(line.tags.map((t) => t.name));
  const parseTime = parser(spec.time);
  const report: ImportReport = {
    file: spec.file,
    rows: 0,
    samples: 0,
    inserted: 0,
    duplicates: 0,
    badRows: 0,
    bad: [],
    tags: [],
    unmapped: [],
    from: null,
    to: null,
    dryRun: writer === undefined,
    seconds: 0,
  };
  const bad = (lineNo: number, reason: string) => {
    report.badRows++;
    if (report.bad.length < KEEP_BAD) report.bad.push({ line: lineNo, reason });
  };
  const tags = new Int32Array(BATCH);
  const ts = new Float64Array(BATCH);
  const values = new Float64Array(BATCH);
  const status = new Uint32Array(BATCH);
  let n = 0;
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  const used = new Set<string>();
  const flush = () => {
    if (n === 0) return;
    if (writer !== undefined) report.inserted += writer.write(n, tags, ts, values, status);
    n = 0;
  };
  const push = (tag: string, t: number, v: number, q: number) => {
    const s = spec.scale.get(tag);
    tags[n] = tagIds.get(tag) ?? -1;
    ts[n] = t;
    values[n] = s === undefined ? v : v * s.scale + s.offset;
    status[n] = q;
    n++;
    report.samples++;
    used.add(tag);
    if (t < minTs) minTs = t;
    if (t > maxTs) maxTs = t;
    if (n === BATCH) flush();
  };

  let header: string[] | undefined = spec.columns === undefined ? undefined : [...spec.columns];
  let lineNo = 0;
  // Resolved once the header is known.
  let timeAt = -1;
  let machineAt = -1;
  let tagAt = -1;
  let valueAt = -1;
  let qualityAt = -1;
  let wideTags: (string | undefined)[] = [];
  const patternTags = new Map<string, string | undefined>();
  const column = (name: string | undefined, fallback: RegExp | undefined, what: string): number => {
    const h = header!;
    if (name !== undefined) {
      const at = h.indexOf(name);
      if (at < 0)
        throw new ImportError(
          `${spec.file}:1: no column '${name}' (${what}); the columns are ${h.join(", ")}`,
        );
      return at;
    }
    const guess = fallback === undefined ? -1 : h.findIndex((c) => fallback.test(c));
    return guess;
  };
  const resolveHeader = () => {
    const h = header!;
    timeAt = column(spec.timeColumn, /^(time|timestamp|datetime|date|ts|t_stamp)$/i, "the time");
    if (timeAt < 0) timeAt = 0;
    if (spec.format === "long") {
      tagAt = column(spec.tagColumn, /^(tag|tagname|tag_name|name|point|tagpath|path)$/i, "the tag");
      valueAt = column(spec.valueColumn, /^(value|val|v)$/i, "the value");
      qualityAt = column(spec.qualityColumn, /^(quality|status|q)$/i, "the quality");
      if (tagAt < 0 || valueAt < 0)
        throw new ImportError(
          `${spec.file}:1: a long file needs a tag and a value column (--tag-column, --value-column); the columns are ${h.join(", ")}`,
        );
      return;
    }
    if (spec.machineColumn !== undefined) machineAt = column(spec.machineColumn, undefined, "the machine");
    wideTags = h.map((name, i) => {
      if (i === timeAt || i === machineAt || name === "") return undefined;
      if (machineAt >= 0) return undefined; // by pattern, per machine
      const tag = spec.map.get(name) ?? (known.has(name) ? name : undefined);
      if (tag !== undefined && !known.has(tag))
        throw new ImportError(
          `--map: '${name}' maps to tag '${tag}', which the configuration does not define`,
        );
      if (tag === undefined) report.unmapped.push(name);
      return tag;
    });
    if (machineAt < 0 && report.unmapped.length > 0 && !spec.skipUnmapped)
      throw new ImportError(
        `${spec.file}:1: no tag for the column${report.unmapped.length > 1 ? "s" : ""} ${report.unmapped.map((c) => `'${c}'`).join(", ")}: map ${report.unmapped.length > 1 ? "them" : "it"} with --map "COLUMN=tag" (the YAML's tag names), or pass --skip-unmapped`,
      );
  };
  const patternTag = (machine: string, col: string): string | undefined => {
    const key = `${machine}\u0000${col}`;
    if (patternTags.has(key)) return patternTags.get(key);
    const mapped = spec.map.get(col) ?? col;
    const tag = (spec.tagPattern ?? "{column}")
      .replaceAll("{machine}", machine)
      .replaceAll("{column}", mapped);
    const found = known.has(tag) ? tag : undefined;
    if (found === undefined && !report.unmapped.includes(tag)) report.unmapped.push(tag);
    patternTags.set(key, found);
    return found;
  };

  const onRow = (raw: string[]) => {
    lineNo++;
    const row = spec.delimiter === "whitespace" ? raw.filter((f) => f !== "") : raw;
    if (row.length === 0 || (row.length === 1 && row[0]!.trim() === "")) return;
    if (header === undefined) {
      header = row.map((c) => c.trim());
      resolveHeader();
      return;
    }
    if (timeAt < 0) resolveHeader();
    report.rows++;
    const t = parseTime(row[timeAt] ?? "");
    if (Number.isNaN(t)) {
      bad(lineNo, `time '${row[timeAt] ?? ""}' is not ${describeFormat(spec.time)}`);
      return;
    }
    if (spec.format === "long") {
      const fileTag = (row[tagAt] ?? "").trim();
      const tag = spec.map.get(fileTag) ?? fileTag;
      if (!known.has(tag)) {
        if (spec.skipUnmapped) {
          if (!report.unmapped.includes(fileTag)) report.unmapped.push(fileTag);
          return;
        }
        bad(lineNo, `tag '${fileTag}' is not in the configuration (map it with --map "${fileTag}=tag")`);
        return;
      }
      const text = (row[valueAt] ?? "").trim();
      const v = text === "" ? Number.NaN : Number(text);
      if (text !== "" && !Number.isFinite(v)) {
        bad(lineNo, `value '${text}' is not a number`);
        return;
      }
      const q = qualityAt < 0 ? 0 : quality(row[qualityAt] ?? "");
      if (q === undefined) {
        bad(lineNo, `quality '${row[qualityAt]}' is not good/uncertain/bad or an OPC UA status code`);
        return;
      }
      push(tag, t, v, text === "" && q === 0 ? QUALITY.bad! : q);
      return;
    }
    const machine = machineAt >= 0 ? (row[machineAt] ?? "").trim() : "";
    let problem: string | undefined;
    for (let i = 0; i < row.length; i++) {
      if (i === timeAt || i === machineAt) continue;
      const tag = machineAt >= 0 ? patternTag(machine, header[i] ?? "") : wideTags[i];
      if (tag === undefined) continue;
      const text = row[i]!.trim();
      if (text === "") continue; // no reading in this column at this time
      const v = Number(text);
      if (!Number.isFinite(v)) {
        problem ??= `column '${header[i]}': '${text}' is not a number`;
        continue;
      }
      push(tag, t, v, 0);
    }
    if (problem !== undefined) bad(lineNo, problem);
  };

  const total = statSync(spec.file).size;
  const stream = createReadStream(spec.file, { encoding: "utf8", highWaterMark: 1 << 20 });
  let lastProgress = 0;
  await new Promise<void>((resolve, reject) => {
    Papa.parse<string[]>(stream as unknown as File, {
      delimiter: spec.delimiter === "whitespace" ? " " : spec.delimiter,
      skipEmptyLines: false,
      step: (results, parser) => {
        try {
          onRow(results.data);
        } catch (error) {
          reject(error); // before abort(), which completes the parse
          parser.abort();
          return;
        }
        if (onProgress !== undefined && lineNo - lastProgress >= 20_000) {
          lastProgress = lineNo;
          onProgress(stream.bytesRead, total);
        }
      },
      complete: () => resolve(),
      error: (error: Error) => reject(new ImportError(`${spec.file}: ${error.message}`)),
    });
  });
  flush();
  onProgress?.(total, total);
  if (header === undefined) throw new ImportError(`${spec.file}: the file is empty`);
  if (
    spec.machineColumn !== undefined &&
    report.unmapped.length > 0 &&
    !spec.skipUnmapped &&
    report.samples === 0
  )
    throw new ImportError(
      `${spec.file}: no column maps to a tag by the pattern '${spec.tagPattern ?? "{column}"}' (e.g. ${report.unmapped.slice(0, 3).join(", ")} are not in the configuration)`,
    );
  report.tags = [...used].sort();
  report.from = Number.isFinite(minTs) ? new Date(minTs).toISOString() : null;
  report.to = Number.isFinite(maxTs) ? new Date(maxTs).toISOString() : null;
  report.duplicates = writer === undefined ? 0 : report.samples - report.inserted;
  report.seconds = Number(((performance.now() - started) / 1000).toFixed(2));
  return report;
}

function parser(time: TimeOptions): (text: string) => number {
  try {
    return timeParser(time);
  } catch (error) {
    throw new ImportError((error as Error).message);
  }
}

function quality(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t === "") return 0;
  if (t in QUALITY) return QUALITY[t];
  if (t === "192") return 0; // OPC DA / historian "good"
  const n = Number(t);
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? n : undefined;
}

function describeFormat(o: TimeOptions): string {
  switch (o.format) {
    case "iso":
      return "an ISO 8601 time (2024-03-01T06:00:00Z, or local in the --timezone)";
    case "epoch-s":
      return "epoch seconds";
    case "epoch-ms":
      return "epoch milliseconds";
    case "cycle":
      return "a cycle number";
    default:
      return `a time in the format ${o.format}`;
  }
}

/** Maintenance and failure records from an export: one record per row, by column name. */
export type MaintenanceRow = ImportedMaintenance;

const YES = new Set(["1", "true", "yes", "y", "failure"]);
const NO = new Set(["0", "false", "no", "n", "", "preventive", "planned"]);

/**
 * Reads a maintenance CSV with a header: machine, started, completed (or duration_min), failure
 * (yes/no), and optionally mode, parts (separated by ';'), work_order, technician, note.
 */
export async function readMaintenanceCsv(
  file: string,
  time: TimeOptions,
  machines: ReadonlySet<number>,
): Promise<{ records: MaintenanceRow[]; bad: BadRow[]; badRows: number }> {
  const parseTime = parser(time);
  const records: MaintenanceRow[] = [];
  const bad: BadRow[] = [];
  let badRows = 0;
  let header: string[] | undefined;
  let lineNo = 0;
  const fail = (reason: string) => {
    badRows++;
    if (bad.length < KEEP_BAD) bad.push({ line: lineNo, reason });
  };
  const stream = createReadStream(file, { encoding: "utf8" });
  await new Promise<void>((resolve, reject) => {
    Papa.parse<string[]>(stream as unknown as File, {
      skipEmptyLines: false,
      step: (results) => {
        lineNo++;
        const row = results.data;
        if (row.length === 1 && row[0]!.trim() === "") return;
        if (header === undefined) {
          header = row.map((c) => c.trim().toLowerCase());
          for (const need of ["machine", "started"])
            if (!header.includes(need)) {
              reject(
                new ImportError(
                  `${file}:1: a maintenance file needs a '${need}' column; it has ${header.join(", ")}`,
                ),
              );
              return;
            }
          return;
        }
        const get = (name: string) => {
          const at = header!.indexOf(name);
          return at < 0 ? "" : (row[at] ?? "").trim();
        };
        const machineId = Number(get("machine"));
        if (!machines.has(machineId)) return fail(`machine '${get("machine")}' is not in the configuration`);
        const startedAt = parseTime(get("started"));
        if (Number.isNaN(startedAt))
          return fail(`started '${get("started")}' is not ${describeFormat(time)}`);
        const durationText = get("duration_min");
        const completedText = get("completed");
        const completedAt =
          completedText !== ""
            ? parseTime(completedText)
            : durationText !== ""
              ? startedAt + Number(durationText) * 60_000
              : startedAt;
        if (Number.isNaN(completedAt) || completedAt < startedAt)
          return fail(`completed '${completedText || durationText}' is not a time at or after started`);
        const failureText = get("failure").toLowerCase();
        if (!YES.has(failureText) && !NO.has(failureText))
          return fail(`failure '${get("failure")}' is not yes or no`);
        const mode = get("mode");
        records.push({
          machineId,
          workOrder: get("work_order") || null,
          startedAt,
          completedAt,
          downtimeMin: (completedAt - startedAt) / 60_000,
          failure: YES.has(failureText),
          failureMode: mode === "" ? null : mode,
          parts: get("parts")
            .split(";")
            .map((p) => p.trim())
            .filter((p) => p !== ""),
          technician: get("technician") || null,
          notes: get("note"),
        });
      },
      complete: () => resolve(),
      error: (error: Error) => reject(new ImportError(`${file}: ${error.message}`)),
    });
  });
  return { records, bad, badRows };
}
