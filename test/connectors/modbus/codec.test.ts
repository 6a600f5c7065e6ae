import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MODBUS_DATA_TYPES, type ModbusDataType } from "../../../src/config/schema.js";
import { decodeRegisters, encodeRegisters, registerCount } from "../../../src/connectors/modbus/codec.js";

function wire(words: number[]): Buffer {
  const buf = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => {
    buf.writeUInt16BE(w, i * 2);
  });
  return buf;
}

test("known register images decode as devices send them", () => {
  // 1.0f = 0x3F800000: big word order sends 0x3F80 then 0x0000; word-swapped devices send 0x0000, 0x3F80.
  assert.equal(decodeRegisters(wire([0x3f80, 0x0000]), 0, "float32", "big", "big"), 1);
  assert.equal(decodeRegisters(wire([0x0000, 0x3f80]), 0, "float32", "little", "big"), 1);
  assert.equal(decodeRegisters(wire([0x803f, 0x0000]), 0, "float32", "big", "little"), 1);
  assert.equal(decodeRegisters(wire([0xffff]), 0, "int16", "big", "big"), -1);
  assert.equal(decodeRegisters(wire([0xffff]), 0, "uint16", "big", "big"), 65535);
  assert.equal(decodeRegisters(wire([0x0001, 0x0000]), 0, "uint32", "big", "big"), 65536);
  assert.equal(decodeRegisters(wire([0x0000, 0x0001]), 0, "uint32", "little", "big"), 65536);
  assert.equal(decodeRegisters(wire([0x4009, 0x21fb, 0x5444, 0x2d18]), 0, "float64", "big", "big"), Math.PI);
  assert.equal(decodeRegisters(wire([0b0000_0000_0000_0100]), 0, "bool", "big", "big", 2), 1);
  assert.equal(decodeRegisters(wire([0b0000_0000_0000_0100]), 0, "bool", "big", "big", 1), 0);
});

test("a wrong word order in the config gives a different value (the error a technician must be able to see)", () => {
  const words = encodeRegisters(1234.5, "float32", "big", "big");
  assert.equal(decodeRegisters(wire(words), 0, "float32", "big", "big"), 1234.5);
  assert.notEqual(decodeRegisters(wire(words), 0, "float32", "little", "big"), 1234.5);
});

const valueFor: Record<ModbusDataType, fc.Arbitrary<number>> = {
  bool: fc.constantFrom(0, 1),
  int16: fc.integer({ min: -32768, max: 32767 }),
  uint16: fc.integer({ min: 0, max: 65535 }),
  int32: fc.integer({ min: -2147483648, max: 2147483647 }),
  uint32: fc.integer({ min: 0, max: 4294967295 }),
  float32: fc.float({ noNaN: true, noDefaultInfinity: true }).map((v) => Math.fround(v)),
  float64: fc.double({ noNaN: true, noDefaultInfinity: true }),
};

test("property: encode then decode gives the value back, for every type, word order and byte order", () => {
  for (const type of MODBUS_DATA_TYPES) {
    fc.assert(
      fc.property(
        valueFor[type],
        fc.constantFrom("big", "little"),
        fc.constantFrom("big", "little"),
        fc.nat(3),
        (value, wo, bo, pad) => {
          const words = encodeRegisters(value, type, wo as "big" | "little", bo as "big" | "little");
          assert.equal(words.length, registerCount(type));
          for (const w of words) assert.ok(Number.isInteger(w) && w >= 0 && w <= 0xffff);
          // The value may sit anywhere in a coalesced response buffer.
          const buf = wire([...new Array(pad).fill(0xabcd), ...words]);
          const back = decodeRegisters(buf, pad * 2, type, wo as "big" | "little", bo as "big" | "little");
          assert.ok(Object.is(back, value) || back === value, `${type} ${value} -> ${back}`);
        },
      ),
      { numRuns: 300 },
    );
  }
});

test("values that do not fit the type are refused, not wrapped", () => {
  assert.throws(() => encodeRegisters(70000, "uint16", "big", "big"), RangeError);
  assert.throws(() => encodeRegisters(-1, "uint32", "big", "big"), RangeError);
  assert.throws(() => encodeRegisters(1.5, "int16", "big", "big"), RangeError);
});
