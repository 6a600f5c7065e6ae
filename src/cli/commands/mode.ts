import { userInfo } from "node:os";
import type { Command } from "commander";
import { LinepilotError } from "../../common/errors.js";
import { apiBaseUrl, apiGet, apiPost, withApiOptions } from "../apiClient.js";
import { table } from "../output.js";

export const help = `Shows or switches the optimizer's mode. assisted: every suggestion waits for a person's
approval. autonomous: changes within the safety envelope (at most safety.autonomousStepPercent per
step) are written without one. A tag is autonomous only if the line is too, so 'mode assisted'
puts the whole line under approval at once; '--tag' holds one setpoint in assisted mode while the
line runs autonomously. Every switch is audited with who made it.

  linepilot mode
  linepilot mode autonomous
  linepilot mode assisted --tag press7.temperature_setpoint`;

export function register(program: Command): void {
  withApiOptions(program.command("mode [mode]"))
    .description("show or switch the optimizer's mode (assisted or autonomous), per line or per tag")
    .option("--tag <name>", "switch one setpoint tag instead of the line")
    .option("--by <name>", "who switches (default: your user name)")
    .addHelpText("after", `\n${help}`)
    .action(
      async (
        mode: string | undefined,
        opts: { config?: string; api?: string; tag?: string; by?: string },
      ) => {
        const base = apiBaseUrl(opts);
        if (mode !== undefined) {
          if (mode !== "assisted" && mode !== "autonomous")
            throw new LinepilotError("LP_ERR_USAGE", `the mode is assisted or autonomous, not '${mode}'`);
          const res = await apiPost<{ message: string }>(base, "/ai/mode", {
            mode,
            by: opts.by ?? userInfo().username,
            ...(opts.tag !== undefined ? { tag: opts.tag } : {}),
          });
          console.log(res.message);
          return;
        }
        const res = await apiGet<{ line: string; tags: Record<string, string> }>(base, "/ai/mode");
        console.log(`line: ${res.line}`);
        console.log(table(["TAG", "MODE"], Object.entries(res.tags)));
      },
    );
}
