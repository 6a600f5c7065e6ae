import { existsSync, rmSync } from "node:fs";
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { LinepilotError } from "../../common/errors.js";
import { generateHistory } from "../../twin/generate.js";
import { parseDuration, parseInteger } from "../output.js";

export const help = `Fast-forwards the line twin and writes what a gateway would have buffered: telemetry of
16 tags per machine (named m<machine>.<signal>), machine events (faults, repairs) and
maintenance records, as a store file (.db, the daemon's SQLite schema) or CSV (.csv, plus
<name>.events.csv). Same seed, same history.

  linepilot generate --machine 7 --duration 1h --out press7.db
  linepilot generate --machines 5 --duration 30d --interval 60s --out line-30d.db`;

export function register(program: Command): void {
  program
    .command("generate")
    .description("generate a machine history from the twin (store or CSV)")
    .requiredOption("-o, --out <file>", "output file: .db (store) or .csv")
    .option("-m, --machine <id...>", "machine ids (default 1..--machines)")
    .option("--machines <n>", "number of machines when --machine is not given", parseInteger, 1)
    .option("--duration <d>", "simulated time, e.g. 1h, 30d", "1h")
    .option("--interval <d>", "seconds between samples, e.g. 10s, 60s", "10s")
    .option("--seed <n>", "random seed", parseInteger, 1)
    .option("--start <iso>", "simulated start time (ISO 8601)", "2026-01-05T00:00:00Z")
    .option("--wear-rate <spec...>", "inject bearing wear: MACHINE=FACTOR, e.g. 2=3 (three times faster)")
    .option("--force", "overwrite the output file")
    .addHelpText("after", `\n${help}`)
    .action(
      async (opts: {
        out: string;
        machine?: string[];
        machines: number;
        duration: string;
        interval: string;
        seed: number;
        start: string;
        force?: boolean;
        wearRate?: string[];
      }) => {
        const wearFactors = new Map(
          (opts.wearRate ?? []).map((spec) => {
            const m = /^(\d+)=(\d+(?:\.\d+)?)$/.exec(spec);
            if (m === null)
              throw new LinepilotError("LP_ERR_USAGE", `--wear-rate ${spec}: write MACHINE=FACTOR, e.g. 2=3`);
            return [Number(m[1]), Number(m[2])] as const;
          }),
        );
        const format = opts.out.endsWith(".csv") ? "csv" : "store";
        if (existsSync(opts.out)) {
          if (!opts.force)
            throw new LinepilotError("LP_ERR_USAGE", `${opts.out} exists; add --force to overwrite`);
          for (const suffix of ["", "-wal", "-shm"]) rmSync(opts.out + suffix, { force: true });
        }
        const machineIds =
          opts.machine?.map((m) => parseInteger(m)) ?? Array.from({ length: opts.machines }, (_, i) => i + 1);
        const durationS = parseDuration(opts.duration) / 1000;
        const intervalS = parseDuration(opts.interval) / 1000;
        const startTs = Date.parse(opts.start);
        if (Number.isNaN(startTs))
          throw new LinepilotError("LP_ERR_USAGE", `--start: not a date: ${opts.start}`);
        // A progress bar on a terminal; nothing on a pipe (cli-progress writes only to a TTY).
        const bar = new SingleBar({
          format: "generating [{bar}] {percentage}% | {value}/{total} simulated h | ETA {eta}s",
          stream: process.stderr,
          hideCursor: true,
        });
        bar.start(Math.round(durationS / 3600), 0);
        const started = Date.now();
        const summary = await generateHistory({
          machineIds,
          durationS,
          intervalS,
          seed: opts.seed,
          out: opts.out,
          format,
          startTs,
          wearFactors,
          onProgress: (doneS) => bar.update(Math.round(doneS / 3600)),
        });
        bar.stop();
        console.log(
          `wrote ${opts.out}: ${summary.samples} samples of ${summary.tags} tags, ${summary.failures} failures, ` +
            `${summary.maintenance} repairs, ${summary.simulatedHours} simulated h in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
      },
    );
}
