/**
 * The one configuration schema of a line. It is the single source of the config's TypeScript
 * types (`LineConfig` below), its defaults, each key's documentation (`.describe`) and its
 * error messages. `linepilot config check` and the daemon both validate with it.
 */
import { Cron } from "croner";
import jsonata from "jsonata";
import { z } from "zod";
import { ROLE_PATTERN, STANDARD_ROLES } from "../line/vocabulary.js";

/** The newest config file version this build reads. Older versions are migrated in memory by load.ts. */
export const CONFIG_VERSION = 1;

/** Hours ahead a failure counts as predicted: learning's label horizon and the live counters'. */
export const DEFAULT_HORIZON_H = 48;

/**
 * MQTT topic levels and Sparkplug ids may not contain `+ # /` or spaces (docs/field-problems.md, the Unified Namespace convention), and
 * the same names become file and SQLite names: keep them to a safe set.
 */
const identifier = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
  error: "a name of letters, digits, '_', '.' or '-' (no spaces, no '/', '+', '#'), at most 64 characters",
});

/**
 * Secrets are never written inline in the YAML: a reference to an environment variable, a file
 * (root-only key file) or a systemd credential (LoadCredential=, read from $CREDENTIALS_DIRECTORY).
 */
export const SECRET_REFERENCE = /^\$\{(env|file|credential):([^}]+)\}$/;
const secretRef = z
  .string()
  .regex(SECRET_REFERENCE, {
    error:
      "a secret reference such as ${env:NAME}, ${file:/path} or ${credential:NAME}; secrets are never inline",
  })
  .describe("A secret reference: ${env:NAME}, ${file:/absolute/path} or ${credential:NAME}");

const durationMs = (min: number, max: number) => z.int().min(min).max(max);

/** A tag role: a standard one (STANDARD_ROLES in src/line/vocabulary.ts, listed in the README) or the line's own lower-case name. */
const role = z.string().regex(ROLE_PATTERN, {
  error: `a role: lower-case letters, digits and '_' (standard roles: ${STANDARD_ROLES.slice(0, 12).join(", ")}, ...)`,
});

/** Why a cron expression is not one croner accepts, or undefined when it is. */
export function cronProblem(expression: string): string | undefined {
  try {
    new Cron(expression, { paused: true }).stop();
    return undefined;
  } catch (error) {
    return `not a cron expression ('${expression}': ${(error as Error).message}); e.g. "0 3 * * 0" is Sundays at 03:00`;
  }
}

const lineIdentity = z
  .strictObject({
    enterprise: identifier.describe("Enterprise level of the ISA-95 hierarchy (first MQTT topic level)"),
    site: identifier.describe("Site (plant) name"),
    area: identifier.describe("Area within the site"),
    name: identifier.describe("The line's name; also the systemd instance name linepilot@<name>"),
    description: z.string().max(200).optional(),
  })
  .describe("Who this gateway is: used for MQTT topics, the audit log and the status view");

const machine = z.strictObject({
  id: z
    .int()
    .min(1)
    .max(1_000_000)
    .describe("Numeric machine id, as the plant's maintenance system knows it"),
  name: z.string().min(1).max(100).describe("Human name, shown in the CLI and alerts"),
  kind: z.string().max(50).optional().describe("Machine type, e.g. press, extruder, conveyor"),
  assetId: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe(
      "The machine's id in the maintenance system (SAP equipment, Maximo asset number), for work orders",
    ),
  template: z
    .string()
    .min(1)
    .optional()
    .describe("The machine kind (templates:) whose tags this machine has"),
  tagPrefix: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$/)
    .optional()
    .describe("Its template tags are named <tagPrefix>.<name>; default <template><id>, e.g. press7"),
  connection: z.string().min(1).optional().describe("The connection its template tags are read on"),
  nodeBase: z.string().min(1).optional().describe("Replaces {base} in its template tags' nodeId (OPC UA)"),
  registerBase: z
    .int()
    .min(0)
    .max(65_535)
    .default(0)
    .describe("Added to its template tags' Modbus addresses"),
  unitId: z.int().min(0).max(255).optional().describe("The Modbus unit of its template tags"),
});

// ---- Field connections (OPC UA and Modbus) ----

const backoff = z
  .strictObject({
    initialMs: durationMs(10, 60_000).default(1_000),
    maxMs: durationMs(100, 600_000).default(20_000),
    jitter: z.number().min(0).max(1).default(0.1),
  })
  .describe("Reconnect backoff: exponential from initialMs to maxMs, with +/- jitter, retrying forever");

/** The plant broker's: the same bounds, and a broker restart waited out more patiently than a PLC. */
const syncBackoff = backoff
  .extend({
    maxMs: backoff.shape.maxMs.unwrap().default(30_000),
    jitter: backoff.shape.jitter.unwrap().default(0.2),
  })
  .describe("Reconnect backoff to the plant broker: exponential from initialMs to maxMs, with +/- jitter");

