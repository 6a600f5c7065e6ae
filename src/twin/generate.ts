/**
 * Fast-forwards the line twin and writes what a real line's gateway would have buffered:
 * telemetry per tag, machine events (faults, repairs), and maintenance records — to a store file
 * (the same SQLite schema the daemon writes) or to CSV. For training, tests and calibration.
 */
import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { silentLogger } from "../common/logger.js";
import { mulberry32 } from "../common/random.js";
import { seriesTags, type WaveformSpec, type WaveformTag } from "../preprocess/waveform.js";
import { WaveformProcessor } from "../preprocess/waveformProcessor.js";
import { SIGNALS, type Signal } from "../process/machine.js";
import { SampleWriter } from "../store/sampleWriter.js";
import { Store } from "../store/store.js";
import { LineTwin } from "./line.js";

/** The signals a line's gateway records per machine (the bearing's wear is hidden, as on a real line). */
/** What a generated (press) history records: not the hidden wear, the alarm word or the pump view. */
const UNRECORDED: ReadonlySet<string> = new Set([
  "alarms",
  "wear",
  "flow",
  "discharge_pressure",
  "bearing_temperature",
]);
export const RECORDED_SIGNALS: readonly Signal[] = SIGNALS.filter((s) => !UNRECORDED.has(s));

const UNITS: Partial<Record<Signal, string>> = {
  speed_setpoint: "spm",
  speed: "spm",
  temperature_setpoint: "degC",
  process_temperature: "degC",
  pressure_setpoint: "bar",
  pressure: "bar",
  motor_temperature: "degC",
  motor_current: "A",
  voltage: "V",
  vibration_rms: "mm/s",
  running_hours: "h",
  piece_count: "pieces",
  good_count: "pieces",
  scrap_count: "pieces",
  energy_kwh: "kWh",
};

/** Generated tags are named m<machine>.<signal>, which is how calibration finds them again. */
export function generatedTagName(machineId: number, signal: Signal): string {
  return `m${machineId}.${signal}`;
}

export interface GenerateOptions {
  machineIds: readonly number[];
  durationS: number;
  /** Seconds between recorded samples (and simulation steps). */
  intervalS: number;
  seed: number;
  out: string;
  format: "store" | "csv";
  startTs?: number;
  /**
   * Setpoint changes over time, so the history covers the process window and calibration has
   * something to fit: each machine's operator moves speed, temperature and pressure every few hours.
   */
  varySetpoints?: boolean;
  /** Machine id -> bearing wear rate factor (an injected fault: a bad bearing batch, poor lubrication). */
  wearFactors?: ReadonlyMap<number, number>;
  /**
   * A new failure mode from a point in time on (the drift continuous learning must catch): from
   * `fromS` simulated seconds, these machines' motor windings degrade by `perHour` per running hour.
   */
  windingFault?: { fromS: number; perHour: number; machines: readonly number[] };
  onProgress?: (doneS: number) => void;
}

export interface GenerateSummary {
  samples: number;
  failures: number;
  maintenance: number;
  events: number;
  simulatedHours: number;
  tags: number;
}

