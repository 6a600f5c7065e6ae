import type { Command } from "commander";
import { apiBaseUrl, apiGet, withApiOptions } from "../apiClient.js";
import { table } from "../output.js";

export const help = `Work orders delivered to the maintenance system's HTTP API (maintenance.workOrders.http):
one per alert and escalation, in order, retried with backoff while the system is down or answers
5xx, refused (and audited) when it answers 4xx. REF is the maintenance system's own id.`;

interface Delivery {
  id: number;
  alert_id: number;
  escalation: number;
  state: string;
  attempts: number;
  status_code: number | null;
  last_error: string | null;
  remote_id: string | null;
  created_at: string;
}

export function register(program: Command): void {
  withApiOptions(program.command("work-orders"))
    .description("work orders sent to the maintenance system, with their state and its id for them")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config?: string; api?: string; json?: boolean }) => {
      const res = await apiGet<{ counts: Record<string, number>; deliveries: Delivery[] }>(
        apiBaseUrl(opts),
        "/ai/work-orders",
      );
      if (opts.json) return console.log(JSON.stringify(res, null, 2));
      console.log(
        `pending ${res.counts.pending}, delivered ${res.counts.delivered}, refused ${res.counts.refused}`,
      );
      if (res.deliveries.length === 0) return;
      console.log(
        table(
          ["ID", "ALERT", "ESCALATION", "STATE", "ATTEMPTS", "HTTP", "REF", "QUEUED", "LAST ERROR"],
          res.deliveries.map((d) => [
            String(d.id),
            String(d.alert_id),
            d.escalation === 1 ? "yes" : "-",
            d.state,
            String(d.attempts),
            d.status_code === null ? "-" : String(d.status_code),
            d.remote_id ?? "-",
            d.created_at.slice(0, 16).replace("T", " "),
            d.last_error?.slice(0, 60) ?? "-",
          ]),
        ),
      );
    });
}
