import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { Backoff, connectWithBackoff, type ReconnectEvents } from "../../src/common/backoff.js";

test("backoff doubles from initialMs up to maxMs, with jitter inside its bounds, and resets", () => {
  const exact = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 0 });
  assert.deepEqual(
    Array.from({ length: 6 }, () => exact.next()),
    [100, 200, 400, 800, 1_000, 1_000],
  );
  exact.reset();
  assert.equal(exact.next(), 100);
  const low = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 0.1 }, () => 0);
  const high = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 0.1 }, () => 0.999999);
  assert.equal(low.next(), 90);
  assert.equal(high.next(), 110);
});

test("connectWithBackoff retries until success and reports backoff, reconnecting and reconnected", async () => {
  const events = new EventEmitter<ReconnectEvents>();
  const seen: string[] = [];
  events.on("backoff", () => seen.push("backoff"));
  events.on("reconnecting", () => seen.push("reconnecting"));
  events.on("reconnected", () => seen.push("reconnected"));
  let calls = 0;
  const ok = await connectWithBackoff(
    async () => {
      if (++calls < 3) throw new Error("refused");
    },
    new Backoff({ initialMs: 1, maxMs: 5, jitter: 0 }),
    new AbortController().signal,
    events,
  );
  assert.equal(ok, true);
  assert.equal(calls, 3);
  assert.deepEqual(seen, ["backoff", "reconnecting", "backoff", "reconnecting", "reconnected"]);
});

test("connectWithBackoff stops retrying when aborted", async () => {
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 50);
  const ok = await connectWithBackoff(
    async () => Promise.reject(new Error("down")),
    new Backoff({ initialMs: 10, maxMs: 10, jitter: 0 }),
    abort.signal,
  );
  assert.equal(ok, false);
});
