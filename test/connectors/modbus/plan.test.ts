import assert from "node:assert/strict";
import { test } from "node:test";
import type { TagConfig } from "../../../src/config/schema.js";
import { planReads } from "../../../src/connectors/modbus/plan.js";

function tag(
  name: string,
  unitId: number,
  area: "holding" | "input" | "coil",
  address: number,
  dataType: TagConfig["modbus"] extends infer M ? (M extends { dataType: infer D } ? D : never) : never,
  intervalMs = 1000,
): TagConfig {
  return {
    name,
    machine: 1,
    unit: "",
    connection: "c",
    modbus: { unitId, area, address, dataType, wordOrder: "big", byteOrder: "big", count: 1 },
    intervalMs,
    queueSize: 10,
    deadband: 0,
    scale: 1,
    offset: 0,
    writable: false,
  };
}

/** Plans reads for tags given in writer order (the tag index is the position in the list). */
function plan(tags: TagConfig[], maxRegisters: number, maxGap: number) {
  return planReads(
    tags.map((t, index) => ({ tag: t, index })),
    maxRegisters,
    maxGap,
  );
}

test("adjacent registers of one unit, area and interval are read in one request", () => {
  const tags = [
    tag("a", 1, "holding", 10, "float32"),
    tag("b", 1, "holding", 12, "uint16"),
    tag("c", 1, "holding", 13, "float64"),
  ];
  const blocks = plan(tags, 125, 0);
  assert.equal(blocks.length, 1);
  assert.deepEqual({ start: blocks[0]!.start, count: blocks[0]!.count }, { start: 10, count: 7 });
  assert.deepEqual(
    blocks[0]!.items.map((i) => [i.tag.name, i.offset]),
    [
      ["a", 0],
      ["b", 2],
      ["c", 3],
    ],
  );
});

test("no read exceeds 125 registers; holes up to maxGap are read across, larger ones split", () => {
  const tags = Array.from({ length: 300 }, (_, i) => tag(`t${i}`, 1, "input", i, "uint16"));
  const blocks = plan(tags, 125, 0);
  assert.deepEqual(
    blocks.map((b) => b.count),
    [125, 125, 50],
  );
  const gappy = [
    tag("a", 1, "input", 0, "uint16"),
    tag("b", 1, "input", 5, "uint16"),
    tag("c", 1, "input", 50, "uint16"),
  ];
  const split = plan(gappy, 125, 8);
  assert.deepEqual(
    split.map((b) => [b.start, b.count]),
    [
      [0, 6],
      [50, 1],
    ],
  );
});

test("different units, areas and intervals are never mixed in one request", () => {
  const tags = [
    tag("a", 1, "input", 0, "uint16"),
    tag("b", 2, "input", 1, "uint16"),
    tag("c", 1, "holding", 1, "uint16"),
    tag("d", 1, "input", 1, "uint16", 500),
    tag("e", 1, "coil", 0, "bool"),
  ];
  const blocks = plan(tags, 125, 8);
  assert.equal(blocks.length, 5);
});
