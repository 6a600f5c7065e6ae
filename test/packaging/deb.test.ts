import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, tempDir } from "../helpers.js";

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test("npm run package builds a .deb that lintian passes without errors and that installs into a throwaway root, where linepilot runs", async (t) => {
  const dir = tempDir(t);
  const built = run("bash", [join(ROOT, "packaging/build-deb.sh"), join(dir, "out")], {
    DEB_COMPRESSION: "gzip",
  });
  assert.equal(built.code, 0, built.out);
  const deb = join(dir, "out", readdirSync(join(dir, "out")).find((f) => f.endsWith(".deb"))!);
  assert.match(
    execFileSync("dpkg-deb", ["-f", deb, "Package", "Version"], { encoding: "utf8" }),
    /Package: linepilot\nVersion: 0\.1\.0/,
  );
  const contents = execFileSync("dpkg-deb", ["-c", deb], { encoding: "utf8", maxBuffer: 64 << 20 });
  for (const path of [
    "./usr/bin/linepilot",
    "./lib/systemd/system/linepilot@.service",
    "./etc/linepilot/example.yaml",
    "./usr/lib/linepilot/models/predictive_maintenance.onnx",
    "./usr/lib/linepilot/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
  ])
    assert.ok(contents.includes(path), path);
  assert.ok(!contents.includes("node_modules/typescript/"), "no dev dependencies");
  assert.ok(!contents.includes("/win32/") && !contents.includes("/darwin/"), "only this platform's binaries");

  const lint = run("lintian", ["--no-tag-display-limit", deb]);
  const errors = lint.out.split("\n").filter((l) => l.startsWith("E: "));
  assert.deepEqual(errors, [], lint.out);

  // A throwaway root: dpkg's database only; the maintainer scripts run with DPKG_ROOT set.
  const root = join(dir, "root");
  mkdirSync(join(root, "var/lib/dpkg/info"), { recursive: true });
  mkdirSync(join(root, "var/lib/dpkg/updates"), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  writeFileSync(join(root, "var/lib/dpkg/available"), "");
  const dpkg = (...args: string[]) =>
    run("dpkg", [
      `--root=${root}`,
      "--force-script-chrootless",
      "--force-depends",
      "--force-not-root",
      "--log=/dev/null",
      ...args,
    ]);
  const installed = dpkg("-i", deb);
  assert.equal(installed.code, 0, installed.out);
  assert.match(dpkg("-s", "linepilot").out, /Status: install ok installed/);
  assert.equal(
    statSync(join(root, "var/lib/linepilot")).mode & 0o777,
    0o750,
    "postinst made the state folder",
  );
  assert.equal(statSync(join(root, "etc/credstore")).mode & 0o777, 0o700, "the credstore, root only");

  const linepilot = join(root, "usr/bin/linepilot");
  const version = run(linepilot, ["--version"]);
  assert.equal(version.code, 0, version.out);
  assert.equal(version.out.trim(), "0.1.0");
  const check = run(linepilot, ["config", "check", join(root, "etc/linepilot/example.yaml")]);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /valid \(line acme\/lyon\/assembly\/line1/);

  const removed = dpkg("-r", "linepilot");
  assert.equal(removed.code, 0, removed.out);
  assert.ok(!existsSync(linepilot));
  assert.ok(
    existsSync(join(root, "etc/linepilot/example.yaml")),
    "the config (a conffile) stays until purge",
  );
});
