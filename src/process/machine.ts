/**
 * The process model of one machine: how its output, scrap, energy and wear respond to its
 * setpoints (speed, process temperature, pressure). The optimizer runs it forward to judge a
 * change before proposing it, what-if questions run it for the engineer, and the simulated plant
 * (src/twin/) runs it as the machine behind its simulated PLC. It simulates the press family:
 * actuals that follow setpoints with a lag; motor temperature, current and voltage; a vibration
 * waveform whose spectrum carries a bearing-defect frequency that grows with wear; counters for
 * running hours, pieces, good and scrap; an energy meter. A machine without the signals it needs
 * (output counters, scrap, energy, setpoints with roles) is "not modelled" (optimizer/liveState.ts)
 * and gets no suggestion.
 *
 * The response is meant to be recognisable to a plant engineer, and each part of it has a
 * parameter that calibration (calibrate.ts) fits from a line's own history:
 * - output rises with speed but saturates: pieces/min = rateMax * tanh(speed / rateScale);
 * - scrap rises sharply outside the process window: a base rate plus quadratic terms in how far
 *   temperature, pressure and speed are outside their windows, plus wear;
 * - power grows with speed (quadratically: friction, drives) and with heating above ambient;
 * - wear grows with (speed / nominal)^3 and pressure, raises vibration and motor temperature, and
 *   at 1.0 the machine stops with a fault until maintenance resets it.
 * All randomness comes from one seeded generator: the same seed gives the same run.
 */
import { mulberry32 } from "../common/random.js";
import { DEFAULT_STATE, SETPOINT_ROLES, type SetpointRole, type StandardRole } from "../line/vocabulary.js";

/** The response parameters: defaults for a typical press, or fitted from history. */
export interface ProcessParams {
  /** pieces/min = rateMax * tanh(speed / rateScale) */
  rateMax: number;
  rateScale: number;
  /** Scrap fraction = scrapBase + scrapTemp * dT^2 + scrapPressure * dP^2 + scrapSpeed * dS^2 + scrapWear * wear^2 */
  scrapBase: number;
  scrapTemp: number;
  scrapPressure: number;
  scrapSpeed: number;
  scrapWear: number;
  /** Process window: outside it, scrap rises. */
  tempWindow: [number, number];
  pressureWindow: [number, number];
  speedLimit: number;
  /** kW = powerBase + powerSpeed * speed + powerSpeed2 * speed^2 + powerHeat * (processTemp - ambient) */
  powerBase: number;
  powerSpeed: number;
  powerSpeed2: number;
  powerHeat: number;
  /** Wear per running hour at nominal speed and pressure (1.0 = failure). */
  wearPerHour: number;
  nominalSpeed: number;
  nominalPressure: number;
}

export const DEFAULT_PARAMS: ProcessParams = {
  rateMax: 70,
  rateScale: 45,
  scrapBase: 0.015,
  scrapTemp: 0.0008,
  scrapPressure: 0.04,
  scrapSpeed: 0.0015,
  scrapWear: 0.04,
  tempWindow: [172, 192],
  pressureWindow: [5.2, 6.8],
  speedLimit: 36,
  powerBase: 4,
  powerSpeed: 0.12,
  powerSpeed2: 0.004,
  powerHeat: 0.05,
  wearPerHour: 1 / 200,
  nominalSpeed: 30,
  nominalPressure: 6,
};

/** Every signal the process model has: a subset of the line's standard roles. */
export const SIGNALS = [
  "speed_setpoint",
  "speed",
  "temperature_setpoint",
  "process_temperature",
  "pressure_setpoint",
  "pressure",
  "motor_temperature",
  "motor_current",
  "voltage",
  "vibration_rms",
  "running_hours",
  "piece_count",
  "good_count",
  "scrap_count",
  "energy_kwh",
  "state",
  "alarms",
  "wear",
  // The same drive seen as a centrifugal pump's (a pump station's simulated PLC serves these)
  "flow",
  "discharge_pressure",
  "bearing_temperature",
] as const satisfies readonly StandardRole[];
export type Signal = (typeof SIGNALS)[number];
const SIGNAL_SET: ReadonlySet<string> = new Set(SIGNALS);
/** Whether the process model has this role (a line may have roles it knows nothing of). */
export function isSignal(role: string | undefined): role is Signal {
  return role !== undefined && SIGNAL_SET.has(role);
}
export const SETPOINTS = SETPOINT_ROLES;
export type Setpoint = SetpointRole;

