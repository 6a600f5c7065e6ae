/**
 * The web console in a real browser (Debian's chromium, headless, driven by playwright-core) on
 * the demo line: the line page lists the machines, Press 7's HIGH alert appears without a reload,
 * an approval without the token is refused (the PLC keeps its value), and after signing in the
 * same approval from the page is written: read back from the simulated PLC over OPC UA. The CLI's
 * `audit` and `trend` read the same history.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import { AttributeIds, MessageSecurityMode, OPCUAClient, SecurityPolicy } from "node-opcua-client";
import { chromium } from "playwright-core";
import { parseConfig } from "../../src/config/load.js";
import { runCli, runCliToEnd, tempDir, waitFor } from "../helpers.js";
import { demoConfig } from "../peers/peers.js";

const TOKEN = "console-test-token-5f1c";
const CHROMIUM = "/usr/bin/chromium";

async function readPlc(dir: string, endpoint: string, nodeId: string): Promise<number> {
  const client = OPCUAClient.create({
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 2, initialDelay: 200 },
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: join(dir, "reader-pki"),
      automaticallyAcceptUnknownCertificate: true,
    }),
  });
  await client.connect(endpoint);
  try {
    const session = await client.createSession();
    const dv = await session.read({ nodeId, attributeId: AttributeIds.Value });
    await session.close();
    return Number(dv.value.value);
  } finally {
    await client.disconnect();
  }
}

test("the console shows the line live, refuses a change without the token, and writes an approval made from the page", async (t) => {
  const dir = tempDir(t);
  const config = await demoConfig(dir, 'token: "${env:LP_CONSOLE_TOKEN}"');
  const yaml = readFileSync(config, "utf8");
  const base = `http://127.0.0.1:${/api:\n {2}host: [\d.]+\n {2}port: (\d+)/.exec(yaml)![1]}`;
  const endpoint = /endpoint: (opc\.tcp:\/\/[\d.:]+)/.exec(yaml)![1]!;
  const demo = runCli(["demo", "--config", config, "--mqtt-port", "0"], { LP_CONSOLE_TOKEN: TOKEN });
  t.after(() => {
    if (demo.proc.exitCode === null) demo.proc.kill("SIGKILL");
  });
  await waitFor(
    () => /\] tags +27\/27 Good/.test(demo.stdout()),
    120_000,
    `the demo's tags: ${demo.stdout()}${demo.stderr()}`,
  );

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${base}/ui/`);
  const machines = page.locator("#machines tr[data-machine]");
  await machines.first().waitFor();
  assert.deepEqual(
    (await machines.allInnerTexts()).map((r) => r.split("\t")[0]),
    ["Press 7", "Press 8"],
    "the line page lists the machines",
  );
  // The page is never reloaded from here until signing in: what arrives, arrives live.
  await page.evaluate("window.stayed = true");
  await page.locator('#machines tr[data-machine="7"] .badge.HIGH').waitFor({ timeout: 240_000 });
  await page.locator(".alerts tr[data-alert] .badge.HIGH").first().waitFor({ timeout: 30_000 });
  assert.equal(await page.evaluate("window.stayed"), true);

  // Press 7's pending suggestion, approved without the token: refused, nothing written.
  await page.fill("#name", "anna");
  await page.click('a[href="#/suggestions"]');
  const pending = page.locator("#suggestions tr[data-suggestion]", {
    has: page.locator("button", { hasText: "Approve" }),
  });
  const press7 = pending.filter({ has: page.locator("td:nth-child(2)", { hasText: /^7$/ }) }).first();
  await press7.waitFor({ timeout: 180_000 });
  const id = Number(await press7.getAttribute("data-suggestion"));
  const nodeIds = new Map(
    parseConfig(yaml, config, { env: { LP_CONSOLE_TOKEN: TOKEN } }).tags.flatMap((tag) =>
      "nodeId" in tag && tag.nodeId ? [[tag.name, tag.nodeId]] : [],
    ),
  );
  const proposed = (
    (await (await fetch(`${base}/ai/suggestions?all=1`)).json()) as {
      suggestions: { id: number; changes: { tag: string; to: number }[] }[];
    }
  ).suggestions.find((x) => x.id === id)!.changes;
  assert.ok(proposed.length > 0 && proposed.every((c) => nodeIds.has(c.tag)), JSON.stringify(proposed));
  const plc = () => Promise.all(proposed.map((c) => readPlc(dir, endpoint, nodeIds.get(c.tag)!)));
  const before = await plc();
  await press7.locator("button", { hasText: "Approve" }).click();
  await page.locator(".error", { hasText: /Refused: this needs the API token/ }).waitFor();
  const still = (await (await fetch(`${base}/ai/suggestions?all=1`)).json()) as {
    suggestions: { id: number; state: string }[];
  };
  assert.equal(
    still.suggestions.find((s) => s.id === id)?.state,
    "pending",
    "the refused approval changed nothing",
  );
  assert.deepEqual(await plc(), before, "the PLC keeps its values");

  // Signed in, the same approval from the page is written through the envelope.
  await page.click('a[href="#/login"]');
  await page.fill("#login input[name=token]", TOKEN);
  await Promise.all([page.waitForEvent("load"), page.click("#login button")]);
  assert.equal(await page.evaluate("sessionStorage.getItem('linepilot.token')"), TOKEN);
  await page.click('a[href="#/suggestions"]');
  const again = page.locator(`#suggestions tr[data-suggestion="${id}"]`);
  await again.waitFor();
  const approve = again.locator("button", { hasText: "Approve" });
  assert.equal(await approve.count(), 1, `suggestion ${id} is still pending: ${await again.textContent()}`);
  await approve.click();
  await page
    .locator(".notice", { hasText: new RegExp(`suggestion ${id} approved by anna: written`) })
    .waitFor({ timeout: 30_000 });
  const written = (await (await fetch(`${base}/ai/suggestions?all=1`)).json()) as {
    suggestions: { id: number; state: string; decidedBy: string; changes: { tag: string; to: number }[] }[];
  };
  const s = written.suggestions.find((x) => x.id === id)!;
  assert.equal(s.state, "written");
  assert.equal(s.decidedBy, "anna");
  const onPlc = await plc();
  s.changes.forEach((c, i) => {
    assert.ok(Math.abs(onPlc[i]! - c.to) < 1e-3, `the PLC holds the approved ${c.tag} ${c.to}: ${onPlc[i]}`);
    assert.notEqual(onPlc[i], before[i]);
  });
  await page.locator(`#suggestions tr[data-suggestion="${id}"] .badge.written`).waitFor();

  // The audit page shows anna's approval; the CLI reads the same log and the same history.
  await page.click('a[href="#/audit"]');
  await page.locator("#audit tr", { hasText: "anna" }).first().waitFor();
  const audit = await runCliToEnd(["audit", "--kind", "suggestion", "--since", "1h", "--api", base]);
  assert.equal(audit.code, 0, audit.stderr);
  assert.match(audit.stdout, /suggestion +anna +7 +.*approved/);
  const trend = await runCliToEnd([
    "trend",
    "press7.vibration_rms",
    "--since",
    "2h",
    "--width",
    "60",
    "--api",
    base,
  ]);
  assert.equal(trend.code, 0, trend.stderr);
  assert.match(trend.stdout, /^press7\.vibration_rms \(mm\/s\), /);
  assert.match(trend.stdout, /[┤┼]/, "a chart");
  assert.match(
    trend.stdout,
    /min [\d.]+ mm\/s \(.*\), max [\d.]+ mm\/s \(.*\), last [\d.]+ mm\/s; \d+ points of \d+ s \(raw data\)/,
  );

  assert.deepEqual(pageErrors, [], "no script error on any page");
  demo.proc.kill("SIGINT");
  assert.equal((await demo.exited).code, 0, demo.stderr());
});
