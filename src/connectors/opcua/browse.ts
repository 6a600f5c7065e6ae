/**
 * Walks an OPC UA server's address space for onboarding: every variable under a root (the Objects
 * folder by default) with its browse path, data type, access level, and engineering unit and range
 * where the server gives them (the EngineeringUnits and EURange properties of analog items). It
 * uses the connection's own security, login and PKI, on a session of its own that ends with it.
 *
 * Requests go in batches (hundreds of nodes per Browse and Read) with the server's continuation
 * points followed, so thousands of nodes take a few round trips per level, not one per node.
 */
import "./library.js";
import {
  AttributeIds,
  BrowseDirection,
  type BrowseResult,
  type ClientSession,
  DataType,
  NodeClass,
  NodeClassMask,
  type ReferenceDescription,
} from "node-opcua-client";
import { errorMessage, LinepilotError } from "../../common/errors.js";
import type { LineConfig, OpcuaConnectionConfig } from "../../config/schema.js";
import { createClient, identityOf } from "./opcuaConnector.js";
import { applicationUriOf, Pki, pkiDirOf } from "./pki.js";

export interface BrowsedVariable {
  nodeId: string;
  /** Browse names from the root down, joined with "/". */
  path: string;
  dataType: string;
  /** Scalar (-1) or an array (1 and more dimensions): arrays are waveform candidates. */
  valueRank: number;
  writable: boolean;
  unit: string | null;
  range: { low: number; high: number } | null;
}

export interface BrowseOptions {
  root: string;
  depth: number;
  /** Stop after this many variables (a guard against an endless server). */
  limit: number;
}

const BATCH = 500;
const NUMERIC = new Set([
  "Boolean",
  "SByte",
  "Byte",
  "Int16",
  "UInt16",
  "Int32",
  "UInt32",
  "Int64",
  "UInt64",
  "Float",
  "Double",
]);

export function isNumeric(v: BrowsedVariable): boolean {
  return NUMERIC.has(v.dataType);
}

async function browseAll(session: ClientSession, nodeIds: string[], referenceTypeId: string, mask: number) {
  const out: ReferenceDescription[][] = [];
  for (let i = 0; i < nodeIds.length; i += BATCH) {
    const results = await session.browse(
      nodeIds.slice(i, i + BATCH).map((nodeId) => ({
        nodeId,
        referenceTypeId,
        includeSubtypes: true,
        browseDirection: BrowseDirection.Forward,
        nodeClassMask: mask,
        resultMask: 63,
      })),
    );
    for (const r of results) {
      const refs = [...(r.references ?? [])];
      let cp: Buffer | null | undefined = r.continuationPoint;
      while (cp !== undefined && cp !== null && cp.length > 0) {
        const [next]: BrowseResult[] = await session.browseNext([cp], false);
        refs.push(...(next?.references ?? []));
        cp = next?.continuationPoint;
      }
      out.push(refs);
    }
  }
  return out;
}

async function readAll(session: ClientSession, nodeIds: string[], attributeId: number) {
  const out: unknown[] = [];
  for (let i = 0; i < nodeIds.length; i += BATCH) {
    const values = await session.read(nodeIds.slice(i, i + BATCH).map((nodeId) => ({ nodeId, attributeId })));
    for (const v of values) out.push(v.statusCode.value === 0 ? v.value.value : undefined);
  }
  return out;
}