export async function generateHistory(o: GenerateOptions): Promise<GenerateSummary> {
  // Never append a second history to an existing store: its clock and counters would repeat.
  if (existsSync(o.out)) throw new Error(`${o.out} exists: remove it first`);
  const startTs = o.startTs ?? Date.UTC(2026, 0, 5);
  const twin = new LineTwin({ machineIds: o.machineIds, seed: o.seed, startTs });
  for (const [id, factor] of o.wearFactors ?? []) twin.machine(id).faults.wearRateFactor = factor;
  const tags = o.machineIds.flatMap((machine) =>
    RECORDED_SIGNALS.map((signal) => ({
      name: generatedTagName(machine, signal),
      machine,
      signal,
      unit: UNITS[signal] ?? "",
    })),
  );
  let store: Store | undefined;
  if (o.format === "store") {
    store = new Store({ path: o.out, synchronous: "NORMAL" }, silentLogger());
    store.open();
  }
  const sink =
    store !== undefined ? await storeSink(store, twin, tags, [], o.intervalS) : csvSink(o.out, tags);
  const operator = o.varySetpoints === false ? undefined : operatorChanges(twin, o.seed, o.intervalS, [2, 8]);
  const summary = await record(twin, tags, sink, {
    steps: Math.floor(o.durationS / o.intervalS),
    intervalS: o.intervalS,
    beforeStep(step) {
      if (
        o.windingFault !== undefined &&
        step * o.intervalS === Math.ceil(o.windingFault.fromS / o.intervalS) * o.intervalS
      )
        for (const id of o.windingFault.machines)
          twin.machine(id).faults.insulationPerHour = o.windingFault.perHour;
      operator?.(step);
    },
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  store?.close();
  return summary;
}

/** A tag the twin's recording writes: the machine and twin signal it carries, under its name. */
export interface RecordedTag {
  name: string;
  machine: number;
  signal: Signal;
  unit: string;
}

/** A waveform tag the recording writes: a block of the machine's vibration per step. */
export interface RecordedWaveform extends WaveformTag {
  waveform: WaveformSpec;
}

/**
 * Writes the hours before now into a line's own store, as its gateway would have buffered them:
 * the twin (whose clock must start `durationS` before now) is run forward and each tag recorded
 * under the line's tag names. The demo uses it so a newcomer's first minute already has history
 * (windows, trends, hours since maintenance); the twin then goes on live from the same state.
 */
export async function backfill(
  store: Store,
  twin: LineTwin,
  tags: readonly RecordedTag[],
  o: {
    durationS: number;
    intervalS: number;
    beforeStep?: (step: number) => void;
    /** Waveform tags: a block per step, stored as its series the way the daemon stores them. */
    waveforms?: readonly RecordedWaveform[];
  },
): Promise<GenerateSummary> {
  return record(twin, tags, await storeSink(store, twin, tags, o.waveforms ?? [], o.intervalS), {
    steps: Math.floor(o.durationS / o.intervalS),
    intervalS: o.intervalS,
    ...(o.beforeStep ? { beforeStep: o.beforeStep } : {}),
  });
}

/**
 * The operators of a recorded history: each machine's speed, temperature and pressure are moved
 * every `everyH` hours (drawn in the range), mostly near nominal and sometimes outside the process
 * window, so a history covers enough of it for calibration to have something to fit. Returns the
 * step hook for the recording loop.
 */
export function operatorChanges(
  twin: LineTwin,
  seed: number,
  intervalS: number,
  everyH: readonly [number, number],
): (step: number) => void {
  const random = mulberry32(seed ^ 0x5bd1e995); // the operators' choices, apart from the machines' own randomness
  const nextChange = new Map<number, number>([...twin.machines.keys()].map((id) => [id, 0]));
  return (step) => {
    for (const [id, m] of twin.machines) {
      if (step * intervalS < nextChange.get(id)!) continue;
      m.setSetpoint("speed_setpoint", 20 + random() * 22);
      m.setSetpoint("temperature_setpoint", 166 + random() * 32);
      m.setSetpoint("pressure_setpoint", 4.8 + random() * 2.4);
      nextChange.set(id, step * intervalS + 3_600 * (everyH[0] + random() * (everyH[1] - everyH[0])));
    }
  };
}

/** The one recording loop: step the twin, pass on its events, record every tag at the twin's time. */
async function record(
  twin: LineTwin,
  tags: readonly RecordedTag[],
  sink: Sink,
  o: {
    steps: number;
    intervalS: number;
    beforeStep?: (step: number) => void;
    onProgress?: (doneS: number) => void;
  },
): Promise<GenerateSummary> {
  const summary: GenerateSummary = {
    samples: 0,
    failures: 0,
    maintenance: 0,
    events: 0,
    simulatedHours: (o.steps * o.intervalS) / 3600,
    tags: tags.length,
  };
  for (let step = 1; step <= o.steps; step++) {
    o.beforeStep?.(step);
    for (const e of twin.step(o.intervalS)) {
      summary.events++;
      if (e.kind === "failure") summary.failures++;
      if (e.kind === "maintenance_completed") summary.maintenance++;
      sink.event(e.machineId, e.ts, e.kind, e.message, e.downtimeMin);
    }
    const ts = twin.now;
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i]!;
      sink.sample(i, ts, twin.machine(tag.machine).read(tag.signal));
    }
    // After the scalars: a bearing's shaft speed tag then has this step's value.
    sink.blocks?.(ts);
    summary.samples += tags.length;
    if (step % 1_000 === 0) o.onProgress?.(step * o.intervalS);
  }
  o.onProgress?.(o.steps * o.intervalS);
  await sink.close();
  return summary;
}

