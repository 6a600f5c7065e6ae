import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Aedes } from "aedes";
import type { Command } from "commander";
import { LinepilotError } from "../../common/errors.js";
import { createLogger, silentLogger } from "../../common/logger.js";
import { loadConfigFile } from "../../config/load.js";
import { type LineConfig, syncConfigSchema } from "../../config/schema.js";
import { Store } from "../../store/store.js";
import { topicPrefixOf } from "../../sync/plantSync.js";
import { prepareDemoLine } from "../../twin/demoStory.js";
import { DemoView } from "../demoView.js";
import { parseInteger } from "../output.js";
import { runDaemon } from "./run.js";

const DEMO_CONFIG = fileURLToPath(new URL("../../../config/demo.yaml", import.meta.url));
/** Marks a state folder the demo made, so it may start it afresh; a real line's is never touched. */
const MARKER = ".linepilot-demo";

export const help = `Runs linepilot on a simulated line with no hardware, from a fresh state each time:
  - records the last 24 h of the line's digital twin into the store (one press's bearing worn),
  - serves the twin live over OPC UA and Modbus TCP (as config/demo.yaml describes), time x10,
  - starts an embedded MQTT broker as the plant's (unless the config has a sync: section),
  - runs the daemon on the same file (its JSON log goes to <state folder>/daemon.log),
and prints what happens: tags, each machine's failure risk, alerts with their reasons, the
optimizer's suggestions, a what-if, and what the plant receives. In a second terminal:
  export LINEPILOT_CONFIG=config/demo.yaml
  npx linepilot status | tags | alerts | suggestions | approve ID --by you
Stop with Ctrl-C.`;

interface DemoOptions {
  config: string;
  seed: number;
  accel: number;
  mqttPort: number;
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("run the daemon on a simulated line (config/demo.yaml)")
    .option("-c, --config <file>", "demo configuration", DEMO_CONFIG)
    .option("--seed <n>", "simulation seed", parseInteger, 7)
    .option("--accel <factor>", "simulated seconds per real second", parseInteger, 10)
    .option("--mqtt-port <port>", "the embedded plant broker's port (0: any free port)", parseInteger, 1884)
    .addHelpText("after", `\n${help}`)
    .action(async (opts: DemoOptions) => runDemo(opts));
}

async function runDemo(opts: DemoOptions): Promise<void> {
  let config = loadConfigFile(opts.config);
  const stateDir = freshStateDir(config, resolve(opts.config) === DEMO_CONFIG);
  const daemonLog = join(stateDir, "daemon.log");
  const log = createLogger(config.logging.level, daemonLog);

  const store = new Store(config.store, silentLogger());
  store.open();
  const demo = await prepareDemoLine(config, store, {
    seed: opts.seed,
    acceleration: opts.accel,
    log: log.child({ component: "sim-plc" }),
  });
  store.close();

  let broker: { server: Server; close(): Promise<void> } | undefined;
  if (config.sync === undefined) {
    broker = await startBroker(opts.mqttPort);
    const port = (broker.server.address() as { port: number }).port;
    config = {
      ...config,
      sync: syncConfigSchema.parse({
        url: `mqtt://127.0.0.1:${port}`,
        protocolVersion: 4, // aedes speaks MQTT 3.1.1
        statusIntervalMs: 10_000,
      }),
    };
  }
  await demo.plc.start();

  const api = `http://${config.api.host}:${config.api.port}`;
  const machines = config.machines.map((m) => m.name ?? `machine ${m.id}`);
  const failing = config.machines.find((m) => m.id === demo.story.failingMachine)!;
  console.log(
    `linepilot demo: line ${config.line.name}, ${machines.join(" and ")}, simulated time x${opts.accel}`,
  );
  console.log(
    `  history      the last ${demo.story.historyH} h recorded from the twin (${demo.history.samples} samples) into ${config.store.path}`,
  );
  console.log(
    `  the story    ${failing.name ?? failing.id}'s bearing is worn and has lost its lubrication (wears x${demo.story.wearRateFactor}); the line runs hot and fast`,
  );
  console.log(`  PLC          ${demo.plc.endpoints.join("  ")}`);
  console.log(
    `  plant MQTT   ${config.sync!.url}${broker ? " (embedded broker)" : ""}, topics ${topicPrefixOf(config)}/#`,
  );
  console.log(`  daemon API   ${api} and ${config.api.socket}; its log: ${daemonLog}`);
  if (config.api.console)
    console.log(
      `  web console  ${api}/ui/ (changes from it need api.token; the CLI's go through the socket)`,
    );
  console.log(
    `  2nd terminal export LINEPILOT_CONFIG=${opts.config}; npx linepilot status (tags, alerts, suggestions, approve ID)`,
  );
  console.log("  Ctrl-C stops everything (buffered samples are committed first)\n");

  const view = new DemoView({
    api,
    line: config,
    plant: { url: config.sync!.url, topicPrefix: topicPrefixOf(config) },
    whatIf: { scenario: "speed +15%", horizonH: 8 },
  });
  // The console goes quiet first: while the daemon stops, its API is going away on purpose.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void view.stop());
  const stopPeers = async () => {
    await view.stop();
    await demo.plc.stop();
    await broker?.close();
  };
  try {
    await runDaemon(config, log, stopPeers);
  } catch (error) {
    // A daemon that cannot start (a port in use, say) must not leave the simulated PLC and the
    // broker holding the process open: stop them, and let the CLI print the error.
    await stopPeers();
    throw error;
  }
  view.start();
}

/**
 * The demo starts from the same story each time, so its state folder is emptied first, but only
 * when the demo made it (or it is the shipped demo's): a config pointing at a real line's store is
 * refused. The OPC UA certificates are kept (making them takes seconds).
 */
function freshStateDir(config: LineConfig, shippedDemo: boolean): string {
  const dir = dirname(config.store.path);
  const ours = shippedDemo || existsSync(join(dir, MARKER));
  if (!ours && existsSync(config.store.path))
    throw new LinepilotError(
      "LP_ERR_USAGE",
      `${config.store.path} holds a store the demo did not make; the demo starts from a fresh store each time, so give it a configuration of its own`,
    );
  if (existsSync(dir) && ours)
    for (const entry of readdirSync(dir))
      if (!entry.includes("pki")) rmSync(join(dir, entry), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARKER), "made by `linepilot demo`, which empties this folder at each start\n");
  return dir;
}

/** The plant's broker for a demo without one: aedes, in process, on loopback. */
async function startBroker(port: number): Promise<{ server: Server; close(): Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (error) =>
      reject(
        new LinepilotError(
          "LP_ERR_USAGE",
          `the embedded MQTT broker cannot listen on 127.0.0.1:${port} (${error.message}); pass --mqtt-port 0 for any free port`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", resolveListen);
  });
  return {
    server,
    close: () => new Promise<void>((done) => aedes.close(() => server.close(() => done()))),
  };
}
