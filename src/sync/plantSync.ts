/**
 * The link to the plant broker (mqtt): drains the SQLite outbox in order with QoS 1, removing a
 * message only after its PUBACK, at a bounded rate; keeps a retained status with a birth
 * ("online") and a last will ("offline"); receives plant commands.
 *
 * The outbox is the buffer, not mqtt.js: the client's own offline queue is never used (we publish
 * only while connected, and a message leaves SQLite only once the broker has it), so a broker down
 * for days or a kill -9 of the daemon loses nothing. After a reconnect, unacknowledged messages are
 * sent again with the same messageId; the plant de-duplicates on it.
 */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { keepConnected, sleep } from "../common/backoff.js";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig, SyncConfig } from "../config/schema.js";
import { OutboxQueue } from "../store/outbox.js";
import { keepRefused } from "../store/refusedMessages.js";
import type { Store } from "../store/store.js";
import { brokerOptions } from "./broker.js";
import { PlantCommands } from "./commands.js";

export function topicPrefixOf(config: LineConfig): string {
  const l = config.line;
  return config.sync?.topicPrefix ?? `${l.enterprise}/${l.site}/${l.area}/${l.name}/linepilot`;
}

export interface PlantSyncDeps {
  store: Store;
  log: Logger;
  line: LineConfig;
  /** The daemon's health, summarised in the periodic status message. */
  status?: () => { state: string; components: Record<string, string> };
  /** Gateway metrics for <prefix>/metrics. */
  metrics?: () => Record<string, unknown>;
  /** Every tag's latest value, for downsampled telemetry. */
  telemetry?: () => Record<string, unknown>[];
}

export class PlantSync implements Component {
  readonly name = "sync";
  readonly prefix: string;
  readonly commands: PlantCommands;
  readonly #cfg: SyncConfig;
  readonly #deps: PlantSyncDeps;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  #protocolVersion: 4 | 5;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #capTimer: NodeJS.Timeout | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  #lastSentId = 0;
  #queue: OutboxQueue | undefined;
  readonly #inflight = new Set<number>();
  /** Sent but refused by the client (connection going down): never deleted, sent again after reconnect. */
  readonly #failed = new Set<number>();
  /** When each refusal reason was last logged: one line per reason a minute, not one per message. */
  readonly #refusalLogged = new Map<string, number>();
  refused = 0;
  lastRefusal: { topic: string; reason: string; at: string } | null = null;
  readonly #acked: number[] = [];
  published = 0;
  acknowledged = 0;
  droppedForCap = 0;
  errors = 0;
  lastError: string | null = null;
  connectedSince: number | null = null;

