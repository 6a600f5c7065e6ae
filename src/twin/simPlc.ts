/**
 * The simulated PLC: serves the line twin on the protocols a line's config names, from that same
 * config, so the daemon pointed at it reads every simulated tag exactly as it would read the real
 * line. OPC UA connections become node-opcua servers (one variable per tag nodeId "ns=1;s=..."),
 * Modbus TCP connections modbus-serial TCP servers, Modbus RTU connections modbus-serial serial
 * servers on the configured device (a pty in tests). Each tag's `role` says which twin signal it
 * carries; writable setpoint tags drive the twin. Faults can be injected, and time accelerated.
 */
import { dirname, join } from "node:path";
import modbusSerial from "modbus-serial";
import { errorMessage, LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig, TagConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { decodeRegisters, encodeRegisters, registerCount } from "../connectors/modbus/codec.js";
import { isSignal, SETPOINTS, type Setpoint, type Signal } from "../process/machine.js";
import { type LineEvent, LineTwin } from "./line.js";
import type { OpcuaPlcServer, ServedDataType, ServedVariable } from "./opcuaServer.js";

export type FaultSpec =
  | { kind: "wear-rate"; machine: number; factor: number }
  | { kind: "dropout" | "stuck" | "spike"; tag: string };

/** "wear-rate:7=5" (machine 7's bearing wears 5x faster), "dropout:TAG", "stuck:TAG", "spike:TAG" */
export function parseFault(text: string): FaultSpec {
  const wear = /^wear-rate:(\d+)=(\d+(?:\.\d+)?)$/.exec(text);
  if (wear !== null) return { kind: "wear-rate", machine: Number(wear[1]), factor: Number(wear[2]) };
  const sensor = /^(dropout|stuck|spike):(\S+)$/.exec(text);
  if (sensor !== null) return { kind: sensor[1] as "dropout" | "stuck" | "spike", tag: sensor[2]! };
  throw new LinepilotError(
    "LP_ERR_USAGE",
    `cannot read the fault '${text}': use wear-rate:MACHINE=FACTOR, dropout:TAG, stuck:TAG or spike:TAG`,
  );
}

export interface SimPlcOptions {
  config: LineConfig;
  seed?: number;
  /** Simulated seconds per real second. */
  acceleration?: number;
  tickMs?: number;
  faults?: readonly FaultSpec[];
  repairHours?: number;
  /** The twin's clock at its start (default now); earlier when a history is recorded first. */
  startTs?: number;
  /** Where the OPC UA servers keep their certificates (default: <store folder>/sim-plc-pki). */
  pkiDir?: string;
  log?: Logger;
}

const DATA_TYPES: Partial<Record<Signal, ServedDataType>> = {
  piece_count: "UInt32",
  good_count: "UInt32",
  scrap_count: "UInt32",
  state: "UInt16",
  alarms: "UInt16",
};

interface ModbusUnit {
  holding: Uint16Array;
  input: Uint16Array;
  coil: Uint8Array;
  discrete: Uint8Array;
}

type ModbusServer =
  | InstanceType<typeof modbusSerial.ServerTCP>
  | InstanceType<typeof modbusSerial.ServerSerial>;

/** Modbus exception 4, Server Device Failure: what a PLC answers for a failed integer input. */
const DEVICE_FAILURE = { modbusErrorCode: 4, msg: "sensor failure (simulated dropout)" };

export class SimPlc {
  readonly twin: LineTwin;
  readonly #options: SimPlcOptions;
  readonly #tags: readonly TagConfig[];
  readonly #faults = new Map<string, "dropout" | "stuck" | "spike">();
  readonly #stuck = new Map<string, number>();
  readonly #opcua: OpcuaPlcServer[] = [];
  readonly #modbus: { server: ModbusServer; units: Map<number, ModbusUnit>; tags: TagConfig[] }[] = [];
  readonly events: LineEvent[] = [];
  readonly #blocks = new Map<string, { tick: number; raw: Float64Array }>();
  #timer: NodeJS.Timeout | undefined;
  #ticks = 0;

  constructor(options: SimPlcOptions) {
    this.#options = options;
    this.#tags = options.config.tags.filter((t) => t.role !== undefined);
    const waveformOf = (id: number) =>
      options.config.tags.find((t) => t.machine === id && t.waveform)?.waveform;
    this.twin = new LineTwin({
      machineIds: options.config.machines.map((m) => m.id),
      seed: options.seed ?? 1,
      waveform: (id) => {
        const w = waveformOf(id);
        return w === undefined ? undefined : { samples: w.length, rateHz: w.sampleRateHz };
      },
      repairHours: options.repairHours ?? 4,
      ...(options.startTs !== undefined ? { startTs: options.startTs } : {}),
    });
    for (const f of options.faults ?? []) this.inject(f);
  }

  inject(fault: FaultSpec): void {
    if (fault.kind === "wear-rate") {
      this.twin.machine(fault.machine).faults.wearRateFactor = fault.factor;
      return;
    }
    if (!this.#options.config.tags.some((t) => t.name === fault.tag))
      throw new LinepilotError("LP_ERR_USAGE", `no tag ${fault.tag} in the configuration`);
    this.#faults.set(fault.tag, fault.kind);
    this.#stuck.delete(fault.tag);
  }

  clear(tag: string): void {
    this.#faults.delete(tag);
    this.#stuck.delete(tag);
  }

  /** The engineering value a tag shows now (NaN for a dropped-out sensor). */
  value(tag: TagConfig): number {
    const fault = this.#faults.get(tag.name);
    if (fault === "dropout") return Number.NaN;
    // A role the twin does not simulate reads as a dropped-out sensor.
    const v = isSignal(tag.role) ? this.twin.machine(tag.machine).read(tag.role) : Number.NaN;
    if (fault === "stuck") {
      if (!this.#stuck.has(tag.name)) this.#stuck.set(tag.name, v);
      return this.#stuck.get(tag.name)!;
    }
    // A spike: one tick in fifty reads four times the true value (a loose connector, EMI).
    if (fault === "spike" && this.#ticks % 50 === 0) return v * 4;
    return v;
  }

  /**
   * A waveform tag's current block in raw PLC units, drawn afresh at most once per tick (so the
   * requests of one Modbus poll read one block, as from a PLC's double buffer); NaN values for a
   * dropped-out sensor.
   */
  block(tag: TagConfig): Float64Array {
    let entry = this.#blocks.get(tag.name);
    if (entry === undefined) {
      entry = { tick: -1, raw: new Float64Array(tag.waveform!.length) };
      this.#blocks.set(tag.name, entry);
    }
    if (entry.tick !== this.#ticks) {
      entry.tick = this.#ticks;
      const machine = this.twin.machine(tag.machine);
      const w = machine.fillWaveform();
      const dropped = this.#faults.get(tag.name) === "dropout";
      for (let i = 0; i < entry.raw.length; i++)
        entry.raw[i] = dropped ? Number.NaN : ((w[i % w.length] ?? 0) - tag.offset) / tag.scale;
    }
    return entry.raw;
  }

  async start(): Promise<void> {
    const cfg = this.#options.config;
    for (const connection of cfg.connections) {
      const tags = this.#tags.filter((t) => t.connection === connection.id);
      if (connection.protocol === "opcua") await this.#serveOpcua(connection, tags);
      else await this.#serveModbus(connection, tags);
    }
    const tickMs = this.#options.tickMs ?? 100;
    const dtS = (tickMs / 1000) * (this.#options.acceleration ?? 1);
    this.#timer = setInterval(() => this.tick(dtS), tickMs);
    this.tick(0);
  }

  tick(dtS: number): void {
    this.#ticks++;
    for (const e of this.twin.step(dtS)) {
      this.events.push(e);
      this.#options.log?.info({ machine: e.machineId, kind: e.kind }, e.message);
    }
    for (const m of this.#modbus) this.#render(m.units, m.tags);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#opcua.map((s) => s.stop()));
    await Promise.all(
      this.#modbus.map(
        (m) =>
          new Promise<void>((resolve) => {
            const tcp = m.server as { socks?: Map<{ destroy(): void }, unknown> };
            for (const sock of tcp.socks?.keys() ?? []) sock.destroy();
            m.server.close(() => resolve());
          }),
      ),
    );
  }

  /** Where each protocol listens, for the console and the tests. */
  get endpoints(): string[] {
    return [
      ...this.#opcua.map((s) => s.endpointUrl),
      ...this.#modbus.map((m) => {
        const tcp = (m.server as { _server?: { address(): { address: string; port: number } } })._server;
        return tcp ? `modbus-tcp://${tcp.address().address}:${tcp.address().port}` : "modbus-rtu";
      }),
    ];
  }

  async #serveOpcua(
    connection: Extract<LineConfig["connections"][number], { protocol: "opcua" }>,
    tags: TagConfig[],
  ) {
    const { OpcuaPlcServer } = await import("./opcuaServer.js");
    const url = new URL(connection.endpoint.replace(/^opc\.tcp:/, "http:"));
    const users =
      connection.auth.type === "username"
        ? { [connection.auth.username]: resolveSecret(connection.auth.password) }
        : undefined;
    const variables = tags.flatMap((tag): ServedVariable[] => {
      const id = /^ns=1;s=(.+)$/.exec(tag.nodeId ?? "")?.[1];
      if (id === undefined) {
        this.#options.log?.warn(
          { tag: tag.name, nodeId: tag.nodeId },
          "the simulator serves ns=1;s=... node ids only",
        );
        return [];
      }
      const setpoint =
        SETPOINTS.includes(tag.role as Setpoint) && tag.writable ? (tag.role as Setpoint) : undefined;
      if (tag.waveform !== undefined)
        return [
          {
            id,
            dataType: "Float" as const,
            read: () => 0,
            readBlock: () => {
              const b = this.block(tag);
              return Number.isNaN(b[0]!) ? undefined : Float32Array.from(b);
            },
          },
        ];
      return [
        {
          id,
          dataType: (isSignal(tag.role) ? DATA_TYPES[tag.role] : undefined) ?? ("Double" as const),
          // NaN (a dropped-out sensor) is served as BadSensorFailure, not a stale value.
          read: () => (this.value(tag) - tag.offset) / tag.scale,
          ...(setpoint === undefined
            ? {}
            : {
                write: (raw: number) =>
                  this.twin.machine(tag.machine).setSetpoint(setpoint, raw * tag.scale + tag.offset),
              }),
        },
      ];
    });
    const pkiRoot = this.#options.pkiDir ?? join(dirname(this.#options.config.store.path), "sim-plc-pki");
    const server = new OpcuaPlcServer({
      host: url.hostname,
      port: Number(url.port || 4840),
      pkiDir: join(pkiRoot, connection.id),
      securityModes: ["None", "Sign", "SignAndEncrypt"],
      ...(users === undefined ? {} : { users, allowAnonymous: false }),
      variables,
    });
    try {
      await server.start();
    } catch (error) {
      throw new LinepilotError(
        "LP_ERR_CONNECTOR",
        `simulated PLC cannot serve ${connection.id} at ${connection.endpoint}: ${errorMessage(error)} (is another simulator or PLC using the port?)`,
      );
    }
    this.#opcua.push(server);
  }

  async #serveModbus(
    connection: Extract<LineConfig["connections"][number], { protocol: "modbus-tcp" | "modbus-rtu" }>,
    tags: TagConfig[],
  ) {
    const units = new Map<number, ModbusUnit>();
    const unit = (id: number) => {
      let u = units.get(id);
      if (u === undefined) {
        u = {
          holding: new Uint16Array(65_536),
          input: new Uint16Array(65_536),
          coil: new Uint8Array(65_536),
          discrete: new Uint8Array(65_536),
        };
        units.set(id, u);
      }
      return u;
    };
    const modbusTags = tags.filter((t) => t.modbus !== undefined);
    for (const t of modbusTags) unit(t.modbus!.unitId);
    const dropped = (id: number, area: string, address: number) =>
      modbusTags.some((t) => {
        const m = t.modbus!;
        if (m.unitId !== id || m.area !== area || this.#faults.get(t.name) !== "dropout") return false;
        if (m.dataType === "float32" || m.dataType === "float64") return false; // served as NaN, see #render
        return address >= m.address && address < m.address + registerCount(m.dataType);
      });
    type Cb = (err: unknown, value?: number | boolean) => void;
    const read = (area: keyof ModbusUnit) => (address: number, unitId: number, cb: Cb) => {
      const u = units.get(unitId);
      if (u === undefined) return; // no such unit on the bus: no answer, a timeout at the client
      if (dropped(unitId, area, address)) return cb(DEVICE_FAILURE);
      const v = u[area][address]!;
      cb(null, area === "coil" || area === "discrete" ? v !== 0 : v);
    };
    const vector = {
      getInputRegister: read("input"),
      getHoldingRegister: read("holding"),
      getCoil: read("coil"),
      getDiscreteInput: read("discrete"),
      setRegister: (address: number, value: number, unitId: number, cb: Cb) => {
        const u = units.get(unitId);
        if (u === undefined) return;
        u.holding[address] = value;
        this.#applyWrites(u, unitId, modbusTags, "holding", address);
        cb(null);
      },
      setCoil: (address: number, value: boolean, unitId: number, cb: Cb) => {
        const u = units.get(unitId);
        if (u === undefined) return;
        u.coil[address] = value ? 1 : 0;
        this.#applyWrites(u, unitId, modbusTags, "coil", address);
        cb(null);
      },
    };
    this.#render(units, modbusTags);
    let server: ModbusServer;
    if (connection.protocol === "modbus-tcp") {
      server = new modbusSerial.ServerTCP(vector as never, {
        host: connection.host,
        port: (connection.port === 0 ? "0" : connection.port) as number,
        unitID: 255,
      });
    } else {
      server = new modbusSerial.ServerSerial(
        vector as never,
        {
          path: connection.path,
          baudRate: connection.baudRate,
          parity: connection.parity,
          unitID: 255,
        } as never,
      );
    }
    await new Promise<void>((resolve, reject) => {
      server.on("initialized", () => resolve());
      server.on("error", (e: unknown) =>
        reject(
          new LinepilotError(
            "LP_ERR_CONNECTOR",
            `simulated PLC cannot serve ${connection.id}: ${errorMessage(e)}`,
          ),
        ),
      );
    });
    this.#modbus.push({ server, units, tags: modbusTags });
  }

  /** Writes every Modbus tag's current value into its unit's register image. */
  #render(units: Map<number, ModbusUnit>, tags: readonly TagConfig[]): void {
    for (const t of tags) {
      const m = t.modbus!;
      const u = units.get(m.unitId)!;
      if (t.waveform !== undefined) {
        const raw = this.block(t);
        const width = registerCount(m.dataType);
        const isFloat = m.dataType === "float32" || m.dataType === "float64";
        for (let i = 0; i < raw.length; i++) {
          const words = encodeRegisters(
            isFloat ? raw[i]! : Math.round(raw[i]!),
            m.dataType,
            m.wordOrder,
            m.byteOrder,
          );
          for (let k = 0; k < width; k++)
            u[m.area as "holding" | "input"][m.address + i * width + k] = words[k]!;
        }
        continue;
      }
      const v = this.value(t);
      // A failed analog input reads NaN, as many PLCs report it; an integer one answers with an
      // exception instead (see dropped()), which fails the whole request it is part of.
      if (Number.isNaN(v) && m.dataType !== "float32" && m.dataType !== "float64") continue;
      const raw = (v - t.offset) / t.scale;
      if (m.area === "coil" || m.area === "discrete") {
        u[m.area][m.address] = raw !== 0 ? 1 : 0;
        continue;
      }
      const isFloat = m.dataType === "float32" || m.dataType === "float64";
      const words = encodeRegisters(isFloat ? raw : Math.round(raw), m.dataType, m.wordOrder, m.byteOrder);
      for (let i = 0; i < words.length; i++) u[m.area][m.address + i] = words[i]!;
    }
  }

  /** A client wrote into a setpoint's registers: the twin takes the new setpoint. */
  #applyWrites(
    u: ModbusUnit,
    unitId: number,
    tags: readonly TagConfig[],
    area: "holding" | "coil",
    address: number,
  ): void {
    for (const t of tags) {
      const m = t.modbus!;
      if (m.unitId !== unitId || m.area !== area || !SETPOINTS.includes(t.role as Setpoint)) continue;
      const count = area === "coil" ? 1 : registerCount(m.dataType);
      if (address < m.address || address >= m.address + count) continue;
      let raw: number;
      if (area === "coil") raw = u.coil[m.address]!;
      else {
        const registers = Buffer.alloc(count * 2);
        for (let i = 0; i < count; i++) registers.writeUInt16BE(u.holding[m.address + i]!, i * 2);
        raw = decodeRegisters(registers, 0, m.dataType, m.wordOrder, m.byteOrder, m.bit);
      }
      this.twin.machine(t.machine).setSetpoint(t.role as Setpoint, raw * t.scale + t.offset);
    }
  }
}
