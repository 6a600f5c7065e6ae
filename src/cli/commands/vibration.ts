import { readFileSync } from "node:fs";
import type { Command } from "commander";
import Papa from "papaparse";
import { LinepilotError } from "../../common/errors.js";
import { loadConfigFile } from "../../config/load.js";
import {
  type DefectOrders,
  defectLines,
  envelopeSpectrum,
  vibrationFeatures,
} from "../../preprocess/vibration.js";
import { defectOrders } from "../../preprocess/waveform.js";
import { listTags, SeriesReader } from "../../store/seriesReader.js";
import { openStoreForReading } from "../../store/store.js";
import { waveformBlockAt } from "../../store/waveforms.js";
import { parseNumber } from "../output.js";

export const help = `Analyses vibration waveforms exported from a data collector or a PLC's waveform block (a CSV
with one value per line after a header, or --column NAME): RMS, crest factor and kurtosis, and the
envelope spectrum at the bearing's defect frequencies. The orders (multiples of the shaft speed)
are on the bearing's datasheet; a line that stands out (prominence well above 5) at BPFO says
outer race, at BPFI inner race, at BSF a rolling element, at FTF the cage.

  linepilot vibration de.csv --rate 12000 --rpm 1797 --bpfi 5.4152 --bpfo 3.5848 --bsf 2.3568 --ftf 0.39828

A waveform tag's kept blocks (waveform.keepEveryMs) are read from the line's store, with the tag's
sample rate, bearing and the shaft speed of the moment:

  linepilot vibration --config line.yaml --tag pump1.de_velocity [--at 2026-12-03T06:00:00Z]`;

function readWaveform(file: string, column: string | undefined): Float64Array {
  const parsed = Papa.parse<string[]>(readFileSync(file, "utf8"), { skipEmptyLines: true });
  const rows = parsed.data;
  if (rows.length < 2) throw new LinepilotError("LP_ERR_USAGE", `${file}: no samples`);
  const header = rows[0]!.map((c) => c.trim());
  const at = column === undefined ? 0 : header.indexOf(column);
  if (at < 0)
    throw new LinepilotError(
      "LP_ERR_USAGE",
      `${file}:1: no column '${column}'; the columns are ${header.join(", ")}`,
    );
  const out = new Float64Array(rows.length - 1);
  for (let i = 1; i < rows.length; i++) {
    const v = Number(rows[i]![at]);
    if (!Number.isFinite(v))
      throw new LinepilotError("LP_ERR_USAGE", `${file}:${i + 1}: '${rows[i]![at]}' is not a number`);
    out[i - 1] = v;
  }
  return out;
}

/** A waveform tag's newest kept block (at or before `at`), with its bearing's orders and shaft speed. */
function storedBlock(configFile: string, tagName: string, at: string | undefined) {
  const config = loadConfigFile(configFile, { checkSecrets: false });
  const tag = config.tags.find((t) => t.name === tagName);
  if (tag?.waveform === undefined)
    throw new LinepilotError(
      "LP_ERR_USAGE",
      `${configFile}: ${tag === undefined ? "no tag" : "tag"} ${tagName}${tag === undefined ? "" : " has no waveform block"}; the waveform tags are ${
        config.tags
          .filter((t) => t.waveform !== undefined)
          .map((t) => t.name)
          .join(", ") || "none"
      }`,
    );
  const atTs = at === undefined ? undefined : Date.parse(at);
  if (atTs !== undefined && Number.isNaN(atTs))
    throw new LinepilotError("LP_ERR_USAGE", `--at is an ISO time such as 2026-12-03T06:00:00Z, not '${at}'`);
  const db = openStoreForReading(config.store.path);
  try {
    const block = waveformBlockAt(db, tagName, atTs);
    if (block === undefined)
      throw new LinepilotError(
        "LP_ERR_USAGE",
        `no block of ${tagName} is kept in ${config.store.path}${at === undefined ? "" : ` at or before ${at}`} (waveform.keepEveryMs: ${tag.waveform.keepEveryMs})`,
      );
    const bearing = tag.waveform.bearing;
    let rpm: number | undefined;
    if (bearing?.shaftHz !== undefined) rpm = bearing.shaftHz * 60;
    else if (bearing?.shaftSpeedTag !== undefined) {
      const speed = listTags(db).find((t) => t.name === bearing.shaftSpeedTag);
      const value = speed === undefined ? Number.NaN : new SeriesReader(db).latest(speed.id, block.ts);
      if (Number.isFinite(value)) rpm = value * bearing.shaftHzPerUnit * 60;
    }
    return {
      block,
      rpm,
      orders: bearing === undefined ? {} : defectOrders(bearing),
      band: tag.waveform.envelopeBandHz as [number, number] | undefined,
    };
  } finally {
    db.close();
  }
}