const opcuaConnection = z.strictObject({
  id: identifier,
  protocol: z.literal("opcua"),
  endpoint: z
    .string()
    .regex(/^opc\.tcp:\/\/[^\s]+$/, { error: "an endpoint URL such as opc.tcp://10.0.0.5:4840" }),
  securityMode: z.enum(["None", "Sign", "SignAndEncrypt"]).default("None"),
  securityPolicy: z
    .enum(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
    .default("None"),
  auth: z
    .discriminatedUnion("type", [
      z.strictObject({ type: z.literal("anonymous") }),
      z.strictObject({ type: z.literal("username"), username: z.string().min(1), password: secretRef }),
      z.strictObject({
        type: z.literal("certificate"),
        certificateFile: z.string().min(1),
        privateKey: secretRef,
      }),
    ])
    .default({ type: "anonymous" }),
  pkiDir: z
    .string()
    .optional()
    .describe("PKI folder (own certificate, trusted/, rejected/); default <store dir>/pki"),
  requestTimeoutMs: durationMs(100, 120_000).default(10_000),
  sessionTimeoutMs: durationMs(1_000, 3_600_000).default(60_000),
  publishingIntervalMs: durationMs(10, 60_000).default(1_000),
  backoff: backoff.prefault({}),
});

const serialSettings = {
  baudRate: z.int().min(300).max(921_600).default(19_200),
  parity: z.enum(["none", "even", "odd"]).default("even"),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
};

const modbusCommon = {
  id: identifier,
  timeoutMs: durationMs(10, 60_000)
    .default(1_000)
    .describe("Per-request timeout; a dead unit costs only this"),
  interRequestDelayMs: durationMs(0, 10_000).default(0),
  deadUnitBackoffMs: durationMs(100, 600_000)
    .default(10_000)
    .describe("How long a unit that timed out is skipped"),
  maxRegistersPerRead: z.int().min(1).max(125).default(125),
  maxGapRegisters: z
    .int()
    .min(0)
    .max(100)
    .default(8)
    .describe("Read across a hole of at most this many registers"),
  backoff: backoff.prefault({}),
};

const modbusTcpConnection = z.strictObject({
  ...modbusCommon,
  protocol: z.literal("modbus-tcp"),
  host: z.string().min(1),
  port: z.int().min(1).max(65_535).default(502),
});

const modbusRtuConnection = z.strictObject({
  ...modbusCommon,
  protocol: z.literal("modbus-rtu"),
  path: z.string().min(1).describe("Serial device, e.g. /dev/ttyUSB0"),
  ...serialSettings,
});

const connection = z.discriminatedUnion("protocol", [
  opcuaConnection,
  modbusTcpConnection,
  modbusRtuConnection,
]);

// ---- Tags ----

export const MODBUS_DATA_TYPES = [
  "bool",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "float32",
  "float64",
] as const;

/** 16-bit registers a value of each data type takes. */
export const MODBUS_REGISTERS: Record<(typeof MODBUS_DATA_TYPES)[number], number> = {
  bool: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  float64: 4,
};

const modbusAddress = z.strictObject({
  unitId: z.int().min(0).max(255).default(1),
  area: z.enum(["holding", "input", "coil", "discrete"]),
  address: z.int().min(0).max(65_535).describe("Zero-based register or coil address"),
  dataType: z.enum(MODBUS_DATA_TYPES).default("uint16"),
  wordOrder: z.enum(["big", "little"]).default("big").describe("Order of 16-bit words in 32/64-bit values"),
  byteOrder: z.enum(["big", "little"]).default("big").describe("Order of bytes within each 16-bit word"),
  bit: z.int().min(0).max(15).optional().describe("For dataType bool on a register: the bit to read"),
  count: z
    .int()
    .min(1)
    .max(65_536)
    .default(1)
    .describe("Values in a row from address: the samples of a waveform block (waveform.length)"),
});

const bearing = z
  .strictObject({
    shaftHz: z.number().gt(0).max(2_000).optional().describe("Fixed shaft speed in Hz"),
    shaftSpeedTag: identifier
      .optional()
      .describe("A tag holding the shaft speed, read at each block; instead of shaftHz"),
    shaftHzPerUnit: z
      .number()
      .gt(0)
      .default(1 / 60)
      .describe(
        "Shaft Hz per unit of shaftSpeedTag: 1/60 for rpm (the default), 1 for Hz, rated rpm/6000 for %",
      ),
    orders: z
      .strictObject({
        bpfi: z.number().gt(0).max(100).optional(),
        bpfo: z.number().gt(0).max(100).optional(),
        bsf: z.number().gt(0).max(100).optional(),
        ftf: z.number().gt(0).max(100).optional(),
      })
      .optional()
      .describe("Defect frequencies as multiples of the shaft speed (the bearing's datasheet)"),
    geometry: z
      .strictObject({
        balls: z.int().min(3).max(100),
        ballDiameterMm: z.number().gt(0),
        pitchDiameterMm: z.number().gt(0),
        contactAngleDeg: z.number().min(0).max(60).default(0),
      })
      .optional()
      .describe("Rolling-element geometry, from which BPFI, BPFO, BSF and FTF are computed"),
  })
  .refine((b) => (b.shaftHz === undefined) !== (b.shaftSpeedTag === undefined), {
    error: "a bearing needs its shaft speed: shaftHz or shaftSpeedTag (one of them)",
  })
  .refine((b) => (b.orders === undefined) !== (b.geometry === undefined), {
    error: "a bearing needs its defect frequencies: orders or geometry (one of them)",
  })
  .refine((b) => b.geometry === undefined || b.geometry.ballDiameterMm < b.geometry.pitchDiameterMm, {
    error: "the ball diameter must be smaller than the pitch diameter",
    path: ["geometry", "ballDiameterMm"],
  });

const waveform = z
  .strictObject({
    sampleRateHz: z.number().gt(0).max(1_000_000).describe("Sample rate of the block, Hz"),
    length: z
      .int()
      .min(64)
      .max(65_536)
      .refine((n) => (n & (n - 1)) === 0, { error: "a power of two (256, 1024, 4096, ...)" })
      .describe("Samples per block"),
    bands: z
      .array(z.tuple([z.number().min(0), z.number().gt(0)]))
      .max(16)
      .default([])
      .describe("Frequency bands [lowHz, highHz] whose energy is a series of its own"),
    envelopeBandHz: z
      .tuple([z.number().min(0), z.number().gt(0)])
      .optional()
      .describe("The band whose envelope is taken (default: rate/12 to rate/2.4)"),
    bearing: bearing.optional(),
    keepEveryMs: durationMs(0, 604_800_000)
      .default(3_600_000)
      .describe("Keep a raw block in the store this often (0: never), for linepilot vibration"),
  })
  .describe(
    "The tag is a waveform block (an OPC UA array node, or modbus.count registers): its features are computed on the gateway",
  );

const machineEvents = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("enum"),
      states: z
        .record(
          z.string().regex(/^-?\d+$/, { error: "an integer state value" }),
          z.enum(["start", "stop", "alarm", "fault", "idle", "running"]),
        )
        .describe("Value of the state tag -> the machine event it means, e.g. {1: running, 3: fault}"),
    }),
    z.strictObject({
      type: z.literal("bits"),
      bits: z
        .record(
          z.string().regex(/^([0-9]|[12][0-9]|3[01])$/, { error: "a bit number 0-31" }),
          z.string().min(1),
        )
        .describe("Bit number -> alarm text; a rising bit raises an alarm event, a falling bit clears it"),
      kind: z.enum(["alarm", "fault"]).default("alarm"),
    }),
  ])
  .describe("Derive machine_events from this tag's value (state enumerations or alarm bit masks)");

