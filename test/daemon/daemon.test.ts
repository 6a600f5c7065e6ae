import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import Database from "better-sqlite3";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { SystemdNotifier } from "../../src/daemon/notify.js";
import { DemoPlc } from "../../src/twin/demoPlc.js";
import { lineYaml, runCli, runCliToEnd, tempDir, waitFor, writeFile } from "../helpers.js";

/** A real AF_UNIX datagram listener (socat), standing in for systemd's notify socket. */
async function notifySocket(t: TestContext, dir: string) {
  const path = join(dir, "notify.sock");
  const proc = spawn("socat", ["-u", `UNIX-RECV:${path}`, "STDOUT"], { stdio: ["ignore", "pipe", "pipe"] });
  let received = "";
  proc.stdout.on("data", (d) => {
    received += `${d}\n`;
  });
  t.after(() => {
    proc.kill("SIGKILL");
  });
  await waitFor(
    async () => {
      const { existsSync } = await import("node:fs");
      return existsSync(path);
    },
    5_000,
    "socat notify socket",
  );
  return { path, received: () => received };
}

async function startPlc(t: TestContext) {
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  t.after(() => plc.stop());
  return plc;
}

function apiAddress(stdout: string): string | undefined {
  for (const line of stdout.split("\n")) {
    if (!line.includes("local API listening")) continue;
    const { address } = JSON.parse(line) as { address: { host: string; port: number } };
    return `http://${address.host}:${address.port}`;
  }
  return undefined;
}

test("under systemd the daemon sends READY=1, STATUS=, WATCHDOG=1 at half WATCHDOG_USEC, and STOPPING=1", async (t) => {
  const dir = tempDir(t);
  const plc = await startPlc(t);
  const sock = await notifySocket(t, dir);
  const config = writeFile(
    dir,
    "line.yaml",
    lineYaml({ storePath: join(dir, "line.db"), plcPort: plc.port }),
  );
  const daemon = runCli(["run", "--config", config], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: "200000" });
  t.after(() => {
    daemon.proc.kill("SIGKILL");
  });
  await waitFor(() => sock.received().includes("READY=1"), 15_000, `READY=1 (stderr: ${daemon.stderr()})`);
  assert.match(sock.received(), /STATUS=running: line test-line, 3 tags, 1 connections/);
  assert.match(sock.received(), new RegExp(`MAINPID=${daemon.proc.pid}`));
  await waitFor(
    () => (sock.received().match(/WATCHDOG=1/g) ?? []).length >= 3,
    5_000,
    "three watchdog pings (every 100 ms)",
  );
  daemon.proc.kill("SIGTERM");
  const { code } = await daemon.exited;
  assert.equal(code, 0);
  await waitFor(() => sock.received().includes("STOPPING=1"), 2_000, "STOPPING=1");
});

test("the unix-dgram fallback speaks the same protocol when the sd-notify addon is missing", async (t) => {
  const dir = tempDir(t);
  const sock = await notifySocket(t, dir);
  const notifier = new SystemdNotifier(
    silentLogger(),
    { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: "100000" },
    ["unix-dgram"],
  );
  t.after(() => notifier.close());
  assert.equal(notifier.transport, "unix-dgram");
  assert.equal(notifier.watchdogIntervalMs, 50);
  notifier.ready("up");
  await waitFor(
    () => sock.received().includes("READY=1\nSTATUS=up") && sock.received().includes("WATCHDOG=1"),
    5_000,
    "datagrams",
  );
  notifier.stopping("bye");
  await waitFor(() => sock.received().includes("STOPPING=1\nSTATUS=bye"), 5_000, "STOPPING");
  // Outside systemd, or for a child that inherited WATCHDOG_PID of another process: silent.
  assert.equal(new SystemdNotifier(silentLogger(), {}).enabled, false);
  const child = new SystemdNotifier(silentLogger(), {
    NOTIFY_SOCKET: sock.path,
    WATCHDOG_USEC: "100000",
    WATCHDOG_PID: "1",
  });
  // Closed: where the sd-notify addon was not built this is a unix-dgram socket, which would keep
  // the test process alive.
  t.after(() => child.close());
  assert.equal(child.watchdogIntervalMs, 0);
});

test("SIGTERM during ingest loses no accepted sample: the store holds exactly what the PLC served", async (t) => {
  const dir = tempDir(t);
  const plc = await startPlc(t);
  const dbPath = join(dir, "line.db");
  const config = writeFile(
    dir,
    "line.yaml",
    lineYaml({ storePath: dbPath, plcPort: plc.port }).replace(
      "batchSize: 1000, flushIntervalMs: 200",
      "batchSize: 100000, flushIntervalMs: 60000",
    ),
  );
  const daemon = runCli(["run", "--config", config]);
  t.after(() => {
    daemon.proc.kill("SIGKILL");
  });
  // With a huge batch and a one-minute flush interval, everything read sits in memory until the stop.
  await waitFor(() => (plc.registerReads.get(2) ?? 0) >= 40, 15_000, `ingest (stderr: ${daemon.stderr()})`);
  daemon.proc.kill("SIGTERM");
  const { code } = await daemon.exited;
  assert.equal(code, 0, daemon.stderr());
  // Unit 1 serves two float32 tags in one 4-register read; unit 2 one float32 tag in a 2-register read.
  const served = ((plc.registerReads.get(1) ?? 0) / 4) * 2 + (plc.registerReads.get(2) ?? 0) / 2;
  const db = new Database(dbPath, { readonly: true });
  t.after(() => db.close());
  const stored = (db.prepare("SELECT count(*) AS n FROM sensor_data WHERE status = 0").get() as { n: number })
    .n;
  assert.ok(served >= 60, `served ${served}`);
  assert.equal(stored, served, "every sample the PLC served is in the store");
  assert.match(daemon.stdout(), /"msg":"sample writer flushed"/);
  assert.match(daemon.stdout(), /"msg":"linepilot stopped"/);
});

