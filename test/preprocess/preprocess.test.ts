import assert from "node:assert/strict";
import { test } from "node:test";
import { vibrationFeatures } from "../../src/preprocess/vibration.js";
import { hampel, summarise, toGrid } from "../../src/preprocess/window.js";

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test("a pure sine: FFT peak at its frequency, RMS A/sqrt(2), crest factor sqrt(2), kurtosis 1.5, band energy = mean square", () => {
  const rate = 2_560;
  const n = 1_024;
  const hz = 100; // exactly on bin 40 (2.5 Hz bins)
  const amplitude = 3;
  const block = Float64Array.from(
    { length: n },
    (_, i) => 5 + amplitude * Math.sin((2 * Math.PI * hz * i) / rate),
  );
  const f = vibrationFeatures(block, rate, [
    [0, 50],
    [50, 150],
    [150, 1_280],
  ]);
  close(f.dominantHz, 100, 1e-9, "dominant frequency");
  close(f.rms, amplitude / Math.SQRT2, 1e-9, "RMS (the DC offset removed)");
  close(f.crestFactor, Math.SQRT2, 1e-3, "crest factor");
  close(f.kurtosis, 1.5, 1e-6, "kurtosis");
  close(f.bandEnergy[1]!, amplitude ** 2 / 2, 1e-9, "all the energy in the 50-150 Hz band");
  close(f.bandEnergy[0]! + f.bandEnergy[2]!, 0, 1e-9, "nothing elsewhere");
  assert.throws(() => vibrationFeatures(new Float64Array(1_000), rate, []), /power-of-two/);
});

test("Bad stretches are filled linearly or by the last value up to the maximum gap, beyond it the window is incomplete; unchanged values are held", () => {
  const bad = Number.NaN;
  const series = { ts: [0, 60_000, 120_000, 180_000, 240_000, 300_000], values: [10, 20, bad, bad, 50, 60] };
  const grid = (fill: "linear" | "locf", maxGapMs: number) =>
    toGrid(series, { startTs: 0, endTs: 300_000, stepMs: 60_000, maxGapMs, fill });
  assert.deepEqual([...grid("linear", 180_000).values], [10, 20, 30, 40, 50, 60]);
  assert.equal(grid("linear", 180_000).filled, 2);
  assert.equal(grid("linear", 180_000).complete, true);
  assert.deepEqual([...grid("locf", 180_000).values], [10, 20, 20, 20, 50, 60]);
  const tooLong = grid("linear", 120_000);
  assert.equal(
    tooLong.complete,
    false,
    "a 3-minute stretch of Bad samples with a 2-minute limit is not invented",
  );
  assert.ok(Number.isNaN(tooLong.values[2]!) && Number.isNaN(tooLong.values[3]!));
  // No sample at all after a good one: the value did not change (OPC UA reports changes only).
  const held = toGrid(
    { ts: [-3_600_000, 120_000], values: [7, 8] },
    { startTs: 0, endTs: 180_000, stepMs: 60_000, maxGapMs: 180_000, holdMs: 6 * 3_600_000, fill: "linear" },
  );
  assert.deepEqual([...held.values], [7, 7, 8, 8]);
  assert.equal(held.complete, true);
  const stale = toGrid(
    { ts: [-7 * 3_600_000], values: [7] },
    { startTs: 0, endTs: 60_000, stepMs: 60_000, maxGapMs: 180_000, holdMs: 6 * 3_600_000, fill: "linear" },
  );
  assert.equal(stale.complete, false, "held no longer than holdMs");
});

test("a known derivative, and a spike replaced by the Hampel filter and counted", () => {
  // 2 units per minute = 120 per hour.
  const ramp = Float64Array.from({ length: 10 }, (_, i) => 7 + 2 * i);
  const s = summarise(ramp, 60_000);
  close(s.slopePerHour, 120, 1e-9, "slope");
  close(s.mean, 16, 1e-12, "mean");
  assert.equal(s.last, 25);
  const noisy = Float64Array.from({ length: 30 }, (_, i) => 50 + Math.sin(i) * 0.5);
  noisy[12] = 500; // a loose connector
  const replaced = hampel(noisy);
  assert.equal(replaced, 1);
  assert.ok(Math.abs(noisy[12]! - 50) < 1, `replaced by the local median: ${noisy[12]}`);
});