export function register(program: Command): void {
  program
    .command("vibration")
    .description("vibration features and bearing defect lines of waveform files (envelope spectrum)")
    .argument("[files...]", "waveform CSV files")
    .option("--rate <hz>", "sample rate of the waveform", parseNumber)
    .option("--rpm <n>", "shaft speed", parseNumber)
    .option("--config <file>", "with --tag: the line whose store holds the tag's kept blocks")
    .option(
      "--tag <name>",
      "analyse the newest kept block of this waveform tag (its rate and bearing from the YAML)",
    )
    .option("--at <time>", "with --tag: the newest block at or before this ISO time")
    .option("--column <name>", "the column with the samples (default: the first)")
    .option("--band <lo-hi>", "the band (Hz) whose envelope is taken (default: rate/12 to rate/2.4)")
    .option(
      "--bpfi <order>",
      "ball pass frequency, inner race, as a multiple of the shaft speed",
      parseNumber,
    )
    .option("--bpfo <order>", "ball pass frequency, outer race", parseNumber)
    .option("--bsf <order>", "ball spin frequency", parseNumber)
    .option("--ftf <order>", "fundamental train (cage) frequency", parseNumber)
    .option("--json", "the results as JSON")
    .addHelpText("after", `\n${help}`)
    .action(
      (
        files: string[],
        o: {
          rate?: number;
          rpm?: number;
          column?: string;
          band?: string;
          json?: boolean;
          config?: string;
          tag?: string;
          at?: string;
        } & DefectOrders,
      ) => {
        const inputs: { file: string; x: Float64Array | Float32Array }[] = [];
        let stored: ReturnType<typeof storedBlock> | undefined;
        if (o.tag !== undefined) {
          if (o.config === undefined || files.length > 0)
            throw new LinepilotError("LP_ERR_USAGE", "--tag reads the store of --config, instead of files");
          stored = storedBlock(o.config, o.tag, o.at);
          inputs.push({
            file: `${o.tag} at ${new Date(stored.block.ts).toISOString()}`,
            x: stored.block.samples,
          });
          o.rate ??= stored.block.rateHz;
          o.rpm ??= stored.rpm;
          for (const [k, v] of Object.entries(stored.orders)) (o as Record<string, unknown>)[k] ??= v;
        } else {
          if (files.length === 0)
            throw new LinepilotError("LP_ERR_USAGE", "give waveform files, or --config and --tag");
          for (const file of files) inputs.push({ file, x: readWaveform(file, o.column) });
        }
        if (!(o.rate! > 0) || !(o.rpm! > 0))
          throw new LinepilotError(
            "LP_ERR_USAGE",
            stored !== undefined
              ? `the shaft speed at ${new Date(stored.block.ts).toISOString()} is not known: give --rpm`
              : "--rate and --rpm are positive",
          );
        const rate = o.rate!;
        const rpm = o.rpm!;
        let band: [number, number] | undefined;
        if (o.band !== undefined) {
          const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(o.band);
          if (m === null || Number(m[1]) >= Number(m[2]) || Number(m[2]) > rate / 2)
            throw new LinepilotError(
              "LP_ERR_USAGE",
              `--band is LOW-HIGH in Hz below half the rate, e.g. 1000-5000, not '${o.band}'`,
            );
          band = [Number(m[1]), Number(m[2])];
        }
        const orders: DefectOrders = {
          ...(o.bpfi !== undefined ? { bpfi: o.bpfi } : {}),
          ...(o.bpfo !== undefined ? { bpfo: o.bpfo } : {}),
          ...(o.bsf !== undefined ? { bsf: o.bsf } : {}),
          ...(o.ftf !== undefined ? { ftf: o.ftf } : {}),
        };
        band ??= stored?.band;
        const results = inputs.map(({ file, x }) => {
          let n = 1;
          while (n * 2 <= x.length) n *= 2;
          const f = vibrationFeatures(x.subarray(0, n), rate, []);
          const env = envelopeSpectrum(x, rate, band);
          return {
            file,
            samples: x.length,
            rms: f.rms,
            crestFactor: f.crestFactor,
            kurtosis: f.kurtosis,
            lines: defectLines(env, rpm / 60, orders),
          };
        });
        if (o.json === true) {
          process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
          return;
        }
        for (const r of results) {
          console.log(
            `${r.file}: ${r.samples} samples, rms ${r.rms.toPrecision(3)}, crest ${r.crestFactor.toFixed(2)}, kurtosis ${r.kurtosis.toFixed(2)}`,
          );
          for (const l of r.lines)
            console.log(
              `  ${l.name.toUpperCase()} ${l.expectedHz.toFixed(1)} Hz: envelope peak at ${l.peakHz.toFixed(2)} Hz, x${l.prominence.toFixed(1)} the spectrum's median${l.prominence > 20 ? "  <- stands out" : ""}`,
            );
        }
      },
    );
}