  constructor(cfg: SyncConfig, deps: PlantSyncDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
    this.#log = deps.log.child({ component: "sync" });
    this.prefix = topicPrefixOf(deps.line);
    this.#protocolVersion = cfg.protocolVersion;
    this.commands = new PlantCommands(deps.store, cfg, new Set(deps.line.machines.map((m) => m.id)));
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  async start(): Promise<void> {
    this.#deps.store.onOutbox(() => this.#wake?.());
    this.#abort = new AbortController();
    this.#loop = this.#run();
    this.#statusTimer = setInterval(() => this.enqueueStatus(), this.#cfg.statusIntervalMs);
    this.#statusTimer.unref();
    const periodic = (everyMs: number, task: () => void) => {
      const timer = setInterval(task, everyMs);
      timer.unref();
      this.#timers.push(timer);
    };
    if (this.#deps.metrics !== undefined)
      periodic(this.#cfg.metricsIntervalMs, () => this.#enqueue("metrics", "metrics", this.#deps.metrics!()));
    if (this.#cfg.telemetryEveryMs !== undefined && this.#deps.telemetry !== undefined)
      periodic(this.#cfg.telemetryEveryMs, () =>
        this.#enqueue("telemetry", "telemetry", { values: this.#deps.telemetry!() }),
      );
    // The cap matters most while the broker is away, so it is checked whatever the connection.
    this.#capTimer = setInterval(() => this.enforceCap(), 5_000);
    this.#capTimer.unref();
    this.enqueueStatus();
  }

  async stop(): Promise<void> {
    clearInterval(this.#statusTimer);
    clearInterval(this.#capTimer);
    for (const timer of this.#timers) clearInterval(timer);
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) {
      // A clean goodbye: the retained status says so (the broker does not send the will on a clean disconnect).
      await new Promise<void>((resolve) =>
        client.publish(
          `${this.prefix}/status`,
          this.#statusPayload("offline"),
          { qos: 1, retain: true },
          () => resolve(),
        ),
      ).catch(() => undefined);
      await client.endAsync().catch(() => undefined);
    }
  }

  /** The latest health as a retained status; older status messages still queued are superseded. */
  enqueueStatus(): void {
    const store = this.#deps.store;
    const status = this.#deps.status?.() ?? { state: "running", components: {} };
    try {
      store.transaction(() => {
        this.#outbox().dropUnsentStatus(this.#lastSentId);
        store.enqueueOutbox("status", "status", {
          version: 1,
          state: status.state,
          line: this.#deps.line.line.name,
          ts: new Date().toISOString(),
          components: status.components,
          outboxDepth: this.outboxDepth(),
        });
      });
    } catch (error) {
      this.#log.error({ err: errorMessage(error) }, "status could not be queued");
    }
  }

  #enqueue(cls: "metrics" | "telemetry", topic: string, body: Record<string, unknown>): void {
    try {
      this.#deps.store.enqueueOutbox(cls, topic, {
        version: 1,
        line: this.#deps.line.line.name,
        ts: new Date().toISOString(),
        ...body,
      });
    } catch (error) {
      this.#log.error({ err: errorMessage(error), cls }, "could not queue for the plant");
    }
  }

  outboxDepth(): number {
    return this.#outbox().depth();
  }

  #outbox(): OutboxQueue {
    this.#queue ??= new OutboxQueue(this.#deps.store);
    return this.#queue;
  }

  #statusPayload(state: "online" | "offline"): string {
    return JSON.stringify({
      version: 1,
      state,
      line: this.#deps.line.line.name,
      ts: new Date().toISOString(),
    });
  }

  #options(): IClientOptions {
    const cfg = this.#cfg;
    return {
      ...brokerOptions(cfg, this.#deps.line),
      protocolVersion: this.#protocolVersion,
      clean: cfg.cleanSession,
      ...(this.#protocolVersion === 5 && !cfg.cleanSession
        ? { properties: { sessionExpiryInterval: 7 * 86_400 } }
        : {}),
      will: {
        topic: `${this.prefix}/status`,
        payload: Buffer.from(this.#statusPayload("offline")),
        qos: 1,
        retain: true,
      },
    };
  }

  async #connect(): Promise<void> {
    try {
      this.#client = await mqtt.connectAsync(this.#cfg.url, this.#options(), false);
    } catch (error) {
      const message = errorMessage(error);
      // A 3.1.1-only broker refuses MQTT 5 ("unsupported protocol version"): fall back once.
      if (
        this.#protocolVersion === 5 &&
        /protocol version|unacceptable protocol|Connection refused: 1\b/i.test(message)
      ) {
        this.#log.warn({ err: message }, "the broker refuses MQTT 5; falling back to MQTT 3.1.1");
        this.#protocolVersion = 4;
      }
      this.errors++;
      this.lastError = `connect: ${message}`;
      throw error;
    }
  }

  #run(): Promise<void> {
    const signal = this.#abort.signal;
    return keepConnected({
      connect: () => this.#connect(),
      backoff: this.#cfg.backoff,
      signal,
      session: async () => {
        const client = this.#client!;
        // Watched from the first moment: a link cut during the subscribe must end the session
        // (and so reconnect), not leave the drain waiting for a close that already happened.
        let closed = !client.connected;
        client.once("close", () => {
          closed = true;
          this.#wake?.();
        });
        this.connectedSince = Date.now();
        // Connected now: an error from before (a refused MQTT 5, a dropped link) is history, not status.
        this.lastError = null;
        this.#log.info(
          { url: this.#cfg.url, protocolVersion: this.#protocolVersion, prefix: this.prefix },
          "plant broker connected",
        );
        client.on("error", (error) => {
          this.errors++;
          this.lastError = errorMessage(error);
        });
        client.on("message", (topic, payload) => {
          if (topic !== `${this.prefix}/commands`) return;
          try {
            const outcome = this.commands.handle(payload);
            this.#log.info(
              { command: outcome.commandId, ok: outcome.ok, duplicate: outcome.duplicate },
              "plant command",
            );
          } catch (error) {
            this.errors++;
            this.lastError = `command: ${errorMessage(error)}`;
            this.#log.error({ err: errorMessage(error) }, "plant command failed");
          }
        });
        client.publish(`${this.prefix}/status`, this.#statusPayload("online"), { qos: 1, retain: true });
        try {
          await client.subscribeAsync(`${this.prefix}/commands`, { qos: 1 });
        } catch (error) {
          // Without the subscription no command could arrive: a session that cannot subscribe
          // is a failed session, and the reconnect loop starts over with backoff.
          this.errors++;
          this.lastError = `subscribe: ${errorMessage(error)}`;
          closed = true;
        }
        // Resend from the oldest unacknowledged message: the outbox is the truth, not the old client.
        this.#lastSentId = 0;
        this.#inflight.clear();
        this.#failed.clear();
        this.#acked.length = 0;
        if (!closed) await this.#drain(client, signal, () => closed);
        this.connectedSince = null;
        if (!signal.aborted) {
          this.#log.warn({ url: this.#cfg.url, err: this.lastError }, "plant broker connection lost");
          client.end(true);
          this.#client = undefined;
        }
      },
    });
  }

