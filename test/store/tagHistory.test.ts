/**
 * A tag's history for charts: every bucket's min, max and mean must be those of the raw samples
 * in it, from the raw path and from the hourly rollup alike; a one-sample spike survives; a late
 * (imported) sample lands in its own hour once rolled up, and the newest samples are in the
 * answer before the rollup reaches them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { Store } from "../../src/store/store.js";
import { HourlyRollup, RAW_ROWS_LIMIT, tagHistory } from "../../src/store/tagHistory.js";
import { tempDir } from "../helpers.js";

const H = 3_600_000;
const START = Date.UTC(2026, 5, 1);

function line(t: Parameters<typeof tempDir>[0], stepMs: number, hours: number) {
  const store = new Store({ path: join(tempDir(t), "line.db"), synchronous: "NORMAL" }, silentLogger());
  store.open();
  t.after(() => store.close());
  const ids = store.syncTags([
    { name: "p1.temperature", machine: 1, unit: "degC" },
    { name: "p1.other", machine: 1, unit: "" },
  ]);
  const tag = ids.get("p1.temperature")!.id;
  const other = ids.get("p1.other")!.id;
  const samples: [number, number | null][] = [];
  const insert = store.db.prepare("INSERT INTO sensor_data (tag_id, ts, value, status) VALUES (?, ?, ?, ?)");
  store.db.transaction(() => {
    for (let ts = START; ts < START + hours * H; ts += stepMs) {
      const i = (ts - START) / stepMs;
      // A daily swing, one spike, and a Bad sample (no value) now and then.
      const value =
        i % 997 === 5
          ? null
          : ts === START + 30 * H + 7 * stepMs
            ? 95
            : 40 + 10 * Math.sin((2 * Math.PI * ts) / (24 * H));
      insert.run(tag, ts, value, value === null ? 0x80000000 : 0);
      insert.run(other, ts, 1, 0);
      samples.push([ts, value]);
    }
  })();
  return { store, tag, samples, insert };
}

/** The min, max, mean and count of the good samples in [from, to). */
function truth(samples: readonly [number, number | null][], from: number, to: number) {
  const vs = samples.filter(([ts, v]) => ts >= from && ts < to && v !== null).map(([, v]) => v!);
  if (vs.length === 0) return undefined;
  return {
    min: Math.min(...vs),
    max: Math.max(...vs),
    avg: vs.reduce((a, b) => a + b, 0) / vs.length,
    count: vs.length,
  };
}

function assertBuckets(h: ReturnType<typeof tagHistory>, samples: readonly [number, number | null][]) {
  assert.ok(h.ts.length > 0);
  for (let i = 0; i < h.ts.length; i++) {
    const want = truth(samples, h.ts[i]!, h.ts[i]! + h.bucketMs);
    assert.ok(want !== undefined, `bucket ${i} has samples`);
    assert.equal(h.count[i], want.count, `bucket ${i} count`);
    assert.equal(h.min[i], want.min, `bucket ${i} min`);
    assert.equal(h.max[i], want.max, `bucket ${i} max`);
    assert.ok(Math.abs(h.avg[i]! - want.avg) < 1e-9, `bucket ${i} mean`);
  }
}

test("short periods are grouped from the raw samples: each bucket is its samples' min, max and mean", (t) => {
  const { store, tag, samples } = line(t, 10_000, 48);
  const from = START + 29 * H + 123;
  const h = tagHistory(store, tag, from, from + 3 * H, 100);
  assert.equal(h.source, "raw");
  assert.equal(h.bucketMs, 108_000);
  assert.equal(h.ts.length, 100);
  assertBuckets(h, samples);
  assert.equal(Math.max(...(h.max as number[])), 95, "the one-sample spike survives downsampling");
});

test("long periods read the hourly rollup, agree with the raw samples, and see late and newest samples", async (t) => {
  const { store, tag, samples, insert } = line(t, 10_000, 10 * 24);
  const rollup = new HourlyRollup(store, { everyMs: 60_000, chunkRows: 50_000 }, silentLogger());
  const rolled = await rollup.runOnce();
  assert.equal(rolled, samples.length * 2, "every row of both tags, in chunks");
  const h = tagHistory(store, tag, START, START + 10 * 24 * H, 100);
  assert.equal(h.source, "hourly");
  assert.equal(h.bucketMs, 3 * H, "2.4 h a point rounds up to whole hours");
  assert.equal(h.ts.length, 80);
  assertBuckets(h, samples);
  assert.equal(Math.max(...(h.max as number[])), 95);

  // A sample imported late, for day 2, and the newest samples, not yet rolled up.
  insert.run(tag, START + 50 * H + 5, 999, 0);
  const newest = START + 10 * 24 * H;
  insert.run(tag, newest, 41, 0);
  const before = tagHistory(store, tag, START, newest + H, 100);
  assert.equal(before.max.includes(999), false, "a late row waits for the rollup's next run");
  assert.equal(
    before.ts.at(-1)! + before.bucketMs > newest && before.count.at(-1)! >= 1,
    true,
    "the newest is already there",
  );
  assert.equal(await rollup.runOnce(), 2);
  const after = tagHistory(store, tag, START, newest + H, 100);
  assertBuckets(after, [...samples, [START + 50 * H + 5, 999], [newest, 41]]);
  assert.equal(await rollup.runOnce(), 0, "nothing is folded twice");
  assert.deepEqual(rollup.health().details, { rolledRows: samples.length * 2 + 2, lastError: null });
});

test("a short bucket over more raw rows than a chart needs reads the hourly rollup instead", async (t) => {
  const { store, tag, samples } = line(t, 1_000, 72);
  assert.ok(samples.length > RAW_ROWS_LIMIT);
  await new HourlyRollup(store, { everyMs: 60_000, chunkRows: 500_000 }, silentLogger()).runOnce();
  const h = tagHistory(store, tag, START, START + 72 * H, 5_000);
  assert.equal(h.source, "hourly");
  assert.equal(h.bucketMs, H);
  assert.equal(h.ts.length, 72);
  assertBuckets(h, samples);
});
