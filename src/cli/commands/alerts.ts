import { userInfo } from "node:os";
import { type Command, InvalidArgumentError } from "commander";
import type { AlertAnswer } from "../answers.js";
import { apiBaseUrl, apiGet, apiPost, withApiOptions } from "../apiClient.js";
import { parseInteger, table } from "../output.js";

export const help = `Open (and acknowledged) alerts with their machine, probability and main reason;
--all includes cleared ones. 'alerts ack ID' acknowledges one: it is recorded, with who, in the
audit log and sent to the plant; the alert stays until the risk has cleared.

'alerts close ID' records what was found and closes it: --confirmed --mode bearing (optionally
--record N, the repair's maintenance record) or --false-alarm. Outcomes are the labels the
models' live counters (linepilot models) and continuous learning use. WORK ORDER is the
maintenance system's id for the alert's work order, once delivered.`;

export function register(program: Command): void {
  const alerts = withApiOptions(program.command("alerts"))
    .description("list alerts; 'alerts ack ID' acknowledges one")
    .option("--all", "include cleared alerts")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config?: string; api?: string; all?: boolean; json?: boolean }) => {
      const res = await apiGet<{ alerts: AlertAnswer[] }>(
        apiBaseUrl(opts),
        `/ai/alerts${opts.all ? "?all=1" : ""}`,
      );
      if (opts.json) return console.log(JSON.stringify(res.alerts, null, 2));
      if (res.alerts.length === 0) return console.log("no open alerts");
      console.log(
        table(
          ["ID", "MACHINE", "SEVERITY", "STATE", "OPENED", "P(FAIL)", "REASON", "ACTION", "WORK ORDER"],
          res.alerts.map((a) => [
            String(a.id),
            String(a.machine_id),
            a.severity + (a.details.escalated ? " (escalated)" : ""),
            a.outcome !== null
              ? `${a.outcome === "confirmed" ? `confirmed ${a.outcome_mode}` : "false alarm"} (${a.outcome_by})`
              : a.state + (a.acknowledged_by ? ` by ${a.acknowledged_by}` : ""),
            a.opened_at.slice(0, 16).replace("T", " "),
            a.details.failure_probability === undefined ? "-" : a.details.failure_probability.toFixed(2),
            a.details.reasons?.[0]?.text ?? a.details.reason ?? "-",
            a.details.recommended_action ?? "-",
            a.work_order_ref ?? "-",
          ]),
        ),
      );
    });
  withApiOptions(alerts.command("ack <id>"))
    .description("acknowledge an alert")
    .option("--by <name>", "who acknowledges (default: your user name)")
    .option("--note <text>", "a note for the audit log")
    .action(async (id: string, _own: unknown, command: Command) => {
      // --config/--api may be given to `alerts` or to `ack`: both count.
      const opts = command.optsWithGlobals<{ config?: string; api?: string; by?: string; note?: string }>();
      const res = await apiPost<{ message: string }>(apiBaseUrl(opts), `/ai/alerts/${parseInteger(id)}/ack`, {
        by: opts.by ?? userInfo().username,
        ...(opts.note !== undefined ? { note: opts.note } : {}),
      });
      console.log(res.message);
    });
  withApiOptions(alerts.command("close <id>"))
    .description("close an alert with what was found: --confirmed --mode M, or --false-alarm")
    .option("--confirmed", "a real problem was found")
    .option("--false-alarm", "nothing was wrong")
    .option("--mode <mode>", "what was found (with --confirmed): bearing, seal, motor, ...")
    .option("--record <id>", "the maintenance record of the repair", parseInteger)
    .option("--by <name>", "who closes it (default: your user name)")
    .option("--note <text>", "a note for the audit log")
    .action(async (id: string, _own: unknown, command: Command) => {
      const opts = command.optsWithGlobals<{
        config?: string;
        api?: string;
        confirmed?: boolean;
        falseAlarm?: boolean;
        mode?: string;
        record?: number;
        by?: string;
        note?: string;
      }>();
      if (opts.confirmed === opts.falseAlarm)
        throw new InvalidArgumentError("say what was found: --confirmed --mode MODE, or --false-alarm");
      const res = await apiPost<{ message: string }>(
        apiBaseUrl(opts),
        `/ai/alerts/${parseInteger(id)}/close`,
        {
          outcome: opts.confirmed ? "confirmed" : "false_alarm",
          ...(opts.mode !== undefined ? { failureMode: opts.mode } : {}),
          ...(opts.record !== undefined ? { maintenanceRecordId: opts.record } : {}),
          ...(opts.note !== undefined ? { note: opts.note } : {}),
          by: opts.by ?? userInfo().username,
        },
      );
      console.log(res.message);
    });
}