/** Output in pieces/min at a speed, before scrap: it saturates. */
export function outputRate(p: ProcessParams, speed: number): number {
  return p.rateMax * Math.tanh(Math.max(0, speed) / p.rateScale);
}

/** Power in kW at a speed and process temperature: drives, friction, and heating above ambient. */
export function powerDraw(p: ProcessParams, speed: number, temperature: number, ambientC = 25): number {
  return (
    p.powerBase +
    p.powerSpeed * speed +
    p.powerSpeed2 * speed ** 2 +
    p.powerHeat * Math.max(0, temperature - ambientC)
  );
}

export const STATE = DEFAULT_STATE;

export interface MachineOptions {
  id: number;
  seed: number;
  params?: Partial<ProcessParams>;
  /** Vibration waveform block: samples and sample rate. */
  waveformSamples?: number;
  waveformRateHz?: number;
  ambientC?: number;
}

export interface Faults {
  /** Multiplies the bearing wear rate (1 = normal). */
  wearRateFactor: number;
  /**
   * A second failure mode, off by default: the motor winding's insulation degrades (a clogged
   * cooling fan, a bad motor batch) by this much per running hour (1.0 = winding failure). It heats
   * the motor and draws a little more current, but does not change the vibration.
   */
  insulationPerHour?: number;
}

export class MachineModel {
  readonly id: number;
  readonly params: ProcessParams;
  readonly faults: Faults = { wearRateFactor: 1 };
  readonly #random: () => number;
  readonly #ambient: number;
  readonly waveform: Float64Array;
  readonly waveformRateHz: number;
  // setpoints
  speedSetpoint: number;
  temperatureSetpoint = 182;
  pressureSetpoint = 6;
  // actuals
  speed = 0;
  processTemperature: number;
  pressure = 0;
  motorTemperature: number;
  motorCurrent = 0;
  voltage = 400;
  vibrationRms = 0;
  runningHours = 0;
  pieces = 0;
  good = 0;
  scrap = 0;
  energyKwh = 0;
  wear = 0;
  /** Winding insulation damage (0..1), only with the insulationPerHour fault. */
  insulation = 0;
  /** What failed last: the bearing or the motor winding. */
  failureCause: "bearing" | "winding" | undefined;
  state: number = STATE.running;
  alarms = 0;
  /** Fractional pieces carried between steps, so output does not depend on the step size. */
  #pieceCarry = 0;
  #time = 0;

  constructor(options: MachineOptions) {
    this.id = options.id;
    this.params = { ...DEFAULT_PARAMS, ...options.params };
    this.#random = mulberry32(options.seed * 7919 + options.id);
    this.#ambient = options.ambientC ?? 25;
    // A line in production, warmed up: actuals at their setpoints.
    this.speedSetpoint = this.params.nominalSpeed;
    this.speed = this.speedSetpoint;
    this.processTemperature = this.temperatureSetpoint;
    this.pressure = this.pressureSetpoint;
    this.motorTemperature = this.#ambient + 30;
    this.waveform = new Float64Array(options.waveformSamples ?? 1024);
    this.waveformRateHz = options.waveformRateHz ?? 2_560;
  }

  /** Output in pieces/min at a given speed (before scrap). */
  rate(speed: number): number {
    return outputRate(this.params, speed);
  }

  scrapFraction(speed: number, temperature: number, pressure: number, wear: number): number {
    const p = this.params;
    const outside = (v: number, [lo, hi]: [number, number]) => (v < lo ? lo - v : v > hi ? v - hi : 0);
    const f =
      p.scrapBase +
      p.scrapTemp * outside(temperature, p.tempWindow) ** 2 +
      p.scrapPressure * outside(pressure, p.pressureWindow) ** 2 +
      p.scrapSpeed * Math.max(0, speed - p.speedLimit) ** 2 +
      p.scrapWear * wear ** 2;
    return Math.min(1, Math.max(0, f));
  }

