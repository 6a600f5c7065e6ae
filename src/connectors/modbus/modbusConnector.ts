/**
 * Modbus TCP and RTU (modbus-serial). One connection is one bus: one request at a time
 * (docs/field-problems.md #5), adjacent registers coalesced into as few reads as the protocol allows
 * (docs/field-problems.md #7), and a unit that times out is skipped for a backed-off while so it only costs
 * its own timeout (docs/field-problems.md #6). Errors become bad-quality samples and counters, never a crash.
 */
import { EventEmitter } from "node:events";
import modbusSerial from "modbus-serial";
import { keepConnected, type ReconnectEvents, settleWithin, sleep } from "../../common/backoff.js";
import type { ComponentHealth } from "../../common/component.js";
import { errorMessage, LinepilotError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { ModbusConnectionConfig, TagConfig } from "../../config/schema.js";
import type { SampleWriter } from "../../store/sampleWriter.js";
import type { Store } from "../../store/store.js";
import { ConnectionEvents } from "../connectionEvents.js";
import { type Connector, ConnectorStats, type WriteResult } from "../connector.js";
import { STATUS } from "../quality.js";
import { decodeRegisters, encodeRegisters, registerCount } from "./codec.js";
import { planReads, type ReadBlock, splitBlock } from "./plan.js";

/** Modbus exception codes: the address does not exist on the device; the value or count is not allowed. */
const ILLEGAL_DATA_ADDRESS = 2;
const ILLEGAL_DATA_VALUE = 3;

// modbus-serial is CommonJS: under NodeNext its default export is the module object, whose
// `default` property is the client class.
const ModbusClient = modbusSerial.default;
type Client = InstanceType<typeof ModbusClient>;

interface UnitState {
  /** On the monotonic clock (performance.now()), like every due time here. */
  deadUntil: number;
  deadForMs: number;
  timeouts: number;
  exceptions: number;
}

export interface ModbusConnectorDeps {
  writer: SampleWriter;
  store: Store;
  log: Logger;
}

export class ModbusConnector implements Connector {
  readonly name: string;
  readonly protocol: "modbus-tcp" | "modbus-rtu";
  readonly events = new EventEmitter<ReconnectEvents>();
  readonly #cfg: ModbusConnectionConfig;
  readonly #tags: readonly TagConfig[];
  readonly #deps: ModbusConnectorDeps;
  readonly #log: Logger;
  readonly #stats = new ConnectorStats();
  readonly #units = new Map<number, UnitState>();
  #blocks: ReadBlock[] = [];
  #client: Client | undefined;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #bus: Promise<unknown> = Promise.resolve();
  #connected = false;
  readonly #gaps: ConnectionEvents;
  reads = 0;
  registersRead = 0;

  constructor(cfg: ModbusConnectionConfig, tags: readonly TagConfig[], deps: ModbusConnectorDeps) {
    this.#cfg = cfg;
    this.#tags = tags;
    this.#deps = deps;
    this.protocol = cfg.protocol;
    this.name = `modbus:${cfg.id}`;
    this.#log = deps.log.child({ component: this.name });
    this.#gaps = new ConnectionEvents(tags, deps.store, this.#log, this.#target());
  }

  get connected(): boolean {
    return this.#connected;
  }

  get blocks(): readonly ReadBlock[] {
    return this.#blocks;
  }

  async start(): Promise<void> {
    const writer = this.#deps.writer;
    this.#blocks = planReads(
      this.#tags.map((tag) => ({ tag, index: writer.tagIndex(tag.name) })),
      this.#cfg.maxRegistersPerRead,
      this.#cfg.maxGapRegisters,
    );
    for (const b of this.#blocks)
      if (!this.#units.has(b.unitId))
        this.#units.set(b.unitId, { deadUntil: 0, deadForMs: 0, timeouts: 0, exceptions: 0 });
    this.events.on("backoff", (e) => this.#log.warn(e, "cannot connect; retrying"));
    this.events.on("reconnected", (e) => this.#log.info(e, "connected again"));
    this.#abort = new AbortController();
    // Never block the daemon's start on a PLC: an unreachable host at start is retried forever.
    this.#loop = this.#run();
    this.#log.info({ reads: this.#blocks.length, tags: this.#tags.length }, "modbus poll plan");
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.#closeClient();
    this.#connected = false;
  }

  #run(): Promise<void> {
    const signal = this.#abort.signal;
    return keepConnected({
      connect: () => this.#connect(),
      backoff: this.#cfg.backoff,
      signal,
      events: this.events,
      session: async () => {
        this.#onConnected();
        await this.#pollUntilDisconnected(signal);
        if (!signal.aborted) this.#onDisconnected();
      },
    });
  }

  async #connect(): Promise<void> {
    await this.#closeClient(); // the old connection is closed before a new one is opened (docs/field-problems.md #8)
    const client = new ModbusClient();
    client.on("error", (error: unknown) =>
      this.#log.debug({ err: errorMessage(error) }, "modbus port error"),
    );
    try {
      if (this.#cfg.protocol === "modbus-tcp") {
        await client.connectTCP(this.#cfg.host, {
          port: this.#cfg.port,
          timeout: this.#cfg.timeoutMs,
        } as never);
      } else {
        await client.connectRTUBuffered(this.#cfg.path, {
          baudRate: this.#cfg.baudRate,
          parity: this.#cfg.parity,
          dataBits: this.#cfg.dataBits,
          stopBits: this.#cfg.stopBits,
        });
      }
    } catch (error) {
      this.#stats.error(`connect: ${errorMessage(error)}`);
      client.close(() => undefined);
      throw error;
    }
    client.setTimeout(this.#cfg.timeoutMs);
    this.#client = client;
  }

  async #closeClient(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    await settleWithin(
      new Promise<void>((resolve) => {
        try {
          client.close(() => resolve());
        } catch {
          resolve();
        }
      }),
      500,
    );
  }

  #onConnected(): void {
    this.#connected = true;
    this.#log.info({ target: this.#target() }, "modbus connected");
    this.#gaps.restored();
  }

  #onDisconnected(): void {
    this.#connected = false;
    this.#log.warn({ target: this.#target() }, "modbus connection lost");
    const now = Date.now();
    for (const b of this.#blocks) this.#badBlock(b, now, STATUS.BadNotConnected);
    this.#gaps.lost(this.#stats.lastError ?? "connection closed");
  }

  #target(): string {
    return this.#cfg.protocol === "modbus-tcp" ? `${this.#cfg.host}:${this.#cfg.port}` : this.#cfg.path;
  }

  async #pollUntilDisconnected(signal: AbortSignal): Promise<void> {
    const blocks = this.#blocks;
    if (blocks.length === 0) {
      await sleep(2 ** 31 - 1, signal);
      return;
    }
    // Due times run on the monotonic clock: a wall clock stepped back by NTP must not stop the
    // polling for the hour it stepped (samples keep wall-clock timestamps).
    const start = performance.now();
    for (const b of blocks) b.due = start;
    while (!signal.aborted) {
      let next = blocks[0]!;
      for (let i = 1; i < blocks.length; i++) if (blocks[i]!.due < next.due) next = blocks[i]!;
      const now = performance.now();
      if (next.due > now) {
        await sleep(next.due - now, signal);
        continue;
      }
      const unit = this.#units.get(next.unitId)!;
      if (unit.deadUntil > now) {
        next.due = unit.deadUntil; // a dead unit costs nothing until its backoff ends
        continue;
      }
      const outcome = await this.#exclusive(() => this.#read(next));
      next.due = Math.max(next.due + next.intervalMs, performance.now(), next.retryAt ?? 0);
      if (outcome === "disconnected") return;
      if (this.#cfg.interRequestDelayMs > 0) await sleep(this.#cfg.interRequestDelayMs, signal);
    }
  }

  /** Runs one request on the bus at a time, polls and writes alike. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#bus.then(fn, fn);
    this.#bus = run.catch(() => undefined);
    return run;
  }

  async #read(block: ReadBlock): Promise<"ok" | "error" | "disconnected"> {
    const client = this.#client;
    if (client === undefined || !client.isOpen) return "disconnected";
    client.setID(block.unitId);
    const unit = this.#units.get(block.unitId)!;
    if (block.waveform !== undefined) return this.#readWaveform(client, block, unit);
    try {
      let buffer: Buffer | undefined;
      let bits: boolean[] | undefined;
      switch (block.area) {
        case "holding":
          buffer = (await client.readHoldingRegisters(block.start, block.count)).buffer;
          break;
        case "input":
          buffer = (await client.readInputRegisters(block.start, block.count)).buffer;
          break;
        case "coil":
          bits = (await client.readCoils(block.start, block.count)).data;
          break;
        case "discrete":
          bits = (await client.readDiscreteInputs(block.start, block.count)).data;
          break;
      }
      this.reads++;
      this.registersRead += block.count;
      unit.deadForMs = 0;
      if (block.refusedSince !== undefined) {
        block.refusedSince = undefined;
        block.refusedForMs = undefined;
        block.retryAt = undefined;
      }
      const now = Date.now();
      const writer = this.#deps.writer;
      for (let i = 0; i < block.items.length; i++) {
        const item = block.items[i]!;
        let raw: number;
        if (bits !== undefined) raw = bits[item.offset] ? 1 : 0;
        else {
          const m = item.tag.modbus!;
          raw = decodeRegisters(buffer!, item.offset * 2, m.dataType, m.wordOrder, m.byteOrder, m.bit);
        }
        // A PLC reports a failed analog input as NaN: a bad sample, not a Good one without a value.
        if (Number.isNaN(raw)) writer.accept(item.index, now, raw, STATUS.BadSensorFailure);
        else writer.accept(item.index, now, raw * item.tag.scale + item.tag.offset, STATUS.Good);
      }
      this.#stats.samples += block.items.length;
      return "ok";
    } catch (error) {
      return this.#onReadError(block, unit, error);
    }
  }

  /** A waveform block in requests of at most maxRegistersPerRead registers, whole values each. */
  async #readWaveform(
    client: Client,
    block: ReadBlock,
    unit: UnitState,
  ): Promise<"ok" | "error" | "disconnected"> {
    const item = block.items[0]!;
    const tag = item.tag;
    const m = tag.modbus!;
    const out = block.waveform!;
    const width = registerCount(m.dataType);
    const perRead = Math.max(1, Math.floor(this.#cfg.maxRegistersPerRead / width));
    try {
      let failed = false;
      for (let v = 0; v < out.length; v += perRead) {
        const n = Math.min(perRead, out.length - v);
        const address = block.start + v * width;
        const r =
          block.area === "holding"
            ? await client.readHoldingRegisters(address, n * width)
            : await client.readInputRegisters(address, n * width);
        this.reads++;
        this.registersRead += n * width;
        for (let j = 0; j < n; j++) {
          const raw = decodeRegisters(r.buffer, j * width * 2, m.dataType, m.wordOrder, m.byteOrder, m.bit);
          if (Number.isNaN(raw)) failed = true;
          out[v + j] = raw * tag.scale + tag.offset;
        }
      }
      unit.deadForMs = 0;
      const now = Date.now();
      // A NaN anywhere is a failed sensor: the block's features would be NaN, so it is one Bad sample.
      if (failed) this.#deps.writer.accept(item.index, now, Number.NaN, STATUS.BadSensorFailure);
      else this.#deps.writer.acceptBlock(item.index, now, out);
      this.#stats.samples++;
      return "ok";
    } catch (error) {
      return this.#onReadError(block, unit, error);
    }
  }

  #onReadError(block: ReadBlock, unit: UnitState, error: unknown): "error" | "disconnected" {
    const e = error as { name?: string; errno?: string; modbusCode?: number; message?: string };
    const message = errorMessage(error);
    const now = Date.now();
    const where = `unit ${block.unitId} ${block.area} ${block.start}+${block.count}`;
    if (e.modbusCode !== undefined) {
      // An exception response: the device answered, so the bus is fine; the request is wrong or the device is busy.
      unit.exceptions++;
      this.#stats.error(`${where}: exception ${e.modbusCode} (${message})`);
      if (e.modbusCode === ILLEGAL_DATA_ADDRESS && block.items.length > 1 && block.waveform === undefined) {
        // A hole inside a coalesced read: read the two halves on their own, now.
        const i = this.#blocks.indexOf(block);
        const halves = splitBlock(block);
        if (i >= 0) this.#blocks.splice(i, 1, ...halves);
        for (const h of halves) h.due = performance.now();
        this.#log.info(
          { unit: block.unitId, area: block.area, start: block.start, count: block.count },
          "the device has no register somewhere in this read: reading it in parts",
        );
        return "error";
      }
      if (e.modbusCode === ILLEGAL_DATA_ADDRESS || e.modbusCode === ILLEGAL_DATA_VALUE) {
        // The address (or count) does not exist on this device: it will not start to exist at
        // the next poll, so it waits longer and longer (up to 10 min), and the rest is not held up.
        block.refusedForMs = Math.min((block.refusedForMs ?? Math.max(5_000, block.intervalMs)) * 2, 600_000);
        block.retryAt = performance.now() + block.refusedForMs;
        block.refusedSince ??= now;
        this.#badBlock(
          block,
          now,
          e.modbusCode === ILLEGAL_DATA_ADDRESS ? STATUS.BadNodeIdUnknown : STATUS.BadOutOfRange,
        );
        return "error";
      }
      this.#badBlock(block, now, STATUS.BadDeviceFailure);
      return "error";
    }
    if (e.name === "TransactionTimedOutError" || e.errno === "ETIMEDOUT") {
      unit.timeouts++;
      unit.deadForMs =
        unit.deadForMs === 0
          ? this.#cfg.deadUnitBackoffMs
          : Math.min(unit.deadForMs * 2, this.#cfg.backoff.maxMs * 8);
      unit.deadUntil = performance.now() + unit.deadForMs;
      this.#stats.error(
        `${where}: timeout after ${this.#cfg.timeoutMs} ms; unit skipped for ${unit.deadForMs} ms`,
      );
      this.#badBlock(block, now, STATUS.BadTimeout);
      return "error";
    }
    if (/crc/i.test(message) || e.name === "CRCError") {
      this.#stats.error(`${where}: ${message}`);
      this.#badBlock(block, now, STATUS.BadDataEncodingInvalid);
      return "error";
    }
    this.#stats.error(`${where}: ${message}`);
    if (this.#client === undefined || !this.#client.isOpen) return "disconnected";
    this.#badBlock(block, now, STATUS.BadCommunicationError);
    return "error";
  }

  #badBlock(block: ReadBlock, ts: number, status: number): void {
    const writer = this.#deps.writer;
    for (let i = 0; i < block.items.length; i++) writer.accept(block.items[i]!.index, ts, Number.NaN, status);
  }

  /** The tag's config and Modbus address, or the error naming what is missing. */
  #tagOf(tagName: string): { tag: TagConfig; m: NonNullable<TagConfig["modbus"]> } {
    const tag = this.#tags.find((t) => t.name === tagName);
    if (tag === undefined || tag.modbus === undefined)
      throw new LinepilotError("LP_ERR_CONNECTOR", `${this.name} has no tag ${tagName}`);
    return { tag, m: tag.modbus };
  }

  /** The open client addressed to the unit, for one request on the bus. */
  #clientFor(unitId: number): Client {
    const client = this.#client;
    if (client === undefined || !client.isOpen)
      throw new LinepilotError("LP_ERR_CONNECTOR", `${this.name} is not connected`);
    client.setID(unitId);
    return client;
  }

  async read(tagName: string): Promise<number> {
    const { tag, m } = this.#tagOf(tagName);
    if (tag.waveform !== undefined)
      throw new LinepilotError("LP_ERR_CONNECTOR", `tag ${tagName} is a waveform, not one value`);
    return this.#exclusive(async () => {
      const client = this.#clientFor(m.unitId);
      let raw: number;
      if (m.area === "coil") raw = (await client.readCoils(m.address, 1)).data[0] ? 1 : 0;
      else if (m.area === "discrete") raw = (await client.readDiscreteInputs(m.address, 1)).data[0] ? 1 : 0;
      else {
        const count = registerCount(m.dataType);
        const r =
          m.area === "holding"
            ? await client.readHoldingRegisters(m.address, count)
            : await client.readInputRegisters(m.address, count);
        raw = decodeRegisters(r.buffer, 0, m.dataType, m.wordOrder, m.byteOrder, m.bit);
      }
      if (!Number.isFinite(raw))
        throw new LinepilotError("LP_ERR_CONNECTOR", `tag ${tagName}: the PLC holds ${raw}, not a value`);
      return raw * tag.scale + tag.offset;
    });
  }

  async write(tagName: string, value: number): Promise<WriteResult> {
    const { tag, m } = this.#tagOf(tagName);
    if (!tag.writable)
      throw new LinepilotError("LP_ERR_CONNECTOR", `tag ${tagName} is not writable (set writable: true)`);
    const raw = (value - tag.offset) / tag.scale;
    const isInteger = m.dataType !== "float32" && m.dataType !== "float64";
    const rawToWrite = isInteger ? Math.round(raw) : raw;
    return this.#exclusive(async () => {
      const client = this.#clientFor(m.unitId);
      let readBackRaw: number;
      if (m.area === "coil") {
        await client.writeCoil(m.address, rawToWrite !== 0);
        readBackRaw = (await client.readCoils(m.address, 1)).data[0] ? 1 : 0;
      } else if (m.area === "holding") {
        if (m.dataType === "bool" && m.bit !== undefined) {
          throw new LinepilotError(
            "LP_ERR_CONNECTOR",
            `tag ${tagName}: writing a single bit of a register is not supported`,
          );
        }
        const words = encodeRegisters(rawToWrite, m.dataType, m.wordOrder, m.byteOrder);
        if (words.length === 1) await client.writeRegister(m.address, words[0]!);
        else await client.writeRegisters(m.address, words);
        const back = await client.readHoldingRegisters(m.address, registerCount(m.dataType));
        readBackRaw = decodeRegisters(back.buffer, 0, m.dataType, m.wordOrder, m.byteOrder, m.bit);
      } else {
        throw new LinepilotError("LP_ERR_CONNECTOR", `tag ${tagName}: a Modbus ${m.area} is read-only`);
      }
      const readBack = readBackRaw * tag.scale + tag.offset;
      const expected = rawToWrite * tag.scale + tag.offset;
      // float32 keeps ~7 significant digits: compare at that precision, integers exactly.
      const tolerance = m.dataType === "float32" ? Math.abs(expected) * 1e-6 + 1e-9 : 1e-9;
      const ok = Math.abs(readBack - expected) <= tolerance;
      if (!ok) {
        throw new LinepilotError(
          "LP_ERR_WRITE_VERIFY",
          `tag ${tagName}: wrote ${expected}, read back ${readBack}`,
        );
      }
      return { tag: tagName, requested: value, readBack, ok };
    });
  }

  health(): ComponentHealth {
    const units: Record<string, unknown> = {};
    const now = performance.now();
    for (const [id, u] of this.#units)
      units[id] = { dead: u.deadUntil > now, timeouts: u.timeouts, exceptions: u.exceptions };
    const refused = this.#blocks.some((b) => b.refusedSince !== undefined);
    const dead = [...this.#units.values()].some((u) => u.deadUntil > now);
    return {
      // Connected is not enough to be ok: a dead unit or a refused address leaves tags Bad.
      state:
        this.#loop === undefined
          ? "stopped"
          : !this.#connected
            ? "down"
            : refused || dead
              ? "degraded"
              : "ok",
      details: {
        protocol: this.protocol,
        target: this.#target(),
        connected: this.#connected,
        ...this.#stats.toJSON(),
        reads: this.reads,
        registersRead: this.registersRead,
        readsPerPoll: this.#blocks.length,
        units,
        refusedAddresses: this.#blocks
          .filter((b) => b.refusedSince !== undefined)
          .map((b) => ({
            unit: b.unitId,
            area: b.area,
            address: b.start,
            tags: b.items.map((i) => i.tag.name),
            since: new Date(b.refusedSince!).toISOString(),
          })),
      },
    };
  }
}
