/**
 * A second line, not a press: config/examples/pump-station.yaml on the simulated PLC (two pumps
 * over Modbus TCP, no piece counters, no failure ever recorded). Each pump learns its normal from
 * its own first twelve hours of history; pump 1, whose bearing has lost its lubrication, leaves
 * it and is alerted with reasons in its tags' units; the press forest and the optimizer's process
 * model say why they do not apply.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { parseConfig } from "../../src/config/load.js";
import { featureKey, parseFeature } from "../../src/preprocess/features.js";
import { seriesTags } from "../../src/preprocess/waveform.js";
import { ROOT, runCli, runCliToEnd, tempDir, waitFor } from "../helpers.js";
import { freePort } from "../peers/peers.js";

test("a pump station learns each pump's normal without labels and alerts on the failing pump, in its own units", async (t) => {
  const dir = tempDir(t);
  const [modbus, api] = [await freePort(), await freePort()];
  const yaml = readFileSync(join(ROOT, "config/examples/pump-station.yaml"), "utf8")
    .replace("port: 15021", `port: ${modbus}`)
    .replace("port: 8002", `port: ${api}`)
    .replace("../../models/", `${join(ROOT, "models")}/`)
    .replaceAll("../../var/pump-station/", "./state/");
  const config = join(dir, "pumps.yaml");
  writeFileSync(config, yaml);
  const demo = runCli(["demo", "--config", config, "--mqtt-port", "0"]);
  t.after(() => {
    if (demo.proc.exitCode === null) demo.proc.kill("SIGKILL");
  });
  const seen = (pattern: RegExp, what: string) =>
    waitFor(() => pattern.exec(demo.stdout()) ?? undefined, 180_000, what).catch((error: Error) => {
      throw new Error(`${error.message}; the demo printed:\n${demo.stdout()}\n${demo.stderr()}`);
    });
  await seen(
    /\] tags +18\/18 Good · Pump 1: [\d.]+ %, [\d.]+ m3\/h, [\d.]+ mm\/s, [\d.]+ degC/,
    "tags flowing",
  );
  const alert = await seen(
    /\] ALERT +#1 HIGH Pump 1:\n(?:.*because (pump1\.\S+) (mean|max|std) [\d.]+ (mm\/s|degC|m3\/h|bar|A|%), normal [\d.]+ \3: [\d.]+ robust SDs above.*\n){1,3}.*=> Inspect/,
    "pump 1's anomaly alert with reasons in units",
  );
  assert.ok(alert[1]!.startsWith("pump1."));
  // A reason names the series it is about: a waveform's .bpfo, .kurtosis, ... by its own name.
  const series = seriesTags(parseConfig(yaml, config).tags);
  const scored = (await (await fetch(`http://127.0.0.1:${api}/ai/anomalies?machine=1`)).json()) as {
    anomalies: { reasons: { feature: string; tag: string | null }[] }[];
  };
  const reasons = scored.anomalies.flatMap((a) => a.reasons);
  assert.ok(reasons.length > 0);
  for (const r of reasons) {
    const tag = series.find((tg) => tg.name === r.tag);
    assert.ok(
      tag !== undefined && featureKey(tag) === parseFeature(r.feature).key,
      `${r.feature} is about ${r.tag}`,
    );
  }
  const status = await runCliToEnd(["status", "--config", config]);
  assert.match(status.stdout, /baseline +ok .*machine 1 watching [\d.]+\/[\d.]+/);
  assert.match(
    status.stdout,
    /not scored: machine 1 lacks \d+ of the model's 13 features \(motor_temperature_mean/,
    "the press forest says why",
  );
  // Pump 2 learns after pump 1 (one baseline at a time), then is scored and normal.
  const predict = await waitFor(
    async () => {
      const r = await runCliToEnd(["predict", "--machine", "2", "--config", config]);
      return /baseline at /.test(r.stdout) && r.stdout;
    },
    60_000,
    "pump 2's first baseline score",
  );
  assert.match(predict, /not scored by the failure model: lacks/);
  assert.match(predict, /baseline at .*: LOW, anomaly score [\d.]+ \(alerts at [\d.]+\)/);
  await waitFor(
    async () =>
      (await runCliToEnd(["status", "--config", config])).stdout.match(
        /machine 1 not modelled: no piece_count or good_count/,
      ),
    60_000,
    "the optimizer's reason in status",
  );
  assert.doesNotMatch(demo.stdout(), /ALERT +#\d+ HIGH Pump 2/, "the healthy pump is not alerted");
  assert.doesNotMatch(demo.stdout(), /what-if/, "no what-if for a line the twin cannot answer for");
  demo.proc.kill("SIGINT");
  assert.equal((await demo.exited).code, 0);
});
