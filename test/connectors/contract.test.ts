/**
 * The contract every connector keeps, whatever the protocol: the same checks run against Modbus TCP
 * (modbus-serial's server, in the simulated press) and OPC UA (node-opcua's server).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { STATUS } from "../../src/connectors/quality.js";
import { DemoPlc } from "../../src/twin/demoPlc.js";
import { OpcuaPlcServer } from "../../src/twin/opcuaServer.js";
import { lineYaml, tempDir, waitFor } from "../helpers.js";
import { startConnector } from "./harness.js";

type After = { after(fn: () => Promise<void> | void): void };

interface Peer {
  yaml: string;
  /** The value the peer holds for the setpoint after a write. */
  setpoint(): number;
}

const TAGS = (
  connection: string,
  speed: string,
  setpoint: string,
) => `  - { name: speed, machine: 7, unit: m/min, connection: ${connection}, intervalMs: 50, ${speed} }
  - { name: speed_setpoint, machine: 7, unit: m/min, connection: ${connection}, intervalMs: 50, writable: true, min: 0, max: 60, ${setpoint} }`;

const peers: Record<string, (t: After, dir: string) => Promise<Peer>> = {
  "Modbus TCP": async (t) => {
    const plc = new DemoPlc({ port: 0 });
    await plc.start();
    t.after(() => plc.stop());
    const yaml = lineYaml({
      storePath: "x.db",
      plcPort: plc.port,
      tags: TAGS(
        "plc",
        "modbus: { unitId: 1, area: input, address: 0, dataType: float32 }",
        "modbus: { unitId: 1, area: holding, address: 0, dataType: float32 }",
      ),
    });
    return { yaml, setpoint: () => plc.setpoint };
  },
  "OPC UA": async (t, dir) => {
    let setpoint = 30;
    const server = new OpcuaPlcServer({
      pkiDir: join(dir, "server-pki"),
      securityModes: ["None"],
      variables: [
        { id: "Press7.Speed", dataType: "Double", read: () => 29.5 + Math.random() },
        {
          id: "Press7.SpeedSetpoint",
          dataType: "Float",
          read: () => setpoint,
          write: (v) => {
            setpoint = v;
          },
        },
      ],
    });
    await server.start();
    t.after(() => server.stop());
    const yaml = lineYaml({
      storePath: "x.db",
      tags: TAGS("plc", `nodeId: "ns=1;s=Press7.Speed"`, `nodeId: "ns=1;s=Press7.SpeedSetpoint"`),
    }).replace(
      /connections:\n.*\n/,
      `connections:\n  - { id: plc, protocol: opcua, endpoint: "${server.endpointUrl}", pkiDir: ${JSON.stringify(join(dir, "pki"))}, publishingIntervalMs: 100, backoff: { initialMs: 100, maxMs: 500, jitter: 0.1 } }\n`,
    );
    return { yaml, setpoint: () => setpoint };
  },
};

for (const [protocol, startPeer] of Object.entries(peers)) {
  test(`connector contract, ${protocol}: samples with quality, health, write with read-back, refusals, clean stop`, async (t) => {
    const dir = tempDir(t);
    const peer = await startPeer(t, dir);
    const started = Date.now();
    const { connector, latest, store, writer } = await startConnector(t, peer.yaml, dir);
    assert.ok(Date.now() - started < 5_000, "start() does not wait for the PLC");
    await waitFor(() => connector.connected && latest("speed").ts > 0, 20_000, "first sample");
    const speed = latest("speed");
    assert.equal(speed.status, STATUS.Good);
    assert.ok(speed.value > 29 && speed.value < 31, `speed ${speed.value}`);
    assert.ok(Math.abs(speed.ts - Date.now()) < 10_000, "sample time is now");

    const health = connector.health();
    assert.equal(health.state, "ok");
    for (const key of [
      "protocol",
      "target",
      "connected",
      "samples",
      "samplesPerSecond",
      "errors",
      "lastError",
    ])
      assert.ok(key in health.details, `health has ${key}`);
    assert.equal(health.details.connected, true);
    assert.ok((health.details.samples as number) > 0);

    const result = await connector.write("speed_setpoint", 36.5);
    assert.deepEqual(result, { tag: "speed_setpoint", requested: 36.5, readBack: 36.5, ok: true });
    assert.equal(peer.setpoint(), 36.5, "the PLC holds the new setpoint");
    await waitFor(
      () => latest("speed_setpoint").value === 36.5,
      10_000,
      "the setpoint read back by the connector",
    );
    await assert.rejects(connector.write("speed", 1), { code: "LP_ERR_CONNECTOR", message: /not writable/ });
    await assert.rejects(connector.write("ghost", 1), {
      code: "LP_ERR_CONNECTOR",
      message: /has no tag ghost/,
    });

    writer.flush();
    const stored = store.db
      .prepare(
        "SELECT count(*) AS n FROM sensor_data s JOIN tags t ON t.id = s.tag_id WHERE t.name = 'speed'",
      )
      .get() as { n: number };
    assert.ok(stored.n > 0, "samples reach the store");
    await connector.stop();
    assert.equal(connector.connected, false);
  });
}
