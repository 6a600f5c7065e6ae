import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { STATE } from "../../src/process/machine.js";
import { listSuggestions } from "../../src/store/suggestions.js";
import { PlantCommands } from "../../src/sync/commands.js";
import { SimPlc } from "../../src/twin/simPlc.js";
import { runCliToEnd, tempDir, waitFor } from "../helpers.js";
import { freePort } from "../peers/peers.js";

// Press 8 on Modbus TCP from the simulated PLC: setpoints (writable, with limits) and actuals.
const ROLES: [string, string, number, string?][] = [
  ["speed_setpoint", "holding", 0, "writable: true, min: 10, max: 60"],
  ["temperature_setpoint", "holding", 2, "writable: true, min: 160, max: 200"],
  ["pressure_setpoint", "holding", 4, "writable: true, min: 4.5, max: 7.5"],
  ["speed", "input", 0],
  ["process_temperature", "input", 2],
  ["pressure", "input", 4],
  ["vibration_rms", "input", 6],
  ["good_count", "input", 8],
  ["scrap_count", "input", 12],
  ["energy_kwh", "input", 14],
  ["state", "input", 10, 'events: { type: enum, states: { "0": stop, "1": running, "3": fault } }'],
];

function yaml(modbusPort: number, store: string, mode: string) {
  const tags = ROLES.map(
    ([role, area, address, extra]) =>
      `  - { name: press8.${role}, machine: 8, role: ${role}, connection: press8, intervalMs: 100, modbus: { unitId: 1, area: ${area}, address: ${address}, dataType: float32 }${extra ? `, ${extra}` : ""} }`,
  );
  return `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: opt-line }
machines:
  - { id: 8, name: Press 8 }
connections:
  - { id: press8, protocol: modbus-tcp, host: 127.0.0.1, port: ${modbusPort}, timeoutMs: 500, backoff: { initialMs: 100, maxMs: 500, jitter: 0.1 } }
tags:
${tags.join("\n")}
store: { path: ${JSON.stringify(store)}, batchSize: 100, flushIntervalMs: 100 }
api: { host: 127.0.0.1, port: 0 }
optimizer: { mode: ${mode}, intervalMs: 3600000 }
safety: { minIntervalMs: 1000 }
`;
}

