/**
 * A small simulated PLC for the demo and the tests: a press and a conveyor served over Modbus TCP
 * (modbus-serial's server). Speed follows its writable setpoint with a lag; motor temperature and
 * current follow speed; vibration grows with bearing wear; pieces count up with speed. Seeded, so
 * the same seed gives the same run. A fixed register map the Modbus tests rely on; the demo and
 * the simulator use the full digital twin (simPlc.ts).
 */
import modbusSerial from "modbus-serial";
import { mulberry32 } from "../common/random.js";
import { encodeRegisters } from "../connectors/modbus/codec.js";

const REGISTERS_PER_UNIT = 128;

interface Unit {
  holding: Uint16Array;
  input: Uint16Array;
}

export interface DemoPlcOptions {
  host?: string;
  /** 0 picks a free port (read it from `port` after start). */
  port?: number;
  seed?: number;
  tickMs?: number;
  /** Bearing wear added per simulated second; the press faults when wear reaches 1. */
  wearPerSecond?: number;
}

export class DemoPlc {
  readonly units = new Map<number, Unit>([
    [1, { holding: new Uint16Array(REGISTERS_PER_UNIT), input: new Uint16Array(REGISTERS_PER_UNIT) }],
    [2, { holding: new Uint16Array(REGISTERS_PER_UNIT), input: new Uint16Array(REGISTERS_PER_UNIT) }],
  ]);
  readonly #options: Required<DemoPlcOptions>;
  readonly #random: () => number;
  #server: InstanceType<typeof modbusSerial.ServerTCP> | undefined;
  #timer: NodeJS.Timeout | undefined;
  port = 0;
  requests = 0;
  /** Registers read per unit id: tests compare what the PLC served with what the store holds. */
  readonly registerReads = new Map<number, number>();
  speed = 30;
  motorTemperatureC = 25;
  wear = 0;
  pieces = 0;

  constructor(options: DemoPlcOptions = {}) {
    this.#options = { host: "127.0.0.1", port: 0, seed: 7, tickMs: 100, wearPerSecond: 0.0005, ...options };
    this.#random = mulberry32(this.#options.seed);
    this.#setFloat(1, "holding", 0, 30);
  }

  #setFloat(unit: number, area: "holding" | "input", address: number, value: number): void {
    const words = encodeRegisters(value, "float32", "big", "big");
    this.units.get(unit)![area].set(words, address);
  }

  #getFloat(unit: number, area: "holding" | "input", address: number): number {
    const regs = this.units.get(unit)![area];
    const buf = Buffer.alloc(4);
    buf.writeUInt16BE(regs[address]!, 0);
    buf.writeUInt16BE(regs[address + 1]!, 2);
    return buf.readFloatBE(0);
  }

  /** Advances the line model by dtS seconds. */
  step(dtS: number): void {
    const setpoint = this.#getFloat(1, "holding", 0);
    const faulted = this.wear >= 1;
    const target = faulted ? 0 : setpoint;
    this.speed += (target - this.speed) * Math.min(1, dtS / 2);
    this.wear = Math.min(1, this.wear + this.#options.wearPerSecond * dtS * (this.speed / 30));
    const heatC = 25 + this.speed * 1.2 + 20 * this.wear;
    this.motorTemperatureC += (heatC - this.motorTemperatureC) * Math.min(1, dtS / 30);
    const noise = (this.#random() - 0.5) * 0.2;
    const vibration = 1.2 + this.speed * 0.02 + 8 * this.wear ** 2 + noise;
    const currentA = 4 + this.speed * 0.25 + (this.#random() - 0.5) * 0.3;
    this.pieces += (this.speed / 60) * dtS;
    this.#setFloat(1, "input", 0, this.speed);
    this.#setFloat(1, "input", 2, this.motorTemperatureC);
    this.#setFloat(1, "input", 4, vibration);
    const input = this.units.get(1)!.input;
    input[6] = Math.round(currentA * 10) & 0xffff;
    const count = Math.floor(this.pieces) >>> 0;
    input[8] = count >>> 16;
    input[9] = count & 0xffff;
    input[10] = faulted ? 3 : this.speed > 1 ? 1 : 0;
    input[11] = (this.motorTemperatureC > 70 ? 1 : 0) | (this.wear > 0.8 ? 2 : 0);
    this.#setFloat(2, "input", 0, 20 + this.speed * 0.1);
  }

  /** The speed setpoint the PLC holds (holding register 0 of unit 1). */
  get setpoint(): number {
    return this.#getFloat(1, "holding", 0);
  }

  async start(): Promise<void> {
    const read = (area: "holding" | "input") => (addr: number, unitID: number) => {
      this.requests++;
      const unit = this.units.get(unitID);
      // An unknown unit or address answers a Modbus exception 2 (illegal data address).
      if (unit === undefined || addr >= REGISTERS_PER_UNIT)
        throw { modbusErrorCode: 2, msg: "illegal data address" };
      this.registerReads.set(unitID, (this.registerReads.get(unitID) ?? 0) + 1);
      return unit[area][addr]!;
    };
    const vector = {
      getHoldingRegister: read("holding"),
      getInputRegister: read("input"),
      setRegister: (addr: number, value: number, unitID: number) => {
        this.requests++;
        const unit = this.units.get(unitID);
        if (unit === undefined || addr >= REGISTERS_PER_UNIT)
          throw { modbusErrorCode: 2, msg: "illegal data address" };
        unit.holding[addr] = value;
      },
    };
    const server = new modbusSerial.ServerTCP(vector, {
      host: this.#options.host,
      // modbus-serial replaces a numeric 0 by 502; the string "0" lets the OS pick a free port.
      port: (this.#options.port === 0 ? "0" : this.#options.port) as number,
      unitID: 255,
    });
    await new Promise<void>((resolve, reject) => {
      server.on("initialized", () => resolve());
      server.on("serverError", (e: unknown) => reject(e));
    });
    server.on("socketError", () => undefined);
    this.#server = server;
    this.port = (server as unknown as { _server: { address(): { port: number } } })._server.address().port;
    this.step(0);
    const dtS = this.#options.tickMs / 1000;
    this.#timer = setInterval(() => this.step(dtS), this.#options.tickMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    for (const sock of server.socks.keys()) sock.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
