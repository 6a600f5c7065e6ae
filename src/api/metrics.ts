/**
 * GET /metrics: Prometheus text exposition (prom-client) of docs/design.md §10's metrics, the
 * gateway's health (per connector, store buffer, MQTT backlog, inference) and the process's own
 * (CPU, memory, event-loop lag). Every value is read at scrape time from its owner: nothing is
 * counted twice, and a scrape costs a few small queries, not per-sample work.
 */
import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { ComponentHealth } from "../common/component.js";
import type { MaintenanceFigures } from "../maintenance/figures.js";
import type { Predictor } from "../maintenance/predictor.js";
import type { ModelRegistry } from "../registry/registry.js";
import { predictionsSince } from "../store/predictions.js";
import type { Store } from "../store/store.js";
import { writtenExpectations, writtenSuggestions } from "../store/suggestions.js";

export interface MetricsSources {
  line: string;
  components(): Record<string, ComponentHealth>;
  store(): Store | undefined;
  maintenance(): Predictor | undefined;
  registry(): ModelRegistry | undefined;
  /** MTBF/MTTR per machine and the models' live counters (maintenance/figures.ts), cached by the daemon. */
  maintenanceFigures?(): MaintenanceFigures | undefined;
}

type Details = Record<string, unknown>;
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export function metricsRoute(sources: MetricsSources) {
  const register = new Registry();
  register.setDefaultLabels({ line: sources.line });
  collectDefaultMetrics({ register });
  // One snapshot per scrape: the daemon's health walks every component (and the store), and
  // a dozen collectors read it; taking it once keeps a scrape at one walk.
  let snapshot: Record<string, ComponentHealth> = {};
  let effectsOfScrape: { kwh: number; scrap: number } = { kwh: 0, scrap: 0 };
  const connectors = () =>
    Object.entries(snapshot)
      .filter(([, c]) => (c.details as Details)?.protocol !== undefined)
      // Labelled by the connection's id from the config ("modbus:press8" -> "press8").
      .map(([name, c]) => ({
        name: name.replace(/^[a-z-]+:/, ""),
        state: c.state,
        details: c.details as Details,
      }));
  const details = (name: string) => (snapshot[name]?.details ?? {}) as Details;
  // Figures the store counts: 0 before it is open.
  const count = (figure: (store: Store) => number) => {
    const store = sources.store();
    return store === undefined ? 0 : figure(store);
  };

  new Gauge({
    name: "linepilot_component_up",
    help: "1 when the component is ok, 0 when degraded, down or stopped",
    labelNames: ["component"],
    registers: [register],
    collect() {
      this.reset();
      for (const [name, c] of Object.entries(snapshot))
        this.set({ component: name }, c.state === "ok" ? 1 : 0);
    },
  });
  new Gauge({
    name: "linepilot_connector_connected",
    help: "1 while the connector's session with the PLC is up",
    labelNames: ["connector", "protocol"],
    registers: [register],
    collect() {
      this.reset();
      for (const c of connectors())
        this.set(
          { connector: c.name, protocol: String(c.details.protocol) },
          c.details.connected === true ? 1 : 0,
        );
    },
  });
  new Gauge({
    name: "linepilot_connector_samples_per_second",
    help: "Samples per second read by the connector (last interval)",
    labelNames: ["connector"],
    registers: [register],
    collect() {
      this.reset();
      for (const c of connectors()) this.set({ connector: c.name }, num(c.details.samplesPerSecond));
    },
  });
  // Totals kept by their owners: each scrape sets the counter to the owner's figure.
  const total = (
    name: string,
    help: string,
    labelNames: string[],
    read: () => [Record<string, string>, number][],
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [register],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });
  total("linepilot_connector_samples_total", "Samples read by the connector", ["connector"], () =>
    connectors().map((c) => [{ connector: c.name }, num(c.details.samples)]),
  );
  total(
    "linepilot_connector_errors_total",
    "Read, connect and protocol errors of the connector",
    ["connector"],
    () => connectors().map((c) => [{ connector: c.name }, num(c.details.errors)]),
  );
  total("linepilot_store_samples_committed_total", "Samples committed to SQLite", [], () => [
    [{}, num(details("sampleWriter").committed)],
  ]);
  total(
    "linepilot_store_samples_dropped_total",
    "Samples refused because the buffer was full (never silent)",
    [],
    () => [[{}, num(details("sampleWriter").dropped)]],
  );
  new Gauge({
    name: "linepilot_store_buffer_samples",
    help: "Samples accepted and not yet committed",
    registers: [register],
    collect() {
      this.set(num(details("sampleWriter").pending));
    },
  });
  new Gauge({
    name: "linepilot_mqtt_backlog_messages",
    help: "Messages in the outbox waiting for the plant broker",
    registers: [register],
    collect() {
      this.set(count((s) => s.sizes().outboxDepth));
    },
  });
  new Gauge({
    name: "linepilot_mqtt_connected",
    help: "1 while connected to the plant broker",
    registers: [register],
    collect() {
      this.set(details("sync").connected === true ? 1 : 0);
    },
  });
  new Gauge({
    name: "linepilot_inference_tick_seconds",
    help: "Duration of the last predictive-maintenance tick (features, model, reasons, store)",
    registers: [register],
    collect() {
      this.set(num(sources.maintenance()?.lastTickMs) / 1000);
    },
  });
  total("linepilot_inference_failures_total", "Model runs that failed or timed out", [], () => {
    const runner = (details("maintenance").runner ?? {}) as Details;
    return [[{}, num(runner.failures) + num(runner.timeouts)]];
  });
  // docs/design.md §10, by its names.
  new Gauge({
    name: "ai_predictions_per_hour",
    help: "Failure-risk predictions stored in the last hour",
    registers: [register],
    collect() {
      this.set(count((s) => predictionsSince(s, Date.now() - 3_600_000)));
    },
  });
  new Gauge({
    name: "ai_model_accuracy",
    help: "Holdout figures of the active model (registry), per model and metric",
    labelNames: ["model", "version", "metric"],
    registers: [register],
    collect() {
      this.reset();
      for (const m of sources.registry()?.list() ?? []) {
        if (m.status !== "active") continue;
        for (const metric of ["auc", "precision", "recall"])
          if (typeof m.metrics[metric] === "number")
            this.set({ model: m.name, version: m.version, metric }, m.metrics[metric] as number);
      }
    },
  });
  new Gauge({
    name: "ai_autonomous_decisions_accepted",
    help: "Optimizer suggestions written to the PLC (autonomously or after approval)",
    registers: [register],
    collect() {
      this.set(count(writtenSuggestions));
    },
  });
  const effects = () => {
    const store = sources.store();
    if (store === undefined) return { kwh: 0, scrap: 0 };
    const rows = writtenExpectations(store);
    let kwh = 0;
    let scrap = 0;
    let baselineScrap = 0;
    for (const r of rows) {
      const e = r as Record<string, number>;
      kwh += num(e.baseline_energy_kwh) - num(e.energy_kwh);
      scrap += (num(e.output_pieces) * num(e.scrap_rate_percent)) / 100;
      baselineScrap += (num(e.baseline_output_pieces) * num(e.baseline_scrap_rate_percent)) / 100;
    }
    return { kwh, scrap: baselineScrap > 0 ? 100 * (1 - scrap / baselineScrap) : 0 };
  };
  new Gauge({
    name: "ai_energy_savings_kwh",
    help: "Energy saved by the written optimizer changes, as the twin expected it over each suggestion's horizon",
    registers: [register],
    collect() {
      this.set(effectsOfScrape.kwh);
    },
  });
  new Gauge({
    name: "ai_scrap_rate_reduction_percent",
    help: "Scrap avoided by the written optimizer changes, in percent of the scrap without them (twin estimate)",
    registers: [register],
    collect() {
      this.set(effectsOfScrape.scrap);
    },
  });

  let figures: MaintenanceFigures | undefined;
  const perMachine = (
    name: string,
    help: string,
    value: (r: MaintenanceFigures["reliability"][number]) => number | null,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ["machine"],
      registers: [register],
      collect() {
        this.reset();
        for (const r of figures?.reliability ?? []) {
          const v = value(r);
          if (v !== null) this.set({ machine: String(r.machine) }, v);
        }
      },
    });
  perMachine(
    "linepilot_machine_mtbf_hours",
    "Mean operating hours between failures (absent before the first failure)",
    (r) => r.mtbfH,
  );
  perMachine(
    "linepilot_machine_mttr_hours",
    "Mean hours to repair, from the recorded repairs",
    (r) => r.mttrH,
  );
  perMachine(
    "linepilot_machine_failures",
    "Failures counted since the machine was first seen",
    (r) => r.failures,
  );
  new Gauge({
    name: "linepilot_model_alerts",
    help: "A model's alerts by what technicians found: raised, confirmed, false_alarm, unreviewed, and failures it missed",
    labelNames: ["model", "kind", "outcome"],
    registers: [register],
    collect() {
      this.reset();
      for (const m of figures?.models ?? []) {
        const labels = { model: String(m.modelId), kind: m.kind };
        this.set({ ...labels, outcome: "raised" }, m.raised);
        this.set({ ...labels, outcome: "confirmed" }, m.confirmed);
        this.set({ ...labels, outcome: "false_alarm" }, m.falseAlarms);
        this.set({ ...labels, outcome: "unreviewed" }, m.unreviewed);
        this.set({ ...labels, outcome: "missed" }, m.missed);
      }
    },
  });
  new Gauge({
    name: "linepilot_model_live_precision",
    help: "Confirmed over reviewed alerts of a model on this line (absent before the first review)",
    labelNames: ["model", "kind"],
    registers: [register],
    collect() {
      this.reset();
      for (const m of figures?.models ?? [])
        if (m.precision !== null) this.set({ model: String(m.modelId), kind: m.kind }, m.precision);
    },
  });

  return (app: FastifyInstance): void => {
    app.get("/metrics", async (_request, reply) => {
      snapshot = sources.components();
      effectsOfScrape = effects();
      figures = sources.maintenanceFigures?.();
      reply.header("content-type", register.contentType);
      return register.metrics();
    });
  };
}
