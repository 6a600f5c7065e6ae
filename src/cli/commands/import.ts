import { existsSync } from "node:fs";
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { LinepilotError } from "../../common/errors.js";
import { silentLogger } from "../../common/logger.js";
import { loadConfigFile } from "../../config/load.js";
import {
  type BadRow,
  ImportError,
  type ImportReport,
  type ImportSpec,
  importCsv,
  readMaintenanceCsv,
} from "../../history/csvImport.js";
import type { TimeOptions } from "../../history/timeParser.js";
import { HistoryWriter } from "../../store/historyWriter.js";
import { listTags } from "../../store/seriesReader.js";
import { openStoreForReading, Store } from "../../store/store.js";
import { parseInteger } from "../output.js";

export const help = `Loads a historian or CSV export into the line's store (the config's store.path), onto the
YAML's tags, so baselines and models can learn from history the gateway never saw. Samples the store
has already (same tag, same time) are skipped: importing the same file twice adds nothing. Rows that
cannot be read are counted and listed by line number; nothing in the store is changed by them.

Layouts (--format):
  wide  a time column and one column per tag:          time,press7.speed,Bearing 1,...
        with --machine-column, each row names its machine and columns become tags by --tag-pattern
  long  one sample per row:                             time,tag,value[,quality]

Examples:
  linepilot import --config line.yaml export.csv --map "Bearing 1=bearing1.vibration" --time-format "yyyy.MM.dd.HH.mm.ss"
  linepilot import --config line.yaml historian.csv --format long --timezone Europe/Paris --dry-run
  linepilot import --config fleet.yaml train.txt --delimiter whitespace --no-header --columns unit,cycle,s1,s2 \\
      --machine-column unit --tag-pattern "engine{machine}.{column}" --time-column cycle --time-format cycle
  linepilot import --config line.yaml --maintenance work-orders.csv`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function pairs(values: readonly string[], what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values) {
    const at = v.lastIndexOf("=");
    if (at <= 0) throw new LinepilotError("LP_ERR_USAGE", `${what} takes NAME=VALUE, not '${v}'`);
    out.set(v.slice(0, at).trim(), v.slice(at + 1).trim());
  }
  return out;
}

function formatBad(file: string, bad: readonly BadRow[], count: number): string {
  if (count === 0) return "";
  const lines = bad.map((b) => `  ${file}:${b.line}: ${b.reason}`);
  return `${count} bad row${count === 1 ? "" : "s"} skipped:\n${lines.join("\n")}${count > bad.length ? `\n  ... and ${count - bad.length} more` : ""}\n`;
}

function summary(r: ImportReport): string {
  const verb = r.dryRun ? "would import" : "imported";
  return (
    `${r.file}: ${r.rows.toLocaleString("en-US")} rows, ${r.samples.toLocaleString("en-US")} samples for ${r.tags.length} tags` +
    (r.from !== null ? ` from ${r.from} to ${r.to}` : "") +
    `; ${verb} ${(r.dryRun ? r.samples - r.duplicates : r.inserted).toLocaleString("en-US")}` +
    `, ${r.duplicates.toLocaleString("en-US")} already in the store` +
    ` (${r.seconds} s${r.seconds > 0 ? `, ${Math.round(r.rows / r.seconds).toLocaleString("en-US")} rows/s` : ""})\n` +
    (r.unmapped.length > 0
      ? `not imported (no tag): ${r.unmapped.slice(0, 10).join(", ")}${r.unmapped.length > 10 ? ", ..." : ""}\n`
      : "")
  );
}