async function line(t: { after(fn: () => unknown): void }, mode: string) {
  const dir = tempDir(t);
  const config = parseConfig(yaml(await freePort(), join(dir, "line.db"), mode), join(dir, "line.yaml"));
  const sim = new SimPlc({ config, seed: 5, log: silentLogger() });
  // A press found drifted at the start of the shift: too hot, pressure high.
  const press = sim.twin.machine(8);
  press.temperatureSetpoint = press.processTemperature = 196;
  press.pressureSetpoint = press.pressure = 7.1;
  await sim.start();
  t.after(() => sim.stop());
  const daemon = new Daemon(config, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  const api = `http://127.0.0.1:${daemon.api!.address!.port}`;
  await waitFor(
    () =>
      typeof daemon.optimizer!.health().details.lastDecision === "object" && daemon.connectors[0]!.connected,
    10_000,
    "connected",
  );
  // Wait until every setpoint has a good live value before asking.
  await waitFor(
    async () => {
      const tags = (await (await fetch(`${api}/tags`)).json()) as {
        tags: { name: string; quality: string }[];
      };
      return tags.tags.every((x) => x.quality === "good");
    },
    10_000,
    "good values",
  );
  // Changes go through the daemon's unix socket (its group); reads over TCP.
  return { sim, daemon, api, socket: `unix:${config.api.socket}`, press, store: daemon.store! };
}

function audit(store: { db: { prepare(sql: string): { all(): unknown[] } } }) {
  return store.db
    .prepare(
      "SELECT kind, actor, decision, tag, details FROM ai_decisions_audit WHERE kind IN ('suggestion', 'setpoint_write', 'optimizer_mode') ORDER BY id",
    )
    .all() as { kind: string; actor: string; decision: string; tag: string | null; details: string }[];
}

test("assisted mode on a live line: a suggestion waits, `linepilot approve` writes it to the PLC through the envelope, audited in order", async (t) => {
  const { daemon, api, socket, press, store } = await line(t, "assisted");
  const [suggestion] = await daemon.optimizer!.decideOnce();
  assert.ok(
    suggestion,
    `a suggestion (last decision: ${JSON.stringify(daemon.optimizer!.health().details.lastDecision)})`,
  );
  assert.equal(suggestion.state, "pending");
  assert.ok(suggestion.changes.some((c) => c.setpoint === "temperature_setpoint" && c.to < 196));
  assert.ok(typeof suggestion.expected.scrap_rate_percent === "number");
  assert.equal(press.temperatureSetpoint, 196, "nothing written before the approval");

  const listed = await runCliToEnd(["suggestions", "--api", api]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`${suggestion.id}\\s+8\\s+pending\\s+assisted\\s+press8\\.`));

  const refused = await runCliToEnd(["approve", String(suggestion.id), "--api", api, "--by", "mallory"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /LP_ERR_ACCESS: changes are accepted on the daemon's unix socket/);
  assert.equal(press.temperatureSetpoint, 196, "a refused approval writes nothing");
  const approved = await runCliToEnd([
    "approve",
    String(suggestion.id),
    "--api",
    socket,
    "--by",
    "anna",
    "--note",
    "ok",
  ]);
  assert.equal(approved.code, 0, approved.stdout + approved.stderr);
  assert.match(approved.stdout, /approved by anna: written/);
  const temperature = suggestion.changes.find((c) => c.setpoint === "temperature_setpoint")!;
  assert.equal(
    Math.round(press.temperatureSetpoint * 1000) / 1000,
    temperature.to,
    "the PLC holds the approved value",
  );
  const again = await runCliToEnd(["approve", String(suggestion.id), "--api", socket]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /is written/);

  const trail = audit(store).map((a) => `${a.kind}:${a.decision}:${a.actor}`);
  const i = trail.indexOf("suggestion:suggested:optimizer:search");
  const j = trail.indexOf("suggestion:approved:anna");
  const k = trail.indexOf("setpoint_write:write:anna");
  const w = trail.indexOf("setpoint_write:written:anna");
  assert.ok(i >= 0 && i < j && j < k && k < w, `audited in order: ${trail.join(", ")}`);
  assert.ok(trail.includes("suggestion:written:anna"));

  // The plant decides the next one over MQTT (decide_suggestion): a rejection, audited with its sender.
  press.temperatureSetpoint = press.processTemperature = 199;
  await new Promise((r) => setTimeout(r, 1_200)); // past the envelope's minimum interval, new values read
  const [next] = await daemon.optimizer!.decideOnce();
  assert.ok(next);
  const commands = new PlantCommands(
    store,
    parseConfig(
      `${yaml(1, "x.db", "assisted")}sync: { url: "mqtt://127.0.0.1:1", commands: { allow: { decide_suggestion: [mes] } } }\n`,
      "x.yaml",
    ).sync!,
    new Set([1]),
  );
  const outcome = commands.handle(
    Buffer.from(
      JSON.stringify({
        version: 1,
        id: "cmd-0001",
        command: "decide_suggestion",
        sender: "mes",
        args: { suggestionId: next.id, decision: "reject", by: "shift-lead" },
      }),
    ),
  );
  assert.equal(outcome.ok, true, JSON.stringify(outcome.reply));
  assert.equal(listSuggestions(store, {}).find((s) => s.id === next.id)!.state, "rejected");
  await daemon.optimizer!.applyApproved();
  assert.equal(press.temperatureSetpoint, 199, "a rejected suggestion is never written");
});

test("a machine that is down (its state tag says fault) gets no suggestion: the twin cannot look ahead for a stopped press", async (t) => {
  const { daemon, api, press } = await line(t, "assisted");
  press.state = STATE.fault;
  await waitFor(
    async () => {
      const tags = (await (await fetch(`${api}/tags`)).json()) as { tags: { name: string; value: number }[] };
      return tags.tags.find((x) => x.name === "press8.state")?.value === STATE.fault;
    },
    10_000,
    "the fault seen by the daemon",
  );
  assert.deepEqual(await daemon.optimizer!.decideOnce(), []);
  assert.deepEqual(daemon.optimizer!.health().details.lastDecision, {
    8: "the machine is not running (state 3)",
  });
  assert.equal(listSuggestions(daemon.store!, {}).length, 0);
});

test("autonomous mode writes within 10 % without approval; `linepilot mode assisted` stops that at once and is audited", async (t) => {
  const { daemon, api, socket, press, store } = await line(t, "autonomous");
  const [written] = await daemon.optimizer!.decideOnce();
  assert.ok(written);
  assert.equal(written.mode, "autonomous");
  const after = listSuggestions(store, {}).find((s) => s.id === written.id)!;
  assert.equal(after.state, "written", after.outcome ?? "");
  assert.ok(after.changes.length > 0);
  for (const c of after.changes) {
    assert.equal(c.outcome, "written");
    assert.ok(Math.abs(c.to - c.from) <= 0.1 * Math.abs(c.from) + 1e-9, `${c.tag}: ${c.from} -> ${c.to}`);
    assert.equal(
      Math.round(press.read(c.setpoint as "speed_setpoint") * 1000) / 1000,
      c.to,
      `${c.tag} on the PLC`,
    );
  }

  const switched = await runCliToEnd(["mode", "assisted", "--api", socket, "--by", "anna"]);
  assert.equal(switched.code, 0, switched.stderr);
  const shown = await runCliToEnd(["mode", "--api", api]);
  assert.match(shown.stdout, /line: assisted/);
  assert.match(shown.stdout, /press8\.temperature_setpoint\s+assisted/);
  const before = press.temperatureSetpoint;
  press.pressureSetpoint = press.pressure = 7.4;
  await new Promise((r) => setTimeout(r, 1_200));
  const [held] = await daemon.optimizer!.decideOnce();
  assert.ok(held);
  assert.equal(held.mode, "assisted");
  assert.equal(held.state, "pending");
  assert.equal(press.temperatureSetpoint, before, "assisted again: nothing written");
  assert.ok(
    audit(store).some(
      (a) => a.kind === "optimizer_mode" && a.actor === "anna" && a.decision === "mode assisted",
    ),
  );
});

test("an approval is written only against the state it was computed from: the operator moved the PLC, so the suggestion expires with the reason and nothing is written", async (t) => {
  const { daemon, socket, press, store } = await line(t, "assisted");
  const [suggestion] = await daemon.optimizer!.decideOnce();
  assert.ok(suggestion, "a suggestion");
  const temperature = suggestion.changes.find((c) => c.setpoint === "temperature_setpoint")!;
  assert.equal(temperature.from, 196);
  // At the HMI, the operator cools the press to 165 while the suggestion waits.
  press.temperatureSetpoint = 165;
  const approved = await runCliToEnd(["approve", String(suggestion.id), "--api", socket, "--by", "anna"]);
  assert.equal(approved.code, 1, "nothing was written: a failure for the approver to see");
  assert.match(
    approved.stdout,
    /approved by anna: expired \(not written: the PLC moved since the suggestion was made/,
  );
  assert.equal(press.temperatureSetpoint, 165, "the approved value was not written over the operator's");
  const row = store.db.prepare("SELECT state, outcome FROM suggestions WHERE id = ?").get(suggestion.id) as {
    state: string;
    outcome: string;
  };
  assert.equal(row.state, "expired");
  assert.match(row.outcome, /press8\.temperature_setpoint is 165 in the PLC, not 196/);
  const trail = audit(store).map((a) => `${a.kind}:${a.decision}:${a.actor}`);
  assert.ok(trail.includes("suggestion:expired:anna"), trail.join(", "));
  assert.ok(!trail.some((x) => x.startsWith("setpoint_write:")), "no write was even asked of the envelope");
});

test("a suggestion's lifetime runs on the monotonic clock: a wall clock stepped an hour forward does not expire it", async (t) => {
  const { daemon, store } = await line(t, "assisted");
  const [suggestion] = await daemon.optimizer!.decideOnce();
  assert.ok(suggestion, "a suggestion");
  const real = Date.now;
  Date.now = () => real() + 3_600_000;
  t.after(() => {
    Date.now = real;
  });
  await daemon.optimizer!.applyApproved();
  const row = store.db.prepare("SELECT state FROM suggestions WHERE id = ?").get(suggestion.id) as {
    state: string;
  };
  assert.equal(row.state, "pending", "still waiting for a person after the step");
});
