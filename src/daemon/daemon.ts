/**
 * The one place that wires the components of a line together. Components start in dependency
 * order (store, sample writer, retention, connectors, API) and stop in reverse, each inside its own
 * try/catch and time budget, so one that hangs cannot keep the others from flushing.
 */

import { ConsoleStream, consoleRoutes } from "../api/consoleRoutes.js";
import { historyRoutes } from "../api/historyRoutes.js";
import { maintenanceRoutes } from "../api/maintenanceRoutes.js";
import { metricsRoute } from "../api/metrics.js";
import { modelRoutes } from "../api/modelRoutes.js";
import { optimizerRoutes } from "../api/optimizerRoutes.js";
import { ApiServer, type RouteRegistrar } from "../api/server.js";
import { simulateRoute } from "../api/simulateRoute.js";
import { liveValue, tagsRoute } from "../api/tagsRoute.js";
import type { Component, ComponentHealth } from "../common/component.js";
import { errorMessage, LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { VERSION } from "../common/version.js";
import { DEFAULT_HORIZON_H, type LineConfig, LOOPBACK, overlappingRegisters } from "../config/schema.js";
import type { Connector } from "../connectors/connector.js";
import { createConnectors } from "../connectors/factory.js";
import { MachineEventDeriver } from "../connectors/machineEvents.js";
import { stalenessLimits, usableValue } from "../connectors/quality.js";
import { Learner } from "../learning/learner.js";
import { BaselineMonitor } from "../maintenance/baselineMonitor.js";
import { cachedMaintenanceFigures } from "../maintenance/figures.js";
import { InsightsPublisher } from "../maintenance/insightsPublisher.js";
import { Predictor } from "../maintenance/predictor.js";
import { liveStateReader } from "../optimizer/liveState.js";
import { Optimizer, tunedTags } from "../optimizer/optimizer.js";
import { SafetyEnvelope } from "../optimizer/safetyEnvelope.js";
import { SafetyMonitor } from "../optimizer/safetyMonitor.js";
import { seriesTags } from "../preprocess/waveform.js";
import { WaveformProcessor } from "../preprocess/waveformProcessor.js";
import { ProcessCalibrator } from "../process/calibrator.js";
import { ModelRegistry } from "../registry/registry.js";
import { Retention } from "../store/retention.js";
import { SampleWriter } from "../store/sampleWriter.js";
import { Store } from "../store/store.js";
import { HourlyRollup } from "../store/tagHistory.js";
import { PlantSync } from "../sync/plantSync.js";
import { SparkplugNode } from "../sync/sparkplug.js";
import { WorkOrderDeliveryService } from "../sync/workOrderDelivery.js";
import { ClockWatch } from "./clockWatch.js";
import { SystemdNotifier } from "./notify.js";

export type DaemonState = "created" | "starting" | "running" | "stopping" | "stopped" | "failed";

/** A stop was requested while the daemon was starting: the start ends there, without READY. */
class StartAborted extends Error {
  constructor() {
    super("stop requested during start");
  }
}

export class Daemon {
  readonly #config: LineConfig;
  readonly #log: Logger;
  readonly #notifier: SystemdNotifier;
  readonly #started: Component[] = [];
  readonly #startedAt = Date.now();
  #state: DaemonState = "created";
  #stopping: Promise<void> | undefined;
  store: Store | undefined;
  writer: SampleWriter | undefined;
  api: ApiServer | undefined;
  sync: PlantSync | undefined;
  maintenance: Predictor | undefined;
  baseline: BaselineMonitor | undefined;
  registry: ModelRegistry | undefined;
  learner: Learner | undefined;
  envelope: SafetyEnvelope | undefined;
  optimizer: Optimizer | undefined;
  connectors: Connector[] = [];

  constructor(config: LineConfig, log: Logger, notifier?: SystemdNotifier) {
    this.#config = config;
    this.#log = log;
    this.#notifier = notifier ?? new SystemdNotifier(log.child({ component: "systemd" }));
  }

  get state(): DaemonState {
    return this.#state;
  }

  async #startComponent<T extends Component>(component: T): Promise<T> {
    if (this.#stopping !== undefined) throw new StartAborted();
    this.#notifier.status(`starting ${component.name}`);
    await component.start();
    // A stop asked for while this one was starting: it stops what it started, and the start ends.
    if (this.#stopping !== undefined) {
      await component.stop().catch(() => undefined);
      throw new StartAborted();
    }
    this.#started.push(component);
    return component;
  }

  async start(): Promise<void> {
    if (this.#state !== "created") throw new Error(`daemon cannot start from state ${this.#state}`);
    this.#state = "starting";
    const cfg = this.#config;
    const child = (component: string) => this.#log.child({ component });
    try {
      const overlaps = overlappingRegisters(cfg.tags);
      for (const w of overlaps.slice(0, 20)) this.#log.warn({ config: "modbus" }, w);
      if (overlaps.length > 20)
        this.#log.warn({ config: "modbus" }, `and ${overlaps.length - 20} more overlapping registers`);
      const store = await this.#startComponent(new Store(cfg.store, child("store")));
      this.store = store;
      const figures = cachedMaintenanceFigures(
        () => this.store,
        cfg.machines.map((m) => m.id),
        cfg.learning?.horizonH ?? DEFAULT_HORIZON_H,
      );
      // The line's tags first (their indexes are the config's), then the series of its waveforms.
      const stored = seriesTags(cfg.tags);
      const rows = store.syncTags(stored);
      const staleAfter = stalenessLimits(cfg);
      const tagStates = stored.map((t) => {
        const row = rows.get(t.name)!;
        return { id: row.id, name: t.name, machineId: t.machine, deadband: "deadband" in t ? t.deadband : 0 };
      });
      this.writer = await this.#startComponent(
        new SampleWriter(store, tagStates, cfg.store, child("sampleWriter")),
      );
      await this.#startComponent(new Retention(store, cfg.store.retention, child("retention")));
      await this.#startComponent(
        // 50,000 rows a transaction: ~20 ms on the event loop at a time, even at 100,000 samples/s.
        new HourlyRollup(store, { everyMs: cfg.store.rollupEveryMs, chunkRows: 50_000 }, child("rollup")),
      );
      await this.#startComponent(new ClockWatch(store, this.#log));
      if (cfg.tags.some((t) => t.waveform !== undefined))
        await this.#startComponent(new WaveformProcessor(cfg.tags, this.writer, store, this.#log));
      if (cfg.tags.some((t) => t.events !== undefined))
        await this.#startComponent(
          new MachineEventDeriver(store, this.writer, cfg.tags, child("machineEvents")),
        );
      const safety = await this.#startComponent(new SafetyMonitor(cfg, this.writer, store, this.#log));
      if (cfg.sync !== undefined) {
        // Before the connectors: the link to the plant is up (or retrying) before data flows.
        this.sync = await this.#startComponent(
          new PlantSync(cfg.sync, {
            store,
            log: this.#log,
            line: cfg,
            status: () => {
              const h = this.health();
              const components: Record<string, string> = {};
              for (const [name, c] of Object.entries(h.components as Record<string, ComponentHealth>))
                components[name] = c.state;
              return { state: h.status === "ok" ? "running" : "degraded", components };
            },
            metrics: () => {
              const h = this.health();
              const metrics: Record<string, unknown> = {};
              for (const [name, c] of Object.entries(h.components as Record<string, ComponentHealth>))
                metrics[name] = c.details;
              const f = figures();
              return {
                uptimeS: h.uptimeS,
                components: metrics,
                ...(f !== undefined ? { reliability: f.reliability, models: f.models } : {}),
              };
            },
            telemetry: () => {
              const now = Date.now();
              return cfg.tags.map((tag, i) => {
                const { name, machine, unit, value, quality, ts } = liveValue(tag, i, this.writer!, now);
                return { tag: name, machine, unit, value, quality, ts };
              });
            },
          }),
        );
      }
      if (cfg.sync?.sparkplug !== undefined) {
        const w = this.writer;
        await this.#startComponent(
          new SparkplugNode(cfg.sync, {
            store,
            log: this.#log,
            line: cfg,
            values: () =>
              cfg.tags.map((tag, i) => ({
                tag: tag.name,
                machine: tag.machine,
                value: w.latestValue[i]!,
                ts: w.latestTs[i]!,
                good: !Number.isNaN(usableValue(w, i, Date.now(), staleAfter[i]!)),
              })),
          }),
        );
      }
      const workOrderHttp = cfg.maintenance?.workOrders.http;
      if (workOrderHttp !== undefined)
        await this.#startComponent(
          new WorkOrderDeliveryService(workOrderHttp, { store, line: cfg, log: child("workOrders") }),
        );
      if (cfg.registry !== undefined)
        this.registry = await this.#startComponent(
          new ModelRegistry(cfg.registry, { store, log: this.#log }),
        );
      if (cfg.maintenance !== undefined)
        this.maintenance = await this.#startComponent(
          new Predictor(cfg.maintenance, {
            store,
            log: this.#log,
            line: cfg,
            ...(this.registry !== undefined ? { registry: this.registry } : {}),
          }),
        );
      if (cfg.maintenance?.baseline !== undefined)
        this.baseline = await this.#startComponent(
          new BaselineMonitor(cfg.maintenance, {
            store,
            log: this.#log,
            line: cfg,
            ...(this.registry !== undefined ? { registry: this.registry } : {}),
          }),
        );
      const insights =
        cfg.maintenance === undefined
          ? undefined
          : await this.#startComponent(
              new InsightsPublisher(cfg.maintenance, { store, line: cfg, log: child("insights") }),
            );
      if (cfg.learning !== undefined && this.registry !== undefined)
        this.learner = await this.#startComponent(
          new Learner(cfg.learning, { store, registry: this.registry, log: this.#log, line: cfg }),
        );
      for (const connector of await createConnectors(cfg, { writer: this.writer, store, log: this.#log })) {
        this.connectors.push(await this.#startComponent(connector));
      }
      // The one door to the PLC: every setpoint write below goes through it.
      const writer = this.writer;
      const tagIndex = new Map(cfg.tags.map((t, i) => [t.name, i]));
      const connectorOfConnection = new Map(cfg.connections.map((c, i) => [c.id, this.connectors[i]!]));
      this.envelope = new SafetyEnvelope(cfg.safety, {
        store,
        log: child("safetyEnvelope"),
        tags: cfg.tags,
        safety,
        connectorOf: (tag) => {
          const t = cfg.tags[tagIndex.get(tag) ?? -1];
          return t === undefined ? undefined : connectorOfConnection.get(t.connection);
        },
        current: (tag) => {
          const i = tagIndex.get(tag);
          return i === undefined ? Number.NaN : usableValue(writer, i, Date.now(), staleAfter[i]!);
        },
      });
      if (cfg.optimizer !== undefined) {
        const tuned = tunedTags(cfg, cfg.optimizer);
        const calibration = await this.#startComponent(new ProcessCalibrator(cfg, child("calibration")));
        this.optimizer = await this.#startComponent(
          new Optimizer(cfg.optimizer, {
            store,
            log: this.#log,
            line: cfg,
            envelope: this.envelope,
            readState: liveStateReader(cfg, writer, store, tuned),
            params: () => calibration.params,
          }),
        );
      }
      const routes: RouteRegistrar[] = [
        tagsRoute(cfg.tags, this.writer, staleAfter),
        historyRoutes(() => store, cfg),
        simulateRoute(cfg),
        maintenanceRoutes(() => store, {
          machines: new Set(cfg.machines.map((m) => m.id)),
          horizonH: cfg.learning?.horizonH ?? DEFAULT_HORIZON_H,
          ...(insights !== undefined
            ? { insights: (fresh: boolean) => (fresh ? undefined : insights.latest) ?? insights.compute() }
            : {}),
        }),
        metricsRoute({
          line: cfg.line.name,
          components: () => this.health().components as Record<string, ComponentHealth>,
          store: () => this.store,
          maintenance: () => this.maintenance,
          registry: () => this.registry,
          maintenanceFigures: figures,
        }),
        modelRoutes(
          () => this.registry,
          () => this.learner,
        ),
        optimizerRoutes(
          () => store,
          () => this.optimizer,
          cfg,
        ),
      ];
      if (cfg.api.console) {
        const deps = {
          line: cfg,
          store: () => store,
          live: writer,
          staleAfterMs: staleAfter,
          health: () => {
            const h = this.health();
            return { ...h, components: h.components as Record<string, ComponentHealth> };
          },
          tickMs: cfg.api.consoleTickMs,
          readsNeedToken: !LOOPBACK.test(cfg.api.host),
        };
        routes.push(consoleRoutes(deps, await this.#startComponent(new ConsoleStream(deps))));
      }
      this.api = await this.#startComponent(
        new ApiServer(cfg.api, { health: () => this.health(), routes }, child("api")),
      );
    } catch (error) {
      if (error instanceof StartAborted || this.#stopping !== undefined) {
        // stop() stops what had started; READY is never sent after STOPPING.
        await this.#stopping;
        return;
      }
      this.#state = "failed";
      this.#log.fatal(
        { err: errorMessage(error), code: (error as LinepilotError).code },
        "daemon failed to start",
      );
      await this.#stopAll();
      throw error;
    }
    if (this.#stopping !== undefined) {
      await this.#stopping;
      return;
    }
    this.#state = "running";
    const summary = `running: line ${cfg.line.name}, ${cfg.tags.length} tags, ${cfg.connections.length} connections`;
    this.#notifier.ready(summary);
    this.#log.info(
      { version: VERSION, line: cfg.line.name, watchdogMs: this.#notifier.watchdogIntervalMs },
      "linepilot running",
    );
  }

  /** Stops every started component in reverse order. Safe to call more than once (one SIGTERM guard). */
  stop(reason = "stop requested"): Promise<void> {
    this.#stopping ??= (async () => {
      this.#state = "stopping";
      this.#notifier.stopping(reason);
      this.#log.info({ reason }, "linepilot stopping");
      await this.#stopAll();
      this.#state = "stopped";
      this.#notifier.close();
      this.#log.info("linepilot stopped");
    })();
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    const budgetMs = this.#config.daemon.componentStopTimeoutMs;
    while (this.#started.length > 0) {
      const component = this.#started.pop()!;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          component.stop(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new LinepilotError(
                    "LP_ERR_STOP_TIMEOUT",
                    `${component.name} did not stop within ${budgetMs} ms`,
                  ),
                ),
              budgetMs,
            );
          }),
        ]);
      } catch (error) {
        this.#log.error(
          { component: component.name, err: errorMessage(error) },
          "component failed to stop cleanly",
        );
      } finally {
        clearTimeout(timer);
      }
    }
  }

  health(): { status: "ok" | "degraded" | "down"; [key: string]: unknown } {
    const components: Record<string, ComponentHealth> = {};
    for (const c of this.#started) components[c.name] = c.health();
    const states = Object.values(components).map((c) => c.state);
    const status = this.#state !== "running" ? "down" : states.every((s) => s === "ok") ? "ok" : "degraded";
    return {
      status,
      state: this.#state,
      version: VERSION,
      line: this.#config.line,
      pid: process.pid,
      uptimeS: Math.round((Date.now() - this.#startedAt) / 1000),
      rssBytes: process.memoryUsage().rss,
      components,
    };
  }
}
