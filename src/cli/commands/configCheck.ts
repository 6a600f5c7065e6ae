import type { Command } from "commander";
import YAML from "yaml";
import { loadConfigFile } from "../../config/load.js";
import { overlappingRegisters } from "../../config/schema.js";

export const help = `Validates a line's YAML file without touching any PLC: every error at once, each with
file:line:column, the key path, what was expected and what was found. Secret references
(\${env:...}, \${file:...}, \${credential:...}) are checked in the current environment.
--print writes the configuration as the daemon will run it: machine templates expanded into
their tags, CSV tag files joined, every default filled in. Exit codes: 0 valid, 2 invalid.`;

export function register(program: Command): void {
  const config =
    program.commands.find((c) => c.name() === "config") ??
    program.command("config").description("configuration tools");
  config
    .command("check")
    .description("validate a configuration file")
    .argument("<file>", "the line's YAML configuration")
    .option("--no-secrets", "do not check that secret references resolve here")
    .option("--print", "print the resolved configuration (templates expanded, defaults filled in) as YAML")
    .addHelpText("after", `\n${help}`)
    .action((file: string, opts: { secrets: boolean; print?: boolean }) => {
      const cfg = loadConfigFile(file, { checkSecrets: opts.secrets });
      if (opts.print) {
        // Secrets stay references (${env:...}): nothing secret is printed. Templates and tag files
        // are shown expanded, so the print is itself a valid configuration.
        const { templates: _t, tagFiles: _f, ...rest } = cfg;
        const machines = cfg.machines.map(
          ({
            template: _a,
            tagPrefix: _b,
            connection: _c,
            nodeBase: _d,
            registerBase: _e,
            unitId: _g,
            ...m
          }) => m,
        );
        console.log(YAML.stringify({ ...rest, machines }));
        return;
      }
      const l = cfg.line;
      console.log(
        `${file}: valid (line ${l.enterprise}/${l.site}/${l.area}/${l.name}: ${cfg.machines.length} machines, ` +
          `${cfg.connections.length} connections, ${cfg.tags.length} tags; store ${cfg.store.path}; API ${cfg.api.host}:${cfg.api.port})`,
      );
      const warnings = overlappingRegisters(cfg.tags);
      for (const w of warnings.slice(0, 20)) console.error(`warning: ${w}`);
      if (warnings.length > 20)
        console.error(`warning: and ${warnings.length - 20} more overlapping registers`);
    });
}
