import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { runCliToEnd, tempDir } from "../helpers.js";

async function daemonWith(t: { after(fn: () => unknown): void }, api: string) {
  const dir = tempDir(t);
  const env = { LP_TEST_TOKEN: "s3cret-token-for-tests" };
  const config = parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: access-line }
machines: [{ id: 1, name: Press 1 }]
tags: [{ name: press1.speed_setpoint, machine: 1, role: speed_setpoint, connection: plc, writable: true, min: 10, max: 60, modbus: { area: holding, address: 0, dataType: float32 } }]
connections: [{ id: plc, protocol: modbus-tcp, host: 127.0.0.1, port: 1, timeoutMs: 200 }]
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
api: ${api}
optimizer: { mode: assisted }
`,
    join(dir, "line.yaml"),
    { env },
  );
  process.env.LP_TEST_TOKEN = env.LP_TEST_TOKEN;
  const daemon = new Daemon(config, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  return { daemon, config, url: `http://127.0.0.1:${daemon.api!.address!.port}`, token: env.LP_TEST_TOKEN };
}

const mode = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/ai/mode`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ mode: "autonomous", by: "anna" }),
  });

test("changes need the token over TCP or the daemon's unix socket (mode 0660); reads on loopback do not; a wrong token is refused and counted", async (t) => {
  const { daemon, config, url, token } = await daemonWith(
    t,
    '{ host: 127.0.0.1, port: 0, token: "${env:LP_TEST_TOKEN}" }',
  );
  assert.equal((await fetch(`${url}/ai/mode`)).status, 200, "reads are open on loopback");
  assert.equal((await mode(url)).status, 401);
  assert.equal((await mode(url, { authorization: "Bearer wrong" })).status, 401);
  const ok = await mode(url, { authorization: `Bearer ${token}` });
  assert.equal(ok.status, 200, await ok.text());
  assert.equal(statSync(config.api.socket!).mode & 0o777, 0o660, "only the daemon's user and group");
  const viaSocket = await runCliToEnd([
    "mode",
    "assisted",
    "--api",
    `unix:${config.api.socket}`,
    "--by",
    "bob",
  ]);
  assert.equal(viaSocket.code, 0, viaSocket.stderr);
  const viaToken = await runCliToEnd(["mode", "autonomous", "--api", url, "--by", "carla"], {
    LINEPILOT_TOKEN: token,
  });
  assert.equal(viaToken.code, 0, viaToken.stderr);
  const without = await runCliToEnd(["mode", "assisted", "--api", url, "--by", "mallory"]);
  assert.equal(without.code, 1);
  assert.match(without.stderr, /LP_ERR_ACCESS: this needs the API token/);
  const audit = daemon
    .store!.db.prepare("SELECT actor FROM ai_decisions_audit WHERE kind = 'optimizer_mode' ORDER BY id")
    .all() as { actor: string }[];
  assert.deepEqual(
    audit.map((a) => a.actor),
    ["anna", "bob", "carla"],
    "each switch names who made it",
  );
  assert.equal(daemon.api!.health().details.refused, 3);
  // A read the line cannot answer is its message, not an HTTP dump.
  const models = await runCliToEnd(["models", "--api", url]);
  assert.equal(models.code, 2);
  assert.match(models.stderr, /LP_ERR_USAGE: this line has no model registry: add a registry: section/);
});

test("a non-loopback bind needs the token for reads too, except /health and /metrics", async (t) => {
  const { url, token } = await daemonWith(t, '{ host: 0.0.0.0, port: 0, token: "${env:LP_TEST_TOKEN}" }');
  assert.equal((await fetch(`${url}/ai/mode`)).status, 401);
  assert.equal(
    (await fetch(`${url}/ai/mode`, { headers: { authorization: `Bearer ${token}` } })).status,
    200,
  );
  assert.equal((await fetch(`${url}/health`)).status, 200);
  assert.equal((await fetch(`${url}/metrics`)).status, 200);
  assert.throws(
    () =>
      parseConfig(
        "version: 1\nline: { enterprise: a, site: b, area: c, name: d }\nmachines: [{ id: 1, name: P }]\nstore: { path: x.db }\napi: { host: 0.0.0.0 }\n",
        "/tmp/l.yaml",
      ),
    /a token \(api.token\) is required when the API listens on a non-loopback address/,
  );
});
