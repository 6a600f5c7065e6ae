import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, tempDir } from "../helpers.js";

const UNIT = readFileSync(join(ROOT, "deploy/linepilot@.service"), "utf8");

/** The unit as an instance, with the binary it starts replaced by one that exists on this machine. */
function instance(dir: string): string {
  const file = join(dir, "linepilot@line1.service");
  writeFileSync(file, UNIT.replaceAll("/usr/bin/linepilot", "/usr/bin/true"));
  return file;
}

test("the per-line unit passes systemd-analyze verify, runs as Type=notify with a watchdog, and is hardened (offline security score)", (t) => {
  const dir = tempDir(t);
  const file = instance(dir);
  const verify = spawnSync("systemd-analyze", ["verify", "--man=no", file], { encoding: "utf8" });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr.trim(), "", "no warnings");
  for (const line of [
    "Type=notify",
    "WatchdogSec=30s",
    "Restart=on-failure",
    "StateDirectory=linepilot/%i",
    "ExecStart=/usr/bin/linepilot run --config /etc/linepilot/%i.yaml",
    "User=linepilot",
    "ProtectSystem=strict",
    "CapabilityBoundingSet=",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
  ])
    assert.ok(UNIT.split("\n").includes(line), line);
  // Secrets are optional credentials: a name searched in the credstore is skipped when absent (an
  // absolute path would fail the start), so a line without a broker password needs no empty file.
  const credentials = UNIT.split("\n").filter((l) => l.startsWith("LoadCredential="));
  assert.deepEqual(
    credentials.map((l) => l.slice("LoadCredential=".length).split(":")[0]),
    ["mqtt-password", "linepilot-model-key", "api-token"],
  );
  for (const l of credentials) assert.match(l, /^LoadCredential=[\w-]+:linepilot-%i\.[\w-]+$/, l);
  const security = spawnSync("systemd-analyze", ["security", "--offline=yes", file], { encoding: "utf8" });
  const score = Number(/Overall exposure level for \S+: (\d+\.\d+)/.exec(security.stdout)?.[1]);
  assert.ok(score <= 2.5, `exposure ${score} (0 is best, 10 worst):\n${security.stdout.slice(-800)}`);
});
