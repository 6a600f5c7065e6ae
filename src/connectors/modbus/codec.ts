/**
 * Modbus data types and word/byte orders, kept apart from the connector that uses them (as
 * zigbee-herdsman keeps driver/ apart from adapter/). Registers arrive as big-endian bytes on the
 * wire (Modbus spec); devices differ in how they order the 16-bit words of 32/64-bit values
 * ("word swap") and, rarer, the bytes inside a word ("byte swap").
 *
 * decode() reads from the response buffer through one preallocated scratch buffer: no allocation
 * per register on the polling hot path.
 */
import { MODBUS_REGISTERS, type ModbusDataType } from "../../config/schema.js";

export type Order = "big" | "little";

export function registerCount(type: ModbusDataType): number {
  return MODBUS_REGISTERS[type];
}

const scratch = Buffer.alloc(8);

/** Copies `words` registers starting at `byteOffset` into scratch in canonical big-endian order. */
function canonicalize(
  buf: Buffer,
  byteOffset: number,
  words: number,
  wordOrder: Order,
  byteOrder: Order,
): void {
  for (let w = 0; w < words; w++) {
    const src = byteOffset + 2 * (wordOrder === "big" ? w : words - 1 - w);
    const hi = buf[src]!;
    const lo = buf[src + 1]!;
    scratch[2 * w] = byteOrder === "big" ? hi : lo;
    scratch[2 * w + 1] = byteOrder === "big" ? lo : hi;
  }
}

/** Decodes one value from a register response buffer (2 bytes per register, as on the wire). */
export function decodeRegisters(
  buf: Buffer,
  byteOffset: number,
  type: ModbusDataType,
  wordOrder: Order,
  byteOrder: Order,
  bit?: number,
): number {
  canonicalize(buf, byteOffset, registerCount(type), wordOrder, byteOrder);
  switch (type) {
    case "bool":
      return bit === undefined
        ? scratch.readUInt16BE(0) !== 0
          ? 1
          : 0
        : (scratch.readUInt16BE(0) >> bit) & 1;
    case "int16":
      return scratch.readInt16BE(0);
    case "uint16":
      return scratch.readUInt16BE(0);
    case "int32":
      return scratch.readInt32BE(0);
    case "uint32":
      return scratch.readUInt32BE(0);
    case "float32":
      return scratch.readFloatBE(0);
    case "float64":
      return scratch.readDoubleBE(0);
  }
}

/** Encodes a value into register words (numbers 0..65535) in the device's word and byte order. */
export function encodeRegisters(
  value: number,
  type: ModbusDataType,
  wordOrder: Order,
  byteOrder: Order,
): number[] {
  const out = Buffer.alloc(8);
  switch (type) {
    case "bool":
      out.writeUInt16BE(value !== 0 ? 1 : 0, 0);
      break;
    case "int16":
      checkInteger(value, -32768, 32767, type);
      out.writeInt16BE(value, 0);
      break;
    case "uint16":
      checkInteger(value, 0, 65535, type);
      out.writeUInt16BE(value, 0);
      break;
    case "int32":
      checkInteger(value, -2147483648, 2147483647, type);
      out.writeInt32BE(value, 0);
      break;
    case "uint32":
      checkInteger(value, 0, 4294967295, type);
      out.writeUInt32BE(value, 0);
      break;
    case "float32":
      out.writeFloatBE(value, 0);
      break;
    case "float64":
      out.writeDoubleBE(value, 0);
      break;
  }
  const words = registerCount(type);
  const result: number[] = new Array(words);
  for (let w = 0; w < words; w++) {
    const hi = out[2 * w]!;
    const lo = out[2 * w + 1]!;
    const word = byteOrder === "big" ? (hi << 8) | lo : (lo << 8) | hi;
    result[wordOrder === "big" ? w : words - 1 - w] = word;
  }
  return result;
}

function checkInteger(value: number, min: number, max: number, type: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${value} does not fit a ${type} (${min}..${max}, integer)`);
  }
}
