import assert from "node:assert/strict";
import { test } from "node:test";
import { MachineModel, STATE } from "../../src/process/machine.js";
import { LineTwin } from "../../src/twin/line.js";

/** Runs a machine at fixed setpoints for `hours` and reports its counters' increase. */
function runAt(
  setpoints: { speed?: number; temperature?: number; pressure?: number },
  hours: number,
  seed = 3,
) {
  const m = new MachineModel({ id: 1, seed });
  if (setpoints.speed !== undefined) m.setSetpoint("speed_setpoint", setpoints.speed);
  if (setpoints.temperature !== undefined) m.setSetpoint("temperature_setpoint", setpoints.temperature);
  if (setpoints.pressure !== undefined) m.setSetpoint("pressure_setpoint", setpoints.pressure);
  for (let t = 0; t < 600; t += 10) m.step(10); // settle
  const start = { pieces: m.pieces, scrap: m.scrap, energy: m.energyKwh, wear: m.wear };
  for (let t = 0; t < hours * 3600; t += 10) m.step(10);
  return {
    perHour: (m.pieces - start.pieces) / hours,
    scrapRate: (m.scrap - start.scrap) / (m.pieces - start.pieces),
    kwh: m.energyKwh - start.energy,
    wear: m.wear - start.wear,
  };
}

/** Magnitude of one frequency in a block (a single-bin DFT, so the test does not depend on the FFT library). */
function amplitudeAt(block: Float64Array, rateHz: number, hz: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < block.length; i++) {
    const a = (2 * Math.PI * hz * i) / rateHz;
    re += block[i]! * Math.cos(a);
    im -= block[i]! * Math.sin(a);
  }
  return (2 * Math.hypot(re, im)) / block.length;
}

test("the same seed gives the same run; another seed another", () => {
  const trace = (seed: number) => {
    const line = new LineTwin({ machineIds: [1, 2], seed, startTs: 0 });
    const out: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      line.step(30);
      out.push(line.machine(1).vibrationRms, line.machine(2).scrap, line.machine(2).motorCurrent);
    }
    return out;
  };
  assert.deepEqual(trace(5), trace(5));
  assert.notDeepEqual(trace(5), trace(6));
});

test("output rises with speed but saturates; energy grows with speed; wear grows faster than speed", () => {
  const slow = runAt({ speed: 20 }, 4);
  const nominal = runAt({ speed: 30 }, 4);
  const fast = runAt({ speed: 45 }, 4);
  const faster = runAt({ speed: 60 }, 4);
  assert.ok(
    slow.perHour < nominal.perHour && nominal.perHour < fast.perHour && fast.perHour < faster.perHour,
  );
  const gainLow = (nominal.perHour - slow.perHour) / 10;
  const gainHigh = (faster.perHour - fast.perHour) / 15;
  assert.ok(
    gainHigh < gainLow * 0.7,
    `saturation: ${gainLow.toFixed(1)} vs ${gainHigh.toFixed(1)} pieces/h per spm`,
  );
  assert.ok(slow.kwh < nominal.kwh && nominal.kwh < fast.kwh);
  // Wear ~ speed^3: 1.5x speed is about 3.4x the wear.
  const ratio = fast.wear / nominal.wear;
  assert.ok(ratio > 2.5 && ratio < 4.5, `wear ratio ${ratio}`);
});

test("scrap rises sharply outside the process window of temperature, pressure and speed", () => {
  const inside = runAt({ speed: 30, temperature: 182, pressure: 6 }, 3);
  const hot = runAt({ speed: 30, temperature: 205, pressure: 6 }, 3);
  const lowPressure = runAt({ speed: 30, temperature: 182, pressure: 4.2 }, 3);
  const tooFast = runAt({ speed: 48, temperature: 182, pressure: 6 }, 3);
  assert.ok(inside.scrapRate < 0.03, `in-window scrap ${inside.scrapRate}`);
  for (const [name, r] of Object.entries({ hot, lowPressure, tooFast }))
    assert.ok(r.scrapRate > inside.scrapRate * 3, `${name}: ${r.scrapRate} vs ${inside.scrapRate}`);
});

test("wear ends in a fault that stops the machine; maintenance puts it back; vibration and motor temperature rise with wear", () => {
  const m = new MachineModel({ id: 1, seed: 1 });
  m.faults.wearRateFactor = 20; // a bad bearing
  for (let i = 0; i < 30; i++) m.step(60);
  const fresh = { vibration: m.vibrationRms, motor: m.motorTemperature };
  let failedAt = -1;
  for (let i = 0; i < 100_000 && failedAt < 0; i++) if (m.step(60) === "failed") failedAt = i;
  assert.ok(failedAt > 0, "the machine fails");
  assert.equal(m.state, STATE.fault);
  assert.ok(m.vibrationRms > fresh.vibration * 2, `vibration ${fresh.vibration} -> ${m.vibrationRms}`);
  assert.ok(m.motorTemperature > fresh.motor + 5, `motor ${fresh.motor} -> ${m.motorTemperature}`);
  const pieces = m.pieces;
  for (let i = 0; i < 10; i++) m.step(60);
  assert.equal(m.pieces, pieces, "a faulted machine makes nothing");
  assert.ok(m.speed < 1);
  m.maintain();
  assert.equal(m.state, STATE.running);
  assert.equal(m.wear, 0);
  for (let i = 0; i < 10; i++) m.step(60);
  assert.ok(m.pieces > pieces);
});

test("the vibration block carries the bearing-defect frequency, growing with wear", () => {
  const m = new MachineModel({ id: 1, seed: 2 });
  m.step(1);
  const defect = m.defectFrequencyHz;
  assert.ok(Math.abs(defect - 3.58 * 25) < 0.5, `BPFO at 30 spm: ${defect} Hz`);
  const fresh = amplitudeAt(m.fillWaveform(), m.waveformRateHz, defect);
  m.wear = 0.8;
  m.step(1);
  const worn = amplitudeAt(m.fillWaveform(), m.waveformRateHz, defect);
  assert.ok(worn > fresh * 10, `defect amplitude ${fresh.toFixed(3)} -> ${worn.toFixed(3)}`);
  const block = m.fillWaveform();
  const rms = Math.sqrt(block.reduce((a, v) => a + v * v, 0) / block.length);
  assert.ok(Math.abs(rms - m.vibrationRms) / rms < 0.1, `block RMS ${rms} vs reported ${m.vibrationRms}`);
});

test("a line twin repairs a failed machine after the repair time and reports each step", () => {
  const line = new LineTwin({ machineIds: [3], seed: 4, startTs: 0, repairHours: 2 });
  line.machine(3).faults.wearRateFactor = 50;
  const events = [];
  for (let i = 0; i < 24 * 60; i++) events.push(...line.step(60));
  const kinds = events.map((e) => e.kind);
  assert.deepEqual(kinds.slice(0, 3), ["failure", "maintenance_started", "maintenance_completed"]);
  const repair = events[2]!;
  assert.equal(repair.downtimeMin, 120);
  assert.equal(repair.ts - events[0]!.ts, 2 * 3_600_000);
});