interface Sink {
  sample(tagIndex: number, ts: number, value: number): void;
  blocks?(ts: number): void;
  event(machineId: number, ts: number, kind: string, message: string, downtimeMin?: number): void;
  close(): Promise<void>;
}

/** Writes into an open store (left open: its owner closes it). */
async function storeSink(
  store: Store,
  twin: LineTwin,
  tags: readonly RecordedTag[],
  waveforms: readonly RecordedWaveform[],
  intervalS: number,
): Promise<Sink> {
  const all = [...tags, ...seriesTags(waveforms)];
  const rows = store.syncTags(all);
  const batchSize = 20_000;
  const writer = new SampleWriter(
    store,
    all.map((t) => ({ id: rows.get(t.name)!.id, name: t.name, machineId: t.machine, deadband: 0 })),
    { batchSize, flushIntervalMs: 60_000 },
    silentLogger(),
  );
  const intervalMs = intervalS * 1000;
  const processor = new WaveformProcessor(
    [...tags, ...waveforms].map((t) => ({ ...t, intervalMs })),
    writer,
    store,
    silentLogger(),
  );
  const waveformIndexes = waveforms.map((w) => writer.tagIndex(w.name));
  // Bulk load: building the (tag, time) index once at the end is several times faster than
  // keeping it up to date row by row. The schema is the same afterwards.
  const rebuildIndex = store.suspendSampleIndex();
  await writer.start();
  await processor.start();
  const started = new Map<number, number>();
  let workOrders = 0;
  return {
    sample(tagIndex, ts, value) {
      // accept() commits a full batch itself; a refused sample would be a lost one, so say so.
      if (!writer.accept(tagIndex, ts, value, 0)) throw new Error(`the store ${store.path} refused samples`);
    },
    blocks(ts) {
      for (let i = 0; i < waveforms.length; i++) {
        const w = waveforms[i]!;
        const block = twin.machine(w.machine).fillWaveform();
        if (!writer.acceptBlock(waveformIndexes[i]!, ts, block))
          throw new Error(`the store ${store.path} refused samples`);
      }
    },
    event(machineId, ts, kind, message, downtimeMin) {
      store.insertMachineEvent({ machineId, ts, kind: kind === "failure" ? "fault" : kind, message });
      if (kind === "maintenance_started") started.set(machineId, ts);
      if (kind === "maintenance_completed") {
        store.insertMaintenanceRecord({
          machineId,
          workOrder: `WO-${machineId}-${++workOrders}`,
          startedAt: started.get(machineId) ?? ts,
          completedAt: ts,
          downtimeMin: downtimeMin ?? 0,
          failure: true,
          parts: [message.startsWith("motor winding") ? "motor winding" : "bearing"],
          notes: message,
          source: "twin",
        });
      }
    },
    async close() {
      await processor.stop();
      await writer.stop();
      rebuildIndex();
    },
  };
}

/** CSV by synchronous 1 MB writes: the generator is one tight loop, and this keeps memory flat. */
function csvSink(path: string, tags: readonly RecordedTag[]): Sink {
  const telemetry = openSync(path, "w");
  const events = openSync(`${path.replace(/\.csv$/i, "")}.events.csv`, "w");
  writeSync(telemetry, "ts,machine,tag,value\n");
  writeSync(events, "ts,machine,kind,downtime_min,message\n");
  let buffer = "";
  return {
    sample(tagIndex, ts, value) {
      const tag = tags[tagIndex]!;
      buffer += `${ts},${tag.machine},${tag.name},${value}\n`;
      if (buffer.length > 1 << 20) {
        writeSync(telemetry, buffer);
        buffer = "";
      }
    },
    event(machineId, ts, kind, message, downtimeMin) {
      writeSync(
        events,
        `${ts},${machineId},${kind},${downtimeMin ?? ""},"${message.replaceAll('"', '""')}"\n`,
      );
    },
    async close() {
      writeSync(telemetry, buffer);
      closeSync(telemetry);
      closeSync(events);
    },
  };
}
