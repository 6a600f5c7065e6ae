/**
 * The demo's story: a line that has been running for a day when the newcomer arrives. The twin
 * records the last `historyH` hours into the line's store (as its gateway would have buffered
 * them, with each bearing's last replacement as a maintenance record), then the simulated PLC
 * serves the same twin live. One machine's bearing is already worn and, from the start of the
 * live run, loses its lubrication (a wear-rate fault), so its failure risk climbs within minutes of
 * accelerated time; the line runs hot and fast, outside its process window, so the optimizer has
 * something to propose. Everything else is the product as it runs on a real line.
 */
import type { Logger } from "../common/logger.js";
import type { LineConfig } from "../config/schema.js";
import { isSignal, type Signal } from "../process/machine.js";
import type { Store } from "../store/store.js";
import { backfill, type GenerateSummary, operatorChanges, type RecordedTag } from "./generate.js";
import { SimPlc } from "./simPlc.js";

export interface DemoStory {
  /** Hours of history recorded before now. */
  historyH: number;
  /** The machine whose bearing fails (default: the line's first machine). */
  failingMachine: number;
  /** Its bearing's wear (0..1) when the history starts, and its running hours since replacement. */
  failingWear: number;
  failingHours: number;
  /** The live wear-rate factor of its bearing (lost lubrication). */
  wearRateFactor: number;
  /** Every other machine's wear and running hours since its bearing was replaced. */
  otherWear: number;
  otherHours: number;
  /**
   * How fast every other machine's bearing wears against the twin's default (which is set for
   * histories that hold failures, a bearing lasting days): a healthy, lubricated one wears slowly,
   * so a baseline learned at the start of the day still fits it at the end.
   */
  otherWearRateFactor: number;
  /** Setpoints at the end of the history: hot, fast and at high pressure (outside the window). */
  setpoints: { speed: number; temperature: number; pressure: number };
}

export function demoStory(config: LineConfig): DemoStory {
  return {
    historyH: 24,
    failingMachine: config.machines[0]!.id,
    failingWear: 0.5,
    failingHours: 150,
    wearRateFactor: 120,
    otherWear: 0.05,
    otherHours: 20,
    otherWearRateFactor: 0.1,
    setpoints: { speed: 37, temperature: 197, pressure: 7.1 },
  };
}

export interface DemoLine {
  plc: SimPlc;
  story: DemoStory;
  history: GenerateSummary;
}

/**
 * Records the story's history into `store` (open, fresh) and returns the simulated PLC, not yet
 * started, whose twin goes on from where the history ends.
 */
export async function prepareDemoLine(
  config: LineConfig,
  store: Store,
  o: { seed: number; acceleration: number; log?: Logger; story?: DemoStory },
): Promise<DemoLine> {
  const story = o.story ?? demoStory(config);
  const now = Date.now();
  const historyStart = now - story.historyH * 3_600_000;
  const plc = new SimPlc({
    config,
    seed: o.seed,
    acceleration: o.acceleration,
    startTs: historyStart,
    ...(o.log ? { log: o.log } : {}),
  });
  const twin = plc.twin;
  for (const [id, machine] of twin.machines) {
    const failing = id === story.failingMachine;
    machine.wear = failing ? story.failingWear : story.otherWear;
    if (!failing) machine.faults.wearRateFactor = story.otherWearRateFactor;
    machine.runningHours = failing ? story.failingHours : story.otherHours;
    const replacedAt = historyStart - machine.runningHours * 3_600_000;
    store.insertMaintenanceRecord({
      machineId: id,
      workOrder: `WO-DEMO-${id}`,
      startedAt: replacedAt - 2 * 3_600_000,
      completedAt: replacedAt,
      downtimeMin: 120,
      failure: false,
      parts: ["bearing"],
      notes: "preventive bearing replacement (demo history)",
      source: "twin",
    });
  }
  const tags: RecordedTag[] = config.tags
    .filter((t) => isSignal(t.role))
    .map((t) => ({ name: t.name, machine: t.machine, signal: t.role as Signal, unit: t.unit ?? "" }));
  const intervalS = 60;
  const steps = (story.historyH * 3_600) / intervalS;
  // Operators moved the setpoints every hour or two (which is what calibrates the twin); in the
  // last hour the line was pushed hot and fast.
  const operator = operatorChanges(twin, o.seed, intervalS, [1, 2]);
  const waveforms = config.tags.flatMap((t) =>
    t.waveform === undefined ? [] : [{ ...t, waveform: t.waveform }],
  );
  const history = await backfill(store, twin, tags, {
    durationS: story.historyH * 3_600,
    intervalS,
    waveforms,
    beforeStep(step) {
      if (step < steps - 60) return operator(step);
      if (step > steps - 60) return;
      for (const machine of twin.machines.values()) {
        machine.setSetpoint("speed_setpoint", story.setpoints.speed);
        machine.setSetpoint("temperature_setpoint", story.setpoints.temperature);
        machine.setSetpoint("pressure_setpoint", story.setpoints.pressure);
      }
    },
  });
  plc.inject({ kind: "wear-rate", machine: story.failingMachine, factor: story.wearRateFactor });
  return { plc, story, history };
}
