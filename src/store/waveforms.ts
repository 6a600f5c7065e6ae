/** Raw waveform blocks kept beside their features (`waveform.keepEveryMs`). */
import type { Db, Store } from "./store.js";

export interface WaveformBlock {
  tag: string;
  ts: number;
  rateHz: number;
  samples: Float32Array;
}

export function insertWaveformBlock(
  store: Store,
  tagId: number,
  ts: number,
  rateHz: number,
  samples: Float32Array,
): void {
  store.db
    .prepare("INSERT INTO waveform_blocks (tag_id, ts, rate_hz, samples) VALUES (?, ?, ?, ?)")
    .run(tagId, Math.round(ts), rateHz, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
}

/** The newest block of a tag at or before `atTs`, or undefined when none was kept. */
export function waveformBlockAt(
  db: Db,
  tag: string,
  atTs = Number.MAX_SAFE_INTEGER,
): WaveformBlock | undefined {
  const row = db
    .prepare(
      `SELECT b.ts, b.rate_hz AS rateHz, b.samples FROM waveform_blocks b JOIN tags t ON t.id = b.tag_id
       WHERE t.name = ? AND b.ts <= ? ORDER BY b.ts DESC LIMIT 1`,
    )
    .get(tag, atTs) as { ts: number; rateHz: number; samples: Buffer } | undefined;
  if (row === undefined) return undefined;
  // Copied out: the Buffer's memory may not be aligned for a Float32Array view.
  const samples = new Float32Array(row.samples.byteLength / 4);
  new Uint8Array(samples.buffer).set(row.samples);
  return { tag, ts: row.ts, rateHz: row.rateHz, samples };
}

/** How many blocks each tag has kept (for status). */
export function waveformBlockCount(db: Db): number {
  return (db.prepare("SELECT count(*) AS n FROM waveform_blocks").get() as { n: number }).n;
}
