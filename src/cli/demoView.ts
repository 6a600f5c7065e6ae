/**
 * The demo's console view: one line per thing a newcomer should notice, in the order it happens,
 * read from the daemon's own API (what `linepilot status`, `tags`, `predict`, `alerts` and
 * `suggestions` read) and from the plant broker (what the plant receives). No screen redrawing:
 * the lines stay readable in a scrollback, a pipe or a CI log.
 */
import mqtt, { type MqttClient } from "mqtt";
import { errorMessage } from "../common/errors.js";
import type { LineConfig } from "../config/schema.js";
import type { ScenarioResult } from "../process/scenario.js";
import type { AlertAnswer, AnomalyAnswer, PredictionAnswer, SuggestionAnswer, TagAnswer } from "./answers.js";
import { apiGet, apiPost } from "./apiClient.js";

export interface DemoViewOptions {
  /** The daemon's API base URL (http://... or unix:...). */
  api: string;
  line: LineConfig;
  /** The plant broker and the line's topic prefix, when the line syncs. */
  plant?: { url: string; topicPrefix: string };
  /** The what-if asked once, when the history is in. */
  whatIf: { scenario: string; horizonH: number };
}

/** The signals the tags line shows per machine (each with its tag's own unit). */
const SHOWN_ROLES = ["speed", "flow", "vibration_rms", "process_temperature", "bearing_temperature"] as const;

export class DemoView {
  readonly #o: DemoViewOptions;
  readonly #started = Date.now();
  readonly #machineNames: Map<number, string>;
  readonly #roles: Map<string, string>;
  readonly #risk = new Map<number, { level: string; p: number }>();
  readonly #normal = new Map<number, { level: string; score: number }>();
  readonly #alerts = new Map<number, string>();
  readonly #suggestions = new Map<number, string>();
  readonly #states = new Map<number, string>();
  readonly #stateNames: Map<string, Record<string, string>>;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #lastTagsAt = 0;
  #whatIf: "todo" | "asking" | "done" = "todo";
  #apiDown = false;
  #plant: MqttClient | undefined;
  #plantSawLine = false;

