/** Runs the connectors of a line config against a real store and sample writer, as the daemon does. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import type { Connector } from "../../src/connectors/connector.js";
import { createConnectors } from "../../src/connectors/factory.js";
import { SampleWriter } from "../../src/store/sampleWriter.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers.js";

/** `yaml` may name its store "x.db": it is put in a fresh temporary folder. */
export async function startConnector<C extends Connector = Connector>(
  t: { after(fn: () => Promise<void> | void): void },
  yaml: string,
  dir = tempDir(t),
) {
  const file = join(dir, "line.yaml");
  const text = yaml.replace('"x.db"', JSON.stringify(join(dir, "line.db")));
  writeFileSync(file, text); // the CLI's commands (pki, tags) read the same file
  const cfg = parseConfig(text, file);
  const store = new Store(cfg.store, silentLogger());
  store.open();
  const rows = store.syncTags(cfg.tags);
  const writer = new SampleWriter(
    store,
    cfg.tags.map((tg) => ({
      id: rows.get(tg.name)!.id,
      name: tg.name,
      machineId: tg.machine,
      deadband: tg.deadband,
    })),
    cfg.store,
    silentLogger(),
  );
  await writer.start();
  const [connector] = (await createConnectors(cfg, { writer, store, log: silentLogger() })) as C[];
  if (connector === undefined) throw new Error("the config has no connection");
  await connector.start();
  t.after(async () => {
    await connector.stop();
    await writer.stop();
    store.close();
  });
  const latest = (name: string) => {
    const i = writer.tagIndex(name);
    return { value: writer.latestValue[i]!, status: writer.latestStatus[i]!, ts: writer.latestTs[i]! };
  };
  const connectionEvents = () =>
    (
      store.db
        .prepare("SELECT kind, message FROM machine_events WHERE kind LIKE 'connection%' ORDER BY id")
        .all() as {
        kind: string;
        message: string;
      }[]
    ).map((e) => e.kind);
  return { cfg, dir, file, store, writer, connector, latest, connectionEvents };
}