test("linepilot status and tags read the running daemon; status exits 3 when it is not running", async (t) => {
  const dir = tempDir(t);
  const plc = await startPlc(t);
  const config = writeFile(
    dir,
    "line.yaml",
    lineYaml({ storePath: join(dir, "line.db"), plcPort: plc.port }),
  );
  const daemon = runCli(["run", "--config", config]);
  t.after(() => {
    daemon.proc.kill("SIGKILL");
  });
  const api = await waitFor(() => apiAddress(daemon.stdout()), 15_000, "API address");
  await waitFor(
    async () => {
      const res = await fetch(`${api}/tags`).then(
        (r) => r.json() as Promise<{ tags: { quality: string }[] }>,
      );
      return res.tags.every((tg) => tg.quality === "good");
    },
    10_000,
    "good values for every tag",
  );
  const status = await runCliToEnd(["status", "--api", api]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /line acme\/lyon\/assembly\/test-line - running \(ok\)/);
  assert.match(status.stdout, /modbus:plc\s+ok\s+connected 127\.0\.0\.1:\d+, [\d.]+ samples\/s, errors 0/);
  assert.match(status.stdout, /sampleWriter\s+ok\s+accepted \d+/);
  const tags = await runCliToEnd(["tags", "--api", api, "--machine", "7"]);
  assert.equal(tags.code, 0, tags.stderr);
  assert.match(tags.stdout, /press7\.speed\s+7\s+30\s+good/);
  assert.doesNotMatch(tags.stdout, /conveyor8/);
  const health = (await fetch(`${api}/health`).then((r) => r.json())) as {
    status: string;
    components: Record<string, unknown>;
  };
  assert.equal(health.status, "ok");
  assert.deepEqual(Object.keys(health.components), [
    "store",
    "sampleWriter",
    "retention",
    "rollup",
    "clock",
    "safety",
    "modbus:plc",
    "console",
    "api",
  ]);
  daemon.proc.kill("SIGTERM");
  await daemon.exited;
  const down = await runCliToEnd(["status", "--api", api]);
  assert.equal(down.code, 3);
  assert.match(
    down.stderr,
    /LP_ERR_API: linepilot is not reachable at http:\/\/127\.0\.0\.1:\d+ \(is the daemon running\?\)/,
  );
});

test("a daemon whose store cannot be opened fails with a clear coded error and exit 1, not a crash loop of stack traces", async (t) => {
  const dir = tempDir(t);
  const blocker = writeFile(dir, "not-a-dir", "x");
  const config = writeFile(dir, "line.yaml", lineYaml({ storePath: join(blocker, "line.db") }));
  const res = await runCliToEnd(["run", "--config", config]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /error LP_ERR_STORE: cannot open the store/);
  assert.match(res.stdout, /"code":"LP_ERR_STORE".*"msg":"daemon failed to start"/);
});

test("a stop while the daemon is still starting: what started is stopped, the rest never starts, and READY never follows STOPPING", async (t) => {
  const dir = tempDir(t);
  const plc = await startPlc(t);
  const sock = await notifySocket(t, dir);
  // A Vault that takes its time: the registry's start waits on it, and the stop arrives then.
  const { createServer } = await import("node:http");
  let asked!: () => void;
  const vaultAsked = new Promise<void>((resolve) => {
    asked = resolve;
  });
  const vault = createServer((_req, res) => {
    asked();
    setTimeout(() => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: { data: { key: "11".repeat(32) }, metadata: { version: 1 } } }));
    }, 1_000);
  });
  await new Promise<void>((resolve) => vault.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => vault.close(() => resolve())));
  const port = (vault.address() as { port: number }).port;
  const env = { LP_VAULT_TOKEN: "s.test", NOTIFY_SOCKET: sock.path };
  const config = parseConfig(
    lineYaml({
      storePath: join(dir, "line.db"),
      plcPort: plc.port,
      extra: `registry: { key: { source: vault, address: "http://127.0.0.1:${port}", path: linepilot/k, token: "\${env:LP_VAULT_TOKEN}" } }`,
    }),
    join(dir, "line.yaml"),
    { env },
  );
  process.env.LP_VAULT_TOKEN = env.LP_VAULT_TOKEN;
  const daemon = new Daemon(config, silentLogger(), new SystemdNotifier(silentLogger(), env, ["unix-dgram"]));
  const starting = daemon.start();
  t.after(async () => {
    await daemon.stop();
    await starting.catch(() => undefined);
  });
  await vaultAsked;
  await waitFor(() => sock.received().includes("STATUS=starting registry"), 2_000, "the registry starting");
  await daemon.stop("SIGTERM");
  assert.equal(daemon.state, "stopped");
  await starting; // the registry's start ends after the stop: the daemon's start ends there, quietly
  assert.equal(daemon.state, "stopped", "still stopped: nothing went on to run");
  assert.deepEqual(daemon.health().components, {}, "nothing left running, the registry included");
  assert.equal(daemon.api, undefined, "what comes after the registry never started");
  await waitFor(() => sock.received().includes("STOPPING=1"), 2_000, "STOPPING=1");
  await new Promise((r) => setTimeout(r, 200));
  assert.doesNotMatch(sock.received(), /READY=1/, "a daemon told to stop never says it is ready");
});
