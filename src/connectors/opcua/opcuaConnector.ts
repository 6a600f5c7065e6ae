/**
 * OPC UA (node-opcua client): one session, one subscription, one monitored item per tag (sampling
 * interval and queue from the tag), so the server pushes changes and nothing is polled.
 *
 * Reconnection is ours, not node-opcua's (connectionStrategy maxRetry 0): on any loss (socket
 * closed, keep-alive failed, session or subscription gone) the whole client is torn down and a new
 * one connects with the shared backoff, then recreates session, subscription and items. That is the
 * path that also works after a server restart, where the old session and subscriptions no longer
 * exist (docs/field-problems.md #1), and it gives one place to record the gap as a connection event.
 */
import "./library.js";
import { EventEmitter } from "node:events";
import {
  AttributeIds,
  type ClientMonitoredItemGroup,
  type ClientSession,
  type ClientSubscription,
  DataType,
  type DataValue,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  type StatusCode,
  TimestampsToReturn,
  type UserIdentityInfo,
  UserTokenType,
} from "node-opcua-client";
import { readCertificate } from "node-opcua-crypto";
import { keepConnected, type ReconnectEvents, settleWithin } from "../../common/backoff.js";
import type { ComponentHealth } from "../../common/component.js";
import { errorMessage, LinepilotError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { LineConfig, OpcuaConnectionConfig, TagConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";
import type { SampleWriter } from "../../store/sampleWriter.js";
import type { Store } from "../../store/store.js";
import { ConnectionEvents } from "../connectionEvents.js";
import { type Connector, ConnectorStats, type WriteResult } from "../connector.js";
import { STATUS, statusName } from "../quality.js";
import { routeNodeOpcuaLogs } from "./library.js";
import { applicationUriOf, Pki, pkiDirOf } from "./pki.js";
import { BAD_TYPE_MISMATCH, blockValue, sampleValue, variantFor } from "./values.js";

export interface OpcuaConnectorDeps {
  writer: SampleWriter;
  store: Store;
  log: Logger;
  line: LineConfig;
}

interface Live {
  client: OPCUAClient;
  session: ClientSession;
  subscription: ClientSubscription;
  groups: ClientMonitoredItemGroup[];
  lost: Promise<string>;
}

/** A monitored item group: the tags that share sampling interval and queue size. */
interface ItemGroup {
  intervalMs: number;
  queueSize: number;
  tags: TagConfig[];
  indexes: Int32Array;
}

/** The client of a connection: its application identity, security and timeouts. */
export function createClient(cfg: OpcuaConnectionConfig, line: LineConfig, pki: Pki): OPCUAClient {
  return OPCUAClient.create({
    applicationName: `linepilot ${line.line.name}`,
    applicationUri: applicationUriOf(line),
    clientName: `linepilot:${line.line.name}:${cfg.id}`,
    securityMode: MessageSecurityMode[cfg.securityMode],
    securityPolicy: SecurityPolicy[cfg.securityPolicy],
    endpointMustExist: false,
    clientCertificateManager: pki.manager,
    certificateFile: pki.ownCertificateFile,
    privateKeyFile: pki.ownPrivateKeyFile,
    connectionStrategy: { maxRetry: 0, initialDelay: cfg.backoff.initialMs, maxDelay: cfg.backoff.maxMs },
    requestedSessionTimeout: cfg.sessionTimeoutMs,
    defaultTransactionTimeout: cfg.requestTimeoutMs,
    keepSessionAlive: true,
    transportTimeout: cfg.requestTimeoutMs,
  });
}

/** The connection's login: anonymous, user name and password, or a user certificate. */
export function identityOf(cfg: OpcuaConnectionConfig): UserIdentityInfo {
  const auth = cfg.auth;
  if (auth.type === "username")
    return {
      type: UserTokenType.UserName,
      userName: auth.username,
      password: resolveSecret(auth.password),
    };
  if (auth.type === "certificate")
    return {
      type: UserTokenType.Certificate,
      certificateData: readCertificate(auth.certificateFile),
      privateKey: resolveSecret(auth.privateKey), // PEM text
    };
  return { type: UserTokenType.Anonymous };
}

export class OpcuaConnector implements Connector {
  readonly name: string;
  readonly protocol = "opcua" as const;
  readonly events = new EventEmitter<ReconnectEvents>();
  readonly pki: Pki;
  readonly #cfg: OpcuaConnectionConfig;
  readonly #tags: readonly TagConfig[];
  readonly #deps: OpcuaConnectorDeps;
  readonly #log: Logger;
  readonly #stats = new ConnectorStats();
  readonly #gaps: ConnectionEvents;
  readonly #badItems = new Map<string, string>();
  #groups: ItemGroup[] = [];
  #live: Live | undefined;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  sessionsCreated = 0;

  constructor(cfg: OpcuaConnectionConfig, tags: readonly TagConfig[], deps: OpcuaConnectorDeps) {
    this.#cfg = cfg;
    this.#tags = tags;
    this.#deps = deps;
    this.name = `opcua:${cfg.id}`;
    this.#log = deps.log.child({ component: this.name });
    this.#gaps = new ConnectionEvents(tags, deps.store, this.#log, cfg.endpoint);
    this.pki = new Pki(pkiDirOf(cfg, deps.line));
    routeNodeOpcuaLogs(deps.log);
  }

  get connected(): boolean {
    return this.#live !== undefined;
  }

  async start(): Promise<void> {
    await this.pki.initialize(applicationUriOf(this.#deps.line), this.#deps.line.line.name);
    const byKey = new Map<string, ItemGroup>();
    for (const tag of this.#tags) {
      const key = `${tag.intervalMs}/${tag.queueSize}`;
      let group = byKey.get(key);
      if (group === undefined) {
        group = {
          intervalMs: tag.intervalMs,
          queueSize: tag.queueSize,
          tags: [],
          indexes: new Int32Array(0),
        };
        byKey.set(key, group);
      }
      group.tags.push(tag);
    }
    this.#groups = [...byKey.values()];
    for (const g of this.#groups)
      g.indexes = Int32Array.from(g.tags, (t) => this.#deps.writer.tagIndex(t.name));
    this.events.on("backoff", (e) => this.#log.warn(e, "cannot connect; retrying"));
    this.events.on("reconnected", (e) => this.#log.info(e, "connected again"));
    this.#abort = new AbortController();
    // Never block the daemon's start on a PLC: an unreachable server at start is retried forever.
    this.#loop = this.#run();
    this.#log.info(
      {
        endpoint: this.#cfg.endpoint,
        items: this.#tags.length,
        groups: this.#groups.length,
        pki: this.pki.dir,
      },
      "opcua subscription plan",
    );
  }

  async stop(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    await this.#loop;
    await this.pki.dispose();
  }

  #run(): Promise<void> {
    const signal = this.#abort.signal;
    return keepConnected({
      connect: () => this.#connect(),
      backoff: this.#cfg.backoff,
      signal,
      events: this.events,
      session: async () => {
        const live = this.#live!;
        this.#gaps.restored();
        this.#log.info(
          { endpoint: this.#cfg.endpoint, securityMode: this.#cfg.securityMode, items: this.#tags.length },
          "opcua connected and subscribed",
        );
        const reason = await Promise.race([
          live.lost,
          new Promise<string>((resolve) => {
            if (signal.aborted) resolve("stopping");
            signal.addEventListener("abort", () => resolve("stopping"), { once: true });
          }),
        ]);
        this.#live = undefined;
        if (!signal.aborted) {
          this.#stats.error(`connection lost: ${reason}`);
          this.#log.warn({ endpoint: this.#cfg.endpoint, reason }, "opcua connection lost");
          this.#markAll(STATUS.BadNotConnected);
          this.#gaps.lost(reason);
        }
        await this.#teardown(live, !signal.aborted);
      },
    });
  }

  async #connect(): Promise<void> {
    await this.pki.reload(); // a certificate trusted since the last attempt counts now
    const cfg = this.#cfg;
    const client = createClient(cfg, this.#deps.line, this.pki);
    let lose: (reason: string) => void = () => undefined;
    const lost = new Promise<string>((resolve) => {
      lose = resolve;
    });
    client.on("connection_lost", () => lose("connection to the server lost"));
    client.on("close", (err?: Error | null) => lose(err ? errorMessage(err) : "connection closed"));
    try {
      await client.connect(cfg.endpoint);
    } catch (error) {
      await client.disconnect().catch(() => undefined);
      throw this.#connectError(error);
    }
    let live: Live | undefined;
    try {
      const session = await client.createSession(identityOf(cfg));
      this.sessionsCreated++;
      session.on("session_closed", () => lose("session closed by the server"));
      session.on("keepalive_failure", () => lose("session keep-alive failed"));
      const subscription = await session.createSubscription2({
        requestedPublishingInterval: cfg.publishingIntervalMs,
        requestedLifetimeCount: Math.max(
          30,
          Math.ceil((cfg.sessionTimeoutMs * 3) / cfg.publishingIntervalMs),
        ),
        requestedMaxKeepAliveCount: Math.max(3, Math.ceil(10_000 / cfg.publishingIntervalMs)),
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 10,
      });
      subscription.on("terminated", () => lose("subscription terminated by the server"));
      live = { client, session, subscription, groups: [], lost };
      this.#badItems.clear();
      for (const group of this.#groups) live.groups.push(await this.#monitor(subscription, group));
      // Connected only once every item is monitored: a write or a stop sees a whole connection.
      this.#live = live;
    } catch (error) {
      const refused = this.#sessionError(error);
      this.#stats.error(refused.message);
      if (live !== undefined) await this.#teardown(live, false);
      else await client.disconnect().catch(() => undefined);
      throw refused;
    }
  }

  async #monitor(subscription: ClientSubscription, group: ItemGroup): Promise<ClientMonitoredItemGroup> {
    const items = await subscription.monitorItems(
      group.tags.map((t) => ({ nodeId: t.nodeId!, attributeId: AttributeIds.Value })),
      { samplingInterval: group.intervalMs, queueSize: group.queueSize, discardOldest: true },
      TimestampsToReturn.Both,
    );
    const writer = this.#deps.writer;
    const indexes = group.indexes;
    const tags = group.tags;
    // One reused buffer per waveform tag: a block is copied, scaled and handed on, never kept.
    const blocks = tags.map((t) =>
      t.waveform === undefined ? undefined : new Float64Array(t.waveform.length),
    );
    items.on("changed", (_item: unknown, dataValue: DataValue, i: number) => {
      const tag = tags[i]!;
      const status = dataValue.statusCode.value;
      const block = blocks[i];
      if (block !== undefined) {
        const ts = dataValue.sourceTimestamp?.getTime() ?? dataValue.serverTimestamp?.getTime() ?? Date.now();
        const quality =
          status >>> 30 === 2 ? status : blockValue(dataValue.value, block, tag.scale, tag.offset);
        if (quality === 0) writer.acceptBlock(indexes[i]!, ts, block);
        else writer.accept(indexes[i]!, ts, Number.NaN, quality);
        this.#stats.samples++;
        return;
      }
      let value = sampleValue(dataValue.value);
      let quality = status;
      if (Number.isNaN(value) && status >>> 30 !== 2) quality = BAD_TYPE_MISMATCH;
      else value = value * tag.scale + tag.offset;
      // Bad values are kept as bad samples with their status, not dropped (issue 3).
      const ts = dataValue.sourceTimestamp?.getTime() ?? dataValue.serverTimestamp?.getTime() ?? Date.now();
      writer.accept(indexes[i]!, ts, value, quality);
      this.#stats.samples++;
    });
    // A tag whose node the server does not know keeps a Bad sample and a counted error; the others run.
    const now = Date.now();
    items.monitoredItems.forEach((item, i) => {
      const code: StatusCode = item.statusCode;
      if (code.value >>> 30 === 2) {
        const tag = tags[i]!;
        this.#badItems.set(tag.name, code.name);
        this.#stats.error(`tag ${tag.name} (${tag.nodeId}): ${code.name}`);
        this.#log.warn({ tag: tag.name, nodeId: tag.nodeId, status: code.name }, "monitored item refused");
        writer.accept(indexes[i]!, now, Number.NaN, code.value);
      }
    });
    return items;
  }

  /** A refused connect in words a technician can act on. */
  #connectError(error: unknown): Error {
    const message = errorMessage(error);
    if (/BadCertificateUntrusted|certificate verification failed/i.test(message)) {
      const cert = this.pki.newestRejected();
      const text =
        `the server certificate of ${this.#cfg.endpoint} is not trusted` +
        (cert === undefined
          ? `; its certificate should be in ${this.pki.rejectedDir}`
          : ` (subject ${cert.subject}, SHA-1 thumbprint ${cert.thumbprint}). It was saved as ${cert.file}. ` +
            `Check the thumbprint with the PLC's administrator, then run ` +
            `'linepilot pki trust ${cert.thumbprint.slice(0, 12)} --config <line.yaml>' ` +
            `or move the file to ${this.pki.trustedDir}/`);
      this.#stats.error(text);
      return new LinepilotError("LP_ERR_CONNECTOR", text);
    }
    // A server that does not trust the client's certificate closes the secure channel during the
    // handshake; node-opcua then only says the socket was closed.
    if (
      this.#cfg.securityMode !== "None" &&
      /disconnected by third party|BadSecurityChecksFailed|BadCertificate|ECONNRESET/i.test(message)
    ) {
      const text =
        `${this.#cfg.endpoint} did not accept linepilot's certificate (it closed the secure channel: ${message}); ` +
        `trust ${this.pki.ownCertificateFile} on the server (it is usually in the server's rejected folder)`;
      this.#stats.error(text);
      return new LinepilotError("LP_ERR_CONNECTOR", text);
    }
    this.#stats.error(`connect: ${message}`);
    return error instanceof Error ? error : new Error(message);
  }

  #sessionError(error: unknown): Error {
    const message = errorMessage(error);
    if (
      /BadIdentityTokenInvalid|BadIdentityTokenRejected|BadUserAccessDenied|user token policy/i.test(message)
    )
      return new LinepilotError(
        "LP_ERR_CONNECTOR",
        `${this.#cfg.endpoint} refused the ${this.#cfg.auth.type} login: ${message}`,
      );
    if (/BadSecurityChecksFailed|BadCertificate/i.test(message))
      return new LinepilotError(
        "LP_ERR_CONNECTOR",
        `${this.#cfg.endpoint} refused linepilot's certificate (${message}); trust ` +
          `${this.pki.ownCertificateFile} on the server`,
      );
    return new Error(`session: ${message}`);
  }

  async #teardown(live: Live, serverGone: boolean): Promise<void> {
    const quick = (p: Promise<unknown>) => settleWithin(p, serverGone ? 200 : this.#cfg.requestTimeoutMs);
    // Closing the session with deleteSubscriptions frees the server's side in one request.
    if (!serverGone) await quick(live.session.close(true));
    await quick(live.client.disconnect());
  }

  #markAll(status: number): void {
    const now = Date.now();
    const writer = this.#deps.writer;
    for (const g of this.#groups)
      for (let i = 0; i < g.indexes.length; i++) writer.accept(g.indexes[i]!, now, Number.NaN, status);
  }

  async read(tagName: string): Promise<number> {
    const tag = this.#tags.find((t) => t.name === tagName);
    if (tag === undefined || tag.nodeId === undefined)
      throw new LinepilotError("LP_ERR_CONNECTOR", `${this.name} has no tag ${tagName}`);
    if (tag.waveform !== undefined)
      throw new LinepilotError("LP_ERR_CONNECTOR", `tag ${tagName} is a waveform, not one value`);
    const live = this.#live;
    if (live === undefined) throw new LinepilotError("LP_ERR_CONNECTOR", `${this.name} is not connected`);
    const dv = await live.session.read({ nodeId: tag.nodeId, attributeId: AttributeIds.Value });
    const value = sampleValue(dv.value);
    if (dv.statusCode.value >>> 30 === 2 || Number.isNaN(value))
      throw new LinepilotError(
        "LP_ERR_CONNECTOR",
        `tag ${tagName}: ${tag.nodeId} reads ${dv.statusCode.value === 0 ? "a value that is not a number" : dv.statusCode.name}`,
      );
    return value * tag.scale + tag.offset;
  }

  async write(tagName: string, value: number): Promise<WriteResult> {
    const tag = this.#tags.find((t) => t.name === tagName);
    if (tag === undefined || tag.nodeId === undefined)
      throw new LinepilotError("LP_ERR_CONNECTOR", `${this.name} has no tag ${tagName}`);
    if (!tag.writable)
      throw new LinepilotError("LP_ERR_CONNECTOR", `tag ${tagName} is not writable (set writable: true)`);
    const live = this.#live;
    if (live === undefined) throw new LinepilotError("LP_ERR_CONNECTOR", `${this.name} is not connected`);
    const nodeId = tag.nodeId;
    const current = await live.session.read({ nodeId, attributeId: AttributeIds.Value });
    if (current.statusCode.value >>> 30 === 2)
      throw new LinepilotError(
        "LP_ERR_CONNECTOR",
        `tag ${tagName}: cannot read ${nodeId} (${current.statusCode.name})`,
      );
    const { variant, written } = variantFor(
      tagName,
      current.value.dataType,
      (value - tag.offset) / tag.scale,
    );
    const status = await live.session.write({
      nodeId,
      attributeId: AttributeIds.Value,
      value: { value: variant },
    });
    if (status.value !== 0)
      throw new LinepilotError(
        "LP_ERR_CONNECTOR",
        `tag ${tagName}: the server refused the write (${status.name})`,
      );
    const back = await live.session.read({ nodeId, attributeId: AttributeIds.Value });
    const readBack = sampleValue(back.value) * tag.scale + tag.offset;
    const expected = written * tag.scale + tag.offset;
    // A Float keeps ~7 significant digits: compare at that precision, everything else exactly.
    const tolerance = variant.dataType === DataType.Float ? Math.abs(expected) * 1e-6 + 1e-9 : 1e-9;
    if (back.statusCode.value !== 0 || !(Math.abs(readBack - expected) <= tolerance))
      throw new LinepilotError(
        "LP_ERR_WRITE_VERIFY",
        `tag ${tagName}: wrote ${expected}, read back ${readBack} (${statusName(back.statusCode.value)})`,
      );
    return { tag: tagName, requested: value, readBack, ok: true };
  }

  health(): ComponentHealth {
    return {
      // Connected with a node the server refuses is not ok: that tag has no data.
      state:
        this.#loop === undefined
          ? "stopped"
          : !this.connected
            ? "down"
            : this.#badItems.size > 0
              ? "degraded"
              : "ok",
      details: {
        protocol: this.protocol,
        target: this.#cfg.endpoint,
        securityMode: this.#cfg.securityMode,
        securityPolicy: this.#cfg.securityPolicy,
        connected: this.connected,
        ...this.#stats.toJSON(),
        monitoredItems: this.#tags.length,
        refusedItems: Object.fromEntries(this.#badItems),
        sessionsCreated: this.sessionsCreated,
        pki: this.pki.dir,
      },
    };
  }
}
