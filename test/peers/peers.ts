/** Real peers started by the tests on 127.0.0.1 and stopped after them. */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
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
