import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import { summarize } from "../../../src/cli/commands/status.js";
import type { OpcuaConnector } from "../../../src/connectors/opcua/opcuaConnector.js";
import { STATUS } from "../../../src/connectors/quality.js";
import { OpcuaPlcServer, type ServedVariable } from "../../../src/twin/opcuaServer.js";
import { runCliToEnd, tempDir, waitFor } from "../../helpers.js";
import { freePort } from "../../peers/peers.js";
import { startConnector } from "../harness.js";

type After = { after(fn: () => Promise<void> | void): void };

/** A small press: a drifting temperature, a counter, a running flag, and two setpoints. */
function press() {
  const state = { temp: 40, pieces: 0, running: 1, speedSetpoint: 30, heaterSetpoint: 180.5 };
  const timer = setInterval(() => {
    state.temp += 0.25;
    state.pieces += 1;
  }, 20);
  const variables: ServedVariable[] = [
    { id: "Press7.MotorTemp", dataType: "Double", read: () => state.temp },
    { id: "Press7.Pieces", dataType: "UInt32", read: () => state.pieces },
    { id: "Press7.Running", dataType: "Boolean", read: () => state.running },
    { id: "Press7.Vibration", dataType: "Float", read: () => 2.5 },
    {
      id: "Press7.SpeedSetpoint",
      dataType: "Int16",
      read: () => state.speedSetpoint,
      write: (v) => {
        state.speedSetpoint = v;
      },
    },
    {
      id: "Press7.HeaterSetpoint",
      dataType: "Double",
      read: () => state.heaterSetpoint,
      write: (v) => {
        state.heaterSetpoint = v;
      },
    },
  ];
  return { state, variables, stop: () => clearInterval(timer) };
}

async function startServer(
  t: After,
  dir: string,
  options: Partial<ConstructorParameters<typeof OpcuaPlcServer>[0]> = {},
) {
  const model = press();
  const server = new OpcuaPlcServer({
    pkiDir: join(dir, "server-pki"),
    variables: model.variables,
    ...options,
  });
  await server.start();
  t.after(async () => {
    model.stop();
    await server.stop();
  });
  return { server, model };
}

/** Puts the server's certificate in the gateway's trusted folder, as a technician would. */
function trustServer(server: OpcuaPlcServer, pkiDir: string) {
  copyFileSync(server.certificateFile, join(pkiDir, "trusted", "certs", "plc.pem"));
}

function opcuaYaml(o: { endpoint: string; pkiDir: string; security?: string; auth?: string; tags?: string }) {
  return `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: test-line }
machines:
  - { id: 7, name: Press 7 }
connections:
  - id: plc
    protocol: opcua
    endpoint: ${o.endpoint}
    pkiDir: ${JSON.stringify(o.pkiDir)}
    ${o.security ?? "securityMode: None"}
    ${o.auth ?? "auth: { type: anonymous }"}
    publishingIntervalMs: 100
    requestTimeoutMs: 2000
    sessionTimeoutMs: 10000
    backoff: { initialMs: 100, maxMs: 800, jitter: 0.1 }
tags:
${
  o.tags ??
  `  - { name: temp, machine: 7, connection: plc, nodeId: "ns=1;s=Press7.MotorTemp", intervalMs: 50, unit: degC }
  - { name: pieces, machine: 7, connection: plc, nodeId: "ns=1;s=Press7.Pieces", intervalMs: 50 }
  - { name: running, machine: 7, connection: plc, nodeId: "ns=1;s=Press7.Running", intervalMs: 200, queueSize: 2 }
  - { name: vibration, machine: 7, connection: plc, nodeId: "ns=1;s=Press7.Vibration", intervalMs: 200, scale: 2, offset: 1 }
  - { name: speed_sp, machine: 7, connection: plc, nodeId: "ns=1;s=Press7.SpeedSetpoint", intervalMs: 50, writable: true, min: 0, max: 100 }
  - { name: heater_sp, machine: 7, connection: plc, nodeId: "ns=1;s=Press7.HeaterSetpoint", intervalMs: 50, writable: true, min: 0, max: 300 }
  - { name: missing, machine: 7, connection: plc, nodeId: "ns=1;s=Press7.NoSuchNode", intervalMs: 200 }`
}
store: { path: "x.db", batchSize: 100, flushIntervalMs: 100 }
`;
}