  constructor(o: DemoViewOptions) {
    this.#o = o;
    this.#machineNames = new Map(o.line.machines.map((m) => [m.id, m.name ?? `machine ${m.id}`]));
    this.#roles = new Map(o.line.tags.filter((t) => t.role !== undefined).map((t) => [t.name, t.role!]));
    // The twin answers what-ifs for machines that make pieces; a pump station has none to ask about.
    if (!o.line.tags.some((t) => t.role === "piece_count" || t.role === "good_count")) this.#whatIf = "done";
    this.#stateNames = new Map(
      o.line.tags.flatMap((t) => (t.events?.type === "enum" ? [[t.name, t.events.states] as const] : [])),
    );
  }

  start(): void {
    if (this.#o.plant !== undefined) this.#subscribePlant(this.#o.plant);
    this.#timer = setInterval(() => void this.poll(), 2_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    // Called on Ctrl-C and again once the daemon stopped: the second call finds nothing to end.
    const plant = this.#plant;
    this.#plant = undefined;
    await plant?.endAsync(true);
  }

  #say(kind: string, text: string): void {
    const s = Math.floor((Date.now() - this.#started) / 1000);
    const clock = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
    console.log(`[${clock}] ${kind.padEnd(10)} ${text}`);
  }

  #machine(id: number): string {
    return this.#machineNames.get(id) ?? `machine ${id}`;
  }

  /** One round: every source once, in sequence; a round still running skips the next. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      await this.#tags();
      await this.#predictions();
      await this.#anomalies();
      await this.#alertsRound();
      await this.#suggestionsRound();
      if (this.#whatIf === "todo") void this.#askWhatIf();
      if (this.#apiDown) this.#say("daemon", "API reachable again");
      this.#apiDown = false;
    } catch (error) {
      if (!this.#apiDown) this.#say("daemon", `API not reachable yet (${errorMessage(error)})`);
      this.#apiDown = true;
    } finally {
      this.#polling = false;
    }
  }

  async #tags(): Promise<void> {
    const { tags } = await apiGet<{ tags: TagAnswer[] }>(this.#o.api, "/tags");
    for (const t of tags) {
      if (this.#roles.get(t.name) !== "state" || t.value === null) continue;
      const state = this.#stateNames.get(t.name)?.[String(t.value)] ?? String(t.value);
      const before = this.#states.get(t.machine);
      this.#states.set(t.machine, state);
      if (before !== undefined && before !== state)
        this.#say("machine", `${this.#machine(t.machine)} ${before} -> ${state}`);
    }
    if (Date.now() - this.#lastTagsAt < 20_000) return;
    const read = tags.filter((t) => t.quality !== "none");
    if (read.length === 0) return;
    this.#lastTagsAt = Date.now();
    const good = tags.filter((t) => t.quality === "good").length;
    const perMachine = [...this.#machineNames.keys()].map((id) => {
      const values = SHOWN_ROLES.flatMap((role) => {
        const tag = tags.find((t) => t.machine === id && this.#roles.get(t.name) === role);
        return tag?.value == null
          ? []
          : [`${tag.value.toFixed(role === "vibration_rms" ? 2 : 1)} ${tag.unit}`];
      });
      return `${this.#machine(id)}: ${values.join(", ")}`;
    });
    this.#say("tags", `${good}/${tags.length} Good · ${perMachine.join(" · ")}`);
  }

  async #predictions(): Promise<void> {
    const machines = this.#machineNames.size;
    const { predictions } = await apiGet<{ predictions: PredictionAnswer[] }>(
      this.#o.api,
      `/ai/predictions?limit=${machines}`,
    );
    for (const p of predictions) {
      const before = this.#risk.get(p.machine_id);
      // A line per visible move, not per tick: the level changed or the probability by 0.03.
      if (
        before !== undefined &&
        before.level === p.risk_level &&
        Math.abs(before.p - p.failure_probability) < 0.03
      )
        continue;
      this.#risk.set(p.machine_id, { level: p.risk_level, p: p.failure_probability });
      const arrow = before === undefined ? " " : p.failure_probability > before.p ? "▲" : "▼";
      const why = p.reasons[0]?.text;
      this.#say(
        "risk",
        `${this.#machine(p.machine_id)} ${arrow} P(failure within 48 h) ${p.failure_probability.toFixed(2)} ${p.risk_level}${why ? ` · ${why}` : ""}`,
      );
    }
  }

  /** The baselines' scores: a line when a machine's level changes or its score moves by a fifth. */
  async #anomalies(): Promise<void> {
    const { anomalies } = await apiGet<{ anomalies: AnomalyAnswer[] }>(
      this.#o.api,
      `/ai/anomalies?limit=${this.#machineNames.size}`,
    );
    for (const a of anomalies) {
      const before = this.#normal.get(a.machine_id);
      if (
        before !== undefined &&
        before.level === a.level &&
        Math.abs(before.score - a.score) < 0.2 * a.threshold
      )
        continue;
      this.#normal.set(a.machine_id, { level: a.level, score: a.score });
      const arrow = before === undefined ? " " : a.score > before.score ? "▲" : "▼";
      const why = a.reasons[0]?.text;
      this.#say(
        "normal",
        `${this.#machine(a.machine_id)} ${arrow} anomaly score ${a.score.toFixed(2)} (alerts at ${a.threshold.toFixed(2)}) ${a.level}${a.shadow ? " shadow" : ""}${why ? ` · ${why}` : ""}`,
      );
    }
  }

  async #alertsRound(): Promise<void> {
    const { alerts } = await apiGet<{ alerts: AlertAnswer[] }>(this.#o.api, "/ai/alerts?all=1");
    for (const a of [...alerts].reverse()) {
      const seen = `${a.severity}/${a.state}/${a.details.escalated === true}`;
      if (this.#alerts.get(a.id) === seen) continue;
      const first = !this.#alerts.has(a.id);
      this.#alerts.set(a.id, seen);
      const d = a.details;
      if (first || a.details.escalated) {
        const p =
          d.failure_probability === undefined ? "" : ` P(failure) ${d.failure_probability.toFixed(2)}`;
        this.#say(
          "ALERT",
          `#${a.id} ${a.severity}${d.escalated ? " (escalated)" : ""} ${this.#machine(a.machine_id)}:${p} ${d.reason ?? ""}`.trimEnd(),
        );
        for (const r of d.reasons ?? []) this.#say("", `  because ${r.text}`);
        if (d.recommended_action) this.#say("", `  => ${d.recommended_action}`);
      } else this.#say("alert", `#${a.id} ${a.state} (${this.#machine(a.machine_id)})`);
    }
  }

  async #suggestionsRound(): Promise<void> {
    const { suggestions } = await apiGet<{ suggestions: SuggestionAnswer[] }>(
      this.#o.api,
      "/ai/suggestions?all=1",
    );
    for (const s of [...suggestions].reverse()) {
      if (this.#suggestions.get(s.id) === s.state) continue;
      const first = !this.#suggestions.has(s.id);
      this.#suggestions.set(s.id, s.state);
      if (first && s.state === "pending") {
        this.#say("suggest", `#${s.id} ${this.#machine(s.machineId)}: ${s.reason}`);
        this.#say("", `  approve: npx linepilot approve ${s.id} --by <you>   (or reject ${s.id})`);
      } else
        this.#say(
          "suggest",
          `#${s.id} ${s.state}${s.decidedBy ? ` by ${s.decidedBy}` : ""}${s.outcome ? `: ${s.outcome}` : ""}`,
        );
    }
  }

  async #askWhatIf(): Promise<void> {
    this.#whatIf = "asking";
    const w = this.#o.whatIf;
    try {
      const r = await apiPost<ScenarioResult>(
        this.#o.api,
        "/ai/simulate",
        { scenario: w.scenario, horizonH: w.horizonH },
        60_000,
      );
      const pct = (a: number, b: number) => `${a >= b ? "+" : ""}${(((a - b) / b) * 100).toFixed(1)} %`;
      this.#say(
        "what-if",
        `"${r.scenario}" on ${r.machines.map((m) => this.#machine(m)).join(", ")}, ${r.horizon_h} h ahead: ` +
          `output ${r.predicted_output} pieces (${pct(r.predicted_output, r.baseline_output)}), scrap ${r.predicted_scrap_rate} % (now ${r.baseline_scrap_rate} %), ` +
          `energy ${r.predicted_energy_increase >= 0 ? "+" : ""}${r.predicted_energy_increase} %, wear x${r.wear_rate_ratio}`,
      );
      this.#say("", `  => ${r.recommendation}`);
      this.#whatIf = "done";
    } catch (error) {
      this.#say("what-if", `not answered yet (${errorMessage(error)}); asking again`);
      this.#whatIf = "todo";
    }
  }

  #subscribePlant(plant: { url: string; topicPrefix: string }): void {
    const client = mqtt.connect(plant.url, {
      clientId: `linepilot-demo-plant-${process.pid}`,
      reconnectPeriod: 1_000,
    });
    this.#plant = client;
    client.on(
      "connect",
      () => void client.subscribeAsync(`${plant.topicPrefix}/#`, { qos: 1 }).catch(() => {}),
    );
    client.on("message", (topic, payload) => {
      const kind = topic.slice(plant.topicPrefix.length + 1);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
      } catch {
        return;
      }
      // The first status may come while the daemon is still starting; say it once it runs.
      if (kind === "status" && !this.#plantSawLine && (body.state === "online" || body.state === "running")) {
        this.#plantSawLine = true;
        this.#say("plant", `the plant sees the line ${String(body.state)} (${topic}, retained)`);
      }
      if (kind === "alerts")
        this.#say(
          "plant",
          `the plant received alert #${String(body.alertId)} ${String(body.change)} (${String(body.severity)}) on ${topic}`,
        );
      if (kind === "work_orders") this.#say("plant", `work order request received by the plant on ${topic}`);
    });
  }
}
