/**
 * A wall clock stepped back an hour (NTP) stalls nothing: Modbus polling and the plant drain run
 * on the monotonic clock, and the step itself is detected and recorded as a machine event. The
 * wall clock is shifted in-process (Date.now), as NTP would shift it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { ClockWatch } from "../../src/daemon/clockWatch.js";
import { Store } from "../../src/store/store.js";
import { DemoPlc } from "../../src/twin/demoPlc.js";
import { startConnector } from "../connectors/harness.js";
import { lineYaml, tempDir, waitFor } from "../helpers.js";

const HOUR = 3_600_000;

/** Steps Date.now back by `ms` until the test ends. */
function stepWallClock(t: { after(fn: () => void): void }, ms: number): void {
  const real = Date.now;
  Date.now = () => real() + ms;
  t.after(() => {
    Date.now = real;
  });
}

test("a step of the wall clock is detected, logged and recorded as a machine event of the line", (t) => {
  const dir = tempDir(t);
  const store = new Store({ path: join(dir, "c.db"), synchronous: "NORMAL" }, silentLogger());
  store.open();
  t.after(() => store.close());
  let wall = 1_800_000_000_000;
  let mono = 1_000;
  const watch = new ClockWatch(store, silentLogger(), { wall: () => wall, monotonic: () => mono });
  void watch.start();
  t.after(() => watch.stop());
  wall += 1_000;
  mono += 1_000;
  assert.equal(watch.check(), 0, "a second of both is no step");
  wall += 1_000 - HOUR;
  mono += 1_000;
  assert.equal(watch.check(), -HOUR);
  const event = store.db.prepare("SELECT machine_id, kind, message FROM machine_events").get();
  assert.deepEqual(event, {
    machine_id: 0,
    kind: "clock_step",
    message: "the wall clock stepped by -3600.0 s",
  });
  assert.deepEqual(watch.health().details, { steps: 1, lastStepMs: -HOUR });
});

test("with the wall clock stepped back an hour, Modbus polling goes on", async (t) => {
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  t.after(() => plc.stop());
  const { connector, latest } = await startConnector(t, lineYaml({ storePath: "x.db", plcPort: plc.port }));
  await waitFor(() => connector.connected && latest("press7.speed").ts > 0, 10_000, "polling");
  stepWallClock(t, -HOUR);
  const before = plc.requests;
  await waitFor(() => plc.requests >= before + 10, 5_000, "ten more polls after the step");
  assert.ok(latest("press7.speed").ts < Date.now() + 1_000, "samples carry the (new) wall time");
});
