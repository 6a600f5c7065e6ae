import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { generateHistory } from "../../src/twin/generate.js";
import { tempDir } from "../helpers.js";

test("what-ifs are taken one at a time with four waiting: a burst of twenty gets 429s at once, not a daemon out of memory", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "line.db");
  await generateHistory({
    machineIds: [1, 2],
    durationS: 2 * 86_400,
    intervalS: 60,
    seed: 3,
    out: path,
    format: "store",
  });
  const config = parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: whatif-line }
machines: [{ id: 1, name: Press 1 }, { id: 2, name: Press 2 }]
store: { path: ${JSON.stringify(path)} }
api: { port: 0 }
`,
    join(dir, "line.yaml"),
  );
  const daemon = new Daemon(config, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  const url = `http://127.0.0.1:${daemon.api!.address!.port}/ai/simulate`;
  const ask = () =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scenario: "speed +10%", horizonH: 8 }),
    });
  const answers = await Promise.all(Array.from({ length: 20 }, ask));
  const codes = answers.map((a) => a.status);
  const ok = codes.filter((c) => c === 200).length;
  const busy = answers.filter((a) => a.status === 429);
  assert.ok(ok >= 5 && ok + busy.length === 20, `answers: ${codes.join(",")}`);
  assert.ok(busy.length >= 10, `most of the burst refused at once: ${codes.join(",")}`);
  const body = (await busy[0]!.json()) as { error: string; message: string };
  assert.equal(body.error, "LP_ERR_BUSY");
  assert.match(body.message, /1 what-if running and 4 waiting already/);
  // Once the burst is over, a what-if is answered again.
  assert.equal((await ask()).status, 200);
});