  async #drain(client: MqttClient, signal: AbortSignal, isClosed: () => boolean): Promise<void> {
    const outbox = this.#outbox();
    const intervalMs = 1000 / this.#cfg.drainRatePerSecond;
    // The rate limit runs on the monotonic clock: a wall clock stepped back must not hold the drain.
    let nextSendAt = performance.now();
    // A broker that states its maximum packet size disconnects a client that sends more.
    const maxPacket = (
      client as unknown as { connackPacket?: { properties?: { maximumPacketSize?: number } } }
    ).connackPacket?.properties?.maximumPacketSize;
    while (!signal.aborted && !isClosed()) {
      this.#removeAcknowledged();
      const room = this.#cfg.inflight - this.#inflight.size;
      const rows = room > 0 ? outbox.after(this.#lastSentId, room) : [];
      if (rows.length === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 1_000).unref();
        });
        this.#wake = undefined;
        continue;
      }
      for (const row of rows) {
        const wait = nextSendAt - performance.now();
        if (wait > 0) await sleep(wait, signal);
        if (signal.aborted || isClosed()) break;
        nextSendAt = Math.max(nextSendAt + intervalMs, performance.now() - 1_000);
        this.#lastSentId = row.id;
        const topic = `${this.prefix}/${row.topic}`;
        const bytes = Buffer.byteLength(row.payload) + Buffer.byteLength(topic) + 16;
        if (maxPacket !== undefined && bytes > maxPacket) {
          this.#refuse(
            row.id,
            topic,
            `${bytes} bytes, over the broker's maximum packet size of ${maxPacket}`,
          );
          continue;
        }
        this.#inflight.add(row.id);
        this.published++;
        client.publish(topic, row.payload, { qos: 1, retain: row.cls === "status" }, (error) => {
          this.#inflight.delete(row.id);
          const code = (error as { code?: unknown } | undefined)?.code;
          if (error && typeof code === "number" && code >= 0x80) {
            // The broker answered and refused this message (an ACL, a size limit): sending it
            // again would be refused again, and holding it would hold every message behind it.
            this.#refuse(row.id, topic, `${errorMessage(error)} (reason code 0x${code.toString(16)})`);
            return;
          }
          if (error) {
            this.#failed.add(row.id);
            this.errors++;
            this.lastError = `publish: ${errorMessage(error)}`;
            return;
          }
          this.acknowledged++;
          this.#acked.push(row.id);
          if (this.#inflight.size < this.#cfg.inflight / 2) this.#wake?.();
        });
      }
    }
    this.#removeAcknowledged();
  }

  /** A message the broker will not take: kept with the reason, counted, logged, and let go. */
  #refuse(id: number, topic: string, reason: string): void {
    const now = Date.now();
    keepRefused(this.#deps.store.db, id, reason, now);
    this.refused++;
    this.lastRefusal = { topic, reason, at: new Date(now).toISOString() };
    this.#acked.push(id);
    const key = reason.replace(/\d+ bytes/, "N bytes");
    if (now - (this.#refusalLogged.get(key) ?? 0) >= 60_000) {
      this.#refusalLogged.set(key, now);
      this.#log.warn(
        { topic, reason, refused: this.refused },
        "the plant broker refused a message; it is kept in outbox_refused",
      );
    }
  }

  /**
   * Deletes acknowledged messages up to the first one still in flight, in one statement: acks
   * arrive in order on one connection, and this keeps the outbox a contiguous queue.
   */
  #removeAcknowledged(): void {
    if (this.#acked.length === 0) return;
    let lowestInFlight = Number.POSITIVE_INFINITY;
    for (const id of this.#inflight) if (id < lowestInFlight) lowestInFlight = id;
    for (const id of this.#failed) if (id < lowestInFlight) lowestInFlight = id;
    let upTo = 0;
    for (const id of this.#acked) if (id < lowestInFlight && id > upTo) upTo = id;
    if (upTo === 0) return;
    this.#outbox().removeUpTo(upTo);
    let keep = 0;
    for (const id of this.#acked) if (id > upTo) this.#acked[keep++] = id;
    this.#acked.length = keep;
  }

  /** Drops the oldest droppable messages beyond the cap; returns how many. */
  enforceCap(): number {
    const depth = this.outboxDepth();
    const excess = depth - this.#cfg.outboxMaxMessages;
    if (excess <= 0) return 0;
    const info = { changes: this.#outbox().dropOldest(this.#lastSentId, excess) };
    this.droppedForCap += info.changes;
    this.#log.warn(
      { depth, cap: this.#cfg.outboxMaxMessages, dropped: info.changes },
      info.changes < excess
        ? "outbox over its cap with only alerts, audit and replies left: keeping them"
        : "outbox at its cap: oldest telemetry, metrics and status dropped",
    );
    return info.changes;
  }

  health(): ComponentHealth {
    return {
      state: this.#loop === undefined ? "stopped" : this.connected ? "ok" : "down",
      details: {
        url: this.#cfg.url,
        connected: this.connected,
        protocolVersion: this.#protocolVersion,
        prefix: this.prefix,
        outboxDepth: this.outboxDepth(),
        published: this.published,
        acknowledged: this.acknowledged,
        droppedForCap: this.droppedForCap,
        refusedByBroker: this.refused,
        lastRefusal: this.lastRefusal,
        commands: {
          received: this.commands.received,
          refused: this.commands.refused,
          duplicates: this.commands.duplicates,
        },
        errors: this.errors,
        lastError: this.lastError,
      },
    };
  }
}
