import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { runCliToEnd, tempDir, waitFor } from "../helpers.js";

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

/** Reads a server-sent-events stream until `count` snapshots arrived. */
async function snapshots(url: string, count: number, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const decoder = new TextDecoder();
  let text = "";
  const out: Record<string, unknown>[] = [];
  for await (const chunk of res.body!) {
    text += decoder.decode(chunk as Uint8Array, { stream: true });
    for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const data = /^data: (.*)$/m.exec(block);
      if (/^event: snapshot$/m.test(block) && data !== null) out.push(JSON.parse(data[1]!));
    }
    if (out.length >= count) break;
  }
  abort.abort();
  return out;
}

test("the console is served offline from the package, its line and machine streams carry the snapshot (and that machine's tags), listeners go with their browsers", async (t) => {
  const { daemon, url } = await daemonWith(
    t,
    '{ host: 127.0.0.1, port: 0, token: "${env:LP_TEST_TOKEN}", consoleTickMs: 250 }',
  );
  const page = await fetch(`${url}/ui/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const html = await page.text();
  assert.doesNotMatch(html, /https?:\/\//, "nothing from the internet");
  assert.equal((await fetch(`${url}/`, { redirect: "manual" })).headers.get("location"), "/ui/");
  for (const file of ["preact.js", "preact-hooks.js", "htm.js", "uplot.js"]) {
    const res = await fetch(`${url}/ui/vendor/${file}`);
    assert.equal(res.status, 200, file);
    assert.match(res.headers.get("content-type") ?? "", /^text\/javascript/);
    // Each library imports only what the page's import map serves.
    for (const m of (await res.text()).matchAll(
      /(?:^|[;}\s])import\s*[\w{}\s,*$]*?\bfrom\s*["']([^"']+)["']/g,
    ))
      assert.ok(["preact", "preact/hooks"].includes(m[1]!), `${file} imports ${m[1]}`);
  }
  const app = await (await fetch(`${url}/ui/app.js`)).text();
  for (const m of app.matchAll(/^import .* from "([^"]+)";$/gm))
    assert.ok(["preact", "preact/hooks"].includes(m[1]!) || m[1]!.startsWith("/ui/vendor/"), m[1]);
  assert.equal((await fetch(`${url}/ui/nothing.js`)).status, 404);
  const line = (await (await fetch(`${url}/ui/line.json`)).json()) as {
    machines: unknown[];
    readsNeedToken: boolean;
  };
  assert.deepEqual(line.machines, [{ id: 1, name: "Press 1" }]);
  assert.equal(line.readsNeedToken, false);
  // The login form's check is a change: a wrong token is refused, the right one accepted.
  assert.equal(
    (await fetch(`${url}/ui/login`, { method: "POST", headers: { authorization: "Bearer no" } })).status,
    401,
  );
  const login = await fetch(`${url}/ui/login`, {
    method: "POST",
    headers: { authorization: "Bearer s3cret-token-for-tests" },
  });
  assert.equal(login.status, 200);

  const [first] = await snapshots(`${url}/events`, 1);
  assert.deepEqual(
    (first!.machines as { id: number; name: string; risk: unknown }[]).map((m) => [m.id, m.name, m.risk]),
    [[1, "Press 1", null]],
  );
  assert.ok("outboxDepth" in first! && "components" in first!);
  assert.equal(first!.tags, undefined, "the line stream carries no tags");
  const machine = await snapshots(`${url}/events?machine=1`, 2);
  assert.deepEqual(
    (machine[0]!.tags as { name: string; quality: string }[]).map((tg) => [tg.name, tg.quality]),
    [["press1.speed_setpoint", "none"]],
  );
  // Nothing changes on this line (the PLC is absent): a second snapshot means the tick sent a change.
  const stream = daemon.health().components as Record<string, { details: Record<string, number> }>;
  assert.ok(stream.console!.details.snapshots! >= 2);
  // The listeners are gone once the browsers are.
  await waitFor(
    () =>
      stream.console !== undefined &&
      (daemon.health().components as typeof stream).console!.details.listeners === 0,
    5_000,
    "listeners removed",
  );
});

test("off loopback, the console's stream and history need the token; bad history questions get a clear 400", async (t) => {
  const { url, token } = await daemonWith(t, '{ host: 0.0.0.0, port: 0, token: "${env:LP_TEST_TOKEN}" }');
  assert.equal((await fetch(`${url}/events`)).status, 401);
  assert.equal((await fetch(`${url}/tags/press1.speed_setpoint/history`)).status, 401);
  const auth = { authorization: `Bearer ${token}` };
  const [snap] = await snapshots(`${url}/events`, 1, auth);
  assert.equal((snap!.machines as unknown[]).length, 1);
  const ask = async (q: string) => {
    const res = await fetch(`${url}${q}`, { headers: auth });
    return { status: res.status, body: (await res.json()) as { message?: string; ts?: number[] } };
  };
  assert.equal((await ask("/tags/press1.speed_setpoint/history")).status, 200);
  assert.equal((await ask("/tags/press1.speed_setpoint/history")).body.ts!.length, 0, "no samples yet");
  assert.match((await ask("/tags/nope/history")).body.message!, /no tag nope on this line/);
  assert.match(
    (await ask("/tags/press1.speed_setpoint/history?from=yesterday")).body.message!,
    /from: not a time \(yesterday\)/,
  );
  assert.match(
    (await ask("/tags/press1.speed_setpoint/history?from=2026-01-02&to=2026-01-01")).body.message!,
    /from must be before to/,
  );
  assert.match(
    (await ask("/tags/press1.speed_setpoint/history?points=1")).body.message!,
    /points: an integer from 2 to 5000/,
  );
  assert.match((await ask("/ai/risk?machine=9")).body.message!, /no machine 9/);
  assert.match((await ask("/ai/audit?machine=x")).body.message!, /machine: a number/);
  const csv = await fetch(`${url}/ai/audit?format=csv`, { headers: auth });
  assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
  assert.match(csv.headers.get("content-disposition") ?? "", /access-line-audit\.csv/);
});
