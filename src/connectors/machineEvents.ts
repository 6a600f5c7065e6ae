/**
 * Derives machine_events (start, stop, alarm, fault, ...) from state and alarm tags, as the YAML
 * defines them: an enumeration maps a state value to an event; a bit mask raises an event per
 * rising bit and a `_cleared` event per falling bit. Only good-quality values count: a read error
 * is not a machine stopping.
 */
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { TagConfig } from "../config/schema.js";
import { DEFAULT_STATE } from "../line/vocabulary.js";
import type { SampleWriter } from "../store/sampleWriter.js";
import type { Store } from "../store/store.js";
import { qualityOf } from "./quality.js";

/**
 * Per machine, the values of its state tag that mean it is running: the ones the tag's YAML
 * enumeration names `running`, or null when the tag has no enumeration (then nothing says the
 * machine is down). A line's own encoding decides, not the twin's: a PLC may count running as 2.
 */
export type RunningStates = ReadonlyMap<number, ReadonlySet<number> | null>;

export function runningStates(tags: readonly TagConfig[]): RunningStates {
  const running = new Map<number, ReadonlySet<number> | null>();
  for (const tag of tags) {
    if (tag.role !== "state") continue;
    const states = tag.events?.type === "enum" ? Object.entries(tag.events.states) : undefined;
    running.set(
      tag.machine,
      states === undefined
        ? null
        : new Set(states.filter(([, name]) => name === "running").map(([v]) => Number(v))),
    );
  }
  return running;
}

/**
 * Whether a machine is down (stopped, faulted) by its state value: a model trained on running
 * windows has nothing to say then, and the optimizer nothing to tune. An unknown value (no state
 * tag, no good reading) is not "down". A machine without a configured state tag follows the
 * twin's encoding (a generated history's m<id>.state: 1 is running).
 */
export function isDown(
  running: RunningStates | undefined,
  machine: number,
  state: number | undefined,
): boolean {
  if (state === undefined || Number.isNaN(state)) return false;
  const values = running?.get(machine);
  if (values === undefined) return state !== DEFAULT_STATE.running;
  return values !== null && !values.has(Math.round(state));
}

type Rule =
  | { type: "enum"; tag: TagConfig; states: Map<number, string> }
  | { type: "bits"; tag: TagConfig; bits: [number, string][]; kind: string };

export class MachineEventDeriver implements Component {
  readonly name = "machineEvents";
  readonly #store: Store;
  readonly #writer: SampleWriter;
  readonly #tags: readonly TagConfig[];
  readonly #log: Logger;
  readonly #rules = new Map<number, Rule>();
  readonly #previous = new Map<number, number>();
  #unsubscribe: (() => void) | undefined;
  derived = 0;
  failed = 0;

  constructor(store: Store, writer: SampleWriter, tags: readonly TagConfig[], log: Logger) {
    this.#store = store;
    this.#writer = writer;
    this.#tags = tags;
    this.#log = log;
  }

  async start(): Promise<void> {
    for (const tag of this.#tags) {
      if (tag.events === undefined) continue;
      const index = this.#writer.tagIndex(tag.name);
      if (tag.events.type === "enum") {
        this.#rules.set(index, {
          type: "enum",
          tag,
          states: new Map(Object.entries(tag.events.states).map(([k, v]) => [Number(k), v])),
        });
      } else {
        const bits = Object.entries(tag.events.bits).map(([k, v]) => [Number(k), v] as [number, string]);
        this.#rules.set(index, { type: "bits", tag, bits, kind: tag.events.kind });
      }
    }
    if (this.#rules.size > 0)
      this.#unsubscribe = this.#writer.onSample((i, ts, v, s) => this.#onSample(i, ts, v, s));
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#rules.clear();
  }

  health(): ComponentHealth {
    return {
      state: this.failed === 0 ? "ok" : "degraded",
      details: { tags: this.#rules.size, derived: this.derived, failed: this.failed },
    };
  }

  #onSample(tagIndex: number, ts: number, value: number, status: number): void {
    const rule = this.#rules.get(tagIndex);
    if (rule === undefined || qualityOf(status) !== "good" || Number.isNaN(value)) return;
    const before = this.#previous.get(tagIndex);
    this.#previous.set(tagIndex, value);
    if (before === value) return;
    const machineId = rule.tag.machine;
    try {
      if (rule.type === "enum") {
        const kind = rule.states.get(Math.round(value));
        if (kind !== undefined && (before === undefined || rule.states.get(Math.round(before)) !== kind)) {
          this.#insert({
            machineId,
            ts,
            kind,
            tag: rule.tag.name,
            code: Math.round(value),
            message: `${rule.tag.name} = ${value}`,
          });
        }
      } else {
        const now = Math.round(value) >>> 0;
        const was = before === undefined ? 0 : Math.round(before) >>> 0;
        for (const [bit, text] of rule.bits) {
          const on = (now >>> bit) & 1;
          const prev = (was >>> bit) & 1;
          if (on !== prev)
            this.#insert({
              machineId,
              ts,
              kind: on ? rule.kind : `${rule.kind}_cleared`,
              tag: rule.tag.name,
              code: bit,
              message: text,
            });
        }
      }
    } catch (error) {
      this.failed++;
      this.#log.error({ err: errorMessage(error), tag: rule.tag.name }, "machine event could not be stored");
    }
  }

  #insert(event: Parameters<Store["insertMachineEvent"]>[0]): void {
    this.#store.insertMachineEvent(event);
    this.derived++;
  }
}