const tag = z.strictObject({
  name: identifier.describe("Unique tag name in the line, e.g. press7.motor_temperature"),
  machine: z.int().min(1).describe("The id of the machine the tag belongs to"),
  unit: z.string().max(20).default("").describe("Engineering unit, e.g. degC, mm/s, A"),
  connection: identifier.describe("The id of the connection that reads this tag"),
  nodeId: z.string().min(1).optional().describe("OPC UA node id, e.g. ns=2;s=Press7.MotorTemp"),
  modbus: modbusAddress.optional(),
  intervalMs: durationMs(10, 3_600_000)
    .default(1_000)
    .describe("Sampling (OPC UA) or polling (Modbus) interval"),
  queueSize: z.int().min(1).max(10_000).default(10).describe("OPC UA monitored item queue size"),
  deadband: z.number().min(0).default(0).describe("Absolute change below which a value is not stored again"),
  scale: z.number().default(1).describe("value = raw * scale + offset"),
  offset: z.number().default(0),
  writable: z.boolean().default(false).describe("Whether setpoint writes are allowed on this tag"),
  min: z.number().optional().describe("Absolute minimum for writes (safety envelope)"),
  max: z.number().optional().describe("Absolute maximum for writes (safety envelope)"),
  events: machineEvents.optional(),
  role: role
    .optional()
    .describe(
      "What the tag measures (speed, flow, bearing_temperature, vibration_rms, ... or the line's own name): names its features, and is what rules, calibration and the optimizer look for",
    ),
  waveform: waveform.optional(),
  modelInput: z
    .boolean()
    .optional()
    .describe(
      "Feed this numeric tag to the machine's models even without a role (its features are named after the tag); default: every tag with a signal role",
    ),
});

/**
 * A machine kind described once: its tags with names relative to the machine, node ids with a
 * {base} the machine fills in, and Modbus addresses relative to the machine's registerBase.
 */
const machineTemplate = z.strictObject({
  description: z.string().max(200).optional(),
  tags: z
    .array(tag.omit({ machine: true, connection: true }))
    .min(1)
    .describe("The kind's tags; name is relative (speed becomes press7.speed)"),
});

// ---- Store, API, logging, daemon ----

const store = z.strictObject({
  path: z.string().min(1).describe("SQLite file; its folder also holds the PKI and model files by default"),
  batchSize: z.int().min(1).max(100_000).default(1_000).describe("Samples per insert transaction"),
  flushIntervalMs: durationMs(10, 60_000)
    .default(1_000)
    .describe("Longest a sample waits before its batch is committed"),
  synchronous: z
    .enum(["NORMAL", "FULL"])
    .default("FULL")
    .describe("SQLite synchronous mode: FULL survives power loss, NORMAL survives a process kill only"),
  retention: z
    .strictObject({
      maxAgeDays: z.number().min(0.01).max(3650).default(90),
      maxSizeMb: z.number().min(1).max(1_000_000).default(2_048),
      checkIntervalMs: durationMs(1_000, 86_400_000).default(60_000),
      deleteChunkRows: z.int().min(100).max(1_000_000).default(20_000),
      hourlyMaxAgeDays: z
        .number()
        .min(1)
        .max(36_500)
        .default(730)
        .describe(
          "How long each tag's hourly min/max/mean (long trends) is kept; raw samples go by maxAgeDays",
        ),
    })
    .prefault({})
    .describe("Telemetry retention; alerts, audit records and unsynced outbox messages are never deleted"),
  rollupEveryMs: durationMs(1_000, 3_600_000)
    .default(60_000)
    .describe("How often new samples are added into their tag's hourly min/max/mean, which long trends read"),
});

// ---- Plant sync (MQTT) ----

export const PLANT_COMMANDS = [
  "ack_alert",
  "close_alert",
  "record_maintenance",
  "set_goal",
  "decide_suggestion",
] as const;

