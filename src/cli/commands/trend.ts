import { plot } from "asciichart";
import type { Command } from "commander";
import { apiBaseUrl, apiGet, withApiOptions } from "../apiClient.js";
import { parseInteger } from "../output.js";
import { sinceTime } from "./audit.js";

export const help = `A tag's trend in the terminal: its mean over the period in as many points as the chart is
wide, read from the store (downsampled by the daemon: min, max and mean per point, hourly data for
long periods), with the lowest and highest values and when they were.`;

interface History {
  tag: string;
  unit: string;
  from: number;
  to: number;
  bucketMs: number;
  source: string;
  ts: number[];
  min: (number | null)[];
  max: (number | null)[];
  avg: (number | null)[];
}

const at = (ts: number) => new Date(ts).toISOString().slice(0, 16).replace("T", " ");

export function register(program: Command): void {
  withApiOptions(program.command("trend"))
    .description("a tag's trend over a period, as a chart in the terminal")
    .argument("<tag>", "the tag's name (linepilot tags lists them)")
    .option("--since <when>", "from this long ago (6h, 7d) or this ISO time", "6h")
    .option("--width <n>", "points across (default: the terminal's width)", parseInteger)
    .option("--height <n>", "rows", parseInteger, 12)
    .option("--json", "print the downsampled history as JSON")
    .addHelpText("after", `\n${help}`)
    .action(
      async (
        tag: string,
        opts: {
          config?: string;
          api?: string;
          since: string;
          width?: number;
          height: number;
          json?: boolean;
        },
      ) => {
        const width = Math.max(10, Math.min(1_000, opts.width ?? (process.stdout.columns ?? 100) - 14));
        const from = sinceTime(opts.since);
        const h = await apiGet<History>(
          apiBaseUrl(opts),
          `/tags/${encodeURIComponent(tag)}/history?from=${encodeURIComponent(from)}&points=${width}`,
        );
        if (opts.json) return console.log(JSON.stringify(h, null, 2));
        const unit = h.unit === "" ? "" : ` ${h.unit}`;
        console.log(`${h.tag}${unit ? ` (${h.unit})` : ""}, ${at(h.from)} to ${at(h.to)} UTC`);
        const values = h.avg.filter((v): v is number => v !== null);
        if (values.length === 0) return console.log("no samples in this period");
        let lo = 0;
        let hi = 0;
        for (let i = 0; i < h.ts.length; i++) {
          if ((h.min[i] ?? Number.POSITIVE_INFINITY) < (h.min[lo] ?? Number.POSITIVE_INFINITY)) lo = i;
          if ((h.max[i] ?? Number.NEGATIVE_INFINITY) > (h.max[hi] ?? Number.NEGATIVE_INFINITY)) hi = i;
        }
        const digits = (v: number) => String(Number(v.toPrecision(4)));
        console.log(
          plot(values.length === 1 ? [values[0]!, values[0]!] : values, {
            height: Math.max(2, opts.height),
            format: (v: number) => digits(v).padStart(10),
          }),
        );
        console.log(
          `min ${digits(h.min[lo]!)}${unit} (${at(h.ts[lo]!)}), max ${digits(h.max[hi]!)}${unit} (${at(h.ts[hi]!)}), last ${digits(values[values.length - 1]!)}${unit}; ${h.ts.length} points of ${Math.round(h.bucketMs / 1000)} s (${h.source} data)`,
        );
      },
    );
}
