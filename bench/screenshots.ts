/**
 * `npm run screenshots`: runs the demo line (on free ports, in a temporary folder), waits for its
 * HIGH alert and a suggestion, and saves a screenshot of every console page, taken by Debian's
 * chromium (headless, playwright-core), into docs/screenshots/ for the README.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT, runCli, waitFor } from "../test/helpers.js";
import { demoConfig } from "../test/peers/peers.js";

const TOKEN = "screenshots";
const out = join(ROOT, "docs/screenshots");
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "lp-screenshots-"));
const config = await demoConfig(dir, 'token: "${env:LP_SCREENSHOTS_TOKEN}"');
const port = /api:\n {2}host: [\d.]+\n {2}port: (\d+)/.exec(readFileSync(config, "utf8"))![1];
const base = `http://127.0.0.1:${port}`;
const demo = runCli(["demo", "--config", config, "--mqtt-port", "0"], { LP_SCREENSHOTS_TOKEN: TOKEN });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  await waitFor(() => /\] ALERT +#1 HIGH/.test(demo.stdout()), 300_000, "the demo's HIGH alert");
  await waitFor(() => /\] suggest +#\d+/.test(demo.stdout()), 300_000, "a suggestion");
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(`${base}/ui/`);
  await page.evaluate(
    `sessionStorage.setItem("linepilot.token", ${JSON.stringify(TOKEN)}); localStorage.setItem("linepilot.name", "anna")`,
  );
  await page.reload();
  const shots: [string, string, string][] = [
    ["line", "#/", "#machines"],
    ["machine", "#/machine/7", "#tags tr[data-tag]"],
    ["alerts", "#/alerts", ".alerts"],
    ["suggestions", "#/suggestions", "#suggestions tr[data-suggestion]"],
    ["maintenance", "#/maintenance", "#maintenance"],
    ["audit", "#/audit", "#audit tr"],
    ["models", "#/models", "[data-model]"],
  ];
  for (const [name, hash, ready] of shots) {
    await page.goto(`${base}/ui/${hash}`);
    await page.locator(ready).first().waitFor();
    await page.waitForTimeout(1_500); // charts and tables fetched after the frame
    await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
    console.log(`wrote docs/screenshots/${name}.png`);
  }
  await page.goto(`${base}/ui/#/whatif`);
  await page.click("#whatif button");
  await page.locator("#whatif-result").waitFor({ timeout: 120_000 });
  await page.screenshot({ path: join(out, "whatif.png"), fullPage: true });
  console.log("wrote docs/screenshots/whatif.png");
} finally {
  await browser.close();
  demo.proc.kill("SIGINT");
  await demo.exited;
  rmSync(dir, { recursive: true, force: true });
}