const sync = z
  .strictObject({
    url: z
      .string()
      .regex(/^mqtts?:\/\/[^\s/]+(:\d+)?\/?$/, {
        error: "a broker URL such as mqtt://10.0.0.9:1883 or mqtts://broker:8883",
      })
      .describe("The plant broker"),
    clientId: z.string().min(1).max(64).optional().describe("Default linepilot-<line name>; one per line"),
    protocolVersion: z
      .union([z.literal(5), z.literal(4)])
      .default(5)
      .describe("MQTT 5, falling back to 3.1.1 when the broker refuses it; 4 forces 3.1.1"),
    username: z.string().min(1).optional(),
    password: secretRef.optional(),
    tls: z
      .strictObject({
        ca: z.string().min(1).describe("CA certificate (PEM) that signed the broker's certificate"),
        cert: z.string().min(1).optional().describe("Client certificate (PEM) for mutual TLS"),
        key: secretRef.optional().describe("Client private key (PEM), e.g. ${file:/etc/linepilot/mqtt.key}"),
        servername: z.string().optional().describe("Name to check the broker certificate against"),
      })
      .optional(),
    cleanSession: z
      .boolean()
      .default(false)
      .describe("false keeps the broker session (subscriptions) across reconnects"),
    keepaliveS: z.int().min(5).max(3_600).default(30),
    topicPrefix: z
      .string()
      .regex(/^[^\s+#]+[^/\s+#]$/, { error: "a topic prefix without spaces, '+', '#' or a trailing '/'" })
      .optional()
      .describe("Default <enterprise>/<site>/<area>/<line>/linepilot"),
    drainRatePerSecond: z
      .int()
      .min(1)
      .max(100_000)
      .default(500)
      .describe("Outbox messages published per second at most"),
    inflight: z.int().min(1).max(1_000).default(32).describe("QoS 1 messages awaiting PUBACK at once"),
    outboxMaxMessages: z
      .int()
      .min(1_000)
      .max(100_000_000)
      .default(1_000_000)
      .describe(
        "Cap on queued messages; when full, the oldest telemetry, metrics and status go first, never alerts or audit",
      ),
    statusIntervalMs: durationMs(1_000, 3_600_000).default(60_000),
    metricsIntervalMs: durationMs(1_000, 3_600_000)
      .default(60_000)
      .describe("Gateway metrics (samples/s, errors, outbox depth) to <prefix>/metrics"),
    telemetryEveryMs: durationMs(1_000, 86_400_000)
      .optional()
      .describe(
        "Downsampled telemetry: every tag's latest value, quality and unit, once per interval; off when absent",
      ),
    commands: z
      .strictObject({
        allow: z
          .partialRecord(z.enum(PLANT_COMMANDS), z.array(z.string().min(1)).min(1))
          .default({})
          .describe(
            "Command -> senders allowed to send it (the command's 'sender' field); anything else is refused",
          ),
      })
      .prefault({}),
    sparkplug: z
      .strictObject({
        groupId: identifier.describe("Sparkplug group id"),
        edgeNodeId: identifier.optional().describe("Default: the line's name"),
        primaryHostId: identifier
          .optional()
          .describe("Wait for this SCADA host's STATE online before the birth; die when it goes offline"),
        publishEveryMs: durationMs(100, 3_600_000)
          .default(1_000)
          .describe("DDATA with the metrics changed since the last"),
      })
      .optional()
      .describe(
        "Sparkplug B 3.0 edge node (one device per machine, its tags as metrics), beside the JSON topics",
      ),
    // One set of defaults, the fields': an absent block and a partial one agree (prefault parses
    // the empty block through them).
    backoff: syncBackoff.prefault({}),
  })
  .describe("MQTT link to the plant: outbox drained with QoS 1, commands received");

// ---- Safety envelope (docs/design.md §6) ----

const safety = z
  .strictObject({
    maxChangePercent: z
      .number()
      .gt(0)
      .max(15)
      .default(15)
      .describe(
        "Largest change of a setpoint against its current value, in %; the envelope caps it at 15, docs/design.md §6",
      ),
    autonomousStepPercent: z
      .number()
      .gt(0)
      .max(10)
      .default(10)
      .describe(
        "Largest step written without a person's approval, in %; the envelope caps it at 10, docs/design.md §6",
      ),
    minIntervalMs: durationMs(1_000, 86_400_000)
      .default(60_000)
      .describe("Least time between two changes of one tag"),
    alarms: z
      .array(
        z.strictObject({
          tag: identifier.describe("A safety signal: guard door, e-stop, light curtain, over-pressure"),
          above: z.number().optional(),
          below: z.number().optional(),
          equals: z.number().optional(),
          reason: z.string().min(1).max(200),
        }),
      )
      .default([])
      .describe("Conditions that raise a SAFETY alert; while one is active nothing is written"),
  })
  .describe("Hard limits on every write to a PLC, whoever asks for it");

// ---- Predictive maintenance ----

/** A JSONata expression (https://jsonata.org), checked when the config is read. */
const jsonataExpression = (what: string) =>
  z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      try {
        jsonata(text);
      } catch (error) {
        const e = error as { message: string; position?: number };
        ctx.addIssue({
          code: "custom",
          message: `${what} is not a valid JSONata expression: ${e.message}${e.position === undefined ? "" : ` (at character ${e.position})`}`,
        });
      }
    });

const workOrderHttp = z.strictObject({
  url: z
    .string()
    .regex(/^https?:\/\/\S+$/, { error: "an http:// or https:// URL of the maintenance system's API" })
    .describe(
      "Where work orders are sent, e.g. https://sap.plant/sap/opu/odata4/.../MaintenanceNotification",
    ),
  method: z.enum(["POST", "PUT"]).default("POST"),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string().max(1_000))
    .default({})
    .describe("Plain headers, e.g. sap-client: '100'"),
  secretHeaders: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/), secretRef)
    .default({})
    .describe("Headers whose value is a secret, e.g. Authorization: ${credential:cmms-auth}"),
  body: jsonataExpression("body")
    .optional()
    .describe(
      "A JSONata expression over the work order (alertId, machine_id, machine, line, priority, requested_action, reasons, due_by, ...) giving the JSON body; default: the work order itself",
    ),
  idFrom: jsonataExpression("idFrom")
    .optional()
    .describe(
      "A JSONata expression over the response body giving the maintenance system's id, e.g. MaintenanceNotification",
    ),
  timeoutMs: durationMs(500, 120_000).default(10_000),
  retry: z
    .strictObject({
      initialMs: durationMs(100, 3_600_000).default(5_000),
      maxMs: durationMs(1_000, 86_400_000).default(600_000),
    })
    .prefault({}),
  caFile: z
    .string()
    .min(1)
    .optional()
    .describe("CA certificate (PEM) for an https URL signed by the plant's CA"),
});

const costs = z
  .strictObject({
    currency: z.string().min(1).max(8).default("EUR"),
    downtimePerHour: z.number().min(0).default(0).describe("What an hour of unplanned stop costs"),
    repairParts: z.number().min(0).default(0).describe("Parts and labour of a typical repair"),
    preventiveVisit: z.number().min(0).default(0).describe("Parts and labour of a planned maintenance visit"),
    energyPerKwh: z.number().min(0).default(0),
    scrapPerPiece: z.number().min(0).default(0),
  })
  .describe("What the insights' yearly savings are estimated from; 0 leaves a saving unestimated");

