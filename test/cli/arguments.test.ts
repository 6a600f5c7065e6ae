/** Bad arguments end with exit 2 and say what was wrong, whichever part of the CLI checks them. */
import assert from "node:assert/strict";
import test from "node:test";
import { runCliToEnd } from "../helpers.js";

test("an id or duration that is not one exits 2 and says why, naming the value", async () => {
  const cases: [string[], RegExp][] = [
    [["approve", "abc"], /expected a whole number, found "abc"/],
    [["approve", "1.5"], /expected a whole number, found "1\.5"/],
    [["reject", "abc"], /expected a whole number, found "abc"/],
    [["alerts", "ack", "abc"], /expected a whole number, found "abc"/],
    [["models", "promote", "abc"], /expected a whole number, found "abc"/],
    [
      ["generate", "--duration", "soon", "--out", "/tmp/never.db"],
      /expected a duration such as 90s, 15m, 8h, 30d, found "soon"/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await runCliToEnd(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, `linepilot ${args.join(" ")} printed: ${JSON.stringify(r.stderr)}`);
    assert.match(r.stderr, /^error/m, args.join(" "));
  }
});

test("`npx linepilot` in a checkout prints only linepilot's output (no npm warnings about the project's config)", async () => {
  const { execFile } = await import("node:child_process");
  const { ROOT } = await import("../helpers.js");
  const out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
    execFile(
      "npx",
      ["--no", "--", "linepilot", "--version"],
      { cwd: ROOT, env: { ...process.env, npm_config_update_notifier: "false" } },
      (error, stdout, stderr) => (error ? reject(error) : resolve({ stdout, stderr })),
    ),
  );
  assert.equal(out.stderr, "", "nothing on stderr");
  assert.match(out.stdout, /^\d+\.\d+\.\d+\n$/);
});
