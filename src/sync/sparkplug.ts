/**
 * A Sparkplug B 3.0 edge node beside the JSON topics, for plants whose SCADA speaks it
 * (docs/field-problems.md, Sparkplug B): the line is the edge node, each machine a device whose metrics are
 * its tags. Its own MQTT connection, because Sparkplug needs a clean session and a will on the
 * NDEATH topic, where the outbox link keeps a persistent session.
 *
 * Lifecycle, the part gateways get wrong (docs/field-problems.md #9): bdSeq is persisted in the store and goes
 * up by one for each MQTT connect (255 wraps to 0), and the will's NDEATH carries the same bdSeq as
 * the NBIRTH that follows; seq is 0 on NBIRTH and +1 per message after it, modulo 256; births list
 * every metric with name, alias and type, data messages carry aliases only; `Node Control/Rebirth`
 * from NCMD re-sends NBIRTH and every DBIRTH. With a primary host, NBIRTH waits for its current
 * STATE online, and a newer offline ends the session with an NDEATH.
 */
import mqtt, { type MqttClient } from "mqtt";
import sparkplugPayload from "sparkplug-payload";
import { keepConnected } from "../common/backoff.js";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig, SyncConfig } from "../config/schema.js";
import type { Store } from "../store/store.js";
import { brokerOptions } from "./broker.js";

type Payload = Parameters<NonNullable<ReturnType<typeof sparkplugPayload.get>>["encodePayload"]>[0];
type Metric = NonNullable<Payload["metrics"]>[number];

const codec = sparkplugPayload.get("spBv1.0")!;
const NAMESPACE = "spBv1.0";
const BDSEQ_KEY = "sparkplug.bdSeq";

export interface SparkplugValue {
  tag: string;
  machine: number;
  value: number;
  ts: number;
  good: boolean;
}

export interface SparkplugDeps {
  store: Store;
  log: Logger;
  line: LineConfig;
  /** Every tag's latest sample, in config order (index + 1 is the metric's alias). */
  values: () => SparkplugValue[];
}

export class SparkplugNode implements Component {
  readonly name = "sparkplug";
  readonly groupId: string;
  readonly edgeNodeId: string;
  readonly #sync: SyncConfig;
  readonly #sp: NonNullable<SyncConfig["sparkplug"]>;
  readonly #deps: SparkplugDeps;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;
  #born = false;
  #hostOnlineAt = -1;
  #hostOfflineAt = -1;
  readonly #sent = new Map<number, { value: number; good: boolean }>();
  bdSeq = -1;
  births = 0;
  dataMessages = 0;
  lastError: string | null = null;

  constructor(sync: SyncConfig, deps: SparkplugDeps) {
    this.#sync = sync;
    this.#sp = sync.sparkplug!;
    this.#deps = deps;
    this.#log = deps.log.child({ component: "sparkplug" });
    this.groupId = this.#sp.groupId;
    this.edgeNodeId = this.#sp.edgeNodeId ?? deps.line.line.name;
  }

  topic(type: string, device?: string): string {
    return `${NAMESPACE}/${this.groupId}/${type}/${this.edgeNodeId}${device === undefined ? "" : `/${device}`}`;
  }