const insightsConfig = z
  .strictObject({
    minEvents: z
      .int()
      .min(2)
      .max(1_000)
      .default(3)
      .describe("No recommendation from fewer failures (or alarms, or intervals) than this"),
    everyMs: durationMs(60_000, 7 * 86_400_000)
      .default(86_400_000)
      .describe("How often the insights are computed and sent to <prefix>/insights"),
    lookbackDays: z.number().min(1).max(3_650).default(730),
  })
  .describe("Improvement recommendations from the line's history");

const maintenance = z
  .strictObject({
    model: z
      .string()
      .min(1)
      .describe("The predictive-maintenance ONNX model (default: the one shipped in models/)"),
    modelSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .describe("Refuse the model unless its sha256 is this"),
    tickMs: durationMs(1_000, 3_600_000).default(60_000).describe("How often every machine is scored"),
    timeoutMs: durationMs(100, 60_000)
      .default(5_000)
      .describe("A model that takes longer is restarted and the tick skipped"),
    window: z
      .strictObject({
        minutes: z
          .number()
          .min(1)
          .max(10_080)
          .default(5)
          .describe("The window each feature summarises; training and scoring use the same"),
        stepMs: durationMs(1_000, 86_400_000)
          .default(60_000)
          .describe("The grid the window is resampled to (the tags' typical interval or coarser)"),
        baselineH: z
          .number()
          .min(1)
          .max(8_760)
          .default(24)
          .describe("The span a window's `dev` features compare it with (drift from its own normal)"),
        maxGapMs: durationMs(1_000, 86_400_000)
          .default(180_000)
          .describe("Longer stretches of Bad samples mark the window incomplete"),
        holdMs: durationMs(1_000, 86_400_000)
          .default(21_600_000)
          .describe("A value that did not change (no new sample, none Bad) stays valid this long"),
        fill: z.enum(["linear", "locf"]).default("linear"),
      })
      .prefault({}),
    alerts: z
      .strictObject({
        medium: z.number().min(0).max(1).default(0.3),
        high: z.number().min(0).max(1).default(0.6),
        escalate: z.number().min(0).max(1).default(0.85),
        clearBelow: z.number().min(0).max(1).default(0.3),
        clearAfterTicks: z.int().min(1).max(1_000).default(3),
        minHoldMs: durationMs(0, 86_400_000).default(1_800_000),
      })
      .prefault({}),
    baseline: z
      .strictObject({
        days: z
          .number()
          .min(0.25)
          .max(365)
          .default(7)
          .describe("Days of each machine's running history its normal behaviour is learned from"),
        shadowDays: z
          .number()
          .min(0)
          .max(365)
          .default(7)
          .describe("After learning, scores are recorded but raise no alert for this long"),
        alertsPerMachineWeek: z
          .number()
          .gt(0)
          .max(50)
          .default(1)
          .describe(
            "Alert budget: the threshold is set so the held-out normal days would raise at most this many",
          ),
        strideMin: z
          .number()
          .min(1)
          .max(1_440)
          .default(10)
          .describe("Minutes between the windows the baseline learns from"),
        features: z
          .array(
            z.string().regex(/^[a-z][a-z0-9_]*$/, { error: "a feature name such as vibration_rms_mean" }),
          )
          .min(1)
          .optional()
          .describe(
            "The features a baseline watches (default: each signal's window mean, max, std and slope)",
          ),
      })
      .optional()
      .describe(
        "A normal-behaviour model per machine, learned from the line's own first days (no failure labels needed)",
      ),
    rules: z
      .array(
        z.strictObject({
          role: role.describe("The tag role the rule watches, on every machine that has it"),
          above: z.number().optional(),
          below: z.number().optional(),
          level: z.enum(["MEDIUM", "HIGH"]),
          reason: z.string().min(1).max(200),
          action: z.string().max(300).optional(),
        }),
      )
      .default([
        {
          role: "vibration_rms",
          above: 4.5,
          level: "MEDIUM",
          reason: "vibration in ISO 10816-3 zone C (above 4.5 mm/s)",
        },
        {
          role: "vibration_rms",
          above: 7.1,
          level: "HIGH",
          reason: "vibration in ISO 10816-3 zone D (above 7.1 mm/s): damage likely",
          action: "Stop when possible and inspect the bearing",
        },
        {
          role: "motor_temperature",
          above: 95,
          level: "HIGH",
          reason: "motor over-temperature (above 95 degC)",
          action: "Check motor cooling and load",
        },
      ])
      .describe("Thresholds that raise risk on their own and say so in the reasons"),
    actions: z
      .record(z.string(), z.string().min(1).max(300))
      .default({})
      .describe("Dominant reason (feature-name prefix, e.g. vibration_rms) -> recommended action text"),
    workOrders: z
      .strictObject({
        http: workOrderHttp
          .optional()
          .describe("Deliver each work order to the maintenance system's HTTP API as well as over MQTT"),
      })
      .prefault({}),
    costs: costs.prefault({}),
    insights: insightsConfig.prefault({}),
  })
  .describe("Predictive maintenance: per-machine failure risk, reasons, alerts");

// ---- Production optimizer (docs/design.md §5) ----

const optimizerMode = z.enum(["assisted", "autonomous"]);

