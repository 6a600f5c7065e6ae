/**
 * Tags kept in CSV files next to the line's YAML (`tagFiles:`), for lines with thousands of tags:
 * one row per tag, one header row naming the columns. A row becomes the same tag object the YAML
 * would hold, so the schema checks it like any other; a problem is reported at the CSV's own
 * file:line:column. The columns (any order, unknown ones refused):
 *
 *   name, machine, connection, unit, role, intervalMs, deadband, scale, offset, writable, min, max,
 *   queueSize, modelInput                                   (every tag)
 *   nodeId                                                  (OPC UA)
 *   unitId, area, address, dataType, wordOrder, byteOrder, bit   (Modbus)
 *   #anything                                               (a note, ignored)
 *
 * Hand-written CSV parsing would get quoting wrong: papaparse reads it.
 */
import { readFileSync } from "node:fs";
import Papa from "papaparse";

export const TAG_COLUMNS = [
  "name",
  "machine",
  "connection",
  "unit",
  "role",
  "intervalMs",
  "deadband",
  "scale",
  "offset",
  "writable",
  "min",
  "max",
  "queueSize",
  "modelInput",
  "nodeId",
] as const;
export const MODBUS_COLUMNS = [
  "unitId",
  "area",
  "address",
  "dataType",
  "wordOrder",
  "byteOrder",
  "bit",
] as const;

const NUMBERS = new Set([
  "machine",
  "intervalMs",
  "deadband",
  "scale",
  "offset",
  "min",
  "max",
  "queueSize",
  "unitId",
  "address",
  "bit",
]);
const BOOLEANS = new Set(["writable", "modelInput"]);

export interface TagRowOrigin {
  file: string;
  line: number;
  /** Column number (1-based) of each key, for placing a problem. */
  columns: Map<string, number>;
}

export interface TagFileProblem {
  file: string;
  line: number;
  column: number;
  /** The column's name, or "header" / "row". */
  path: string;
  message: string;
}

export interface TagFileContents {
  tags: Record<string, unknown>[];
  origins: TagRowOrigin[];
  problems: TagFileProblem[];
}

/** Reads one tag file; `path` is absolute. */
export function readTagFile(path: string): TagFileContents {
  const out: TagFileContents = { tags: [], origins: [], problems: [] };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    out.problems.push({
      file: path,
      line: 1,
      column: 1,
      path: "tagFiles",
      message: `cannot read the tag file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    });
    return out;
  }
  const parsed = Papa.parse<string[]>(text.replace(/^\uFEFF/, ""), { skipEmptyLines: false });
  const rows = parsed.data;
  const header = (rows[0] ?? []).map((h) => h.trim());
  const known = new Set<string>([...TAG_COLUMNS, ...MODBUS_COLUMNS]);
  header.forEach((h, i) => {
    if (!known.has(h) && !h.startsWith("#"))
      out.problems.push({
        file: path,
        line: 1,
        column: i + 1,
        path: "header",
        message: `unknown column '${h}'; the columns are ${[...TAG_COLUMNS, ...MODBUS_COLUMNS].join(", ")}`,
      });
  });
  if (!header.includes("name"))
    out.problems.push({
      file: path,
      line: 1,
      column: 1,
      path: "header",
      message: "the header needs a 'name' column",
    });
  if (out.problems.length > 0) return out;
  const columns = new Map(header.map((h, i) => [h, i + 1]));
  // papaparse gives a row's first line; a quoted cell with a newline would shift the next rows,
  // so lines are counted from the rows' own text.
  let line = 1;
  for (let r = 1; r < rows.length; r++) {
    line += 1 + (rows[r - 1]!.join(",").match(/\n/g)?.length ?? 0);
    const cells = rows[r]!;
    if (cells.length === 1 && cells[0]!.trim() === "") continue;
    if (cells.length !== header.length) {
      out.problems.push({
        file: path,
        line,
        column: 1,
        path: "row",
        message: `${cells.length} cells where the header has ${header.length}`,
      });
      continue;
    }
    const tag: Record<string, unknown> = {};
    const modbus: Record<string, unknown> = {};
    let bad = false;
    header.forEach((h, i) => {
      const cell = cells[i]!.trim();
      // A column whose name starts with # is a note for people (browse writes the type and range so).
      if (cell === "" || h.startsWith("#")) return;
      let value: unknown = cell;
      if (NUMBERS.has(h)) {
        value = Number(cell);
        if (!Number.isFinite(value as number)) {
          out.problems.push({
            file: path,
            line,
            column: i + 1,
            path: h,
            message: `expected a number, found '${cell}'`,
          });
          bad = true;
          return;
        }
      } else if (BOOLEANS.has(h)) {
        if (!/^(true|false|yes|no|1|0)$/i.test(cell)) {
          out.problems.push({
            file: path,
            line,
            column: i + 1,
            path: h,
            message: `expected true or false, found '${cell}'`,
          });
          bad = true;
          return;
        }
        value = /^(true|yes|1)$/i.test(cell);
      }
      if ((MODBUS_COLUMNS as readonly string[]).includes(h)) modbus[h] = value;
      else tag[h] = value;
    });
    if (bad) continue;
    if (Object.keys(modbus).length > 0) tag.modbus = modbus;
    out.tags.push(tag);
    out.origins.push({ file: path, line, columns });
  }
  return out;
}
