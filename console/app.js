// The linepilot console: a client of the daemon's own API (the routes the CLI uses) and of its
// live stream (/events). Plain ES modules, no build step: Preact + htm for the pages, uPlot for the
// charts, all served by the daemon from its installed packages.
import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "/ui/vendor/htm.js";
import uPlot from "/ui/vendor/uplot.js";

const html = htm.bind(h);
const H = 3_600_000;

// ---- the API ----

const token = () => sessionStorage.getItem("linepilot.token") ?? "";
const person = () => localStorage.getItem("linepilot.name") ?? "";

function headers(json) {
  const out = json ? { "content-type": "application/json" } : {};
  if (token() !== "") out.authorization = `Bearer ${token()}`;
  return out;
}

async function api(path, body) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = res.headers.get("content-type") ?? "";
  const data = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const message = typeof data === "object" && data?.message ? data.message : `HTTP ${res.status}`;
    throw Object.assign(new Error(message), { status: res.status });
  }
  return data;
}

/** A change: needs the person's name (the audit names them) and, over TCP, the token. */
async function change(path, body, setMessage) {
  if (person() === "") {
    setMessage({ error: "Enter your name at the top: every change is audited with it." });
    return undefined;
  }
  try {
    const r = await api(path, { by: person(), ...body });
    setMessage({ notice: r.message ?? "done" });
    return r;
  } catch (e) {
    setMessage({
      error:
        e.status === 401 || e.status === 403
          ? `Refused: ${e.message}. Sign in with the API token to make changes.`
          : e.message,
    });
    return undefined;
  }
}

function useApi(path, deps = []) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  useEffect(() => {
    let live = true;
    if (path === undefined) return undefined;
    api(path).then(
      (data) => live && setState({ data, error: undefined }),
      (error) => live && setState({ data: undefined, error: error.message }),
    );
    return () => {
      live = false;
    };
  }, [path, ...deps]);
  return state;
}

/**
 * The live stream, read with fetch rather than EventSource so the token travels in a header (an
 * EventSource cannot set one, and a token in a URL ends up in logs).
 */
function useSnapshot(machine) {
  const [snap, setSnap] = useState(undefined);
  useEffect(() => {
    const abort = new AbortController();
    let stopped = false;
    void (async () => {
      while (!stopped) {
        try {
          const res = await fetch(`/events${machine === undefined ? "" : `?machine=${machine}`}`, {
            headers: headers(false),
            signal: abort.signal,
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = block
                .split("\n")
                .filter((l) => l.startsWith("data: "))
                .map((l) => l.slice(6))
                .join("\n");
              if (/^event: snapshot$/m.test(block) && data !== "")
                setSnap({ ...JSON.parse(data), offline: false });
            }
          }
        } catch {
          if (stopped) return;
        }
        setSnap((s) => (s === undefined ? s : { ...s, offline: true }));
        await new Promise((r) => setTimeout(r, 3_000));
      }
    })();
    return () => {
      stopped = true;
      abort.abort();
    };
  }, [machine]);
  return snap;
}

// ---- small parts ----

const fmt = (v, digits = 3) =>
  v === null || v === undefined
    ? "–"
    : typeof v === "number"
      ? String(Number(v.toPrecision(digits)))
      : String(v);
const time = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
const badge = (text) => html`<span class=${`badge ${text}`}>${text}</span>`;

function Message({ message }) {
  if (message === undefined) return null;
  return message.error !== undefined
    ? html`<p class="error" role="alert">${message.error}</p>`
    : html`<p class="notice" role="status">${message.notice}</p>`;
}

