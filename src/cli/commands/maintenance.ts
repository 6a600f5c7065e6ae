import { userInfo } from "node:os";
import { type Command, InvalidArgumentError } from "commander";
import { type MaintenanceAnswer, type ReliabilityAnswer, reliabilityText } from "../answers.js";
import { apiBaseUrl, apiGet, apiPost, withApiOptions } from "../apiClient.js";
import { parseInteger, parseNumber, table } from "../output.js";

export const help = `Maintenance records: what was done to a machine, by whom, and what failed.
'maintenance' lists them with each machine's MTBF and MTTR; 'maintenance record' enters one
(through the daemon's socket, or over TCP with the API token, like every change): it is audited,
sent to the plant (<prefix>/maintenance), and a repair (--failure) labels the learning data.

  linepilot maintenance record --machine 7 --started 2026-12-01T06:00 --completed 2026-12-01T09:30 \\
    --failure --mode bearing --parts "bearing 6205" --work-order WO-1182 --alert 12 --by anna

Times are ISO 8601; without a zone they are this computer's local time. Failure modes: bearing,
seal, motor, gearbox, coupling, belt, lubrication, misalignment, imbalance, hydraulic, pneumatic,
electrical, sensor, tooling, overheating, leak, blockage, wear, other, or the plant's own word.`;

/** ISO 8601 with or without a zone; a bare local time is read in this computer's zone. */
function isoTime(value: string): string {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms))
    throw new InvalidArgumentError(`'${value}' is not a time: write it as 2026-12-01T06:00 (ISO 8601)`);
  return new Date(ms).toISOString();
}

export function register(program: Command): void {
  const maintenance = withApiOptions(program.command("maintenance"))
    .description("list maintenance records with MTBF/MTTR; 'maintenance record' enters one")
    .option("-m, --machine <id>", "one machine", parseInteger)
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config?: string; api?: string; machine?: number; json?: boolean }) => {
      const base = apiBaseUrl(opts);
      const q = opts.machine === undefined ? "" : `?machine=${opts.machine}`;
      const [records, rel] = await Promise.all([
        apiGet<{ records: MaintenanceAnswer[] }>(base, `/ai/maintenance${q}`),
        apiGet<{ machines: ReliabilityAnswer[] }>(base, `/ai/reliability${q}`),
      ]);
      if (opts.json) return console.log(JSON.stringify({ ...records, reliability: rel.machines }, null, 2));
      for (const r of rel.machines) {
        console.log(`machine ${r.machine}: ${reliabilityText(r)}`);
        for (const m of r.modes)
          console.log(
            `  ${m.mode}: ${m.failures} failure(s), MTBF ${m.mtbfH ?? "-"} h, MTTR ${m.mttrH ?? "-"} h`,
          );
      }
      if (records.records.length === 0) return console.log("no maintenance records");
      console.log(
        table(
          ["ID", "MACHINE", "STARTED", "HOURS", "KIND", "MODE", "WORK ORDER", "ALERT", "BY", "NOTE"],
          records.records.map((r) => [
            String(r.id),
            String(r.machine_id),
            r.started_at.slice(0, 16).replace("T", " "),
            ((Date.parse(r.completed_at) - Date.parse(r.started_at)) / 3_600_000).toFixed(1),
            r.failure ? "repair" : "planned",
            r.failure_mode ?? "-",
            r.work_order ?? "-",
            r.alert_id === null ? "-" : String(r.alert_id),
            r.recorded_by ?? r.technician ?? r.source,
            r.notes.slice(0, 40),
          ]),
        ),
      );
    });
  withApiOptions(maintenance.command("record"))
    .description("enter a maintenance record")
    // Not required here: `maintenance` has its own --machine, which commander gives to it.
    .option("-m, --machine <id>", "machine id (required)", parseInteger)
    .requiredOption("--started <time>", "when the work started (ISO 8601)", isoTime)
    .requiredOption("--completed <time>", "when the work was done (ISO 8601)", isoTime)
    .option("--failure", "a repair after a failure (default: planned maintenance)")
    .option("--mode <mode>", "what failed (with --failure): bearing, seal, motor, ...")
    .option(
      "--downtime <minutes>",
      "minutes the machine could not run (default: completed - started)",
      parseNumber,
    )
    .option("--parts <list>", "parts used, separated by ';'")
    .option("--work-order <id>", "the work order's number")
    .option("--alert <id>", "the alert this work answered", parseInteger)
    .option("--note <text>", "what was found and done")
    .option("--by <name>", "who did it (default: your user name)")
    .action(async (_own: unknown, command: Command) => {
      const o = command.optsWithGlobals<{
        config?: string;
        api?: string;
        machine?: number;
        started: string;
        completed: string;
        failure?: boolean;
        mode?: string;
        downtime?: number;
        parts?: string;
        workOrder?: string;
        alert?: number;
        note?: string;
        by?: string;
      }>();
      if (o.machine === undefined)
        throw new InvalidArgumentError("--machine is required: the machine the work was on");
      const by = o.by ?? userInfo().username;
      const res = await apiPost<{ message: string }>(apiBaseUrl(o), "/ai/maintenance", {
        machineId: o.machine,
        startedAt: o.started,
        completedAt: o.completed,
        failure: o.failure === true,
        ...(o.mode !== undefined ? { failureMode: o.mode } : {}),
        ...(o.downtime !== undefined ? { downtimeMin: o.downtime } : {}),
        ...(o.parts !== undefined
          ? {
              parts: o.parts
                .split(";")
                .map((p) => p.trim())
                .filter((p) => p !== ""),
            }
          : {}),
        ...(o.workOrder !== undefined ? { workOrder: o.workOrder } : {}),
        ...(o.alert !== undefined ? { alertId: o.alert } : {}),
        ...(o.note !== undefined ? { notes: o.note } : {}),
        technician: by,
        by,
      });
      console.log(res.message);
    });
}
