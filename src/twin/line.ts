/**
 * The twin of a whole line: one MachineModel per configured machine, one simulated clock, and the
 * events a real line produces (failures, completed repairs). The simulated PLC, the data
 * generator and what-if scenarios all run this.
 */
import { MachineModel, type ProcessParams } from "../process/machine.js";

export interface LineEvent {
  machineId: number;
  ts: number;
  kind: "failure" | "maintenance_started" | "maintenance_completed";
  message: string;
  downtimeMin?: number;
}

export interface LineTwinOptions {
  machineIds: readonly number[];
  seed: number;
  /** Simulated epoch ms at time 0. */
  startTs?: number;
  /** Hours a failed machine stays down before the repair completes (0: until maintain()). */
  repairHours?: number;
  params?: Partial<ProcessParams> | ((machineId: number) => Partial<ProcessParams>);
  /** The vibration block a machine's waveform sensor delivers (default 1,024 samples at 2,560 Hz). */
  waveform?: (machineId: number) => { samples: number; rateHz: number } | undefined;
}

export class LineTwin {
  readonly machines = new Map<number, MachineModel>();
  readonly startTs: number;
  readonly #repairHours: number;
  readonly #downSince = new Map<number, number>();
  readonly #repairing = new Map<number, string>();
  #timeS = 0;

  constructor(options: LineTwinOptions) {
    this.startTs = options.startTs ?? Date.now();
    this.#repairHours = options.repairHours ?? 4;
    for (const id of options.machineIds) {
      const params = typeof options.params === "function" ? options.params(id) : options.params;
      const w = options.waveform?.(id);
      this.machines.set(
        id,
        new MachineModel({
          id,
          seed: options.seed,
          ...(params ? { params } : {}),
          ...(w ? { waveformSamples: w.samples, waveformRateHz: w.rateHz } : {}),
        }),
      );
    }
  }

  get now(): number {
    return this.startTs + Math.round(this.#timeS * 1000);
  }

  machine(id: number): MachineModel {
    const m = this.machines.get(id);
    if (m === undefined) throw new Error(`the twin has no machine ${id}`);
    return m;
  }

  /** Advances every machine by dtS simulated seconds; returns what happened. */
  step(dtS: number): LineEvent[] {
    this.#timeS += dtS;
    const ts = this.now;
    const events: LineEvent[] = [];
    for (const m of this.machines.values()) {
      if (m.step(dtS) === "failed") {
        this.#downSince.set(m.id, ts);
        const part = m.failureCause === "winding" ? "motor winding" : "bearing";
        this.#repairing.set(m.id, part);
        events.push({
          machineId: m.id,
          ts,
          kind: "failure",
          message: `${part} failure: machine stopped with a fault`,
        });
        events.push({
          machineId: m.id,
          ts,
          kind: "maintenance_started",
          message: `corrective maintenance: ${part} replacement`,
        });
      }
      const since = this.#downSince.get(m.id);
      if (since !== undefined && this.#repairHours > 0 && ts - since >= this.#repairHours * 3_600_000) {
        m.maintain();
        this.#downSince.delete(m.id);
        events.push({
          machineId: m.id,
          ts,
          kind: "maintenance_completed",
          message: `${this.#repairing.get(m.id) ?? "bearing"} replaced; machine back in service`,
          downtimeMin: (ts - since) / 60_000,
        });
      }
    }
    return events;
  }
}
