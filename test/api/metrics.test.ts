import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { SimPlc } from "../../src/twin/simPlc.js";
import { ROOT, tempDir, waitFor } from "../helpers.js";
import { freePort, startPrometheus } from "../peers/peers.js";

const ROLES: [string, string, number][] = [
  ["speed", "input", 0],
  ["process_temperature", "input", 2],
  ["pressure", "input", 4],
  ["vibration_rms", "input", 6],
  ["motor_temperature", "input", 10],
];

test("Debian's Prometheus scrapes /metrics: docs/design.md §10 metrics, connector health and process figures", async (t) => {
  const dir = tempDir(t);
  const tags = ROLES.map(
    ([role, area, address]) =>
      `  - { name: press8.${role}, machine: 8, role: ${role}, connection: press8, intervalMs: 100, modbus: { unitId: 1, area: ${area}, address: ${address}, dataType: float32 } }`,
  );
  const config = parseConfig(
    `version: 1
line: { enterprise: acme, site: lyon, area: assembly, name: metrics-line }
machines: [{ id: 8, name: Press 8 }]
connections:
  - { id: press8, protocol: modbus-tcp, host: 127.0.0.1, port: ${await freePort()}, timeoutMs: 500 }
tags:
${tags.join("\n")}
store: { path: ${JSON.stringify(join(dir, "line.db"))}, batchSize: 100, flushIntervalMs: 100 }
api: { host: 127.0.0.1, port: 0 }
maintenance: { model: ${JSON.stringify(join(ROOT, "models/predictive_maintenance.onnx"))}, tickMs: 1000 }
registry: { key: { source: file, path: model.key, create: true } }
`,
    join(dir, "line.yaml"),
  );
  const sim = new SimPlc({ config, seed: 5, log: silentLogger() });
  await sim.start();
  t.after(() => sim.stop());
  const daemon = new Daemon(config, silentLogger());
  await daemon.start();
  t.after(() => daemon.stop());
  const port = daemon.api!.address!.port;

  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const name of [
    "ai_predictions_per_hour",
    "ai_model_accuracy",
    "ai_autonomous_decisions_accepted",
    "ai_scrap_rate_reduction_percent",
    "ai_energy_savings_kwh",
    "linepilot_connector_samples_per_second",
    "linepilot_connector_connected",
    "linepilot_store_buffer_samples",
    "linepilot_mqtt_backlog_messages",
    "linepilot_inference_tick_seconds",
    "process_resident_memory_bytes",
    "nodejs_eventloop_lag_seconds",
  ])
    assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), name);

  const prometheus = await startPrometheus(t, dir, [`127.0.0.1:${port}`]);
  const one = async (expr: string) =>
    waitFor(
      async () => {
        const r = await prometheus.query(expr);
        return r.length > 0 ? r : undefined;
      },
      30_000,
      expr,
    );
  assert.equal((await one('up{job="linepilot"}'))[0]!.value[1], "1", "the target is up");
  const connected = await one('linepilot_connector_connected{connector="press8", line="metrics-line"} == 1');
  assert.equal(connected[0]!.metric.protocol, "modbus-tcp");
  await one('linepilot_connector_samples_total{connector="press8"} > 0');
  const auc = await one('ai_model_accuracy{model="predictive_maintenance", metric="auc"}');
  assert.equal(Number(auc[0]!.value[1]), 0.991, "the active model's holdout AUC from the registry");
  await one("ai_predictions_per_hour >= 0");
  await one("process_resident_memory_bytes > 0");
});