/** A uPlot chart that follows its container's width. */
function Chart({ options, data, height = 260 }) {
  const box = useRef(null);
  useEffect(() => {
    if (box.current === null || data === undefined) return undefined;
    const plot = new uPlot({ ...options, width: box.current.clientWidth || 600, height }, data, box.current);
    const resize = () => plot.setSize({ width: box.current.clientWidth || 600, height });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [data, options]);
  return html`<div ref=${box} class="chart"></div>`;
}

function Sparkline({ machine }) {
  // The recent trajectory: the last 48 assessments (a day at a 30-min tick, minutes in the demo).
  const { data } = useApi(`/ai/predictions?machine=${machine}&limit=48`, []);
  if (data === undefined || data.predictions.length < 2) return html`<span class="muted">–</span>`;
  const recent = [...data.predictions].reverse();
  const xs = recent.map((r) => Date.parse(r.ts) / 1000);
  const ys = recent.map((r) => r.failure_probability);
  const options = {
    width: 160,
    cursor: { show: false },
    legend: { show: false },
    axes: [{ show: false }, { show: false }],
    scales: { x: { time: true }, y: { range: [0, 1] } },
    series: [{}, { stroke: "#1f5fa8", width: 1.5 }],
  };
  return html`<${Chart} options=${options} data=${[xs, ys]} height=${32} />`;
}

const PERIODS = {
  "1 h": H,
  "6 h": 6 * H,
  "24 h": 24 * H,
  "7 days": 168 * H,
  "30 days": 720 * H,
  "90 days": 2_160 * H,
};

// ---- pages ----

function LinePage({ line, snap }) {
  const alerts = useApi("/ai/alerts", [snap?.alerts.newest, snap?.alerts.open]);
  if (snap === undefined) return html`<p class="muted">waiting for the line…</p>`;
  return html`
    <h1>${line.line.name} <span class=${`badge ${snap.status}`}>${snap.status}</span></h1>
    <table id="machines">
      <tr><th>Machine</th><th>State</th><th>Risk</th><th class="num">P(failure)</th><th>Risk, last 48 assessments</th><th>Baseline</th><th class="num">Open alerts</th></tr>
      ${snap.machines.map(
        (m) => html`<tr data-machine=${m.id}>
          <td><a href=${`#/machine/${m.id}`}>${m.name}</a></td>
          <td>${m.state === null ? "–" : badge(String(m.state))}</td>
          <td>${m.risk === null ? html`<span class="muted">no prediction yet</span>` : badge(m.risk.level)}</td>
          <td class="num">${fmt(m.risk?.p, 2)}</td>
          <td><${Sparkline} machine=${m.id} key=${m.risk?.ts} /></td>
          <td>${m.anomaly === null ? "–" : html`${badge(m.anomaly.level)} ${fmt(m.anomaly.score, 2)} / ${fmt(m.anomaly.threshold, 2)}`}</td>
          <td class="num">${m.openAlerts}</td>
        </tr>`,
      )}
    </table>
    <div class="grid">
      <div>
        <h2>Open alerts (${snap.alerts.open})</h2>
        <${AlertTable} alerts=${alerts.data?.alerts ?? []} compact=${true} />
      </div>
      <div>
        <h2>Connections and services</h2>
        <table id="components">
          ${Object.entries(snap.components).map(
            ([name, c]) =>
              html`<tr><td>${name}</td><td>${badge(c.state)}</td><td class="muted">${c.summary}</td></tr>`,
          )}
        </table>
        <p>Outbox to the plant: <b id="outbox">${snap.outboxDepth}</b> messages waiting</p>
        <p>Suggestions waiting: <a href="#/suggestions">${snap.suggestions.pending}</a></p>
      </div>
    </div>`;
}

function featureUnit(feature, machine, line) {
  // Feature names are <key>_<stat>[_<N>h]; the key is a role or a tag's name.
  const tags = line.tags.filter((t) => t.machine === machine);
  const tag =
    tags.find((t) => feature.startsWith(`${t.role}_`)) ?? tags.find((t) => feature.startsWith(`${t.name}_`));
  return tag?.unit ?? "";
}

function Reasons({ machine, line, refresh }) {
  const prediction = useApi(`/ai/predictions?machine=${machine}&limit=1`, [refresh]);
  const anomaly = useApi(`/ai/anomalies?machine=${machine}&limit=1`, [refresh]);
  const p = prediction.data?.predictions[0];
  const a = anomaly.data?.anomalies[0];
  const forest = (p?.reasons ?? []).filter((r) => !r.feature.startsWith("rule:"));
  const widest = Math.max(1e-9, ...forest.map((r) => Math.abs(r.contribution)));
  const deviations = a?.reasons ?? [];
  const widestDev = Math.max(1e-9, ...deviations.map((r) => Math.abs(r.deviation)));
  return html`
    <div class="bars" id="reasons">
      ${p === undefined && a === undefined ? html`<p class="muted">no assessment yet</p>` : null}
      ${(p?.reasons ?? [])
        .filter((r) => r.feature.startsWith("rule:"))
        .map((r) => html`<p class="error">${r.text}</p>`)}
      ${forest.map(
        (r) => html`<div class="bar">
          <span>${r.feature} = ${fmt(r.value, 4)} ${featureUnit(r.feature, machine, line)}</span>
          <span><span class=${`fill ${r.contribution < 0 ? "lowers" : ""}`} style=${`display:block;width:${(100 * Math.abs(r.contribution)) / widest}%`}></span></span>
          <span class="num">${r.contribution >= 0 ? "+" : "−"}${fmt(Math.abs(r.contribution * 100), 3)} points</span>
        </div>`,
      )}
      ${deviations.map(
        (r) => html`<div class="bar">
          <span>${r.tag ?? r.feature}: ${fmt(r.value, 4)} ${r.unit} (normal ${fmt(r.normal, 4)})</span>
          <span><span class="fill" style=${`display:block;width:${(100 * Math.abs(r.deviation)) / widestDev}%`}></span></span>
          <span class="num">${fmt(r.deviation, 3)} σ</span>
        </div>`,
      )}
    </div>`;
}

function TrendChart({ tag, unit, period }) {
  const [span, from] = [PERIODS[period], Date.now() - PERIODS[period]];
  const { data, error } = useApi(
    tag === undefined ? undefined : `/tags/${encodeURIComponent(tag)}/history?from=${from}&points=600`,
    [tag, period],
  );
  if (error !== undefined) return html`<p class="error">${error}</p>`;
  if (data === undefined) return html`<p class="muted">loading…</p>`;
  if (data.ts.length === 0) return html`<p class="muted">no samples of ${tag} in the last ${period}</p>`;
  const xs = data.ts.map((t) => (t + data.bucketMs / 2) / 1000);
  const options = {
    scales: { x: { time: true, range: [from / 1000, (from + span) / 1000] } },
    series: [
      {},
      { label: `min (${unit})`, stroke: "rgba(31,95,168,0.35)" },
      { label: `mean (${unit})`, stroke: "#1f5fa8", width: 2 },
      { label: `max (${unit})`, stroke: "rgba(31,95,168,0.35)" },
    ],
    bands: [{ series: [3, 1], fill: "rgba(31,95,168,0.12)" }],
    axes: [{}, { label: unit }],
  };
  return html`<${Chart} options=${options} data=${[xs, data.min, data.avg, data.max]} />
    <p class="muted">${data.ts.length} points, ${data.source === "hourly" ? "hourly" : "raw"} data, ${fmt(data.bucketMs / 1000, 3)} s a point</p>`;
}

function RiskChart({ machine, period, refresh }) {
  const from = Date.now() - PERIODS[period];
  const { data } = useApi(`/ai/risk?machine=${machine}&from=${from}&points=500`, [period, refresh]);
  if (data === undefined) return html`<p class="muted">loading…</p>`;
  if (data.risk.length === 0) return html`<p class="muted">no risk assessment in the last ${period}</p>`;
  const xs = data.risk.map((r) => Date.parse(r.ts) / 1000);
  const t = data.thresholds ?? { medium: 0.3, high: 0.6 };
  const options = {
    scales: { x: { time: true, range: [from / 1000, Date.now() / 1000] }, y: { range: [0, 1] } },
    series: [
      {},
      { label: "P(failure)", stroke: "#b3261e", width: 2 },
      { label: `MEDIUM ${t.medium}`, stroke: "#a86b00", dash: [6, 4] },
      { label: `HIGH ${t.high}`, stroke: "#b3261e", dash: [6, 4] },
    ],
  };
  return html`<${Chart}
    options=${options}
    data=${[xs, data.risk.map((r) => r.p), xs.map(() => t.medium), xs.map(() => t.high)]}
  />`;
}

function MachinePage({ id, line }) {
  const snap = useSnapshot(id);
  const machine = line.machines.find((m) => m.id === id);
  const tags = line.tags.filter((t) => t.machine === id);
  // A signal to start with, not a setpoint: vibration when the machine has it.
  const first =
    tags.find((t) => t.role !== null && /vibration|velocity|acceleration/.test(t.role)) ??
    tags.find((t) => t.role === null || !t.role.endsWith("_setpoint")) ??
    tags[0];
  const [tag, setTag] = useState(first?.name);
  const [period, setPeriod] = useState("6 h");
  if (machine === undefined) return html`<p class="error">no machine ${id} on this line</p>`;
  const m = snap?.machines.find((x) => x.id === id);
  const unit = tags.find((t) => t.name === tag)?.unit ?? "";
  return html`
    <h1>${machine.name} ${m?.risk ? badge(m.risk.level) : null} ${m?.state !== undefined && m?.state !== null ? badge(String(m.state)) : null}</h1>
    <div class="grid">
      <div class="card">
        <h2>Tags, live</h2>
        <table id="tags">
          <tr><th>Tag</th><th class="num">Value</th><th>Unit</th><th>Quality</th><th>Sampled</th></tr>
          ${(snap?.tags ?? []).map(
            (t) => html`<tr data-tag=${t.name} onClick=${() => setTag(t.name)} style="cursor:pointer">
              <td>${t.name}</td><td class="num">${t.label ?? fmt(t.value, 5)}</td><td>${t.unit}</td>
              <td>${badge(t.quality)}${t.quality === "good" ? "" : html` <span class="muted">${t.status ?? ""}</span>`}</td>
              <td class="muted">${t.ts ? new Date(t.ts).toLocaleTimeString() : "never"}</td>
            </tr>`,
          )}
        </table>
      </div>
      <div class="card">
        <h2>Why: the current reasons</h2>
        <${Reasons} machine=${id} line=${line} refresh=${m?.risk?.ts ?? m?.anomaly?.ts} />
      </div>
    </div>
    <div class="row">
      <label>Tag <select id="trend-tag" value=${tag} onChange=${(e) => setTag(e.target.value)}>
        ${tags.map((t) => html`<option value=${t.name}>${t.name}</option>`)}
      </select></label>
      <label>Period <select id="trend-period" value=${period} onChange=${(e) => setPeriod(e.target.value)}>
        ${Object.keys(PERIODS).map((p) => html`<option>${p}</option>`)}
      </select></label>
    </div>
    <div class="grid">
      <div class="card"><h2>${tag} (${unit || "no unit"})</h2><${TrendChart} tag=${tag} unit=${unit} period=${period} /></div>
      <div class="card"><h2>Risk over time</h2><${RiskChart} machine=${id} period=${period} refresh=${m?.risk?.ts} /></div>
    </div>`;
}

function AlertTable({ alerts, compact, onChanged, setMessage }) {
  const [modes, setModes] = useState({});
  if (alerts.length === 0) return html`<p class="muted">none</p>`;
  return html`<table class="alerts">
    <tr><th>#</th><th>Machine</th><th>Level</th><th>State</th><th>Opened</th><th>Why</th>${compact ? null : html`<th>Work order</th><th></th>`}</tr>
    ${alerts.map(
      (a) => html`<tr data-alert=${a.id}>
        <td>${a.id}</td><td>${a.machine_id}</td><td>${badge(a.severity)}${a.details.escalated ? " escalated" : ""}</td>
        <td>${a.state}${a.outcome ? ` (${a.outcome}${a.outcome_mode ? `: ${a.outcome_mode}` : ""})` : ""}</td>
        <td class="muted">${time(a.opened_at)}</td>
        <td>${a.details.reasons?.[0]?.text ?? a.details.reason ?? ""}${a.details.recommended_action ? html`<br /><span class="muted">→ ${a.details.recommended_action}</span>` : null}</td>
        ${
          compact
            ? null
            : html`<td>${a.work_order_ref ?? "–"}</td><td>
          ${a.state === "open" ? html`<button onClick=${async () => (await change(`/ai/alerts/${a.id}/ack`, {}, setMessage)) && onChanged()}>Acknowledge</button>` : null}
          ${
            a.outcome
              ? null
              : html`<span class="row">
            <input placeholder="failure mode" size="10" value=${modes[a.id] ?? ""} onInput=${(e) => setModes({ ...modes, [a.id]: e.target.value })} />
            <button onClick=${async () => (await change(`/ai/alerts/${a.id}/close`, { outcome: "confirmed", failureMode: modes[a.id] || undefined }, setMessage)) && onChanged()}>Confirmed</button>
            <button onClick=${async () => (await change(`/ai/alerts/${a.id}/close`, { outcome: "false_alarm" }, setMessage)) && onChanged()}>False alarm</button>
          </span>`
          }</td>`
        }
      </tr>`,
    )}
  </table>`;
}

function AlertsPage({ snap }) {
  const [all, setAll] = useState(false);
  const [n, setN] = useState(0);
  const [message, setMessage] = useState(undefined);
  const { data, error } = useApi(`/ai/alerts${all ? "?all=1" : ""}`, [
    n,
    snap?.alerts.newest,
    snap?.alerts.open,
  ]);
  return html`<h1>Alerts</h1>
    <label class="row"><input type="checkbox" checked=${all} onChange=${(e) => setAll(e.target.checked)} /> include closed</label>
    <${Message} message=${message} />
    ${error ? html`<p class="error">${error}</p>` : html`<${AlertTable} alerts=${data?.alerts ?? []} onChanged=${() => setN(n + 1)} setMessage=${setMessage} />`}`;
}

function SuggestionsPage({ snap }) {
  const [n, setN] = useState(0);
  const [message, setMessage] = useState(undefined);
  const { data, error } = useApi("/ai/suggestions?all=1", [
    n,
    snap?.suggestions.newest,
    snap?.suggestions.pending,
  ]);
  const decide = async (id, decision) => {
    await change(`/ai/suggestions/${id}/${decision}`, {}, setMessage);
    setN(n + 1);
  };
  return html`<h1>Suggestions</h1>
    <${Message} message=${message} />
    ${error ? html`<p class="error">${error}</p>` : null}
    <table id="suggestions">
      <tr><th>#</th><th>Machine</th><th>State</th><th>Change</th><th>Expected</th><th>Why</th><th></th></tr>
      ${(data?.suggestions ?? []).map(
        (s) => html`<tr data-suggestion=${s.id}>
          <td>${s.id}</td><td>${s.machineId}</td><td>${badge(s.state)}${s.outcome ? html` <span class="muted">${s.outcome}</span>` : null}${s.decidedBy ? html`<br /><span class="muted">by ${s.decidedBy}</span>` : null}</td>
          <td>${s.changes.map((c) => html`<div>${c.tag}: ${fmt(c.from, 4)} → ${fmt(c.to, 4)} (${c.percent > 0 ? "+" : ""}${fmt(c.percent, 3)} %)</div>`)}</td>
          <td>${Object.entries(s.expected).map(([k, v]) => html`<div>${k}: ${fmt(v, 4)}</div>`)}</td>
          <td>${s.reason}</td>
          <td>${
            s.state === "pending"
              ? html`<button class="primary" onClick=${() => decide(s.id, "approve")}>Approve</button> <button onClick=${() => decide(s.id, "reject")}>Reject</button>`
              : null
          }</td>
        </tr>`,
      )}
    </table>`;
}

const COMPARED = [
  ["output (pieces)", "baseline_output", "predicted_output"],
  ["output per hour", "baseline_output_per_hour", "predicted_output_per_hour"],
  ["scrap rate (%)", "baseline_scrap_rate", "predicted_scrap_rate"],
  ["failures", "baseline_failures", "predicted_failures"],
];

function WhatIfPage({ line }) {
  const [scenario, setScenario] = useState("speed +10%");
  const [machines, setMachines] = useState(line.machines.map((m) => m.id));
  const [horizonH, setHorizon] = useState(8);
  const [goal, setGoal] = useState("");
  const [result, setResult] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(undefined);
  const run = async (e) => {
    e.preventDefault();
    setBusy(true);
    setMessage(undefined);
    try {
      setResult(
        await api("/ai/simulate", {
          scenario,
          machines,
          horizonH: Number(horizonH),
          ...(goal ? { goal } : {}),
        }),
      );
    } catch (error) {
      setMessage({ error: error.message });
    }
    setBusy(false);
  };
  return html`<h1>What if…</h1>
    <form class="card" onSubmit=${run} id="whatif">
      <div class="row"><label>Scenario <input name="scenario" size="30" value=${scenario} onInput=${(e) => setScenario(e.target.value)} /></label>
        <span class="muted">e.g. "speed +15%", "temperature -5", "speed +10% and pressure +2%"</span></div>
      <div class="row">Machines ${line.machines.map(
        (m) =>
          html`<label><input type="checkbox" checked=${machines.includes(m.id)} onChange=${(e) =>
            setMachines(
              e.target.checked ? [...machines, m.id] : machines.filter((x) => x !== m.id),
            )} /> ${m.name}</label>`,
      )}</div>
      <div class="row"><label>Hours ahead <input type="number" min="1" max="744" value=${horizonH} onInput=${(e) => setHorizon(e.target.value)} /></label>
        <label>Goal <input placeholder="5000 pieces in 8h" value=${goal} onInput=${(e) => setGoal(e.target.value)} /></label>
        <button class="primary" disabled=${busy}>${busy ? "running the twin…" : "Run"}</button></div>
    </form>
    <${Message} message=${message} />
    ${
      result === undefined
        ? null
        : html`<div class="card" id="whatif-result">
      <table>
        <tr><th></th><th class="num">Baseline</th><th class="num">${result.scenario}</th></tr>
        ${COMPARED.map(([label, b, p]) => html`<tr><td>${label}</td><td class="num">${fmt(result[b], 5)}</td><td class="num">${fmt(result[p], 5)}</td></tr>`)}
        <tr><td>energy</td><td class="num">–</td><td class="num">${result.predicted_energy_increase > 0 ? "+" : ""}${fmt(result.predicted_energy_increase, 3)} %</td></tr>
        <tr><td>wear</td><td class="num">–</td><td class="num">${result.predicted_wear_increase} (×${fmt(result.wear_rate_ratio, 3)})</td></tr>
        ${result.goal ? html`<tr><td>goal ${result.goal.pieces} in ${result.goal.hours} h</td><td class="num">${result.goal.baseline_met ? "met" : "not met"}</td><td class="num">${result.goal.met ? "met" : "not met"}</td></tr>` : null}
      </table>
      <p><b>${result.recommendation}</b></p>
      <p class="muted">calibrated on ${result.calibration.windows} windows of this line's history${result.calibration.defaults.length ? `; at defaults: ${result.calibration.defaults.join(", ")}` : ""}</p>
    </div>`
    }`;
}

function AuditPage({ line }) {
  const [filter, setFilter] = useState({ machine: "", kind: "", since: "", until: "" });
  const query = new URLSearchParams();
  if (filter.machine) query.set("machine", filter.machine);
  if (filter.kind) query.set("kind", filter.kind);
  if (filter.since) query.set("since", new Date(filter.since).toISOString());
  if (filter.until) query.set("until", new Date(filter.until).toISOString());
  const { data, error } = useApi(`/ai/audit?${query}`, []);
  const set = (k) => (e) => setFilter({ ...filter, [k]: e.target.value });
  const download = async () => {
    const res = await fetch(`/ai/audit?${query}&format=csv&limit=10000`, { headers: headers(false) });
    const url = URL.createObjectURL(await res.blob());
    const a = Object.assign(document.createElement("a"), {
      href: url,
      download: `${line.line.name}-audit.csv`,
    });
    a.click();
    URL.revokeObjectURL(url);
  };
  return html`<h1>Audit log</h1>
    <div class="row">
      <label>Machine <select value=${filter.machine} onChange=${set("machine")}><option value="">all</option>${line.machines.map((m) => html`<option value=${m.id}>${m.name}</option>`)}</select></label>
      <label>Kind <select value=${filter.kind} onChange=${set("kind")}><option value="">all</option>${(data?.kinds ?? []).map((k) => html`<option>${k}</option>`)}</select></label>
      <label>From <input type="datetime-local" value=${filter.since} onChange=${set("since")} /></label>
      <label>To <input type="datetime-local" value=${filter.until} onChange=${set("until")} /></label>
      <button onClick=${download}>Export CSV</button>
    </div>
    ${error ? html`<p class="error">${error}</p>` : null}
    <table id="audit">
      <tr><th>Time</th><th>Kind</th><th>Who</th><th>Machine</th><th>Tag</th><th>Decision</th><th>Reason</th></tr>
      ${(data?.entries ?? []).map(
        (e) =>
          html`<tr><td class="muted">${time(e.ts)}</td><td>${e.kind}</td><td>${e.actor}</td><td>${e.machine_id ?? ""}</td><td>${e.tag ?? ""}</td><td>${e.decision}</td><td>${e.reason}</td></tr>`,
      )}
    </table>`;
}

function ModelsPage() {
  const [n, setN] = useState(0);
  const [message, setMessage] = useState(undefined);
  const models = useApi("/ai/models", [n]);
  const outcomes = useApi("/ai/models/outcomes", [n]);
  const learning = useApi("/ai/learning", [n]);
  const act = async (path, body) => {
    await change(path, body, setMessage);
    setN(n + 1);
  };
  return html`<h1>Models</h1>
    <${Message} message=${message} />
    ${models.error ? html`<p class="muted">${models.error}</p>` : null}
    <div class="grid">
      ${(models.data?.models ?? []).map(
        (m) => html`<div class="card" data-model=${m.id}>
          <h2>#${m.id} ${m.name} ${m.version} ${badge(m.status)}</h2>
          <p class="muted">${m.type}; trained ${time(m.trainedAt)}; deployed ${time(m.deployedAt)}</p>
          <table>${Object.entries(m.metrics).map(([k, v]) => html`<tr><td>${k}</td><td>${typeof v === "object" ? JSON.stringify(v) : fmt(v, 4)}</td></tr>`)}</table>
          <div class="row">
            ${m.status === "candidate" || m.status === "retired" ? html`<button onClick=${() => act(`/ai/models/${m.id}/promote`, {})}>Promote</button>` : null}
            ${m.status === "active" ? html`<button onClick=${() => act("/ai/models/rollback", { name: m.name })}>Roll back</button>` : null}
          </div>
        </div>`,
      )}
    </div>
    <h2>Live counters (alerts and what technicians found, failures within ${outcomes.data?.horizonH ?? "–"} h)</h2>
    <table id="outcomes">
      <tr><th>Model</th><th>Kind</th><th class="num">Raised</th><th class="num">Confirmed</th><th class="num">False</th><th class="num">Unreviewed</th><th class="num">Missed</th><th class="num">Precision</th><th class="num">Recall</th><th class="num">Median lead (h)</th><th class="num">Alerts / machine-week</th></tr>
      ${(outcomes.data?.models ?? []).map(
        (c) =>
          html`<tr><td>#${c.modelId}</td><td>${c.kind}</td><td class="num">${c.raised}</td><td class="num">${c.confirmed}</td><td class="num">${c.falseAlarms}</td><td class="num">${c.unreviewed}</td><td class="num">${c.missed}</td><td class="num">${fmt(c.precision, 2)}</td><td class="num">${fmt(c.recall, 2)}</td><td class="num">${fmt(c.medianLeadH, 3)}</td><td class="num">${fmt(c.alertsPerMachineWeek, 2)}</td></tr>`,
      )}
    </table>
    <h2>Learning runs</h2>
    ${learning.error ? html`<p class="muted">${learning.error}</p>` : null}
    ${learning.data ? html`<p class="muted">next run ${time(learning.data.nextRunAt)}${learning.data.running ? " (running now)" : ""}</p>` : null}
    <table>
      <tr><th>#</th><th>State</th><th>Started</th><th>Outcome</th></tr>
      ${(learning.data?.runs ?? []).map(
        (r) =>
          html`<tr><td>${r.id}</td><td>${badge(r.state)}</td><td class="muted">${time(r.startedAt)}</td><td>${r.reason}</td></tr>`,
      )}
    </table>`;
}

const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

function MaintenancePage({ line }) {
  const [n, setN] = useState(0);
  const [message, setMessage] = useState(undefined);
  const now = new Date();
  const [form, setForm] = useState({
    machineId: String(line.machines[0]?.id ?? ""),
    startedAt: local(new Date(now.getTime() - 2 * H)),
    completedAt: local(now),
    failure: false,
    failureMode: "",
    parts: "",
    workOrder: "",
    notes: "",
    alertId: "",
  });
  const records = useApi("/ai/maintenance?limit=50", [n]);
  const figures = useApi("/ai/reliability", [n]);
  const set = (k) => (e) =>
    setForm({ ...form, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const body = {
      machineId: Number(form.machineId),
      startedAt: new Date(form.startedAt).toISOString(),
      completedAt: new Date(form.completedAt).toISOString(),
      failure: form.failure,
      ...(form.failureMode ? { failureMode: form.failureMode } : {}),
      ...(form.parts
        ? {
            parts: form.parts
              .split(";")
              .map((p) => p.trim())
              .filter(Boolean),
          }
        : {}),
      ...(form.workOrder ? { workOrder: form.workOrder } : {}),
      ...(form.notes ? { notes: form.notes } : {}),
      ...(form.alertId ? { alertId: Number(form.alertId) } : {}),
    };
    if (await change("/ai/maintenance", body, setMessage)) setN(n + 1);
  };
  return html`<h1>Maintenance</h1>
    <form class="card" id="maintenance" onSubmit=${submit}>
      <h2>Record what was done</h2>
      <div class="row">
        <label>Machine <select value=${form.machineId} onChange=${set("machineId")}>${line.machines.map((m) => html`<option value=${m.id}>${m.name}</option>`)}</select></label>
        <label>Started <input type="datetime-local" value=${form.startedAt} onInput=${set("startedAt")} /></label>
        <label>Completed <input type="datetime-local" value=${form.completedAt} onInput=${set("completedAt")} /></label>
      </div>
      <div class="row">
        <label><input type="checkbox" checked=${form.failure} onChange=${set("failure")} /> a repair after a failure</label>
        <label>Failure mode <input placeholder="bearing, seal, motor…" value=${form.failureMode} onInput=${set("failureMode")} /></label>
        <label>Alert # <input size="5" value=${form.alertId} onInput=${set("alertId")} /></label>
      </div>
      <div class="row">
        <label>Parts <input size="30" placeholder="6205 bearing; grease" value=${form.parts} onInput=${set("parts")} /></label>
        <label>Work order <input value=${form.workOrder} onInput=${set("workOrder")} /></label>
      </div>
      <div class="row"><label>Notes <textarea rows="2" cols="60" value=${form.notes} onInput=${set("notes")}></textarea></label>
        <button class="primary">Record</button></div>
    </form>
    <${Message} message=${message} />
    <h2>MTTR and MTBF</h2>
    <table>
      <tr><th>Machine</th><th class="num">Failures</th><th class="num">MTTR (h)</th><th class="num">MTBF (h)</th><th class="num">Planned visits</th><th>Last failure</th></tr>
      ${(figures.data?.machines ?? []).map(
        (
          m,
        ) => html`<tr><td>${m.machine}</td><td class="num">${m.failures}</td><td class="num">${fmt(m.mttrH, 3)}</td>
          <td class="num">${m.mtbfH === null ? (m.failureFreeH === null ? "–" : `> ${fmt(m.failureFreeH, 3)}`) : fmt(m.mtbfH, 4)}</td>
          <td class="num">${m.plannedMaintenance}</td><td class="muted">${time(m.lastFailureAt)}</td></tr>`,
      )}
    </table>
    <h2>Records</h2>
    <table id="records">
      <tr><th>#</th><th>Machine</th><th>Started</th><th>Completed</th><th>Kind</th><th>Work order</th><th>By</th><th>Notes</th></tr>
      ${(records.data?.records ?? []).map(
        (
          r,
        ) => html`<tr><td>${r.id}</td><td>${r.machine_id}</td><td class="muted">${time(r.started_at)}</td><td class="muted">${time(r.completed_at)}</td>
          <td>${r.failure ? `repair${r.failure_mode ? `: ${r.failure_mode}` : ""}` : "planned"}</td><td>${r.work_order ?? ""}</td><td>${r.recorded_by ?? r.technician ?? ""}</td><td>${r.notes ?? ""}</td></tr>`,
      )}
    </table>`;
}

function LoginPage() {
  const [value, setValue] = useState("");
  const [message, setMessage] = useState(undefined);
  const submit = async (e) => {
    e.preventDefault();
    const res = await fetch("/ui/login", { method: "POST", headers: { authorization: `Bearer ${value}` } });
    if (res.ok) {
      sessionStorage.setItem("linepilot.token", value);
      location.hash = "#/";
      location.reload();
    } else setMessage({ error: "That token is not this daemon's API token." });
  };
  return html`<h1>Sign in</h1>
    <form class="card" onSubmit=${submit} id="login">
      <p>Changes (approvals, acknowledgements, outcomes, promotions) need the daemon's API token (api.token in the line's YAML).
      It is kept in this browser tab only.</p>
      <div class="row"><input type="password" name="token" placeholder="API token" value=${value} onInput=${(e) => setValue(e.target.value)} />
      <button class="primary">Sign in</button></div>
    </form>
    <${Message} message=${message} />`;
}

// ---- the frame ----

const PAGES = [
  ["#/", "Line"],
  ["#/alerts", "Alerts"],
  ["#/suggestions", "Suggestions"],
  ["#/maintenance", "Maintenance"],
  ["#/whatif", "What if"],
  ["#/audit", "Audit"],
  ["#/models", "Models"],
];

function App() {
  const [hash, setHash] = useState(location.hash || "#/");
  const [name, setName] = useState(person());
  const { data: line, error } = useApi("/ui/line.json", []);
  const snap = useSnapshot(undefined);
  useEffect(() => {
    const on = () => setHash(location.hash || "#/");
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  if (error !== undefined)
    return html`<main><p class="error">${error}${/401|token/.test(error) ? html` <a href="#/login" onClick=${() => setHash("#/login")}>Sign in</a>` : null}</p>${hash === "#/login" ? html`<${LoginPage} />` : null}</main>`;
  if (line === undefined) return html`<main><p class="muted">loading…</p></main>`;
  const machine = /^#\/machine\/(\d+)$/.exec(hash);
  const page = machine
    ? html`<${MachinePage} id=${Number(machine[1])} line=${line} key=${machine[1]} />`
    : hash === "#/alerts"
      ? html`<${AlertsPage} snap=${snap} />`
      : hash === "#/suggestions"
        ? html`<${SuggestionsPage} snap=${snap} />`
        : hash === "#/whatif"
          ? html`<${WhatIfPage} line=${line} />`
          : hash === "#/maintenance"
            ? html`<${MaintenancePage} line=${line} />`
            : hash === "#/audit"
              ? html`<${AuditPage} line=${line} />`
              : hash === "#/models"
                ? html`<${ModelsPage} />`
                : hash === "#/login"
                  ? html`<${LoginPage} />`
                  : html`<${LinePage} line=${line} snap=${snap} />`;
  return html`
    <header>
      <b>linepilot</b>
      ${PAGES.map(([href, label]) => html`<a href=${href} class=${hash === href ? "here" : ""}>${label}</a>`)}
      <span class="who">
        <label>Your name <input id="name" value=${name} onInput=${(e) => {
          setName(e.target.value);
          localStorage.setItem("linepilot.name", e.target.value);
        }} /></label>
        ${
          token() === ""
            ? html`<a href="#/login">Sign in</a>`
            : html`<a href="#/" onClick=${() => {
                sessionStorage.removeItem("linepilot.token");
                location.reload();
              }}>Sign out</a>`
        }
      </span>
    </header>
    ${snap?.offline ? html`<div class="offline">the daemon does not answer: reconnecting…</div>` : null}
    <main>${page}</main>`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
