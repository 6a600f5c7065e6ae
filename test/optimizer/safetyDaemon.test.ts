/**
 * The SAFETY monitor in a running daemon: a tripped safety signal blocks every write; neither a
 * technician's `alerts ack` nor the plant's `ack_alert` clears it; with the store refusing every
 * insert (what a full disk does) a trip still blocks writes and is recorded once the store takes it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import mqtt from "mqtt";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { DemoPlc } from "../../src/twin/demoPlc.js";
import { lineYaml, runCliToEnd, tempDir, waitFor } from "../helpers.js";
import { startMosquitto } from "../peers/peers.js";

const TAGS = `  - { name: speed_sp, machine: 7, role: speed_setpoint, connection: plc, writable: true, min: 10, max: 60, intervalMs: 100, modbus: { area: holding, address: 0, dataType: float32 } }
  - { name: speed, machine: 7, role: speed, connection: plc, intervalMs: 100, deadband: 100, modbus: { area: input, address: 0, dataType: float32 } }`;

test("on a running daemon a tripped safety signal blocks writes; acknowledging (CLI or plant) does not clear it; a full disk does not hide it", async (t) => {
  const dir = tempDir(t);
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  t.after(() => plc.stop());
  const broker = await startMosquitto(t, dir);
  // The speed tag has a deadband larger than any change: its samples are never stored again,
  // yet every reading is evaluated for safety.
  const yaml = lineYaml({
    storePath: join(dir, "line.db"),
    plcPort: plc.port,
    tags: TAGS,
    extra: `safety:
  minIntervalMs: 1000
  alarms: [{ tag: speed, above: 25, reason: "press above the guard-door speed (test)" }]
sync: { url: "${broker.url}", commands: { allow: { ack_alert: [scada] } } }
`,
  });
  const config = parseConfig(yaml, join(dir, "line.yaml"));
  const daemon = new Daemon(config, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  const socket = `unix:${config.api.socket}`;
  const write = (value: number) =>
    daemon.envelope!.write({
      tag: "speed_sp",
      value,
      requestedBy: "technician:anna",
      mode: "assisted",
      approvedBy: "anna",
    });
  const connector = daemon.connectors[0]!;
  await waitFor(() => connector.connected, 10_000, "the PLC");
  // The press runs at 30 (above 25): tripped.
  await connector.write("speed_sp", 30);
  const alertId = await waitFor(
    () =>
      (
        daemon
          .store!.db.prepare("SELECT id FROM alerts WHERE severity = 'SAFETY' AND state = 'open'")
          .get() as { id: number } | undefined
      )?.id,
    10_000,
    "the SAFETY alert",
  );
  const refused = await write(31);
  assert.deepEqual([refused.written, !refused.written && refused.rule], [false, "safety_alert"]);
  // A technician acknowledges it through the socket: seen, not cleared.
  const ack = await runCliToEnd(["alerts", "ack", String(alertId), "--api", socket, "--by", "anna"]);
  assert.equal(ack.code, 0, ack.stdout + ack.stderr);
  assert.deepEqual([(await write(31)).written], [false], "still blocked after the technician's ack");
  // So does the plant.
  const plant = await mqtt.connectAsync(broker.url);
  t.after(() => plant.endAsync(true));
  const prefix = "acme/lyon/assembly/test-line/linepilot";
  await plant.subscribeAsync(`${prefix}/replies`, { qos: 1 });
  const replied = new Promise<Record<string, unknown>>((resolve) =>
    plant.on("message", (_topic, payload) =>
      resolve(JSON.parse(payload.toString()) as Record<string, unknown>),
    ),
  );
  await waitFor(() => daemon.sync!.health().details.connected === true, 10_000, "the plant link");
  await plant.publishAsync(
    `${prefix}/commands`,
    JSON.stringify({
      version: 1,
      id: "cmd-ack-safety-1",
      sender: "scada",
      command: "ack_alert",
      args: { alertId },
    }),
    { qos: 1 },
  );
  assert.equal((await replied).ok, true);
  assert.equal((await write(31)).written, false, "still blocked after the plant's ack");
  assert.match(
    (await runCliToEnd(["status", "--api", socket])).stdout,
    /safety +ok +1 safety signals, ACTIVE \(writes blocked\): press above the guard-door speed \(test\), trips 1/,
  );
  // The operator slows the press at the HMI: the signal clears, and writes go through again.
  await connector.write("speed_sp", 20);
  await waitFor(() => daemon.envelope!.state().safetyAlerts().length === 0, 15_000, "the signal to clear");
  await new Promise((r) => setTimeout(r, 1_100)); // the envelope's minimum interval between changes
  assert.equal((await write(21)).written, true);

  // The store refuses every write (as with a full disk: here the connection is made query-only,
  // which fails each insert the way a full disk does, deterministically). The guard trips again;
  // writes are blocked all the same.
  await daemon.sync!.stop();
  const db = daemon.store!.db;
  db.pragma("query_only = ON");
  await connector.write("speed_sp", 30);
  await waitFor(
    () => daemon.envelope!.state().safetyAlerts().length === 1,
    15_000,
    "the trip, with the store full",
  );
  const blocked = await write(31);
  assert.equal(blocked.written, false);
  const verdict = daemon.envelope!.check({
    tag: "speed_sp",
    value: 31,
    requestedBy: "x",
    mode: "assisted",
    approvedBy: "anna",
  });
  assert.deepEqual([verdict.allowed, !verdict.allowed && verdict.rule], [false, "safety_alert"]);
  assert.equal(plc.setpoint, 30, "nothing reached the PLC");
  await waitFor(
    () => (daemon.health().components as Record<string, { state: string }>).safety!.state === "degraded",
    10_000,
    "the unrecorded alert in health",
  ).catch((e: Error) => {
    throw new Error(
      `${e.message}: ${JSON.stringify((daemon.health().components as Record<string, unknown>).safety)} alerts ${JSON.stringify(db.prepare("SELECT id, state, opened_at FROM alerts").all())}`,
    );
  });
  // Space again: the alert is recorded at the next reading.
  db.pragma("query_only = OFF");
  await waitFor(
    () =>
      (
        db.prepare("SELECT count(*) AS n FROM alerts WHERE severity = 'SAFETY' AND state = 'open'").get() as {
          n: number;
        }
      ).n === 1,
    15_000,
    "the alert recorded once the disk has room",
  );
  await connector.write("speed_sp", 20);
});