const optimizer = z
  .strictObject({
    policy: z
      .enum(["search", "ppo"])
      .default("search")
      .describe(
        "search: the twin-based search over setpoint steps; ppo: the trained PPO policy (models/production_optimizer.onnx)",
      ),
    model: z
      .string()
      .min(1)
      .optional()
      .describe("The PPO policy's ONNX file (default: the one shipped in models/)"),
    modelSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .describe("Refuse the policy model unless its sha256 is this"),
    mode: optimizerMode
      .default("assisted")
      .describe(
        "assisted: suggestions wait for a person's approval; autonomous: written within the envelope. A person can switch it with `linepilot mode`",
      ),
    tagModes: z
      .record(identifier, optimizerMode)
      .default({})
      .describe(
        "Per setpoint tag: 'assisted' keeps a tag under approval while the line is autonomous (a tag is autonomous only if the line is too)",
      ),
    machines: z
      .array(z.int().min(1))
      .optional()
      .describe("Machines to tune (default: every machine with writable setpoint tags that have a role)"),
    intervalMs: durationMs(10_000, 86_400_000)
      .default(300_000)
      .describe("How often each machine's setpoints are reconsidered"),
    lookaheadMin: z.int().min(5).max(240).default(30).describe("Minutes of twin time each candidate is run"),
    effectHorizonH: z
      .number()
      .min(0.25)
      .max(24)
      .default(1)
      .describe("Horizon of the expected effect shown with each suggestion"),
    suggestionTtlMs: durationMs(60_000, 86_400_000)
      .default(900_000)
      .describe("A pending suggestion not decided within this expires"),
    approvalTolerancePercent: z
      .number()
      .min(0)
      .max(10)
      .default(2)
      .describe(
        "An approved suggestion is written only if the PLC still holds what it was computed from, within this % of it; else it expires and a fresh one is proposed",
      ),
    minGainPerHour: z
      .number()
      .min(0)
      .default(20)
      .describe("Least reward gain per hour (docs/design.md §5 units: good pieces) worth a change"),
    energyBudgetKw: z
      .number()
      .gt(0)
      .optional()
      .describe(
        "Power above which a minute counts as excessive energy use (default: the twin's draw at nominal speed in mid window)",
      ),
    timeoutMs: durationMs(100, 60_000).default(5_000),
  })
  .describe(
    "Production optimizer: setpoint suggestions or bounded autonomous writes, always through the safety envelope",
  );

// ---- Model registry and continuous learning (docs/design.md §3, §8, §9) ----

const modelKey = z
  .discriminatedUnion("source", [
    z.strictObject({
      source: z.literal("vault"),
      address: z.url().describe("Vault's address, e.g. https://vault.plant.local:8200"),
      token: secretRef.optional().describe("A Vault token (token auth)"),
      approle: z
        .strictObject({ roleId: secretRef, secretId: secretRef })
        .optional()
        .describe("AppRole auth: the role id and secret id (e.g. systemd credentials)"),
      mount: z.string().min(1).default("secret").describe("The KV version 2 secrets engine's mount"),
      path: z.string().min(1).describe("The secret's path in that mount, e.g. linepilot/line-a/model-key"),
      field: z.string().min(1).default("key").describe("The secret's field holding the key"),
      caFile: z.string().min(1).optional().describe("CA certificate (PEM) for Vault's TLS"),
      timeoutMs: durationMs(100, 60_000).default(5_000),
    }),
    z.strictObject({
      source: z.literal("credential"),
      name: z
        .string()
        .min(1)
        .default("linepilot-model-key")
        .describe(
          "The systemd credential (LoadCredential=) holding the key, read from $CREDENTIALS_DIRECTORY",
        ),
    }),
    z.strictObject({
      source: z.literal("file"),
      path: z.string().min(1).describe("A key file readable by its owner only (mode 0600 or stricter)"),
      create: z
        .boolean()
        .default(false)
        .describe(
          "Create a random key (mode 0600) when the file does not exist; for demos and single-box installs",
        ),
    }),
  ])
  .describe("Where the 32-byte model key (64 hex digits or base64) comes from");

const registry = z
  .strictObject({
    dir: z
      .string()
      .min(1)
      .optional()
      .describe("Where encrypted model files are kept (default: <store folder>/models)"),
    key: modelKey,
  })
  .refine((r) => r.key.source !== "vault" || (r.key.token === undefined) !== (r.key.approle === undefined), {
    error: "Vault needs exactly one of token or approle",
    path: ["key"],
  })
  .describe("The model registry: encrypted model files, one active model per name, fallback, rollback");

const learning = z
  .strictObject({
    schedule: z
      .string()
      .min(1)
      .default("0 3 * * 0")
      .refine((s) => cronProblem(s) === undefined, { error: (i) => cronProblem(String(i.input)) ?? "" })
      .describe("When the learning job runs, cron syntax (default: Sundays at 03:00, local time)"),
    holdoutFraction: z
      .number()
      .min(0.1)
      .max(0.5)
      .default(0.25)
      .describe("The most recent share of the history kept out of training to compare the models on"),
    minAucGain: z
      .number()
      .min(0)
      .max(0.5)
      .default(0.01)
      .describe("A candidate is promoted only if its holdout AUC beats the active model's by this much"),
    minNewFailures: z
      .int()
      .min(0)
      .default(1)
      .describe("A run needs at least this many failures or completed maintenance since the last run"),
    historyDays: z.int().min(7).max(3_650).default(180).describe("How far back the training data reaches"),
    horizonH: z.number().min(1).max(336).default(DEFAULT_HORIZON_H),
    strideMin: z.int().min(1).max(240).default(30),
    forest: z
      .strictObject({
        trees: z.int().min(5).max(500).default(60),
        maxDepth: z.int().min(2).max(20).default(8),
        minSamplesLeaf: z.int().min(1).max(1_000).default(5),
        seed: z.int().default(7),
      })
      .prefault({}),
  })
  .describe("Continuous learning: retrain the predictive-maintenance model on the line's own history");

/** A bind address only this machine can reach. */
export const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

const api = z
  .strictObject({
    host: z.string().default("127.0.0.1").describe("Bind address; anything but loopback needs a token"),
    port: z.int().min(0).max(65_535).default(8_001),
    token: secretRef.optional().describe("Bearer token required for changes and for any non-loopback bind"),
    socket: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Unix socket for local changes without a token, mode 0660 (the daemon's group, linepilot); default: api.sock beside the store",
      ),
    console: z
      .boolean()
      .default(true)
      .describe("Serve the web console at /ui/ on this port (same access rules as the API)"),
    consoleTickMs: durationMs(250, 60_000)
      .default(2_000)
      .describe("How often the console's live stream is refreshed while a console is open"),
  })
  .refine((a) => LOOPBACK.test(a.host) || a.token !== undefined, {
    error: "a token (api.token) is required when the API listens on a non-loopback address",
    path: ["token"],
  });

const logging = z.strictObject({
  level: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
});

