import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { ApiServer } from "../../src/api/server.js";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { runCliToEnd, tempDir, waitFor } from "../helpers.js";

const yaml = (dir: string, socket: string) => `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: socket-line }
machines: [{ id: 1, name: Press 1 }]
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
api: { port: 0, socket: ${JSON.stringify(socket)} }
`;

test("api.socket never replaces a file the line keeps: config check refuses the store's path, start refuses any non-socket, a stale socket is replaced", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "line.yaml");
  writeFileSync(file, yaml(dir, join(dir, "line.db")));
  const check = await runCliToEnd(["config", "check", file]);
  assert.equal(check.code, 2);
  assert.match(
    check.stderr + check.stdout,
    /line\.yaml:5:\d+: api\.socket: the API socket .*line\.db is store\.path: the daemon would replace it/,
  );

  // Any other file at the path: the API refuses to start and the file is untouched.
  const notes = join(dir, "notes.txt");
  writeFileSync(notes, "shift notes");
  const cfg = parseConfig(yaml(dir, notes), file);
  const api = new ApiServer(cfg.api, { health: () => ({ status: "ok" }), routes: [] }, silentLogger());
  await assert.rejects(
    api.start(),
    /api\.socket .*notes\.txt is a file, not a socket: refusing to replace it/,
  );
  assert.equal(readFileSync(notes, "utf8"), "shift notes");

  // A socket left by a killed process is replaced; one that still answers is refused.
  const stale = join(dir, "api.sock");
  const holder = spawn(process.execPath, [
    "-e",
    `require("node:net").createServer().listen(${JSON.stringify(stale)})`,
  ]);
  t.after(() => holder.kill("SIGKILL"));
  await waitFor(() => existsSync(stale), 10_000, "the other process's socket");
  const live = new ApiServer(
    parseConfig(yaml(dir, stale), file).api,
    { health: () => ({ status: "ok" }), routes: [] },
    silentLogger(),
  );
  await assert.rejects(live.start(), /is in use by another process/);
  holder.kill("SIGKILL");
  await new Promise((r) => holder.once("exit", r));
  assert.ok(lstatSync(stale).isSocket(), "kill -9 leaves the socket file behind");
  const after = new ApiServer(
    parseConfig(yaml(dir, stale), file).api,
    { health: () => ({ status: "ok" }), routes: [] },
    silentLogger(),
  );
  await after.start();
  t.after(() => after.stop());
  const body = await new Promise<string>((resolve, reject) =>
    get({ socketPath: stale, path: "/health" }, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => resolve(text));
    }).on("error", reject),
  );
  assert.deepEqual(JSON.parse(body), { status: "ok" }, "the API answers on the replaced socket");
});
