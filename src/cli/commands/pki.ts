import type { Command } from "commander";
import { LinepilotError } from "../../common/errors.js";
import { loadConfigFile } from "../../config/load.js";
import type { LineConfig } from "../../config/schema.js";
import { table } from "../output.js";

export const help = `The OPC UA certificates of a line, per connection: linepilot's own application
certificate (give it to the PLC's administrator to trust), the trusted server
certificates, and the rejected ones (a server linepilot refused because nobody trusted it).

  linepilot pki list --config /etc/linepilot/line1.yaml
  linepilot pki trust 3f2a9c01b7e4 --config /etc/linepilot/line1.yaml

trust moves a rejected certificate (by thumbprint prefix or file name) to trusted/; a
running daemon uses it at its next connect attempt, without a restart. Compare the
thumbprint with the one the PLC shows before trusting it.`;

async function pkisOf(config: LineConfig) {
  const connections = config.connections.filter((c) => c.protocol === "opcua");
  if (connections.length === 0)
    throw new LinepilotError("LP_ERR_USAGE", "this line has no OPC UA connection, so no PKI folder");
  // Loaded here, not at the top: node-opcua is only needed by this command.
  const { Pki, pkiDirOf } = await import("../../connectors/opcua/pki.js");
  return connections.map((c) => ({ id: c.id, endpoint: c.endpoint, pki: new Pki(pkiDirOf(c, config)) }));
}

export function register(program: Command): void {
  const pki = program
    .command("pki")
    .description("OPC UA certificates: list them, trust a rejected server certificate")
    .addHelpText("after", `\n${help}`);
  pki
    .command("list")
    .description("show own, trusted and rejected certificates per OPC UA connection")
    .requiredOption("-c, --config <file>", "the line's configuration")
    .option("--json", "print JSON")
    .action(async (opts: { config: string; json?: boolean }) => {
      const entries = (await pkisOf(loadConfigFile(opts.config, { checkSecrets: false }))).map((e) => ({
        id: e.id,
        endpoint: e.endpoint,
        dir: e.pki.dir,
        ...e.pki.list(),
      }));
      if (opts.json) return console.log(JSON.stringify({ connections: entries }, null, 2));
      for (const e of entries) {
        console.log(`${e.id}  ${e.endpoint}  (${e.dir})`);
        const rows = [
          ...(e.own ? [["own", e.own.thumbprint, e.own.subject, e.own.validTo.slice(0, 10)]] : []),
          ...e.trusted.map((c) => ["trusted", c.thumbprint, c.subject, c.validTo.slice(0, 10)]),
          ...e.rejected.map((c) => ["REJECTED", c.thumbprint, c.subject, c.validTo.slice(0, 10)]),
        ];
        console.log(
          rows.length === 0
            ? "  no certificates yet (linepilot makes its own at first start)"
            : table(["STATUS", "THUMBPRINT", "SUBJECT", "VALID TO"], rows),
        );
      }
    });
  pki
    .command("trust <thumbprint-or-file>")
    .description("move a rejected server certificate to trusted/")
    .requiredOption("-c, --config <file>", "the line's configuration")
    .option("--connection <id>", "the OPC UA connection, when the line has several PKI folders")
    .action(async (which: string, opts: { config: string; connection?: string }) => {
      const entries = (await pkisOf(loadConfigFile(opts.config, { checkSecrets: false }))).filter(
        (e) => opts.connection === undefined || e.id === opts.connection,
      );
      const dirs = [...new Set(entries.map((e) => e.pki.dir))];
      if (dirs.length !== 1)
        throw new LinepilotError(
          "LP_ERR_USAGE",
          dirs.length === 0
            ? `no OPC UA connection '${opts.connection}'`
            : "this line's OPC UA connections use different PKI folders: name one with --connection",
        );
      const cert = entries[0]!.pki.trust(which);
      console.log(`trusted ${cert.subject} (SHA-1 ${cert.thumbprint}): ${cert.file}`);
    });
}