test("OPC UA SignAndEncrypt with a username: typed samples, bad status kept as bad, unknown node refused alone, write with read-back", async (t) => {
  const dir = tempDir(t);
  const { server, model } = await startServer(t, dir, {
    securityModes: ["SignAndEncrypt"],
    users: { tech: "s3cret" },
  });
  const pkiDir = join(dir, "pki");
  process.env.LP_TEST_OPCUA_PASSWORD = "s3cret";
  // First start makes the gateway's own certificate; trust the server as a technician would.
  const yaml = opcuaYaml({
    endpoint: server.endpointUrl,
    pkiDir,
    security: "securityMode: SignAndEncrypt\n    securityPolicy: Basic256Sha256",
    auth: "auth: { type: username, username: tech, password: '${env:LP_TEST_OPCUA_PASSWORD}' }",
  });
  const { Pki } = await import("../../../src/connectors/opcua/pki.js");
  const pki = new Pki(pkiDir);
  await pki.initialize("urn:test", "test-line");
  await pki.dispose();
  trustServer(server, pkiDir);
  const { connector, latest, writer, store } = await startConnector<OpcuaConnector>(t, yaml, dir);
  await waitFor(
    () =>
      connector.connected && ["temp", "running", "vibration", "missing"].every((name) => latest(name).ts > 0),
    20_000,
    "samples",
  );
  assert.equal(connector.health().details.securityMode, "SignAndEncrypt");
  assert.equal(latest("running").value, 1, "a Boolean is 1/0");
  assert.equal(latest("vibration").value, 2.5 * 2 + 1, "scale and offset apply");
  assert.equal(latest("temp").status, STATUS.Good);
  const t0 = latest("temp").value;
  await waitFor(
    () => latest("temp").value > t0,
    5_000,
    "the temperature to move (subscription, not one read)",
  );
  // A node the server does not know: a Bad sample with the server's status, the other tags unaffected.
  assert.equal(latest("missing").status, 0x80340000, "BadNodeIdUnknown");
  assert.ok(Number.isNaN(latest("missing").value));
  assert.deepEqual(connector.health().details.refusedItems, { missing: "BadNodeIdUnknown" });
  assert.equal(connector.health().state, "degraded", "connected, but a tag has no data");
  assert.match(
    summarize("opcua:plc1", connector.health().details),
    /node of missing REFUSED \(BadNodeIdUnknown\)/,
  );
  // A sensor that goes Bad is stored as Bad with its status, not dropped.
  server.setStatus("Press7.MotorTemp", 0x808b0000);
  await waitFor(() => latest("temp").status === STATUS.BadDeviceFailure, 5_000, "bad status");
  assert.ok(Number.isNaN(latest("temp").value));
  server.setStatus("Press7.MotorTemp", 0);
  await waitFor(() => latest("temp").status === STATUS.Good, 5_000, "good again");
  // Typed writes: the Int16 node gets an integer, the Double node the exact value; both read back.
  assert.deepEqual(await connector.write("speed_sp", 42.4), {
    tag: "speed_sp",
    requested: 42.4,
    readBack: 42,
    ok: true,
  });
  assert.equal(model.state.speedSetpoint, 42);
  assert.deepEqual(await connector.write("heater_sp", 190.25), {
    tag: "heater_sp",
    requested: 190.25,
    readBack: 190.25,
    ok: true,
  });
  await assert.rejects(connector.write("speed_sp", 40_000), /does not fit the node's Int16/);
  await assert.rejects(connector.write("temp", 1), /not writable/);
  await assert.rejects(connector.write("nope", 1), /has no tag nope/);
  // What the safety envelope bounds a write against: the node's value now, read from the server,
  // even when another client changed it after the last notification.
  model.state.heaterSetpoint = 150.5;
  assert.equal(await connector.read("heater_sp"), 150.5);
  assert.equal(await connector.read("vibration"), 2.5 * 2 + 1, "scaled like a sample");
  await assert.rejects(
    connector.read("missing"),
    /tag missing: ns=1;s=Press7\.NoSuchNode reads BadNodeIdUnknown/,
  );
  await waitFor(() => latest("speed_sp").value === 42, 5_000, "the written setpoint in the subscription");
  writer.flush();
  const bad = store.db
    .prepare(
      "SELECT count(*) AS n FROM sensor_data s JOIN tags t ON t.id = s.tag_id WHERE t.name = 'temp' AND s.status = ?",
    )
    .get(STATUS.BadDeviceFailure) as { n: number };
  assert.ok(bad.n >= 1, "the bad sample is in the store");
});

test("an untrusted server certificate is refused with the file to trust; `linepilot pki trust` lets it connect without a restart", async (t) => {
  const dir = tempDir(t);
  const { server } = await startServer(t, dir, { securityModes: ["SignAndEncrypt"] });
  const pkiDir = join(dir, "pki");
  const yaml = opcuaYaml({
    endpoint: server.endpointUrl,
    pkiDir,
    security: "securityMode: SignAndEncrypt\n    securityPolicy: Basic256Sha256",
  });
  const { connector, file, latest } = await startConnector<OpcuaConnector>(t, yaml, dir);
  const lastError = await waitFor(
    () =>
      /not trusted/.test(String(connector.health().details.lastError)) &&
      String(connector.health().details.lastError),
    20_000,
    "the refusal",
  );
  assert.equal(connector.connected, false, "never auto-trusted");
  const rejected = readdirSync(join(pkiDir, "rejected")).filter((f) => f.endsWith(".pem"));
  assert.equal(rejected.length, 1);
  assert.ok(lastError.includes(join(pkiDir, "rejected", rejected[0]!)), lastError);
  assert.match(lastError, /linepilot pki trust [0-9a-f]{12} --config/);
  assert.match(
    lastError,
    /subject (\w+=[^,()]+, )*CN=[^,()]+[,)]/,
    "the subject as an administrator reads it",
  );
  assert.doesNotMatch(lastError, /object Object|entries=/);
  assert.ok(
    existsSync(join(pkiDir, "own", "certs", "client_certificate.pem")),
    "own certificate made at first start",
  );
  const list = await runCliToEnd(["pki", "list", "--config", file, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  const listed = JSON.parse(list.stdout) as { connections: { rejected: { thumbprint: string }[] }[] };
  const thumbprint = listed.connections[0]!.rejected[0]!.thumbprint;
  const trusted = await runCliToEnd(["pki", "trust", thumbprint.slice(0, 12), "--config", file]);
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.match(trusted.stdout, /^trusted (\w+=[^,]+, )*CN=/);
  assert.doesNotMatch(trusted.stdout + list.stdout, /object Object|entries=/);
  assert.ok(existsSync(join(pkiDir, "trusted", "certs", basename(rejected[0]!))));
  await waitFor(() => connector.connected && latest("temp").ts > 0, 20_000, "connect after trust");
  const again = await runCliToEnd(["pki", "trust", "ffff", "--config", file]);
  assert.equal(again.code, 2, "nothing to trust is a usage error");
  assert.match(again.stderr, /no rejected certificate matches 'ffff'/);
});

test("a server that does not trust linepilot's certificate: the error says so and names the file to trust on the server", async (t) => {
  const dir = tempDir(t);
  const { server } = await startServer(t, dir, {
    securityModes: ["SignAndEncrypt"],
    acceptClientCertificates: false,
  });
  const pkiDir = join(dir, "pki");
  const { Pki } = await import("../../../src/connectors/opcua/pki.js");
  const pki = new Pki(pkiDir);
  await pki.initialize("urn:test", "test-line");
  await pki.dispose();
  trustServer(server, pkiDir);
  const yaml = opcuaYaml({
    endpoint: server.endpointUrl,
    pkiDir,
    security: "securityMode: SignAndEncrypt\n    securityPolicy: Basic256Sha256",
  });
  const { connector } = await startConnector<OpcuaConnector>(t, yaml, dir);
  const lastError = await waitFor(
    () =>
      /certificate/.test(String(connector.health().details.lastError)) &&
      String(connector.health().details.lastError),
    20_000,
    "the refusal",
  );
  assert.equal(connector.connected, false);
  assert.match(lastError, /did not accept linepilot's certificate/, lastError);
  assert.ok(lastError.includes(join(pkiDir, "own", "certs", "client_certificate.pem")), lastError);
  assert.doesNotMatch(lastError, /third party/);
});

test("OPC UA server restart mid-stream: the gap is bad quality and a connection event; the subscription comes back", async (t) => {
  const dir = tempDir(t);
  const { server } = await startServer(t, dir, { securityModes: ["None"] });
  const pkiDir = join(dir, "pki");
  const { connector, latest, connectionEvents } = await startConnector<OpcuaConnector>(
    t,
    opcuaYaml({
      endpoint: server.endpointUrl,
      pkiDir,
      security: "securityMode: None\n    securityPolicy: None",
    }),
    dir,
  );
  await waitFor(() => connector.connected && latest("pieces").ts > 0, 20_000, "first samples");
  await server.stop();
  await waitFor(() => !connector.connected, 15_000, "loss noticed");
  assert.equal(latest("pieces").status, STATUS.BadNotConnected);
  await server.start(); // same port, new process state: the old session and subscription are gone
  const since = Date.now();
  await waitFor(
    () => connector.connected && latest("pieces").ts > since && latest("pieces").status === STATUS.Good,
    20_000,
    "data to resume",
  );
  assert.equal(connector.health().details.sessionsCreated, 2);
  assert.deepEqual(connectionEvents(), ["connection_lost", "connection_restored"]);
});

test("an unreachable OPC UA server at start is retried; a wrong password is named as a refused login", async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  process.env.LP_TEST_OPCUA_WRONG = "wrong";
  const { connector } = await startConnector<OpcuaConnector>(
    t,
    opcuaYaml({
      endpoint: `opc.tcp://127.0.0.1:${port}`,
      pkiDir: join(dir, "pki"),
      auth: "auth: { type: username, username: tech, password: '${env:LP_TEST_OPCUA_WRONG}' }",
    }),
    dir,
  );
  await waitFor(() => (connector.health().details.errors as number) >= 2, 10_000, "retries");
  assert.equal(connector.connected, false);
  assert.equal(connector.health().state, "down");
  const { server } = await startServer(t, dir, { port, securityModes: ["None"], users: { tech: "s3cret" } });
  assert.equal(server.port, port);
  await waitFor(
    () => /refused the username login/.test(String(connector.health().details.lastError)),
    20_000,
    "the login refusal",
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${String(connector.health().details.lastError)}`);
  });
  assert.equal(connector.connected, false);
});

test("an X.509 user certificate login from the YAML (certificate file and a 0600 key file)", async (t) => {
  const dir = tempDir(t);
  const { server } = await startServer(t, dir, {
    securityModes: ["SignAndEncrypt"],
    users: {},
    allowAnonymous: false,
    userCertificates: true,
  });
  // The operator's user certificate, made like any OPC UA certificate, and trusted by the server.
  const { Pki } = await import("../../../src/connectors/opcua/pki.js");
  const user = new Pki(join(dir, "user"));
  await user.initialize("urn:acme:operator", "operator");
  await user.dispose();
  chmodSync(user.ownPrivateKeyFile, 0o600);
  copyFileSync(user.ownCertificateFile, join(server.trustedUserCertificatesDir, "operator.pem"));
  const pkiDir = join(dir, "pki");
  const gateway = new Pki(pkiDir);
  await gateway.initialize("urn:test", "test-line");
  await gateway.dispose();
  trustServer(server, pkiDir);
  const { connector, latest } = await startConnector<OpcuaConnector>(
    t,
    opcuaYaml({
      endpoint: server.endpointUrl,
      pkiDir,
      security: "securityMode: SignAndEncrypt\n    securityPolicy: Basic256Sha256",
      auth: `auth: { type: certificate, certificateFile: ${JSON.stringify(user.ownCertificateFile)}, privateKey: "\${file:${user.ownPrivateKeyFile}}" }`,
    }),
    dir,
  );
  await waitFor(
    () => connector.connected && latest("temp").ts > 0,
    20_000,
    "samples over an X.509 login",
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${String(connector.health().details.lastError)}`);
  });
  assert.equal(latest("temp").status, STATUS.Good);
});