const daemon = z.strictObject({
  stopTimeoutMs: durationMs(100, 120_000)
    .default(10_000)
    .describe("Time budget for a clean stop; systemd's TimeoutStopSec should be larger"),
  componentStopTimeoutMs: durationMs(50, 60_000).default(5_000),
});

export const lineConfigSchema = z
  .strictObject({
    version: z.literal(CONFIG_VERSION, { error: `the config file version, ${CONFIG_VERSION}` }),
    line: lineIdentity,
    machines: z.array(machine).min(1).describe("The machines of the line"),
    connections: z
      .array(connection)
      .default([])
      .describe("PLCs and sensor gateways: OPC UA servers, Modbus TCP/RTU"),
    tags: z.array(tag).default([]).describe("Every value read from the line"),
    tagFiles: z
      .array(z.string().min(1))
      .default([])
      .describe("CSV files of tags (one row per tag, relative to this file), added to tags:"),
    templates: z
      .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$/), machineTemplate)
      .default({})
      .describe("Machine kinds described once, instantiated by machines[].template"),
    store,
    sync: sync.optional(),
    maintenance: maintenance.optional(),
    optimizer: optimizer.optional(),
    registry: registry.optional(),
    learning: learning.optional(),
    // Object defaults are prefaults: the empty block parsed through the fields' own defaults, so
    // each default is written once, on its field.
    safety: safety.prefault({}),
    api: api.prefault({}),
    logging: logging.prefault({}),
    daemon: daemon.prefault({}),
  })
  // `when: always`: cross-reference mistakes are reported together with the shape mistakes, so the
  // refinement reads the input defensively (a field may still be missing or of the wrong type).
  .superRefine((cfg, ctx) => checkCrossReferences(cfg as unknown as RawConfig, ctx), { when: () => true });

type RawConfig = {
  machines?: unknown;
  connections?: unknown;
  tags?: unknown;
  maintenance?: unknown;
  registry?: unknown;
  learning?: unknown;
};
type Issue = { code: "custom"; path: (string | number)[]; message: string };

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => v !== null && typeof v === "object")
    : [];
}

function checkCrossReferences(cfg: RawConfig, ctx: { addIssue(issue: Issue): void }): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  const unique = (items: Record<string, unknown>[], where: string) => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      if (seen.has(item.id)) issue([where, i, "id"], `duplicate id ${String(item.id)}`);
      seen.add(item.id);
    });
  };
  const machineList = list(cfg.machines);
  const connectionList = list(cfg.connections);
  if (cfg.learning !== undefined && (cfg.registry === undefined || cfg.maintenance === undefined))
    issue(
      ["learning"],
      "continuous learning needs a registry: section (with its key) and a maintenance: section",
    );
  unique(machineList, "machines");
  unique(connectionList, "connections");
  connectionList.forEach((c, i) => {
    if (c.protocol !== "opcua") return;
    const mode = c.securityMode ?? "None";
    const policy = c.securityPolicy ?? "None";
    if (mode === "None" && policy !== "None")
      issue(["connections", i, "securityPolicy"], "securityMode None goes with securityPolicy None");
    if (mode !== "None" && policy === "None")
      issue(
        ["connections", i, "securityPolicy"],
        `securityMode ${String(mode)} needs a securityPolicy such as Basic256Sha256`,
      );
  });
  const tagSet = new Set(list(cfg.tags).map((t) => t.name));
  list((cfg as { safety?: { alarms?: unknown } }).safety?.alarms).forEach((a, i) => {
    if (typeof a.tag === "string" && !tagSet.has(a.tag))
      issue(["safety", "alarms", i, "tag"], `tag '${a.tag}' is not defined under tags`);
    if (a.above === undefined && a.below === undefined && a.equals === undefined)
      issue(["safety", "alarms", i], "a safety alarm needs above, below or equals");
  });
  const machines = new Set(machineList.map((m) => m.id));
  const opt = (cfg as { optimizer?: { tagModes?: unknown; machines?: unknown } }).optimizer;
  if (opt?.tagModes !== null && typeof opt?.tagModes === "object")
    for (const name of Object.keys(opt.tagModes as object))
      if (!tagSet.has(name))
        issue(["optimizer", "tagModes", name], `tag '${name}' is not defined under tags`);
  if (Array.isArray(opt?.machines))
    opt.machines.forEach((m, i) => {
      if (!machines.has(m))
        issue(["optimizer", "machines", i], `machine ${String(m)} is not defined under machines`);
    });
  const connections = new Map(connectionList.map((c) => [c.id, c.protocol]));
  const tagNames = new Set<unknown>();
  list(cfg.tags).forEach((t, i) => {
    if (tagNames.has(t.name)) issue(["tags", i, "name"], `duplicate tag name ${String(t.name)}`);
    tagNames.add(t.name);
    if (typeof t.machine === "number" && !machines.has(t.machine))
      issue(["tags", i, "machine"], `machine ${t.machine} is not defined under machines`);
    const modbus = t.modbus as { area?: unknown; dataType?: unknown; bit?: unknown } | undefined;
    if (typeof t.connection === "string") {
      const protocol = connections.get(t.connection);
      if (protocol === undefined) {
        issue(["tags", i, "connection"], `connection '${t.connection}' is not defined under connections`);
      } else if (protocol === "opcua") {
        if (t.nodeId === undefined) issue(["tags", i], "an OPC UA tag needs nodeId");
        if (modbus !== undefined)
          issue(["tags", i, "modbus"], `connection '${t.connection}' is OPC UA, not Modbus`);
      } else {
        if (modbus === undefined)
          issue(["tags", i], "a Modbus tag needs a modbus: {area, address, dataType} block");
        if (t.nodeId !== undefined)
          issue(["tags", i, "nodeId"], `connection '${t.connection}' is Modbus, not OPC UA`);
      }
    }
    if (modbus !== undefined && modbus !== null) {
      if (
        modbus.bit !== undefined &&
        (modbus.dataType !== "bool" || (modbus.area !== "holding" && modbus.area !== "input"))
      )
        issue(["tags", i, "modbus", "bit"], "bit applies to a bool read from a holding or input register");
      if (t.writable === true && (modbus.area === "input" || modbus.area === "discrete"))
        issue(["tags", i, "writable"], `a Modbus ${String(modbus.area)} is read-only`);
      const width =
        modbus.area === "coil" || modbus.area === "discrete"
          ? 1
          : (MODBUS_REGISTERS[modbus.dataType as keyof typeof MODBUS_REGISTERS] ?? 1);
      const address = (modbus as { address?: unknown }).address;
      const n =
        typeof (modbus as { count?: unknown }).count === "number" ? (modbus as { count: number }).count : 1;
      if (typeof address === "number" && address + width * n - 1 > 65_535)
        issue(
          ["tags", i, "modbus", "address"],
          `${n > 1 ? `${n} values of ` : "a "}${String(modbus.dataType ?? "uint16")} at ${address} would need registers up to ${address + width * n - 1}; the last is 65535`,
        );
    }
    const wave = t.waveform as { length?: unknown; bearing?: { shaftSpeedTag?: unknown } } | undefined;
    const count = (modbus as { count?: unknown } | undefined)?.count;
    if (wave !== undefined && wave !== null) {
      if (t.writable === true) issue(["tags", i, "writable"], "a waveform tag is read-only");
      if (modbus !== undefined && modbus !== null) {
        if (count !== wave.length)
          issue(
            ["tags", i, "modbus", "count"],
            `a waveform of ${String(wave.length)} samples needs modbus.count ${String(wave.length)}`,
          );
        if (modbus.dataType === "bool" || modbus.area === "coil" || modbus.area === "discrete")
          issue(
            ["tags", i, "modbus"],
            "a waveform is read from holding or input registers of a numeric dataType",
          );
      }
      const speedTag = wave.bearing?.shaftSpeedTag;
      if (typeof speedTag === "string" && !tagSet.has(speedTag))
        issue(
          ["tags", i, "waveform", "bearing", "shaftSpeedTag"],
          `tag '${speedTag}' is not defined under tags`,
        );
    } else if (typeof count === "number" && count !== 1)
      issue(
        ["tags", i, "modbus", "count"],
        "more than one value in a row is a waveform: add a waveform block",
      );
    if (typeof t.min === "number" && typeof t.max === "number" && t.min > t.max)
      issue(["tags", i, "min"], `min ${t.min} is above max ${t.max}`);
    if (t.writable === true && (typeof t.min !== "number" || typeof t.max !== "number"))
      issue(["tags", i, "writable"], "a writable tag needs absolute min and max limits (safety envelope)");
  });
}