  static deviceId(machine: number): string {
    return `machine-${machine}`;
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  async start(): Promise<void> {
    this.#abort = new AbortController();
    this.#loop = this.#run();
    this.#timer = setInterval(() => this.#publishData(), this.#sp.publishEveryMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) {
      // A clean shutdown says goodbye itself; the broker sends the will only on a lost connection.
      if (client.connected)
        await client
          .publishAsync(this.topic("NDEATH"), Buffer.from(this.#death()), { qos: 1 })
          .catch(() => undefined);
      await client.endAsync().catch(() => undefined);
    }
    await this.#loop;
  }

  /** Drops the connection without a goodbye, as a cable pull would (tests of the will). */
  dropConnection(): void {
    this.#client?.stream.destroy();
  }

  #nextBdSeq(): number {
    const store = this.#deps.store;
    const last = store.getMeta(BDSEQ_KEY);
    const next = last === undefined ? 0 : (Number(last) + 1) % 256;
    store.setMeta(BDSEQ_KEY, String(next));
    return next;
  }

  #death(): Uint8Array {
    return codec.encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: "bdSeq", type: "Int64", value: this.bdSeq }],
    });
  }

  #run(): Promise<void> {
    const signal = this.#abort.signal;
    return keepConnected({
      connect: () => this.#connect(),
      backoff: this.#sync.backoff,
      signal,
      session: async () => {
        const client = this.#client!;
        await new Promise<void>((resolve) => {
          client.once("close", () => resolve());
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
        this.#born = false;
        if (!signal.aborted) this.#log.warn({ bdSeq: this.bdSeq }, "sparkplug connection lost");
      },
    });
  }

  async #connect(): Promise<void> {
    this.bdSeq = this.#nextBdSeq();
    const base = brokerOptions(this.#sync, this.#deps.line);
    const will = {
      topic: this.topic("NDEATH"),
      payload: Buffer.from(this.#death()),
      qos: 1 as const,
      retain: false,
    };
    try {
      // Sparkplug: a clean session (3.1.1) or clean start with no session expiry (5).
      this.#client = await mqtt.connectAsync(
        this.#sync.url,
        {
          ...base,
          clientId: `${base.clientId}-spb`,
          clean: true,
          protocolVersion: this.#sync.protocolVersion,
          ...(this.#sync.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
          will,
        },
        false,
      );
    } catch (error) {
      this.lastError = `connect: ${errorMessage(error)}`;
      if (this.#sync.protocolVersion === 5 && /protocol version/i.test(errorMessage(error))) {
        this.#client = await mqtt.connectAsync(
          this.#sync.url,
          { ...base, clientId: `${base.clientId}-spb`, clean: true, protocolVersion: 4, will },
          false,
        );
      } else throw error;
    }
    const client = this.#client;
    client.on("error", (error) => {
      this.lastError = errorMessage(error);
    });
    client.on("message", (topic, payload) => this.#onMessage(topic, payload));
    await client.subscribeAsync(this.topic("NCMD"), { qos: 0 });
    if (this.#sp.primaryHostId !== undefined) {
      await client.subscribeAsync(`${NAMESPACE}/STATE/${this.#sp.primaryHostId}`, { qos: 1 });
      this.#log.info(
        { host: this.#sp.primaryHostId },
        "waiting for the primary host to be online before the birth",
      );
    } else this.#birth();
  }

  #onMessage(topic: string, payload: Buffer): void {
    try {
      if (topic === `${NAMESPACE}/STATE/${this.#sp.primaryHostId}`) {
        const state = JSON.parse(payload.toString()) as { online?: boolean; timestamp?: number };
        const at = Number(state.timestamp ?? 0);
        if (state.online === true && at > this.#hostOnlineAt) {
          this.#hostOnlineAt = at;
          if (!this.#born && at > this.#hostOfflineAt) this.#birth();
        } else if (state.online === false && at >= this.#hostOnlineAt && at > this.#hostOfflineAt) {
          this.#hostOfflineAt = at;
          if (this.#born) {
            // The primary host went away: end this session with a death; the next one waits for it.
            const client = this.#client;
            this.#born = false;
            void client
              ?.publishAsync(this.topic("NDEATH"), Buffer.from(this.#death()), { qos: 1 })
              .finally(() => client.end(true));
          }
        }
        return;
      }
      if (topic === this.topic("NCMD")) {
        const command = codec.decodePayload(payload);
        const rebirth = command.metrics?.some((m) => m.name === "Node Control/Rebirth" && m.value === true);
        if (rebirth) {
          this.#log.info("rebirth requested");
          this.#birth();
        }
      }
    } catch (error) {
      this.lastError = `message on ${topic}: ${errorMessage(error)}`;
    }
  }

  #nextSeq(): number {
    const seq = this.#seq;
    this.#seq = (this.#seq + 1) % 256;
    return seq;
  }

  #metric(v: SparkplugValue, alias: number, withName: boolean): Metric {
    return {
      ...(withName ? { name: v.tag } : {}),
      alias,
      type: "Double",
      timestamp: v.ts === 0 ? Date.now() : v.ts,
      ...(v.good && v.ts !== 0 ? { value: v.value } : { isNull: true }),
    } as Metric;
  }

  #birth(): void {
    const client = this.#client;
    if (client === undefined || !client.connected) return;
    this.#seq = 0;
    const now = Date.now();
    const nbirth: Payload = {
      timestamp: now,
      seq: this.#nextSeq(),
      metrics: [
        { name: "bdSeq", type: "Int64", value: this.bdSeq },
        { name: "Node Control/Rebirth", type: "Boolean", value: false },
      ],
    };
    client.publish(this.topic("NBIRTH"), Buffer.from(codec.encodePayload(nbirth)), { qos: 0 });
    const values = this.#deps.values();
    this.#sent.clear();
    for (const machine of this.#deps.line.machines) {
      const metrics = values.flatMap((v, i) =>
        v.machine === machine.id ? [this.#metric(v, i + 1, true)] : [],
      );
      client.publish(
        this.topic("DBIRTH", SparkplugNode.deviceId(machine.id)),
        Buffer.from(codec.encodePayload({ timestamp: now, seq: this.#nextSeq(), metrics })),
        { qos: 0 },
      );
    }
    for (let i = 0; i < values.length; i++)
      this.#sent.set(i + 1, { value: values[i]!.value, good: values[i]!.good });
    this.#born = true;
    this.births++;
    this.#log.info({ bdSeq: this.bdSeq, devices: this.#deps.line.machines.length }, "sparkplug birth");
  }

  /** DDATA per device with the metrics changed since the last message, by alias only. */
  #publishData(): void {
    const client = this.#client;
    if (!this.#born || client === undefined || !client.connected) return;
    const values = this.#deps.values();
    const changed = new Map<number, Metric[]>();
    values.forEach((v, i) => {
      const alias = i + 1;
      const last = this.#sent.get(alias);
      if (last !== undefined && last.good === v.good && (last.value === v.value || (!v.good && !last.good)))
        return;
      this.#sent.set(alias, { value: v.value, good: v.good });
      if (!changed.has(v.machine)) changed.set(v.machine, []);
      changed.get(v.machine)!.push(this.#metric(v, alias, false));
    });
    for (const [machine, metrics] of changed) {
      client.publish(
        this.topic("DDATA", SparkplugNode.deviceId(machine)),
        Buffer.from(codec.encodePayload({ timestamp: Date.now(), seq: this.#nextSeq(), metrics })),
        { qos: 0 },
      );
      this.dataMessages++;
    }
  }

  health(): ComponentHealth {
    return {
      state: this.#loop === undefined ? "stopped" : this.connected ? "ok" : "down",
      details: {
        connected: this.connected,
        groupId: this.groupId,
        edgeNodeId: this.edgeNodeId,
        bdSeq: this.bdSeq,
        born: this.#born,
        births: this.births,
        dataMessages: this.dataMessages,
        lastError: this.lastError,
      },
    };
  }
}
