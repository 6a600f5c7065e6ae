import { readFileSync } from "node:fs";
import type { Command } from "commander";
import Papa from "papaparse";
import { LinepilotError } from "../../common/errors.js";
import {
  type DefectOrders,
  defectLines,
  envelopeSpectrum,
  vibrationFeatures,
} from "../../preprocess/vibration.js";
import { parseNumber } from "../output.js";

export const help = `Analyses vibration waveforms exported from a data collector or a PLC's waveform block (a CSV
with one value per line after a header, or --column NAME): RMS, crest factor and kurtosis, and the
envelope spectrum at the bearing's defect frequencies. The orders (multiples of the shaft speed)
are on the bearing's datasheet; a line that stands out (prominence well above 5) at BPFO says
outer race, at BPFI inner race, at BSF a rolling element, at FTF the cage.

  linepilot vibration de.csv --rate 12000 --rpm 1797 --bpfi 5.4152 --bpfo 3.5848 --bsf 2.3568 --ftf 0.39828`;

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

export function register(program: Command): void {
  program
    .command("vibration")
    .description("vibration features and bearing defect lines of waveform files (envelope spectrum)")
    .argument("<files...>", "waveform CSV files")
    .requiredOption("--rate <hz>", "sample rate of the waveform", parseNumber)
    .requiredOption("--rpm <n>", "shaft speed", parseNumber)
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
        o: { rate: number; rpm: number; column?: string; band?: string; json?: boolean } & DefectOrders,
      ) => {
        if (!(o.rate > 0) || !(o.rpm > 0))
          throw new LinepilotError("LP_ERR_USAGE", "--rate and --rpm are positive");
        let band: [number, number] | undefined;
        if (o.band !== undefined) {
          const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(o.band);
          if (m === null || Number(m[1]) >= Number(m[2]) || Number(m[2]) > o.rate / 2)
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
        const results = files.map((file) => {
          const x = readWaveform(file, o.column);
          let n = 1;
          while (n * 2 <= x.length) n *= 2;
          const f = vibrationFeatures(x.subarray(0, n), o.rate, []);
          const env = envelopeSpectrum(x, o.rate, band);
          return {
            file,
            samples: x.length,
            rms: f.rms,
            crestFactor: f.crestFactor,
            kurtosis: f.kurtosis,
            lines: defectLines(env, o.rpm / 60, orders),
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
