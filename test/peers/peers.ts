/** Real peers started by the tests on 127.0.0.1 and stopped after them. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { ROOT, waitFor } from "../helpers.js";

export interface Peer {
  proc: ChildProcess;
  port?: number;
  output: () => string;
  stop(): Promise<void>;
}

function startProcess(cmd: string, args: string[]): Peer {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => {
    out += d;
  });
  proc.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
  return {
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** Debian's Prometheus server scraping `targets` every second; its query API on a free port. */
export async function startPrometheus(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  targets: string[],
): Promise<{ query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> }> {
  const port = await freePort();
  const conf = join(dir, "prometheus.yml");
  writeFileSync(
    conf,
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: linepilot
    static_configs: [{ targets: ${JSON.stringify(targets)} }]
`,
  );
  const peer = startProcess("/usr/bin/prometheus", [
    `--config.file=${conf}`,
    `--storage.tsdb.path=${join(dir, "prometheus-data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  t.after(() => peer.stop());
  await waitFor(
    () => peer.output().includes("Server is ready to receive web requests"),
    30_000,
    `prometheus: ${peer.output()}`,
  );
  return {
    async query(expr: string) {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await r.json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return body.data.result;
    },
  };
}

/** Debian's python3-pymodbus serving TCP on a free port. */
export async function startPymodbusTcp(t: { after(fn: () => Promise<void>): void }): Promise<Peer> {
  const peer = startProcess("/usr/bin/python3", [join(ROOT, "test/peers/pymodbus_server.py"), "tcp"]);
  t.after(() => peer.stop());
  const port = await waitFor(
    () => /ready (\d+)/.exec(peer.output())?.[1],
    15_000,
    `pymodbus to start: ${peer.output()}`,
  );
  peer.port = Number(port);
  return peer;
}

/** A pseudo-terminal pair from socat: what one end writes, the other reads, like a serial cable. */
export async function startPtyPair(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
): Promise<{ a: string; b: string; peer: Peer }> {
  const a = join(dir, "ttyA");
  const b = join(dir, "ttyB");
  const peer = startProcess("socat", ["-d", "-d", `PTY,raw,echo=0,link=${a}`, `PTY,raw,echo=0,link=${b}`]);
  t.after(() => peer.stop());
  await waitFor(
    () =>
      (peer.output().match(/PTY is/g) ?? []).length >= 2 &&
      peer.output().includes("starting data transfer loop"),
    10_000,
    "socat pty pair",
  );
  return { a, b, peer };
}

/** A port that was free a moment ago (for peers that must be started after the client). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Mosquitto {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Debian's mosquitto on a free port, with persistence (so a restart keeps the subscribers'
 * sessions and queued messages, as a plant broker does), optionally TLS with client certificates.
 */
export async function startMosquitto(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  tls?: { ca: string; cert: string; key: string },
  /** More mosquitto.conf lines (an acl_file, a message_size_limit). */
  extra: readonly string[] = [],
): Promise<Mosquitto> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  const lines = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    "persistence true",
    `persistence_location ${dir}/`,
    `persistence_file mosquitto-${port}.db`,
    "autosave_interval 1",
    "max_queued_messages 100000",
    "log_dest stderr",
    // Started as root, mosquitto would drop to its own user and could not read the test's files.
    `user ${userInfo().username}`,
    ...(tls
      ? [`cafile ${tls.ca}`, `certfile ${tls.cert}`, `keyfile ${tls.key}`, "require_certificate true"]
      : []),
    ...extra,
  ];
  writeFileSync(conf, `${lines.join("\n")}\n`);
  let peer: Peer | undefined;
  const broker: Mosquitto = {
    port,
    url: `${tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`,
    async start() {
      const p = startProcess("/usr/sbin/mosquitto", ["-c", conf]);
      peer = p;
      await waitFor(
        () => /running|Opening ipv4 listen socket/.test(p.output()),
        10_000,
        `mosquitto: ${p.output()}`,
      );
      await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const s = connect(port, "127.0.0.1", () => {
              s.destroy();
              resolve(true);
            });
            s.on("error", () => resolve(false));
          }),
        10_000,
        "mosquitto to accept connections",
      );
    },
    async stop() {
      const p = peer;
      peer = undefined;
      if (p === undefined) return;
      // SIGTERM: mosquitto saves its persistence file on the way out, like a service restart.
      if (p.proc.exitCode === null) p.proc.kill("SIGTERM");
      await new Promise<void>((resolve) =>
        p.proc.exitCode !== null ? resolve() : p.proc.once("exit", () => resolve()),
      );
    },
  };
  await broker.start();
  t.after(() => broker.stop());
  return broker;
}

/** A test CA, a broker certificate for 127.0.0.1 and a client certificate, made with openssl. */
export function makeTestPki(dir: string): {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
} {
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  const selfSignedCa = (cn: string, name: string) =>
    run([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
    ]);
  selfSignedCa("linepilot test CA", "ca");
  selfSignedCa("other CA", "other");
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const [name, cn, ext] of [
    ["server", "127.0.0.1", ["-extfile", "san.ext"]],
    ["client", "linepilot-test-line", []],
  ] as const) {
    run([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    ]);
    run([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      `${name}.pem`,
      ...ext,
    ]);
  }
  chmodSync(join(dir, "client.key"), 0o600);
  return {
    ca: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
    otherCa: join(dir, "other.pem"),
  };
}

/**
 * The shipped demo line's config with its fixed ports moved to free ones and its paths made
 * absolute, written into `dir`; `api` is appended to its api: section (a token, say).
 */
export async function demoConfig(dir: string, api = ""): Promise<string> {
  const [opcua, modbus, apiPort] = [await freePort(), await freePort(), await freePort()];
  const yaml = readFileSync(join(ROOT, "config/demo.yaml"), "utf8")
    .replace("opc.tcp://127.0.0.1:48407", `opc.tcp://127.0.0.1:${opcua}`)
    .replace("port: 15020", `port: ${modbus}`)
    .replace("port: 8001", `port: ${apiPort}${api === "" ? "" : `\n  ${api}`}`)
    .replace("../models/", `${join(ROOT, "models")}/`)
    .replaceAll("../var/demo-line/", "./state/");
  if (!yaml.includes(`port: ${apiPort}`)) throw new Error("config/demo.yaml has no api port 8001 to move");
  const path = join(dir, "demo.yaml");
  writeFileSync(path, yaml);
  return path;
}
