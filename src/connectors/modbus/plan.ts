/**
 * Poll planning: tags of the same unit, area and interval are coalesced into as few reads as the
 * protocol allows (125 registers or 2000 coils per request), reading across small holes rather
 * than issuing another request (docs/field-problems.md #7: an un-coalesced bus overloads).
 */
import type { TagConfig } from "../../config/schema.js";
import { registerCount } from "./codec.js";

/** Modbus application protocol limits per read request. */
const MAX_BITS_PER_READ = 2000;

export interface ReadItem {
  tag: TagConfig;
  /** Index of the tag in the SampleWriter. */
  index: number;
  /** Offset of the value in the block, in registers (or bits for coils and discrete inputs). */
  offset: number;
}

export interface ReadBlock {
  unitId: number;
  area: "holding" | "input" | "coil" | "discrete";
  start: number;
  count: number;
  intervalMs: number;
  items: ReadItem[];
  /** When the block is next due (ms since epoch); owned by the poll loop. */
  due: number;
  /** A block refused as a whole address: not polled again before this (monotonic ms). */
  retryAt?: number;
  /** How long the refused address waits now (doubles while it stays refused). */
  refusedForMs?: number;
  /** Since when (epoch ms) the address has been refused. */
  refusedSince?: number;
  /** A waveform tag's block of `modbus.count` values, decoded here (reused: no allocation per poll). */
  waveform?: Float64Array;
}

export function planReads(
  tags: readonly { tag: TagConfig; index: number }[],
  maxRegistersPerRead: number,
  maxGapRegisters: number,
): ReadBlock[] {
  const groups = new Map<string, { tag: TagConfig; index: number }[]>();
  const blocks: ReadBlock[] = [];
  for (const t of tags) {
    const m = t.tag.modbus;
    if (m === undefined) continue;
    if (t.tag.waveform !== undefined) {
      // A waveform is read on its own, in as many requests as its registers need, one after the
      // other (the PLC double-buffers the block; coalescing it with scalars gains nothing).
      const count = m.count * registerCount(m.dataType);
      blocks.push({
        unitId: m.unitId,
        area: m.area,
        start: m.address,
        count,
        intervalMs: t.tag.intervalMs,
        items: [{ tag: t.tag, index: t.index, offset: 0 }],
        due: 0,
        waveform: new Float64Array(m.count),
      });
      continue;
    }
    const key = `${m.unitId}/${m.area}/${t.tag.intervalMs}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [t]);
    else group.push(t);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => a.tag.modbus!.address - b.tag.modbus!.address);
    const first = group[0]!.tag;
    const area = first.modbus!.area;
    const isBits = area === "coil" || area === "discrete";
    const limit = isBits ? MAX_BITS_PER_READ : maxRegistersPerRead;
    let block: ReadBlock | undefined;
    for (const t of group) {
      const m = t.tag.modbus!;
      const width = isBits ? 1 : registerCount(m.dataType);
      const end = m.address + width;
      if (block !== undefined) {
        const blockEnd = block.start + block.count;
        const gap = m.address - blockEnd;
        const newCount = Math.max(blockEnd, end) - block.start;
        if (gap <= maxGapRegisters && newCount <= limit) {
          block.count = newCount;
          block.items.push({ tag: t.tag, index: t.index, offset: m.address - block.start });
          continue;
        }
      }
      block = {
        unitId: m.unitId,
        area,
        start: m.address,
        count: width,
        intervalMs: t.tag.intervalMs,
        items: [],
        due: 0,
      };
      block.items.push({ tag: t.tag, index: t.index, offset: 0 });
      blocks.push(block);
    }
  }
  return blocks;
}

/**
 * A coalesced block the device refused with IllegalDataAddress (a hole it does not have inside
 * the span): its items in two blocks, each spanning only its own items. A half refused again is
 * split again, so the holes are learned in a few requests and every existing register is read.
 */
export function splitBlock(block: ReadBlock): [ReadBlock, ReadBlock] {
  const half = Math.ceil(block.items.length / 2);
  const part = (items: ReadItem[]): ReadBlock => {
    const start = block.start + items[0]!.offset;
    const last = items.at(-1)!;
    const isBits = block.area === "coil" || block.area === "discrete";
    const end = block.start + last.offset + (isBits ? 1 : registerCount(last.tag.modbus!.dataType));
    return {
      unitId: block.unitId,
      area: block.area,
      start,
      count: end - start,
      intervalMs: block.intervalMs,
      items: items.map((i) => ({ ...i, offset: block.start + i.offset - start })),
      due: block.due,
    };
  };
  return [part(block.items.slice(0, half)), part(block.items.slice(half))];
}
