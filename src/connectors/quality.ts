/**
 * Sample quality as OPC UA StatusCodes (OPC 10000-4, 7.39), for every protocol: one vocabulary in
 * the store, whatever the source. The top two bits give the class: 00 Good, 01 Uncertain, 10 Bad.
 */
export const STATUS = {
  Good: 0x00000000,
  UncertainLastUsableValue: 0x40900000,
  BadCommunicationError: 0x80050000,
  BadTimeout: 0x800a0000,
  BadNoCommunication: 0x80310000,
  BadDataEncodingInvalid: 0x80380000,
  BadNotConnected: 0x808a0000,
  BadDeviceFailure: 0x808b0000,
  BadSensorFailure: 0x808d0000,
  BadOutOfRange: 0x803c0000,
  BadNodeIdUnknown: 0x80340000,
  BadWaitingForInitialData: 0x80320000,
} as const;

export type QualityClass = "good" | "uncertain" | "bad";

export function qualityOf(status: number): QualityClass {
  const severity = status >>> 30;
  return severity === 0 ? "good" : severity === 1 ? "uncertain" : "bad";
}

export function statusName(status: number): string {
  for (const [name, code] of Object.entries(STATUS)) if (code === status) return name;
  return `0x${status.toString(16).padStart(8, "0")}`;
}

/** The live values the sample writer keeps per tag (its index): the last reading of each. */
export interface LiveValues {
  readonly latestValue: Float64Array;
  readonly latestTs: Float64Array;
  readonly latestStatus: Uint32Array;
}

/**
 * How long a tag's last reading stays current, per tag of a line: a polled tag (Modbus) must be
 * read again within three of its intervals (plus a request timeout); an OPC UA tag reports
 * changes only, so an unchanged value stays current while its connection is up (a lost
 * connection writes a Bad sample at once).
 */
export function stalenessLimits(line: {
  tags: readonly { connection: string; intervalMs: number }[];
  connections: readonly { id: string; protocol: string; timeoutMs?: number }[];
}): Float64Array {
  const byId = new Map(line.connections.map((c) => [c.id, c]));
  return Float64Array.from(line.tags, (t) => {
    const c = byId.get(t.connection);
    if (c === undefined || c.protocol === "opcua") return Number.POSITIVE_INFINITY;
    return 3 * t.intervalMs + (c.timeoutMs ?? 1_000);
  });
}

/**
 * The one rule for "a value the line can act on": read at least once, Good, a number, and not
 * stale. NaN otherwise. The safety envelope's bound, the optimizer's state and the plant's
 * Sparkplug data all take their current values through here.
 */
export function usableValue(live: LiveValues, i: number, now: number, staleAfterMs: number): number {
  const ts = live.latestTs[i]!;
  const v = live.latestValue[i]!;
  if (ts === 0 || qualityOf(live.latestStatus[i]!) !== "good" || Number.isNaN(v)) return Number.NaN;
  return now - ts > staleAfterMs ? Number.NaN : v;
}