export function register(program: Command): void {
  program
    .command("import")
    .description("load a historian or CSV export (and maintenance records) into the line's store")
    .argument("[file]", "the CSV export of samples")
    .requiredOption("-c, --config <file>", "the line's configuration (its tags and store)")
    .option("--format <layout>", "wide or long", "wide")
    .option("--delimiter <char>", "a field separator, or 'whitespace'", ",")
    .option("--no-header", "the file has no header row (give --columns)")
    .option("--columns <names>", "column names, comma-separated, for a file without a header")
    .option(
      "--time-column <name>",
      "the time column (default: one named time/timestamp/datetime, else the first)",
    )
    .option(
      "--time-format <f>",
      "iso, epoch-s, epoch-ms, cycle, or a pattern such as yyyy.MM.dd.HH.mm.ss",
      "iso",
    )
    .option("--timezone <zone>", "the zone of times without an offset (IANA name)", "UTC")
    .option("--origin <iso>", "with --time-format cycle: the time of cycle 0", "2020-01-01T00:00:00Z")
    .option("--cycle-ms <ms>", "with --time-format cycle: one cycle's length", parseInteger, 3_600_000)
    .option(
      "--map <column=tag>",
      "a file column (or long-format tag name) to a YAML tag; repeatable",
      collect,
      [],
    )
    .option(
      "--scale <tag=factor[,offset]>",
      "convert a tag's values to the YAML's unit; repeatable",
      collect,
      [],
    )
    .option("--machine-column <name>", "wide files whose rows name their machine")
    .option(
      "--tag-pattern <p>",
      "with --machine-column: the tag of a column, e.g. 'engine{machine}.{column}'",
    )
    .option("--tag-column <name>", "long format: the tag name column")
    .option("--value-column <name>", "long format: the value column")
    .option("--quality-column <name>", "long format: good/uncertain/bad or an OPC UA status code")
    .option("--skip-unmapped", "ignore columns or tags that map to no YAML tag (listed in the report)")
    .option(
      "--maintenance <file>",
      "maintenance and failure records (machine,started,completed,failure,mode,parts,work_order,technician,note)",
    )
    .option("--maintenance-time-format <f>", "the maintenance file's time format (like --time-format)", "iso")
    .option("--dry-run", "read and check everything, report what would be imported, write nothing")
    .option("--json", "the report as JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (file: string | undefined, opts: Record<string, unknown>) => {
      const o = opts as {
        config: string;
        format: string;
        delimiter: string;
        header: boolean;
        columns?: string;
        timeColumn?: string;
        timeFormat: string;
        timezone: string;
        origin: string;
        cycleMs: number;
        map: string[];
        scale: string[];
        machineColumn?: string;
        tagPattern?: string;
        tagColumn?: string;
        valueColumn?: string;
        qualityColumn?: string;
        skipUnmapped?: boolean;
        maintenance?: string;
        maintenanceTimeFormat: string;
        dryRun?: boolean;
        json?: boolean;
      };
      if (file === undefined && o.maintenance === undefined)
        throw new LinepilotError("LP_ERR_USAGE", "give a file of samples, --maintenance <file>, or both");
      if (o.format !== "wide" && o.format !== "long")
        throw new LinepilotError("LP_ERR_USAGE", `--format is wide or long, not '${o.format}'`);
      if (!o.header && o.columns === undefined)
        throw new LinepilotError("LP_ERR_USAGE", "--no-header needs --columns a,b,c");
      if (o.delimiter !== "whitespace" && o.delimiter.length !== 1)
        throw new LinepilotError(
          "LP_ERR_USAGE",
          `--delimiter is one character or 'whitespace', not '${o.delimiter}'`,
        );
      const originMs = Date.parse(o.origin);
      if (Number.isNaN(originMs))
        throw new LinepilotError("LP_ERR_USAGE", `--origin '${o.origin}' is not an ISO time`);
      const scale = new Map<string, { scale: number; offset: number }>();
      for (const [tag, value] of pairs(o.scale, "--scale")) {
        const [f, off] = value.split(",").map(Number);
        if (!Number.isFinite(f) || (off !== undefined && !Number.isFinite(off)))
          throw new LinepilotError(
            "LP_ERR_USAGE",
            `--scale ${tag}=${value}: a factor and an optional offset, e.g. 0.001 or 1.8,32`,
          );
        scale.set(tag, { scale: f!, offset: off ?? 0 });
      }
      const config = loadConfigFile(o.config, { checkSecrets: false });
      for (const tag of scale.keys())
        if (!config.tags.some((t) => t.name === tag))
          throw new LinepilotError("LP_ERR_USAGE", `--scale: tag '${tag}' is not in ${o.config}`);
      const time: TimeOptions = { format: o.timeFormat, zone: o.timezone, originMs, cycleMs: o.cycleMs };
      const spec: ImportSpec | undefined =
        file === undefined
          ? undefined
          : {
              file,
              format: o.format,
              delimiter: o.delimiter,
              ...(o.header ? {} : { columns: o.columns!.split(",").map((c) => c.trim()) }),
              ...(o.timeColumn !== undefined ? { timeColumn: o.timeColumn } : {}),
              time,
              map: pairs(o.map, "--map"),
              ...(o.machineColumn !== undefined ? { machineColumn: o.machineColumn } : {}),
              ...(o.tagPattern !== undefined ? { tagPattern: o.tagPattern } : {}),
              ...(o.tagColumn !== undefined ? { tagColumn: o.tagColumn } : {}),
              ...(o.valueColumn !== undefined ? { valueColumn: o.valueColumn } : {}),
              ...(o.qualityColumn !== undefined ? { qualityColumn: o.qualityColumn } : {}),
              scale,
              skipUnmapped: o.skipUnmapped === true,
            };
      if (spec !== undefined && !existsSync(spec.file))
        throw new LinepilotError("LP_ERR_USAGE", `${spec.file}: no such file`);
      let store: Store | undefined;
      let tagIds = new Map<string, number>();
      if (o.dryRun !== true) {
        store = new Store(config.store, silentLogger());
        store.open();
        tagIds = new Map([...store.syncTags(config.tags)].map(([name, row]) => [name, row.id]));
      } else if (existsSync(config.store.path)) {
        const db = openStoreForReading(config.store.path);
        for (const r of listTags(db)) tagIds.set(r.name, r.id);
        db.close();
      }
      const bar = new SingleBar({
        format: "import [{bar}] {percentage}% {value}/{total} MB",
        stream: process.stderr,
      });
      try {
        const out: Record<string, unknown> = {};
        let text = "";
        if (spec !== undefined) {
          const writer = store === undefined ? undefined : new HistoryWriter(store.db);
          bar.start(1, 0);
          let report: ImportReport;
          try {
            report = await importCsv(spec, config, tagIds, writer, (bytes, total) => {
              bar.setTotal(Math.max(1, Math.round(total / 1e6)));
              bar.update(Math.round(bytes / 1e6));
            });
          } finally {
            bar.stop();
          }
          if (report.dryRun && existsSync(config.store.path) && report.from !== null) {
            const db = openStoreForReading(config.store.path);
            const ids = report.tags.map((t) => tagIds.get(t)).filter((id): id is number => id !== undefined);
            report.duplicates = new HistoryWriter(db).existing(
              ids,
              Date.parse(report.from),
              Date.parse(report.to!),
            );
            db.close();
          }
          out.samples = report;
          text += summary(report) + formatBad(spec.file, report.bad, report.badRows);
        }
        if (o.maintenance !== undefined) {
          const read = await readMaintenanceCsv(
            o.maintenance,
            { ...time, format: o.maintenanceTimeFormat },
            new Set(config.machines.map((m) => m.id)),
          );
          let added = 0;
          if (store !== undefined) {
            const writer = new HistoryWriter(store.db);
            store.transaction(() => {
              for (const r of read.records) if (writer.maintenance(r)) added++;
            });
          }
          const failures = read.records.filter((r) => r.failure).length;
          out.maintenance = {
            records: read.records.length,
            failures,
            added,
            badRows: read.badRows,
            bad: read.bad,
          };
          text +=
            `${o.maintenance}: ${read.records.length} records (${failures} failures); ` +
            (store === undefined
              ? "dry run, nothing written\n"
              : `${added} added, ${read.records.length - added} already in the store\n`) +
            formatBad(o.maintenance, read.bad, read.badRows);
        }
        process.stdout.write(o.json === true ? `${JSON.stringify(out, null, 2)}\n` : text);
      } catch (error) {
        if (error instanceof ImportError) throw new LinepilotError("LP_ERR_USAGE", error.message);
        throw error;
      } finally {
        store?.close();
      }
    });
}
