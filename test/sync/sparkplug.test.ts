import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import mqtt from "mqtt";
import sparkplugPayload from "sparkplug-payload";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Store } from "../../src/store/store.js";
import { SparkplugNode, type SparkplugValue } from "../../src/sync/sparkplug.js";
import { lineYaml, tempDir, waitFor } from "../helpers.js";
import { startMosquitto } from "../peers/peers.js";

type After = { after(fn: () => Promise<void> | void): void };
const codec = sparkplugPayload.get("spBv1.0")!;

interface Message {
  type: string;
  device: string | undefined;
  seq: number | undefined;
  metrics: {
    name?: string | null;
    alias?: number;
    value?: unknown;
    isNull?: boolean | null;
    type?: string;
  }[];
}

/** A SCADA host: subscribes to the group and decodes every Sparkplug message. */
async function scada(t: After, url: string) {
  const client = await mqtt.connectAsync(url, { clientId: `scada-${Math.random()}`, clean: true });
  const messages: Message[] = [];
  client.on("message", (topic, payload) => {
    if (topic.startsWith("spBv1.0/STATE/")) return;
    const [, , type, , device] = topic.split("/");
    if (type === "NCMD") return;
    const p = codec.decodePayload(payload);
    messages.push({
      type: type!,
      device,
      seq: p.seq === undefined || p.seq === null ? undefined : Number(p.seq),
      metrics: (p.metrics ?? []).map((m) => ({
        name: m.name,
        alias: m.alias === undefined || m.alias === null ? undefined : Number(m.alias),
        value: typeof m.value === "object" && m.value !== null ? Number(m.value) : m.value,
        isNull: m.isNull,
        type: m.type as string,
      })),
    });
  });
  await client.subscribeAsync("spBv1.0/#", { qos: 1 });
  t.after(() => client.endAsync(true));
  const bdSeqOf = (m: Message) => m.metrics.find((x) => x.name === "bdSeq")?.value as number;
  return { client, messages, bdSeqOf };
}

async function startNode(t: After, url: string, extra = "") {
  const dir = tempDir(t);
  const cfg = parseConfig(
    lineYaml({
      storePath: join(dir, "line.db"),
      extra: `sync:
  url: ${url}
  backoff: { initialMs: 100, maxMs: 300, jitter: 0.1 }
  sparkplug: { groupId: acme-lyon, publishEveryMs: 100${extra} }`,
    }),
    join(dir, "line.yaml"),
  );
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const values: SparkplugValue[] = cfg.tags.map((tag) => ({
    tag: tag.name,
    machine: tag.machine,
    value: 1,
    ts: Date.now(),
    good: true,
  }));
  const node = new SparkplugNode(cfg.sync!, { store, log: silentLogger(), line: cfg, values: () => values });
  await node.start();
  t.after(async () => {
    await node.stop();
    store.close();
  });
  return { node, values, store };
}

