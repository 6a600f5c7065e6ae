import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateHistory } from "../src/twin/generate.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The built CLI: `npm test` builds before it runs the tests, so child-process tests run what ships. */
export const CLI = join(ROOT, "dist/cli/main.js");

export function tempDir(t: { after(fn: () => void): void }, prefix = "lp-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => {
    out += d;
  });
  proc.stderr!.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { proc, stdout: () => out, stderr: () => err, exited };
}

export async function runCliToEnd(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = runCli(args, env);
  const { code } = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** A minimal valid line config as YAML text; `extra` is appended at the top level. */
export function lineYaml(opts: {
  storePath: string;
  plcPort?: number;
  apiPort?: number;
  extra?: string;
  tags?: string;
}): string {
  return `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: test-line }
machines:
  - { id: 7, name: Press 7 }
  - { id: 8, name: Conveyor 8 }
connections:
  - { id: plc, protocol: modbus-tcp, host: 127.0.0.1, port: ${opts.plcPort ?? 1}, timeoutMs: 500, backoff: { initialMs: 50, maxMs: 500, jitter: 0.1 } }
tags:
${
  opts.tags ??
  `  - { name: press7.speed, machine: 7, connection: plc, intervalMs: 50, modbus: { unitId: 1, area: input, address: 0, dataType: float32 } }
  - { name: press7.motor_temperature, machine: 7, connection: plc, intervalMs: 50, modbus: { unitId: 1, area: input, address: 2, dataType: float32 } }
  - { name: conveyor8.speed, machine: 8, connection: plc, intervalMs: 50, modbus: { unitId: 2, area: input, address: 0, dataType: float32 } }`
}
store: { path: ${JSON.stringify(opts.storePath)}, batchSize: 1000, flushIntervalMs: 200 }
api: { host: 127.0.0.1, port: ${opts.apiPort ?? 0} }
logging: { level: info }
${opts.extra ?? ""}`;
}

export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The start of the drifted line's history (a Monday). */
export const DRIFT_START = Date.UTC(2026, 0, 5);

/**
 * Six weeks of four presses at 60 s into a store; with `drift`, every motor winding starts to
 * degrade after week 3 (a failure mode the shipped model never saw). For continuous learning.
 */
export async function driftedLine(out: string, drift = true): Promise<string> {
  await generateHistory({
    machineIds: [1, 2, 3, 4],
    durationS: 42 * 86_400,
    intervalS: 60,
    seed: 5,
    out,
    format: "store",
    startTs: DRIFT_START,
    ...(drift ? { windingFault: { fromS: 21 * 86_400, perHour: 1 / 90, machines: [1, 2, 3, 4] } } : {}),
  });
  return out;
}

/** Real-data excerpts (see test/fixtures/real/README.md for their sources). */
export const FIXTURES = join(ROOT, "test/fixtures/real");

/** The IMS bearing rig (four bearings, one accelerometer each) as a line, its store in `dir`. */
export function imsRigConfig(dir: string): string {
  const tags = [1, 2, 3, 4]
    .map(
      (b) =>
        `  - { name: bearing${b}.vibration, machine: ${b}, role: acceleration, unit: g, connection: rig, nodeId: "ns=1;s=B${b}", intervalMs: 600000 }`,
    )
    .join("\n");
  const file = join(dir, "rig.yaml");
  writeFileSync(
    file,
    `version: 1
line: { enterprise: nasa, site: ims, area: rig, name: test2 }
machines: [{ id: 1, name: Bearing 1 }, { id: 2, name: Bearing 2 }, { id: 3, name: Bearing 3 }, { id: 4, name: Bearing 4 }]
connections: [{ id: rig, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840" }]
tags:
${tags}
store: { path: rig.db }
maintenance:
  model: ${JSON.stringify(join(ROOT, "models/predictive_maintenance.onnx"))}
  window: { minutes: 60, stepMs: 600000, maxGapMs: 1800000, holdMs: 1800000 }
  baseline: { days: 1.5, shadowDays: 0, alertsPerMachineWeek: 0.5 }
`,
  );
  return file;
}

export const IMS_MAP = [1, 2, 3, 4].flatMap((b) => ["--map", `Bearing ${b}=bearing${b}.vibration`]);
export const IMS_TIME = ["--time-column", "Datetime", "--time-format", "yyyy.MM.dd.HH.mm.ss"];
