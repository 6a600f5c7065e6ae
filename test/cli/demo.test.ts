/**
 * The first run (issue 9): `linepilot demo` (what `npm start` runs) on the shipped demo line, with
 * its fixed ports moved to free ones. Within its first minutes a newcomer must see tags flowing, a
 * machine's risk climb, a HIGH alert with its reasons, an optimizer suggestion, the what-if answer
 * and the plant receiving the alert; an approval from a second terminal goes through the socket.
 * Waits are generous (the suite shares 2 cores); the two minutes are measured by hand, not here.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import test from "node:test";
import Database from "better-sqlite3";
import { runCli, runCliToEnd, tempDir, waitFor } from "../helpers.js";
import { demoConfig } from "../peers/peers.js";

test("the demo shows the whole loop: tags, a risk climb, a HIGH alert with reasons, a suggestion approved through the socket, the what-if, the plant", async (t) => {
  const dir = tempDir(t);
  const config = await demoConfig(dir);
  const demo = runCli(["demo", "--config", config, "--mqtt-port", "0"]);
  t.after(() => {
    if (demo.proc.exitCode === null) demo.proc.kill("SIGKILL");
  });
  const seen = (pattern: RegExp, what: string) =>
    waitFor(() => pattern.exec(demo.stdout()) ?? undefined, 240_000, what).catch((error: Error) => {
      throw new Error(`${error.message}; the demo printed:\n${demo.stdout()}\n${demo.stderr()}`);
    });

  await seen(/history +the last 24 h recorded from the twin \(\d+ samples\)/, "the history");
  await seen(/\] tags +27\/27 Good · Press 7: [\d.]+ spm, [\d.]+ mm\/s/, "tags flowing");
  await seen(/\] plant +the plant sees the line (online|running)/, "the line online at the plant");
  await seen(
    /\] what-if +"speed \+15%" on Press 7, Press 8, 8 h ahead: output \d+ pieces[^\n]*\n[^\n]*=> \S/,
    "the what-if",
  );
  const first = await seen(
    /\] risk +Press 7 +P\(failure within 48 h\) ([\d.]+) (LOW|MEDIUM)/,
    "press 7's first risk",
  );
  const alert = await seen(
    /\] ALERT +#1 HIGH Press 7: P\(failure\) ([\d.]+)\n(?:.*because .*\n){1,3}.*=> .*bearing/,
    "the HIGH alert",
  );
  assert.ok(Number(alert[1]) >= 0.6 && Number(alert[1]) > Number(first[1]), "the risk climbed to HIGH");
  assert.match(demo.stdout(), /\] risk +Press 7 ▲ P\(failure within 48 h\) [\d.]+ HIGH/);
  await seen(/\] plant +the plant received alert #1 opened \(HIGH\)/, "the alert at the plant");
  await seen(/\] plant +work order request received by the plant/, "the work order at the plant");
  await seen(
    /\] suggest +#1 Press 7: [^\n]*expect[^\n]*\n[^\n]*approve: npx linepilot approve 1/,
    "a suggestion",
  );

  // A technician in a second terminal: the CLI finds the daemon's socket from the config.
  const approve = await runCliToEnd(["approve", "1", "--by", "anna"], { LINEPILOT_CONFIG: config });
  assert.equal(approve.code, 0, approve.stderr);
  assert.match(approve.stdout, /suggestion 1 approved by anna: written/);
  await seen(/\] suggest +#1 written by anna/, "the written suggestion in the view");
  const status = await runCliToEnd(["status"], { LINEPILOT_CONFIG: config });
  assert.match(status.stdout, /running \(ok\)/);
  assert.match(
    status.stdout,
    /sync +ok +connected mqtt:\/\/127\.0\.0\.1:\d+ \(MQTT 3\.1\.1\), outbox \d+, published \d+, errors 0/,
  );

  demo.proc.kill("SIGINT");
  assert.equal((await demo.exited).code, 0, demo.stderr());
  const log = readFileSync(join(dir, "state/daemon.log"), "utf8");
  assert.match(log, /"msg":"linepilot stopped"/, "the daemon's JSON log went to its file, not the console");
  assert.doesNotMatch(demo.stdout(), /"level":/);
  const db = new Database(join(dir, "state/linepilot.db"), { readonly: true });
  t.after(() => db.close());
  const audit = db
    .prepare("SELECT actor, decision FROM ai_decisions_audit WHERE kind = 'suggestion' ORDER BY id")
    .all() as { actor: string; decision: string }[];
  assert.ok(
    audit.some((a) => a.actor === "anna" && a.decision === "approved"),
    JSON.stringify(audit),
  );
  const historyStart = Date.now() - 24 * 3_600_000;
  const oldest = db.prepare("SELECT min(ts) AS ts FROM sensor_data").get() as { ts: number };
  assert.ok(oldest.ts < historyStart + 10 * 60_000, "the day of history is in the store");
});

test("the demo refuses to empty a store it did not make", async (t) => {
  const dir = tempDir(t);
  const config = await demoConfig(dir);
  const store = join(dir, "state/linepilot.db");
  mkdirSync(join(dir, "state"));
  writeFileSync(store, "");
  const refused = await runCliToEnd(["demo", "--config", config, "--mqtt-port", "0"]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /LP_ERR_USAGE.*holds a store the demo did not make/);
  assert.equal(readFileSync(store, "utf8"), "", "nothing touched");
  assert.ok(!existsSync(join(dir, "state/.linepilot-demo")));
});

test("a demo whose daemon cannot start (its API port taken) says why, stops its simulated PLC and exits 1", async (t) => {
  const dir = tempDir(t);
  const config = await demoConfig(dir);
  const yaml = readFileSync(config, "utf8");
  const apiPort = Number(/api:\n {2}host: [\d.]+\n {2}port: (\d+)/.exec(yaml)![1]);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(apiPort, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const demo = await runCliToEnd(["demo", "--config", config, "--mqtt-port", "0"]);
  assert.equal(demo.code, 1, demo.stdout + demo.stderr);
  assert.match(demo.stderr, /EADDRINUSE/);
  const modbusPort = Number(/modbus-tcp:\/\/127\.0\.0\.1:(\d+)/.exec(demo.stdout)![1]);
  const again = createServer();
  await new Promise<void>((resolve, reject) => {
    again.once("error", reject);
    again.listen(modbusPort, "127.0.0.1", resolve);
  });
  await new Promise<void>((resolve) => again.close(() => resolve()));
});
