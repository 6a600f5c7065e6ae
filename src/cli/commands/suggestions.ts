import { userInfo } from "node:os";
import type { Command } from "commander";
import type { SuggestionAnswer } from "../answers.js";
import { apiBaseUrl, apiGet, apiPost, withApiOptions } from "../apiClient.js";
import { parseInteger, table } from "../output.js";

export const help = `The optimizer's suggestions waiting for a decision (--all: the last 100, whatever became
of them), each with its setpoint changes and the twin's expected effect. 'approve ID' writes it at
once through the safety envelope, which checks it again against the PLC's current value; 'reject
ID' drops it. Both are recorded, with who, in the audit log and sent to the plant.

  linepilot suggestions
  linepilot approve 12 --note "checked with the shift lead"
  linepilot reject 13`;

export function register(program: Command): void {
  withApiOptions(program.command("suggestions"))
    .description("list the optimizer's pending suggestions with their expected effect")
    .option("--all", "the last 100 suggestions, decided or not")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config?: string; api?: string; all?: boolean; json?: boolean }) => {
      const res = await apiGet<{ suggestions: SuggestionAnswer[] }>(
        apiBaseUrl(opts),
        `/ai/suggestions${opts.all ? "?all=1" : ""}`,
      );
      if (opts.json) return console.log(JSON.stringify(res.suggestions, null, 2));
      if (res.suggestions.length === 0)
        return console.log(opts.all ? "no suggestions yet" : "no pending suggestions");
      console.log(
        table(
          ["ID", "MACHINE", "STATE", "MODE", "CHANGES", "EXPECTED", "EXPIRES"],
          res.suggestions.map((s) => [
            String(s.id),
            String(s.machineId),
            s.state + (s.decidedBy ? ` by ${s.decidedBy}` : ""),
            s.mode,
            s.changes
              .map((c) => `${c.tag} ${c.from} -> ${c.to} (${c.percent > 0 ? "+" : ""}${c.percent} %)`)
              .join("; "),
            s.reason.replace(/^[^:]*: /, ""),
            s.expiresAt.slice(11, 19),
          ]),
        ),
      );
    });
  for (const decision of ["approve", "reject"] as const)
    withApiOptions(program.command(`${decision} <id>`))
      .description(
        `${decision} an optimizer suggestion${decision === "approve" ? " (written at once through the safety envelope)" : ""}`,
      )
      .option("--by <name>", "who decides (default: your user name)")
      .option("--note <text>", "a note for the audit log")
      .addHelpText("after", `\n${help}`)
      .action(async (id: string, opts: { config?: string; api?: string; by?: string; note?: string }) => {
        const res = await apiPost<{ ok: boolean; message: string }>(
          apiBaseUrl(opts),
          `/ai/suggestions/${parseInteger(id)}/${decision}`,
          { by: opts.by ?? userInfo().username, ...(opts.note !== undefined ? { note: opts.note } : {}) },
        );
        console.log(res.message);
        if (!res.ok) process.exitCode = 1;
      });
}
