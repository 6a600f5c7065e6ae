/** How `linepilot tags` shows values: what the API gives, as a technician reads it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { liveValue } from "../../src/api/tagsRoute.js";
import { formatValue } from "../../src/cli/commands/tags.js";
import { parseConfig } from "../../src/config/load.js";
import { lineYaml } from "../helpers.js";

test("counters exactly, measurements to 6 digits, a decayed float as 0, a state by its name, a status by its name", () => {
  assert.equal(formatValue(123_456_789), "123456789", "a uint32 counter is not rounded to 123457000");
  assert.equal(formatValue(4_294_967_295), "4294967295");
  assert.equal(formatValue(6.95995e-50), "0");
  assert.equal(formatValue(-3.1e-12), "0");
  assert.equal(formatValue(72.4567891), "72.4568");
  assert.equal(formatValue(0.000123456789), "0.000123457");
  const config = parseConfig(
    lineYaml({
      storePath: "x.db",
      tags: `  - { name: press7.state, machine: 7, connection: plc, modbus: { area: input, address: 0 }, events: { type: enum, states: { "1": running, "3": fault } } }`,
    }),
    "line.yaml",
  );
  const live = {
    latestValue: Float64Array.of(3),
    latestTs: Float64Array.of(Date.now()),
    latestStatus: Uint32Array.of(0),
  };
  assert.equal(liveValue(config.tags[0]!, 0, live).label, "fault");
  live.latestStatus[0] = 0x808d0000;
  live.latestValue[0] = Number.NaN;
  const bad = liveValue(config.tags[0]!, 0, live);
  assert.equal(bad.status, "BadSensorFailure");
  assert.equal(bad.label, undefined);
});
