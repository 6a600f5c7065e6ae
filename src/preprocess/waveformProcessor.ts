/**
 * Turns each Good block of a waveform tag into the samples of its series (waveform.ts: peak,
 * crest, kurtosis, bands, the envelope at the bearing's defect frequencies), as the block
 * arrives, and keeps a raw block now and then. A Bad reading of the waveform tag makes each of
 * its series Bad with the same status, so a window over them has the same gap.
 */
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { SampleWriter } from "../store/sampleWriter.js";
import type { Store } from "../store/store.js";
import { insertWaveformBlock } from "../store/waveforms.js";
import { analyseBlock, type WaveformSpec, type WaveformTag, waveformSeries } from "./waveform.js";

/** OPC UA BadNoData: the defect lines of a block whose shaft speed is not known. */
const BAD_NO_DATA = 0x809b0000;

interface Entry {
  tag: string;
  spec: WaveformSpec;
  series: Int32Array;
  out: Float64Array;
  tagId: number;
  shaftIndex: number;
  shaftMaxAgeMs: number;
  lastKeptTs: number;
}

export class WaveformProcessor implements Component {
  readonly name = "waveforms";
  readonly #tags: readonly (WaveformTag & { intervalMs: number })[];
  readonly #writer: SampleWriter;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #entries = new Map<number, Entry>();
  #running = false;
  blocks = 0;
  kept = 0;
  shaftUnknown = 0;
  errors = 0;
  lastError: string | undefined;

  constructor(
    tags: readonly (WaveformTag & { intervalMs: number })[],
    writer: SampleWriter,
    store: Store,
    log: Logger,
  ) {
    this.#tags = tags;
    this.#writer = writer;
    this.#store = store;
    this.#log = log.child({ component: "waveforms" });
  }

  get tagCount(): number {
    return this.#entries.size;
  }

  async start(): Promise<void> {
    const w = this.#writer;
    for (const tag of this.#tags) {
      if (tag.waveform === undefined) continue;
      const series = waveformSeries(tag);
      const index = w.tagIndex(tag.name);
      const speedTag = tag.waveform.bearing?.shaftSpeedTag;
      const speed = speedTag === undefined ? undefined : this.#tags.find((t) => t.name === speedTag);
      this.#entries.set(index, {
        tag: tag.name,
        spec: tag.waveform,
        series: Int32Array.from(series, (s) => w.tagIndex(s.name)),
        out: new Float64Array(series.length),
        tagId: w.tags[index]!.id,
        shaftIndex: speedTag === undefined ? -1 : w.tagIndex(speedTag),
        // A shaft speed older than a few of its own polls no longer says where the lines are.
        shaftMaxAgeMs: Math.max(10_000, 3 * (speed?.intervalMs ?? 1_000)),
        lastKeptTs: 0,
      });
    }
    if (this.#entries.size === 0) return;
    w.onBlock((index, ts, block) => this.#onBlock(index, ts, block));
    w.onReading((index, ts, _value, status) => {
      if (status === 0) return;
      const e = this.#entries.get(index);
      if (e !== undefined)
        for (let k = 0; k < e.series.length; k++) w.accept(e.series[k]!, ts, Number.NaN, status);
    });
    this.#running = true;
    this.#log.info({ tags: this.#entries.size }, "waveform tags");
  }

  #onBlock(index: number, ts: number, block: Float64Array): void {
    const e = this.#entries.get(index);
    if (e === undefined || !this.#running) return;
    const w = this.#writer;
    let shaftHz = e.spec.bearing?.shaftHz ?? Number.NaN;
    if (e.shaftIndex >= 0) {
      const i = e.shaftIndex;
      const fresh = w.latestStatus[i] === 0 && ts - w.latestTs[i]! <= e.shaftMaxAgeMs;
      shaftHz = fresh ? w.latestValue[i]! * e.spec.bearing!.shaftHzPerUnit : Number.NaN;
    }
    if (e.spec.bearing !== undefined && !(shaftHz > 0)) this.shaftUnknown++;
    try {
      analyseBlock(block, e.spec, shaftHz, e.out);
    } catch (error) {
      this.#failed(e.tag, error);
      return;
    }
    this.blocks++;
    for (let k = 0; k < e.series.length; k++) {
      const v = e.out[k]!;
      w.accept(e.series[k]!, ts, v, Number.isNaN(v) ? BAD_NO_DATA : 0);
    }
    if (e.spec.keepEveryMs > 0 && ts - e.lastKeptTs >= e.spec.keepEveryMs) {
      try {
        insertWaveformBlock(this.#store, e.tagId, ts, e.spec.sampleRateHz, Float32Array.from(block));
        e.lastKeptTs = ts;
        this.kept++;
      } catch (error) {
        this.#failed(e.tag, error);
      }
    }
  }

  #failed(tag: string, error: unknown): void {
    this.errors++;
    this.lastError = `${tag}: ${errorMessage(error)}`;
    if (this.errors === 1 || this.errors % 1_000 === 0)
      this.#log.error(
        { tag, err: this.lastError, count: this.errors },
        "a waveform block could not be processed",
      );
  }

  async stop(): Promise<void> {
    this.#running = false;
  }

  health(): ComponentHealth {
    return {
      state: !this.#running && this.#entries.size > 0 ? "stopped" : this.errors > 0 ? "degraded" : "ok",
      details: {
        tags: this.#entries.size,
        blocks: this.blocks,
        kept: this.kept,
        shaftSpeedUnknown: this.shaftUnknown,
        errors: this.errors,
        lastError: this.lastError ?? null,
      },
    };
  }
}