/**
 * Numeric Modbus tags of one unit and area whose registers overlap: legal (a PLC may map one
 * word twice), but usually a typo in an address, so `config check` and the daemon say so. Bits of
 * one register are the normal case and are not reported.
 */
export function overlappingRegisters(tags: readonly TagConfig[]): string[] {
  const groups = new Map<string, { tag: TagConfig; from: number; to: number }[]>();
  for (const t of tags) {
    const m = t.modbus;
    if (m === undefined || m.area === "coil" || m.area === "discrete" || m.bit !== undefined) continue;
    const key = `${t.connection} unit ${m.unitId} ${m.area}`;
    const from = m.address;
    const to = m.address + MODBUS_REGISTERS[m.dataType] * m.count - 1;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [{ tag: t, from, to }]);
    else group.push({ tag: t, from, to });
  }
  const out: string[] = [];
  for (const [key, list] of groups) {
    list.sort((a, b) => a.from - b.from);
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length && list[j]!.from <= list[i]!.to; j++) {
        const a = list[i]!;
        const b = list[j]!;
        out.push(
          `tags ${a.tag.name} (${a.tag.modbus!.dataType} at ${a.from}) and ${b.tag.name} (${b.tag.modbus!.dataType} at ${b.from}) share ${key} registers ${b.from}-${Math.min(a.to, b.to)}`,
        );
      }
  }
  return out;
}

/**
 * The line config as a JSON Schema (what a user writes: defaults optional), for an editor's
 * completion and checks (deploy/linepilot-config.schema.json, `npm run schemas`). Cross-field rules
 * (connections named by tags, limits of writable tags) are only in `linepilot config check`.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://linepilot.local/schemas/line-config.schema.json",
    title: "linepilot line configuration",
    ...z.toJSONSchema(lineConfigSchema, { target: "draft-2020-12", io: "input", unrepresentable: "any" }),
  };
}

/** The validated configuration of one line, as every component receives it (frozen). */
export type LineConfig = z.output<typeof lineConfigSchema>;
export type MachineConfig = LineConfig["machines"][number];
export type TagConfig = LineConfig["tags"][number];
export type ConnectionConfig = LineConfig["connections"][number];
export type OpcuaConnectionConfig = Extract<ConnectionConfig, { protocol: "opcua" }>;
export type SyncConfig = NonNullable<LineConfig["sync"]>;
export type MaintenanceConfig = NonNullable<LineConfig["maintenance"]>;
export type SafetyConfig = LineConfig["safety"];
export type OptimizerConfig = NonNullable<LineConfig["optimizer"]>;
export type ModbusConnectionConfig = Extract<ConnectionConfig, { protocol: "modbus-tcp" | "modbus-rtu" }>;
export type ModbusAddress = z.output<typeof modbusAddress>;
export type ModbusDataType = (typeof MODBUS_DATA_TYPES)[number];
export type StoreConfig = LineConfig["store"];
export type ApiConfig = LineConfig["api"];
export type RegistryConfig = NonNullable<LineConfig["registry"]>;
export type ModelKeyConfig = RegistryConfig["key"];
export type LearningConfig = NonNullable<LineConfig["learning"]>;
export { sync as syncConfigSchema };
export type WorkOrderHttpConfig = NonNullable<MaintenanceConfig["workOrders"]["http"]>;
export type CostsConfig = MaintenanceConfig["costs"];
