/**
 * The line's vocabulary: what a tag measures (its role), the setpoints a person or the optimizer
 * may change, and the default encoding of a machine's state. Every folder speaks these words; the
 * digital twin is one user of them, not their owner.
 *
 * Roles are open: the standard list below covers common machines (presses, pumps, compressors,
 * extruders, fans, conveyors), and a line may use any other lower-case name. A tag without a role
 * can still be a model input (`modelInput: true` in the YAML): its features are named after the
 * tag's own name.
 */

/** Roles with a meaning the product knows (calibration, rules, vibration features, the optimizer). */
export const STANDARD_ROLES = [
  // setpoints and the actuals that follow them
  "speed_setpoint",
  "speed",
  "temperature_setpoint",
  "process_temperature",
  "pressure_setpoint",
  "pressure",
  // drive and motor
  "motor_temperature",
  "motor_current",
  "voltage",
  "power",
  "torque",
  "rpm",
  // vibration (scalar) and mechanical condition
  "vibration_rms",
  "acceleration",
  "velocity",
  "displacement",
  "bearing_temperature",
  // fluids and process
  "flow",
  "suction_pressure",
  "discharge_pressure",
  "oil_pressure",
  "oil_temperature",
  "melt_pressure",
  "melt_temperature",
  "level",
  // surroundings
  "ambient_temperature",
  "humidity",
  // counters and meters
  "running_hours",
  "piece_count",
  "good_count",
  "scrap_count",
  "energy_kwh",
  // state and alarms
  "state",
  "alarms",
  // the twin's hidden truth (recorded by generated histories, never on a real line)
  "wear",
] as const;
export type StandardRole = (typeof STANDARD_ROLES)[number];
/** A tag's role: a standard one, or any lower-case name a line chooses. */
export type Role = StandardRole | (string & {});

/** What a role name may look like (it becomes part of feature names). */
export const ROLE_PATTERN = /^[a-z][a-z0-9_]{0,47}$/;

/** Setpoints the optimizer knows how to move (its process model covers these). */
export const SETPOINT_ROLES = ["speed_setpoint", "temperature_setpoint", "pressure_setpoint"] as const;
export type SetpointRole = (typeof SETPOINT_ROLES)[number];

/** Roles that carry vibration: they get RMS, crest factor, kurtosis and, for waveforms, spectra. */
export const VIBRATION_ROLES: ReadonlySet<string> = new Set([
  "vibration_rms",
  "acceleration",
  "velocity",
  "displacement",
]);

/**
 * Whether a role is a vibration measurement: a standard vibration role, or one named after it
 * (acceleration_x and acceleration_y for a bearing's two accelerometers).
 */
export function isVibrationRole(role: string): boolean {
  if (VIBRATION_ROLES.has(role)) return true;
  for (const v of VIBRATION_ROLES) if (role.startsWith(`${v}_`)) return true;
  return false;
}

/** Roles that are counters or states, not signals to summarise (no window statistics). */
export const NON_SIGNAL_ROLES: ReadonlySet<string> = new Set([
  "state",
  "alarms",
  "wear",
  "running_hours",
  "piece_count",
  "good_count",
  "scrap_count",
  "energy_kwh",
]);

/**
 * A machine state encoding for histories without a configured state enumeration (generated ones,
 * imported ones): 1 running, 0 stopped, 3 faulted. A line's YAML enumeration overrides it.
 */
export const DEFAULT_STATE = { stopped: 0, running: 1, fault: 3 } as const;

const STANDARD: ReadonlySet<string> = new Set(STANDARD_ROLES);

/**
 * The one rule that gives a tag its role: the YAML's `role` when set, else the last part of its
 * name when that is a standard role (`press7.speed`, `m3.piece_count`), else none.
 */
export function roleOf(tag: { name: string; role?: string | undefined }): Role | undefined {
  if (tag.role !== undefined) return tag.role;
  const suffix = tag.name.slice(tag.name.lastIndexOf(".") + 1);
  return STANDARD.has(suffix) ? suffix : undefined;
}

/** Tag name -> role for every tag of a configuration that declares one. */
export function rolesOf(
  config: { tags?: readonly { name: string; role?: string | undefined }[] } | undefined,
): Map<string, Role> {
  const out = new Map<string, Role>();
  for (const t of config?.tags ?? []) if (t.role !== undefined) out.set(t.name, t.role);
  return out;
}

export function isSetpointRole(role: string | undefined): role is SetpointRole {
  return role !== undefined && (SETPOINT_ROLES as readonly string[]).includes(role);
}

/**
 * What failed, in a technician's words: the standard modes below (after ISO 14224's failure
 * mechanisms, in plain terms), or any other lower-case name a plant uses. MTTR/MTBF, alert
 * outcomes and insights are kept per mode.
 */
export const STANDARD_FAILURE_MODES = [
  "bearing",
  "seal",
  "motor",
  "gearbox",
  "coupling",
  "belt",
  "lubrication",
  "misalignment",
  "imbalance",
  "hydraulic",
  "pneumatic",
  "electrical",
  "sensor",
  "tooling",
  "overheating",
  "leak",
  "blockage",
  "wear",
  "other",
] as const;

export const FAILURE_MODE_PATTERN = /^[a-z][a-z0-9_]{0,47}$/;

/**
 * Operating conditions: what the line sets or the surroundings impose, as opposed to a machine's
 * symptoms (vibration, bearing or motor temperature, current). A condition that is different
 * before failures can be a cause worth changing; a symptom is only the failure showing itself.
 */
export const CONDITION_ROLES: ReadonlySet<string> = new Set([
  "speed_setpoint",
  "speed",
  "rpm",
  "temperature_setpoint",
  "process_temperature",
  "pressure_setpoint",
  "pressure",
  "flow",
  "suction_pressure",
  "discharge_pressure",
  "melt_pressure",
  "melt_temperature",
  "torque",
  "power",
  "level",
  "ambient_temperature",
  "humidity",
]);
