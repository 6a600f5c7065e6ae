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
