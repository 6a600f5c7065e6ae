import type { Command } from "commander";
import { type ReliabilityAnswer, reliabilityText } from "../answers.js";
import { apiBaseUrl, apiGet } from "../apiClient.js";
import { formatBytes, formatDuration, table } from "../output.js";

export const help = `Shows whether the daemon runs, its health and each component's figures (connectors:
connected, samples/s, errors, last error). Reads the local API; needs no privileges.
Exit codes: 0 healthy, 1 degraded or down, 3 daemon not reachable.`;

interface Health {
  status: string;
  state: string;
  version: string;
  line: { enterprise: string; site: string; area: string; name: string };
  pid: number;
  uptimeS: number;
  rssBytes: number;
  components: Record<string, { state: string; details: Record<string, unknown> }>;
}

export function summarize(name: string, d: Record<string, unknown>): string {
  const parts: string[] = [];
  if (name === "store") parts.push(`used ${formatBytes(Number(d.usedBytes))}`, `outbox ${d.outboxDepth}`);
  else if (name === "sampleWriter")
    parts.push(
      `accepted ${d.accepted}`,
      `committed ${d.committed}`,
      `pending ${d.pending}`,
      `dropped ${d.dropped}`,
    );
  else if (name === "sync") {
    parts.push(
      `${d.connected ? "connected" : "NOT connected"} ${d.url} (MQTT ${d.protocolVersion === 5 ? "5" : "3.1.1"})`,
      `outbox ${d.outboxDepth}`,
      `published ${d.published}`,
      `errors ${d.errors}`,
    );
    if (d.lastError) parts.push(`last error: ${d.lastError}`);
  } else if (name === "maintenance") {
    if (d.loadError) parts.push(`DISABLED: ${d.loadError}`);
    else
      parts.push(
        `${d.ticks} ticks`,
        `open alerts ${d.openAlerts}`,
        `windows not scored (gaps, or less than a window of data yet) ${d.incompleteWindows}`,
        `not scored while down ${d.downMachines}`,
      );
    if (d.fallbackReason) parts.push(`RUNNING THE FALLBACK model #${d.modelId}: ${d.fallbackReason}`);
    const unscored = Object.entries((d.unscored ?? {}) as Record<string, string>);
    if (unscored.length > 0)
      parts.push(`not scored: ${unscored.map(([m, why]) => `machine ${m} ${why}`).join("; ")}`);
  } else if (name === "clock") {
    parts.push(
      `wall clock steps ${d.steps}${d.lastStepMs !== null ? ` (last ${(Number(d.lastStepMs) / 1000).toFixed(1)} s)` : ""}`,
    );
  } else if (name === "safety") {
    const active = (d.active ?? []) as string[];
    parts.push(
      `${d.watched} safety signals`,
      active.length === 0 ? "none active" : `ACTIVE (writes blocked): ${active.join("; ")}`,
      `trips ${d.trips}`,
    );
    if (Number(d.unrecorded) > 0) parts.push(`${d.unrecorded} not recorded yet: ${d.lastError}`);
  } else if (name === "baseline") {
    parts.push(`${d.scored} scores`, `learned ${d.learned}`);
    for (const [m, b] of Object.entries(
      (d.machines ?? {}) as Record<
        string,
        { phase: string; reason: string; score?: number; threshold?: number }
      >,
    ))
      parts.push(
        `machine ${m} ${b.phase}${b.score !== undefined ? ` ${b.score.toFixed(2)}/${b.threshold?.toFixed(2)}` : ""}${b.reason ? ` (${b.reason})` : ""}`,
      );
    if (d.lastError) parts.push(`last error: ${d.lastError}`);
  } else if (name === "optimizer") {
    if (d.reason) parts.push(`DISABLED: ${d.reason}`);
    else
      parts.push(
        `${d.policy}, ${d.mode}`,
        `suggested ${d.suggested}`,
        `written ${Number(d.autonomousWrites) + Number(d.approvedWrites)} (autonomous ${d.autonomousWrites})`,
        `refused ${d.refusedChanges}`,
        `expired ${d.expired}`,
      );
    for (const [m, why] of Object.entries((d.lastDecision ?? {}) as Record<string, string>))
      if (why.startsWith("not modelled")) parts.push(`machine ${m} ${why}`);
  } else if ("connected" in d) {
    parts.push(
      `${d.connected ? "connected" : "NOT connected"} ${d.target}`,
      `${d.samplesPerSecond} samples/s`,
      `errors ${d.errors}`,
    );
    // What leaves tags without data, and since when: a dead unit, a refused address or node.
    for (const [unit, u] of Object.entries(
      (d.units ?? {}) as Record<string, { dead: boolean; timeouts: number }>,
    ))
      if (u.dead) parts.push(`unit ${unit} DEAD (${u.timeouts} timeouts)`);
    for (const r of (d.refusedAddresses ?? []) as {
      unit: number;
      area: string;
      address: number;
      tags: string[];
      since: string;
    }[])
      parts.push(`unit ${r.unit} ${r.area} ${r.address} REFUSED since ${r.since} (${r.tags.join(", ")})`);
    for (const [tag, code] of Object.entries((d.refusedItems ?? {}) as Record<string, string>))
      parts.push(`node of ${tag} REFUSED (${code})`);
    const recent = (d.recentErrors ?? []) as { message: string; count: number; since: string }[];
    if (recent.length > 0)
      for (const e of recent.slice(-3)) parts.push(`error x${e.count} since ${e.since}: ${e.message}`);
    else if (d.lastError) parts.push(`last error: ${d.lastError}`);
  } else if (name === "registry") {
    for (const [model, a] of Object.entries(
      (d.active ?? {}) as Record<string, { id: number; version: string }>,
    ))
      parts.push(`${model} #${a.id} (${a.version}) active`);
    if (((d.refusedActive ?? []) as string[]).length > 0)
      parts.push(`REFUSED active ${(d.refusedActive as string[]).join(", ")}: ${d.lastRefusal}`);
  } else if (name === "api") parts.push(`listening ${JSON.stringify(d.address)}`);
  else if (name === "retention") parts.push(`deleted ${d.deletedTotal} rows`);
  return parts.join(", ");
}

