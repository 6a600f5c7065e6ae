/**
 * The systemd notify protocol (sd_notify(3)) for Type=notify units: READY=1, STATUS=, WATCHDOG=1,
 * STOPPING=1, sent as datagrams to $NOTIFY_SOCKET.
 *
 * Node cannot send AF_UNIX datagrams by itself. The `sd-notify` addon (libsystemd's own sd_notify)
 * is used where it was built; it needs libsystemd's headers at install time, so it is an optional
 * dependency and `unix-dgram` (no system headers needed) is the fallback. Without either, or
 * outside systemd, notifications are a no-op and the reason is logged once.
 */
import { createRequire } from "node:module";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";

const require = createRequire(import.meta.url);

interface Transport {
  readonly kind: string;
  send(state: string): void;
  close(): void;
}

function sdNotifyTransport(): Transport {
  const sd = require("sd-notify") as { sendState(state: string): void };
  return { kind: "sd-notify", send: (state) => sd.sendState(state), close: () => undefined };
}

function unixDgramTransport(path: string): Transport {
  if (path.startsWith("@")) throw new Error("abstract NOTIFY_SOCKET addresses need the sd-notify addon");
  const unix = require("unix-dgram") as {
    createSocket(type: "unix_dgram"): {
      send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
      on(event: "error", cb: (err: Error) => void): void;
      close(): void;
    };
  };
  const socket = unix.createSocket("unix_dgram");
  socket.on("error", () => undefined);
  return {
    kind: "unix-dgram",
    send: (state) => {
      const buf = Buffer.from(state);
      socket.send(buf, 0, buf.length, path);
    },
    close: () => socket.close(),
  };
}

export class SystemdNotifier {
  readonly #transport: Transport | undefined;
  readonly #watchdogMs: number;
  readonly #log: Logger;
  #watchdogTimer: NodeJS.Timeout | undefined;
  #stoppingSent = false;
  sent = 0;

  constructor(
    log: Logger,
    env: NodeJS.ProcessEnv = process.env,
    transports: readonly ("sd-notify" | "unix-dgram")[] = ["sd-notify", "unix-dgram"],
  ) {
    this.#log = log;
    const socket = env.NOTIFY_SOCKET;
    let transport: Transport | undefined;
    if (socket !== undefined && socket !== "") {
      const errors: string[] = [];
      for (const kind of transports) {
        try {
          transport = kind === "sd-notify" ? sdNotifyTransport() : unixDgramTransport(socket);
          break;
        } catch (error) {
          errors.push(errorMessage(error));
        }
      }
      if (transport === undefined)
        log.error({ errors }, "NOTIFY_SOCKET is set but no notify transport could be loaded");
      else log.debug({ transport: transport.kind, socket }, "systemd notify enabled");
    }
    this.#transport = transport;
    // WATCHDOG_PID names the process the watchdog is meant for; a child that inherited the variable must not ping.
    const pid = env.WATCHDOG_PID;
    const usec = Number(env.WATCHDOG_USEC);
    this.#watchdogMs =
      (pid === undefined || Number(pid) === process.pid) && usec > 0 ? Math.floor(usec / 2000) : 0;
  }

  get transport(): string | undefined {
    return this.#transport?.kind;
  }

  get enabled(): boolean {
    return this.#transport !== undefined;
  }

  /** Half of WATCHDOG_USEC in ms, as sd_watchdog_enabled(3) recommends; 0 when there is no watchdog. */
  get watchdogIntervalMs(): number {
    return this.#watchdogMs;
  }

  #send(state: string): void {
    if (this.#transport === undefined) return;
    try {
      this.#transport.send(state);
      this.sent++;
    } catch (error) {
      this.#log.warn({ err: errorMessage(error), state }, "systemd notification failed");
    }
  }

  ready(status: string): void {
    // systemd reads READY after STOPPING as a restart that succeeded: never send it.
    if (this.#stoppingSent) return;
    this.#send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
    if (this.#watchdogMs > 0 && this.#watchdogTimer === undefined) {
      this.#watchdogTimer = setInterval(() => this.#send("WATCHDOG=1"), this.#watchdogMs);
      this.#watchdogTimer.unref();
    }
  }

  status(text: string): void {
    this.#send(`STATUS=${text}`);
  }

  stopping(status: string): void {
    this.#stoppingSent = true;
    if (this.#watchdogTimer !== undefined) clearInterval(this.#watchdogTimer);
    this.#watchdogTimer = undefined;
    this.#send(`STOPPING=1\nSTATUS=${status}`);
  }

  close(): void {
    if (this.#watchdogTimer !== undefined) clearInterval(this.#watchdogTimer);
    this.#watchdogTimer = undefined;
    this.#transport?.close();
  }
}
