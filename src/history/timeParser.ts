/**
 * Time stamps as historians export them, to epoch milliseconds: ISO 8601 (with or without an
 * offset), epoch seconds or milliseconds, a pattern such as `yyyy.MM.dd.HH.mm.ss`, or a cycle
 * count (`cycle`: origin + cycle x cycleMs, for test rigs and fleets that count cycles).
 * A local time (no offset) is in `zone`, an IANA time zone; luxon knows the zone's rules
 * (offsets, daylight saving). The digits themselves are picked out by a compiled pattern rather
 * than by luxon's general parser, which is an order of magnitude too slow for millions of rows;
 * the zone's offset is asked once per wall-clock hour.
 */
import { DateTime, IANAZone } from "luxon";

export type TimeFormat = "iso" | "epoch-s" | "epoch-ms" | "cycle" | (string & {});

export interface TimeOptions {
  format: TimeFormat;
  zone: string;
  /** For `cycle`: the time of cycle 0, and one cycle's length. */
  originMs?: number;
  cycleMs?: number;
}

/** Returns a parser (NaN for a value it cannot read), or throws for options that cannot work. */
export function timeParser(o: TimeOptions): (text: string) => number {
  if (!IANAZone.isValidZone(o.zone))
    throw new Error(`unknown time zone '${o.zone}' (an IANA name such as Europe/Paris or UTC)`);
  const local = localToUtc(o.zone);
  switch (o.format) {
    case "epoch-s":
      return (t) => (/^\s*-?\d+(\.\d+)?\s*$/.test(t) ? Math.round(Number(t) * 1000) : Number.NaN);
    case "epoch-ms":
      return (t) => (/^\s*-?\d+\s*$/.test(t) ? Number(t) : Number.NaN);
    case "cycle": {
      const origin = o.originMs ?? 0;
      const cycle = o.cycleMs ?? 3_600_000;
      return (t) => (/^\s*\d+(\.\d+)?\s*$/.test(t) ? origin + Number(t) * cycle : Number.NaN);
    }
    case "iso":
      return isoParser(local);
    default:
      return patternParser(o.format, local);
  }
}

const ISO =
  /^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/;

function isoParser(local: (wallMs: number) => number): (text: string) => number {
  return (text) => {
    const m = ISO.exec(text);
    if (m === null) return Number.NaN;
    const wall = wallMs(m[1]!, m[2]!, m[3]!, m[4], m[5], m[6], m[7]);
    if (Number.isNaN(wall)) return wall;
    const offset = m[8];
    if (offset === undefined) return local(wall);
    if (offset === "Z") return wall;
    const sign = offset[0] === "-" ? -1 : 1;
    const digits = offset.slice(1).replace(":", "");
    const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || "0");
    return wall - sign * minutes * 60_000;
  };
}

const TOKENS: Record<string, string> = {
  yyyy: "year",
  MM: "month",
  dd: "day",
  HH: "hour",
  mm: "minute",
  ss: "second",
  SSS: "fraction",
};

/** A pattern of yyyy MM dd HH mm ss SSS and literal characters. */
function patternParser(pattern: string, local: (wallMs: number) => number): (text: string) => number {
  const fields: string[] = [];
  let regex = "^\\s*";
  for (let i = 0; i < pattern.length; ) {
    const token = ["yyyy", "SSS", "MM", "dd", "HH", "mm", "ss"].find((t) => pattern.startsWith(t, i));
    if (token !== undefined) {
      fields.push(TOKENS[token]!);
      regex += token === "yyyy" ? "(\\d{4})" : token === "SSS" ? "(\\d{1,9})" : "(\\d{1,2})";
      i += token.length;
    } else {
      regex += pattern[i]!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      i++;
    }
  }
  if (!fields.includes("year") || !fields.includes("month") || !fields.includes("day"))
    throw new Error(
      `time format '${pattern}' needs yyyy, MM and dd (and may have HH, mm, ss, SSS); or use iso, epoch-s, epoch-ms, cycle`,
    );
  const re = new RegExp(`${regex}\\s*$`);
  return (text) => {
    const m = re.exec(text);
    if (m === null) return Number.NaN;
    const get = (name: string) => {
      const at = fields.indexOf(name);
      return at < 0 ? undefined : m[at + 1];
    };
    const wall = wallMs(
      get("year")!,
      get("month")!,
      get("day")!,
      get("hour"),
      get("minute"),
      get("second"),
      get("fraction"),
    );
    return Number.isNaN(wall) ? wall : local(wall);
  };
}

function wallMs(
  y: string,
  mo: string,
  d: string,
  h?: string,
  mi?: string,
  s?: string,
  fraction?: string,
): number {
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60)
    return Number.NaN;
  const ms = fraction === undefined ? 0 : Math.round(Number(`0.${fraction}`) * 1000);
  return Date.UTC(Number(y), month - 1, day, hour, minute, second, ms);
}

/** Wall-clock time in `zone` (as if it were UTC) to real UTC, with the zone's offset cached per hour. */
function localToUtc(zone: string): (wallMs: number) => number {
  if (zone === "UTC" || zone === "Etc/UTC") return (wall) => wall;
  const cache = new Map<number, number>();
  return (wall) => {
    const hour = Math.floor(wall / 3_600_000);
    let offsetMs = cache.get(hour);
    if (offsetMs === undefined) {
      const dt = DateTime.fromObject(
        (({ year, month, day, hour: h }) => ({ year, month, day, hour: h }))(
          DateTime.fromMillis(hour * 3_600_000, { zone: "UTC" }),
        ),
        { zone },
      );
      offsetMs = dt.offset * 60_000;
      if (cache.size > 100_000) cache.clear();
      cache.set(hour, offsetMs);
    }
    return wall - offsetMs;
  };
}