export function register(program: Command): void {
  program
    .command("status")
    .description("show the daemon's health")
    .option("-c, --config <file>", "find the API from this line's configuration")
    .option("--api <url>", "the daemon's API base URL (default http://127.0.0.1:8001)")
    .option("--json", "print the raw health document")
    .addHelpText("after", `\n${help}`)
    .action(async (opts: { config?: string; api?: string; json?: boolean }) => {
      const h = await apiGet<Health>(apiBaseUrl(opts), "/health");
      if (opts.json) console.log(JSON.stringify(h, null, 2));
      else {
        const l = h.line;
        console.log(
          `linepilot ${h.version} - line ${l.enterprise}/${l.site}/${l.area}/${l.name} - ${h.state} (${h.status}), ` +
            `up ${formatDuration(h.uptimeS)}, pid ${h.pid}, RSS ${formatBytes(h.rssBytes)}\n`,
        );
        const rows = Object.entries(h.components).map(([name, c]) => [
          name,
          c.state,
          summarize(name, c.details),
        ]);
        console.log(table(["COMPONENT", "STATE", "DETAILS"], rows));
        // Reliability from the maintenance records; a daemon without a store has none to show.
        const rel = await apiGet<{ machines: ReliabilityAnswer[] }>(
          apiBaseUrl(opts),
          "/ai/reliability",
        ).catch(() => undefined);
        if (rel !== undefined && rel.machines.length > 0) {
          console.log("");
          for (const r of rel.machines) console.log(`machine ${r.machine}: ${reliabilityText(r)}`);
        }
      }
      if (h.status !== "ok") process.exitCode = 1;
    });
}
