import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import Papa from "papaparse";
import YAML from "yaml";
import { LinepilotError } from "../../common/errors.js";
import { loadConfigFile } from "../../config/load.js";
import { type BrowsedVariable, browseServer, isNumeric, tagNameOf } from "../../connectors/opcua/browse.js";
import { parseInteger, table } from "../output.js";

export const help = `Walks an OPC UA server's address space with the connection's own security, login and PKI,
and lists every variable: node id, browse path, data type, access, and the engineering unit and
range where the server has them. --out writes the numeric scalar variables as tags for review:
a .yaml file (machines: and tags: to paste into the line's YAML) or a .csv that tagFiles: can
reference as it is (its #type, #access, #euLow, #euHigh, #path columns are notes). Names come from the
browse paths ("Line1/Press7/MotorTemp" -> line1.press7.motortemp); --machine-pattern takes the
machine id from the path (its first group: 'Press(\\d+)'); variables it does not match are left out.
Arrays are listed as waveform candidates; writing (writable:) is never switched on for you.

  linepilot browse --config line.yaml --connection press-opcua --root "ns=2;s=Line1" --depth 6
  linepilot browse --config line.yaml --connection press-opcua --machine-pattern 'Press(\\d+)' --out tags.yaml`;

interface Options {
  config: string;
  connection: string;
  root: string;
  depth: number;
  limit: number;
  out?: string;
  machine?: number;
  machinePattern?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("browse")
    .description("list an OPC UA server's variables (unit, range, access) and write them as tags for review")
    .requiredOption("--config <file>", "the line's YAML")
    .requiredOption("--connection <id>", "the OPC UA connection to browse")
    .option("--root <nodeId>", "where to start", "i=85")
    .option("--depth <n>", "levels of folders and objects to go down", parseInteger, 10)
    .option("--limit <n>", "stop after this many variables", parseInteger, 200_000)
    .option("--out <file>", "write the tags: .yaml or .csv")
    .option("--machine <id>", "the machine of every tag (without --machine-pattern)", parseInteger)
    .option("--machine-pattern <regex>", "the machine id from the browse path: the first group")
    .option("--json", "print JSON")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: Options) => {
      const config = loadConfigFile(opts.config, { checkSecrets: true });
      const connection = config.connections.find((c) => c.id === opts.connection);
      if (connection === undefined)
        throw new LinepilotError(
          "LP_ERR_USAGE",
          `no connection '${opts.connection}' in ${opts.config}; it has ${config.connections.map((c) => c.id).join(", ")}`,
        );
      if (connection.protocol !== "opcua")
        throw new LinepilotError(
          "LP_ERR_USAGE",
          `connection '${opts.connection}' is ${connection.protocol}, not OPC UA`,
        );
      let pattern: RegExp | undefined;
      try {
        pattern = opts.machinePattern === undefined ? undefined : new RegExp(opts.machinePattern);
      } catch (error) {
        throw new LinepilotError("LP_ERR_USAGE", `--machine-pattern: ${(error as Error).message}`);
      }
      const vars = await browseServer(connection, config, {
        root: opts.root,
        depth: opts.depth,
        limit: opts.limit,
      });
      if (opts.json) return console.log(JSON.stringify({ variables: vars }, null, 2));
      const range = (v: BrowsedVariable) => (v.range === null ? "-" : `${v.range.low} .. ${v.range.high}`);
      console.log(
        table(
          ["NODE ID", "PATH", "TYPE", "ACCESS", "UNIT", "RANGE"],
          vars.map((v) => [
            v.nodeId,
            v.path,
            `${v.dataType}${v.valueRank >= 1 ? "[]" : ""}`,
            v.writable ? "rw" : "r",
            v.unit ?? "-",
            range(v),
          ]),
        ),
      );
      const scalars = vars.filter((v) => isNumeric(v) && v.valueRank < 1);
      const arrays = vars.filter((v) => isNumeric(v) && v.valueRank >= 1);
      console.log(
        `${vars.length} variables under ${opts.root}: ${scalars.length} numeric scalars, ${arrays.length} numeric arrays (waveform candidates), ${vars.length - scalars.length - arrays.length} of other types`,
      );
      if (opts.out === undefined) return;
      const machineOf = (v: BrowsedVariable): number | undefined => {
        if (pattern === undefined) return opts.machine ?? config.machines[0]?.id;
        const m = pattern.exec(v.path);
        const id = m?.[1] === undefined ? Number.NaN : Number(m[1]);
        return Number.isInteger(id) && id >= 1 ? id : undefined;
      };
      const names = new Set<string>();
      const tags: Record<string, unknown>[] = [];
      let unmatched = 0;
      for (const v of scalars) {
        const machine = machineOf(v);
        if (machine === undefined) {
          unmatched++;
          continue;
        }
        let name = tagNameOf(v.path);
        for (let k = 2; names.has(name); k++) name = `${tagNameOf(v.path).slice(0, 60)}-${k}`;
        names.add(name);
        tags.push({
          name,
          machine,
          connection: connection.id,
          nodeId: v.nodeId,
          ...(v.unit !== null ? { unit: v.unit.slice(0, 20) } : {}),
        });
      }
      const machineIds = [...new Set(tags.map((t) => t.machine as number))].sort((a, b) => a - b);
      if (opts.out.endsWith(".csv"))
        writeFileSync(
          opts.out,
          `${Papa.unparse(
            tags.map((t) => {
              const v = scalars.find((x) => x.nodeId === t.nodeId)!;
              return {
                ...t,
                unit: t.unit ?? "",
                "#type": v.dataType,
                "#access": v.writable ? "rw" : "r",
                "#euLow": v.range?.low ?? "",
                "#euHigh": v.range?.high ?? "",
                "#path": v.path,
              };
            }),
          )}\n`,
        );
      else if (/\.ya?ml$/.test(opts.out)) {
        const known = new Map(config.machines.map((m) => [m.id, m.name]));
        const doc = {
          machines: machineIds.map((id) => ({ id, name: known.get(id) ?? `Machine ${id}` })),
          tags,
        };
        writeFileSync(
          opts.out,
          `# linepilot browse ${connection.endpoint} (connection ${connection.id}, root ${opts.root}), ${new Date().toISOString()}
# ${tags.length} numeric scalar variables as tags${unmatched > 0 ? `; ${unmatched} not matched by the machine pattern were left out` : ""}.
# Review before use: roles, intervals, deadbands and which tags may be written (writable:) are yours to decide.
${YAML.stringify(doc)}`,
        );
      } else throw new LinepilotError("LP_ERR_USAGE", `--out ${opts.out}: write a .yaml or a .csv file`);
      console.log(
        `wrote ${tags.length} tags of ${machineIds.length} machines to ${opts.out}${unmatched > 0 ? ` (${unmatched} variables not matched by --machine-pattern left out)` : ""}`,
      );
    });
}