test("Sparkplug B: births with every metric, data by alias with seq mod 256, the will carries the birth's bdSeq, rebirth on NCMD", async (t) => {
  const dir = tempDir(t);
  const broker = await startMosquitto(t, dir);
  const host = await scada(t, broker.url);
  const { node, values } = await startNode(t, broker.url);
  await waitFor(
    () => host.messages.filter((m) => m.type === "DBIRTH").length === 2,
    10_000,
    "NBIRTH and two DBIRTHs",
  );
  const nbirth = host.messages.find((m) => m.type === "NBIRTH")!;
  assert.equal(nbirth.seq, 0);
  assert.equal(host.bdSeqOf(nbirth), 0, "bdSeq starts at 0");
  assert.deepEqual(
    nbirth.metrics.find((m) => m.name === "Node Control/Rebirth"),
    { name: "Node Control/Rebirth", alias: undefined, value: false, isNull: undefined, type: "Boolean" },
  );
  const dbirth7 = host.messages.find((m) => m.type === "DBIRTH" && m.device === "machine-7")!;
  assert.deepEqual(
    dbirth7.metrics.map((m) => [m.name, m.alias, m.type]),
    [
      ["press7.speed", 1, "Double"],
      ["press7.motor_temperature", 2, "Double"],
    ],
  );
  // Changes go out as DDATA with aliases only; a bad sample is a null, not a stale number.
  for (let i = 0; i < 12; i++) {
    values[0]!.value = i + 2;
    values[2]!.good = i % 2 === 0;
    await new Promise((r) => setTimeout(r, 150));
  }
  await waitFor(() => host.messages.filter((m) => m.type === "DDATA").length >= 10, 10_000, "DDATA");
  const ddata = host.messages.filter((m) => m.type === "DDATA");
  for (const m of ddata)
    for (const metric of m.metrics) assert.equal(metric.name, undefined, "aliases only after the birth");
  assert.ok(
    ddata.some((m) => m.device === "machine-8" && m.metrics.some((x) => x.value === null)),
    "a bad sample is a null",
  );
  const seqs = host.messages.filter((m) => m.seq !== undefined).map((m) => m.seq!);
  for (let i = 1; i < seqs.length; i++)
    assert.equal(seqs[i], (seqs[i - 1]! + 1) % 256, `seq ${seqs.join(",")}`);

  // A cable pull: the broker publishes the will, whose bdSeq is the birth's; the next birth has bdSeq + 1.
  node.dropConnection();
  await waitFor(() => host.messages.some((m) => m.type === "NDEATH"), 10_000, "NDEATH from the will");
  const death = host.messages.find((m) => m.type === "NDEATH")!;
  assert.equal(host.bdSeqOf(death), 0);
  assert.equal(death.seq, undefined, "NDEATH has no seq");
  await waitFor(
    () => host.messages.filter((m) => m.type === "NBIRTH").length === 2,
    10_000,
    "rebirth after reconnect",
  );
  const second = host.messages.filter((m) => m.type === "NBIRTH")[1]!;
  assert.equal(host.bdSeqOf(second), 1);
  assert.equal(second.seq, 0);

  // Node Control/Rebirth from the host: NBIRTH (seq 0) and every DBIRTH again, same bdSeq.
  await host.client.publishAsync(
    "spBv1.0/acme-lyon/NCMD/test-line",
    Buffer.from(
      codec.encodePayload({
        timestamp: Date.now(),
        metrics: [{ name: "Node Control/Rebirth", type: "Boolean", value: true }],
      }),
    ),
  );
  await waitFor(
    () => host.messages.filter((m) => m.type === "NBIRTH").length === 3,
    10_000,
    "rebirth on command",
  );
  const third = host.messages.filter((m) => m.type === "NBIRTH")[2]!;
  assert.equal(host.bdSeqOf(third), 1);
  assert.equal(third.seq, 0);
});

test("Sparkplug B with a primary host: no birth before its STATE online; a newer offline ends the session with NDEATH", async (t) => {
  const dir = tempDir(t);
  const broker = await startMosquitto(t, dir);
  const host = await scada(t, broker.url);
  const { node } = await startNode(t, broker.url, ", primaryHostId: scada-1");
  await waitFor(() => node.connected, 10_000, "connected");
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(
    host.messages.filter((m) => m.type === "NBIRTH").length,
    0,
    "no birth while the host is not online",
  );
  const state = (online: boolean, timestamp: number) =>
    host.client.publishAsync("spBv1.0/STATE/scada-1", JSON.stringify({ online, timestamp }), {
      qos: 1,
      retain: true,
    });
  await state(true, 1_000);
  await waitFor(
    () => host.messages.some((m) => m.type === "NBIRTH"),
    10_000,
    "birth once the host is online",
  );
  await state(false, 2_000);
  await waitFor(
    () => host.messages.some((m) => m.type === "NDEATH"),
    10_000,
    "death when the host goes offline",
  );
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(
    host.messages.filter((m) => m.type === "NBIRTH").length,
    1,
    "no new birth while the host is offline",
  );
  await state(true, 3_000);
  await waitFor(
    () => host.messages.filter((m) => m.type === "NBIRTH").length === 2,
    10_000,
    "birth when the host is back",
  );
  const births = host.messages.filter((m) => m.type === "NBIRTH");
  assert.equal(host.bdSeqOf(births[1]!), host.bdSeqOf(births[0]!) + 1);
});
