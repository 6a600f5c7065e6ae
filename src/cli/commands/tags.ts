import type { Command } from "commander";
import type { TagAnswer } from "../answers.js";
import { apiBaseUrl, apiGet } from "../apiClient.js";
import { parseInteger, table } from "../output.js";

export const help = `Lists every tag's live value with its quality (good, uncertain, bad, none), the
status code behind a bad value and its age. --machine filters by machine id.`;

/**
 * A value as a technician reads it: counters and states exactly (a uint32 123456789 is not
 * 123457000), measurements to 6 significant digits, and a float that has decayed to nothing
 * (6.95995e-50) as 0.
 */
export function formatValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) < 1e-9) return "0";
  return String(Number(v.toPrecision(6)));
}

export function register(program: Command): void {
  program
    .command("tags")
    .description("show live tag values with quality and age")
    .option("-c, --config <file>", "find the API from this line's configuration")
    .option("--api <url>", "the daemon's API base URL")
    .option("-m, --machine <id>", "only this machine's tags", parseInteger)
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config?: string; api?: string; machine?: number; json?: boolean }) => {
      const res = await apiGet<{ tags: TagAnswer[] }>(apiBaseUrl(opts), "/tags");
      const tags = res.tags.filter((t) => opts.machine === undefined || t.machine === opts.machine);
      if (opts.json) return console.log(JSON.stringify(tags, null, 2));
      const rows = tags.map((t) => [
        t.name,
        String(t.machine),
        t.value === null
          ? "-"
          : `${formatValue(t.value)} ${t.unit}${t.label === undefined ? "" : ` (${t.label})`}`.trim(),
        t.quality === "bad" ? `bad (${t.status})` : t.quality,
        t.ageMs === null ? "-" : `${(t.ageMs / 1000).toFixed(1)} s`,
      ]);
      console.log(table(["TAG", "MACHINE", "VALUE", "QUALITY", "AGE"], rows));
    });
}