/** The variables under `root`, breadth first, to `depth` levels of folders and objects. */
export async function walkAddressSpace(session: ClientSession, o: BrowseOptions): Promise<BrowsedVariable[]> {
  const found: { nodeId: string; path: string }[] = [];
  let level = [{ nodeId: o.root, path: "" }];
  for (let d = 0; d < o.depth && level.length > 0 && found.length < o.limit; d++) {
    const refs = await browseAll(
      session,
      level.map((n) => n.nodeId),
      "HierarchicalReferences",
      NodeClassMask.Object | NodeClassMask.Variable,
    );
    const next: typeof level = [];
    refs.forEach((children, i) => {
      for (const r of children) {
        // The server's own diagnostics (namespace 0) are not the line's tags.
        if (r.nodeId.namespace === 0) continue;
        const path = `${level[i]!.path}${level[i]!.path === "" ? "" : "/"}${r.browseName.name ?? r.nodeId.toString()}`;
        const nodeId = r.nodeId.toString();
        if (r.nodeClass === NodeClass.Variable) {
          if (found.length < o.limit) found.push({ nodeId, path });
        } else next.push({ nodeId, path });
      }
    });
    level = next;
  }
  const ids = found.map((f) => f.nodeId);
  const types = await readAll(session, ids, AttributeIds.DataType);
  const ranks = await readAll(session, ids, AttributeIds.ValueRank);
  const access = await readAll(session, ids, AttributeIds.UserAccessLevel);
  // Analog items carry their unit and range as properties.
  const props = await browseAll(session, ids, "HasProperty", NodeClassMask.Variable);
  const unitNodes: (string | undefined)[] = [];
  const rangeNodes: (string | undefined)[] = [];
  for (const p of props) {
    unitNodes.push(p.find((r) => r.browseName.name === "EngineeringUnits")?.nodeId.toString());
    rangeNodes.push(p.find((r) => r.browseName.name === "EURange")?.nodeId.toString());
  }
  const present = (xs: (string | undefined)[]) => xs.filter((x): x is string => x !== undefined);
  const unitValues = new Map<string, unknown>();
  const rangeValues = new Map<string, unknown>();
  const u = present(unitNodes);
  const unitRead = await readAll(session, u, AttributeIds.Value);
  for (let i = 0; i < u.length; i++) unitValues.set(u[i]!, unitRead[i]);
  const r = present(rangeNodes);
  const rangeRead = await readAll(session, r, AttributeIds.Value);
  for (let i = 0; i < r.length; i++) rangeValues.set(r[i]!, rangeRead[i]);
  return found.map((f, i) => {
    const type = types[i] as { namespace: number; value: number } | undefined;
    const unit =
      unitNodes[i] === undefined
        ? undefined
        : (unitValues.get(unitNodes[i]!) as { displayName?: { text?: string } } | undefined);
    const range =
      rangeNodes[i] === undefined
        ? undefined
        : (rangeValues.get(rangeNodes[i]!) as { low?: number; high?: number } | undefined);
    return {
      nodeId: f.nodeId,
      path: f.path,
      dataType:
        type === undefined
          ? "?"
          : type.namespace === 0
            ? (DataType[type.value] ?? `i=${type.value}`)
            : `ns=${type.namespace};i=${type.value}`,
      valueRank: typeof ranks[i] === "number" ? (ranks[i] as number) : -1,
      // AccessLevel bit 1 is CurrentWrite.
      writable: typeof access[i] === "number" && ((access[i] as number) & 2) !== 0,
      unit: unit?.displayName?.text ?? null,
      range:
        range?.low !== undefined && range.high !== undefined ? { low: range.low, high: range.high } : null,
    };
  });
}

/** Connects with the connection's security and login, walks, and disconnects. */
export async function browseServer(
  cfg: OpcuaConnectionConfig,
  line: LineConfig,
  o: BrowseOptions,
): Promise<BrowsedVariable[]> {
  const pki = new Pki(pkiDirOf(cfg, line));
  await pki.initialize(applicationUriOf(line), line.line.name);
  const client = createClient(cfg, line, pki);
  try {
    await client.connect(cfg.endpoint);
  } catch (error) {
    await client.disconnect().catch(() => undefined);
    await pki.dispose();
    const cert = pki.newestRejected();
    throw new LinepilotError(
      "LP_ERR_CONNECTOR",
      cert !== undefined && /certificate|BadCertificate/i.test(errorMessage(error))
        ? `the server certificate of ${cfg.endpoint} is not trusted (thumbprint ${cert.thumbprint}); run 'linepilot pki trust ${cert.thumbprint.slice(0, 12)} --config <line.yaml>' and browse again`
        : `cannot connect to ${cfg.endpoint}: ${errorMessage(error)}`,
    );
  }
  try {
    const session = await client.createSession(identityOf(cfg));
    try {
      return await walkAddressSpace(session, o);
    } finally {
      await session.close().catch(() => undefined);
    }
  } catch (error) {
    if (error instanceof LinepilotError) throw error;
    throw new LinepilotError("LP_ERR_CONNECTOR", `browsing ${cfg.endpoint}: ${errorMessage(error)}`);
  } finally {
    await client.disconnect().catch(() => undefined);
    await pki.dispose();
  }
}

/** A tag name from a browse path: "Line1/Press 7/Motor.Temp" -> "line1.press_7.motor_temp". */
export function tagNameOf(path: string): string {
  const name = path
    .split("/")
    .map((s) =>
      s
        .toLowerCase()
        .replace(/[^a-z0-9_-]+/g, "_")
        .replace(/^_+|_+$/g, ""),
    )
    .filter((s) => s !== "")
    .join(".");
  return (/^[a-z0-9]/.test(name) ? name : `t${name}`).slice(0, 64);
}