  powerKw(speed: number, temperature: number): number {
    return powerDraw(this.params, speed, temperature, this.#ambient);
  }

  /** Wear per hour at these conditions. */
  wearRate(speed: number, pressure: number): number {
    const p = this.params;
    return (
      p.wearPerHour *
      (Math.max(0, speed) / p.nominalSpeed) ** 3 *
      (0.5 + 0.5 * (pressure / p.nominalPressure)) *
      this.faults.wearRateFactor
    );
  }

  /** Puts the machine back in service with a new bearing (completed maintenance). */
  maintain(): void {
    this.wear = 0;
    this.insulation = 0;
    this.alarms = 0;
    if (this.state === STATE.fault) this.state = STATE.running;
  }

  setSetpoint(which: Setpoint, value: number): void {
    if (which === "speed_setpoint") this.speedSetpoint = value;
    else if (which === "temperature_setpoint") this.temperatureSetpoint = value;
    else this.pressureSetpoint = value;
  }

  /**
   * Advances the machine by dtS simulated seconds. Returns "failed" on the step the bearing
   * fails. Steps up to a few minutes keep the lags stable (the generator uses 60 s).
   */
  step(dtS: number): "failed" | undefined {
    const r = this.#random;
    const noise = () => (r() + r() + r() - 1.5) * 0.8; // ~N(0, 0.4)
    this.#time += dtS;
    const running = this.state === STATE.running;
    const lag = (tauS: number) => 1 - Math.exp(-dtS / tauS);
    this.speed += ((running ? this.speedSetpoint : 0) - this.speed) * lag(5);
    this.processTemperature +=
      ((running ? this.temperatureSetpoint : this.#ambient + 20) - this.processTemperature) * lag(120);
    this.pressure += ((running ? this.pressureSetpoint : 0) - this.pressure) * lag(3);
    const load = this.speed / this.params.nominalSpeed;
    this.motorCurrent = running
      ? 6 +
        9 * load * (0.6 + (0.4 * this.pressure) / this.params.nominalPressure) +
        2 * this.wear +
        1.5 * this.insulation +
        noise() * 0.2
      : 0.3;
    this.voltage = 400 + noise() * 2;
    const motorTarget =
      this.#ambient + 12 + 1.1 * this.motorCurrent + 25 * this.wear ** 2 + 40 * this.insulation ** 1.5;
    this.motorTemperature += (motorTarget - this.motorTemperature) * lag(300);
    // RMS of the waveform's components, in closed form (sines: a^2/2; uniform noise: w^2/12), so a
    // step costs no waveform; fillWaveform() draws the block itself when a sensor asks for it.
    const [a1, a2, ad] = this.#amplitudes();
    this.vibrationRms = Math.sqrt((a1 * a1 + a2 * a2 + ad * ad) / 2 + 0.09 / 12) * (1 + noise() * 0.02);
    if (running) {
      const hours = dtS / 3600;
      this.runningHours += hours;
      this.energyKwh += this.powerKw(this.speed, this.processTemperature) * hours;
      this.#pieceCarry += (this.rate(this.speed) * dtS) / 60;
      const made = Math.floor(this.#pieceCarry);
      this.#pieceCarry -= made;
      if (made > 0) {
        const f = this.scrapFraction(this.speed, this.processTemperature, this.pressure, this.wear);
        // Binomial draw by normal approximation: exact enough for counts, cheap per step.
        const mean = made * f;
        const sd = Math.sqrt(made * f * (1 - f));
        const bad = Math.min(made, Math.max(0, Math.round(mean + sd * (r() + r() + r() + r() - 2) * 1.73)));
        this.pieces += made;
        this.scrap += bad;
        this.good += made - bad;
      }
      this.wear += this.wearRate(this.speed, this.pressure) * hours * (0.8 + 0.4 * r());
      this.alarms = this.motorTemperature > 95 ? this.alarms | 1 : this.alarms & ~1;
      // Drawn only when the fault is injected, so runs without it keep their random stream.
      const insulationPerHour = this.faults.insulationPerHour ?? 0;
      if (insulationPerHour > 0) this.insulation += insulationPerHour * hours * (0.8 + 0.4 * r());
      if (this.wear >= 1 || this.insulation >= 1) {
        this.failureCause = this.wear >= 1 ? "bearing" : "winding";
        this.wear = Math.min(this.wear, 1);
        this.insulation = Math.min(this.insulation, 1);
        this.state = STATE.fault;
        return "failed";
      }
    } else {
      this.energyKwh += this.params.powerBase * 0.2 * (dtS / 3600);
    }
    return undefined;
  }

  #amplitudes(): [number, number, number] {
    const running = this.state === STATE.running && this.speed > 0.5;
    return running ? [1.0 + 0.02 * this.speed, 0.3, 0.1 + 6 * this.wear ** 2] : [0.05, 0, 0];
  }

  /**
   * Draws one vibration block into `waveform`: shaft rotation, its harmonic, the outer-race
   * bearing defect (BPFO = 3.58 x shaft, amplitude growing with wear) and broadband noise, in
   * mm/s. Half the defect's energy is a line at BPFO, half a train of impacts at BPFO ringing a
   * structural resonance at 0.3 x the sample rate, which is what an envelope spectrum finds on a
   * real bearing. The impacts' amplitude is set so the block's RMS stays the closed-form one.
   */
  fillWaveform(): Float64Array {
    const r = this.#random;
    const shaftHz = (this.speed / 60) * 50; // 30 strokes/min -> 25 Hz shaft
    const defectHz = 3.58 * shaftHz;
    const [a1, a2, ad] = this.#amplitudes();
    const phase = r() * 2 * Math.PI;
    const w = this.waveform;
    const period = defectHz > 0 ? 1 / defectHz : Number.POSITIVE_INFINITY;
    const tau = period / 6;
    // Mean square of a burst train A exp(-u/tau) sin(wt) is A^2 (tau / 4T) (1 - exp(-2T/tau)); the
    // line's is ad^2 / 4: both are half the defect's ad^2 / 2.
    const line = ad * Math.SQRT1_2;
    const impact = defectHz > 0 ? ad * Math.sqrt(period / tau / (1 - Math.exp(-12))) : 0;
    const resonanceHz = 0.3 * this.waveformRateHz;
    for (let i = 0; i < w.length; i++) {
      const t = i / this.waveformRateHz;
      w[i] =
        a1 * Math.sin(2 * Math.PI * shaftHz * t + phase) +
        a2 * Math.sin(4 * Math.PI * shaftHz * t + phase) +
        line * Math.sin(2 * Math.PI * defectHz * t) +
        impact * Math.exp(-(t % period) / tau) * Math.sin(2 * Math.PI * resonanceHz * t) +
        (r() - 0.5) * 0.3;
    }
    return w;
  }

  /** The bearing-defect frequency at the current speed (for features and tests). */
  get defectFrequencyHz(): number {
    return 3.58 * (this.speed / 60) * 50;
  }

  get timeS(): number {
    return this.#time;
  }

  read(signal: Signal): number {
    switch (signal) {
      case "speed_setpoint":
        return this.speedSetpoint;
      case "speed":
        return this.speed;
      case "temperature_setpoint":
        return this.temperatureSetpoint;
      case "process_temperature":
        return this.processTemperature;
      case "pressure_setpoint":
        return this.pressureSetpoint;
      case "pressure":
        return this.pressure;
      case "motor_temperature":
        return this.motorTemperature;
      case "motor_current":
        return this.motorCurrent;
      case "voltage":
        return this.voltage;
      case "vibration_rms":
        return this.vibrationRms;
      case "running_hours":
        return this.runningHours;
      case "piece_count":
        return this.pieces;
      case "good_count":
        return this.good;
      case "scrap_count":
        return this.scrap;
      case "energy_kwh":
        return this.energyKwh;
      case "state":
        return this.state;
      case "alarms":
        return this.alarms;
      case "wear":
        return this.wear;
      // A pump's view of the drive: flow follows speed (affinity law) and falls off as the worn
      // bearing drags; head grows with the square of speed; the bearing runs warmer than ambient
      // with the motor's load and much warmer as it wears.
      case "flow":
        return this.state === 1 ? 3.2 * this.speed * (1 - 0.1 * this.wear ** 2) : 0;
      case "discharge_pressure":
        return this.state === 1 ? 0.5 + 0.0045 * this.speed ** 2 : 0;
      case "bearing_temperature":
        return this.#ambient + 0.55 * (this.motorTemperature - this.#ambient) + 30 * this.wear ** 2;
    }
  }
}
