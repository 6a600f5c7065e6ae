import { type Command, InvalidArgumentError } from "commander";
import Papa from "papaparse";
import { apiBaseUrl, apiGet, withApiOptions } from "../apiClient.js";
import { parseDuration, parseInteger, table } from "../output.js";

export const help = `Every AI decision and every person's change, newest first: predictions' alerts, suggestions
and their approvals, setpoint writes and refusals, model promotions, plant commands, maintenance
records. --since takes a duration back from now (6h, 7d) or an ISO time. --csv prints CSV (all
columns, details as JSON) for a spreadsheet or an auditor.`;

/** "6h" back from now, or an ISO time, as ISO. */
export function sinceTime(value: string, now = Date.now()): string {
  if (/^\s*\d+(\.\d+)?\s*(ms|s|min|m|h|d|w)\s*$/.test(value))
    return new Date(now - parseDuration(value)).toISOString();
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new InvalidArgumentError(
      `expected a duration back from now (6h, 7d) or an ISO time, found "${value}"`,
    );
  return new Date(t).toISOString();
}

interface Entry {
  id: number;
  ts: string;
  kind: string;
  actor: string;
  machine_id: number | null;
  tag: string | null;
  decision: string;
  reason: string;
}

export function register(program: Command): void {
  withApiOptions(program.command("audit"))
    .description("the audit log: every AI decision and every change, who and why")
    .option("--machine <id>", "only this machine", parseInteger)
    .option("--kind <kind>", "only this kind (alert, suggestion, setpoint_write, ...)")
    .option("--since <when>", "from this long ago (6h, 7d) or this ISO time", (v) => sinceTime(v))
    .option("--until <when>", "up to this long ago or this ISO time", (v) => sinceTime(v))
    .option("--limit <n>", "at most this many entries", parseInteger, 50)
    .option("--csv", "print CSV")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(
      async (opts: {
        config?: string;
        api?: string;
        machine?: number;
        kind?: string;
        since?: string;
        until?: string;
        limit: number;
        csv?: boolean;
        json?: boolean;
      }) => {
        const q = new URLSearchParams({ limit: String(opts.limit) });
        if (opts.machine !== undefined) q.set("machine", String(opts.machine));
        if (opts.kind !== undefined) q.set("kind", opts.kind);
        if (opts.since !== undefined) q.set("since", opts.since);
        if (opts.until !== undefined) q.set("until", opts.until);
        const res = await apiGet<{ entries: (Entry & { details: unknown })[] }>(
          apiBaseUrl(opts),
          `/ai/audit?${q}`,
        );
        if (opts.json) return console.log(JSON.stringify(res, null, 2));
        if (opts.csv)
          return console.log(
            Papa.unparse(res.entries.map((e) => ({ ...e, details: JSON.stringify(e.details) }))),
          );
        if (res.entries.length === 0) return console.log("no audit entries match");
        console.log(
          table(
            ["TIME", "KIND", "WHO", "MACHINE", "TAG", "DECISION", "REASON"],
            res.entries.map((e) => [
              e.ts.slice(0, 19).replace("T", " "),
              e.kind,
              e.actor,
              e.machine_id === null ? "-" : String(e.machine_id),
              e.tag ?? "-",
              e.decision.slice(0, 40),
              e.reason.slice(0, 70) || "-",
            ]),
          ),
        );
      },
    );
}
