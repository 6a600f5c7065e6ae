import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { LinepilotError } from "../../src/common/errors.js";
import { silentLogger } from "../../src/common/logger.js";
import { parseConfig } from "../../src/config/load.js";
import type { Connector, WriteResult } from "../../src/connectors/connector.js";
import { SafetyEnvelope, type WriteRequest } from "../../src/optimizer/safetyEnvelope.js";
import { NO_SAFETY_SIGNALS } from "../../src/optimizer/safetyMonitor.js";
import { Store } from "../../src/store/store.js";
import { DemoPlc } from "../../src/twin/demoPlc.js";
import { startConnector } from "../connectors/harness.js";
import { lineYaml, tempDir } from "../helpers.js";

const TAGS = `  - { name: speed_sp, machine: 7, role: speed_setpoint, connection: plc, writable: true, min: 10, max: 60, modbus: { area: holding, address: 0, dataType: float32 } }
  - { name: temp_sp, machine: 7, role: temperature_setpoint, connection: plc, writable: true, min: 160, max: 200, modbus: { area: holding, address: 2, dataType: float32 } }
  - { name: speed, machine: 7, role: speed, connection: plc, modbus: { area: input, address: 0, dataType: float32 } }`;

type Op =
  | {
      kind: "write";
      tag: string;
      value: number;
      relative: boolean;
      approved: boolean;
      mode: "assisted" | "autonomous";
    }
  | { kind: "advance"; ms: number }
  | { kind: "safety"; on: boolean }
  | { kind: "plc"; tag: string; value: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      tag: fc.constantFrom("speed_sp", "temp_sp", "speed", "ghost"),
      // Mostly a change relative to the PLC's value (-30 %..+30 %), sometimes any number at all.
      relative: fc.boolean(),
      value: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: -300, max: 300 }).map((permille) => permille / 1_000) },
        { weight: 2, arbitrary: fc.double({ min: -50, max: 300, noNaN: true }) },
        { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 0, -1) },
      ),
      approved: fc.boolean(),
      mode: fc.constantFrom("assisted" as const, "autonomous" as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 120_000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("safety" as const), on: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("plc" as const),
      tag: fc.constantFrom("speed_sp", "temp_sp"),
      value: fc.oneof(fc.double({ min: 0, max: 250, noNaN: true }), fc.constant(Number.NaN)),
    }),
  },
);

test("property: whatever the sequence of suggestions, values, modes, approvals and alerts, no write ever leaves the envelope, and every one is audited first", async (t) => {
  const dir = tempDir(t);
  const cfg = parseConfig(lineYaml({ storePath: join(dir, "line.db"), tags: TAGS }), join(dir, "line.yaml"));
  const store = new Store(cfg.store, silentLogger());
  store.open();
  t.after(() => store.close());
  const s = cfg.safety;
  let totalWrites = 0;
  const rulesSeen = new Set<string>();
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
      store.db.exec("DELETE FROM alerts");
      const plc = new Map<string, number>([
        ["speed_sp", 30],
        ["temp_sp", 182],
      ]);
      let now = 1_000_000;
      const lastAllowed = new Map<string, number>();
      let safetyOn = false;
      let writes = 0;
      const audited = () =>
        (
          store.db
            .prepare(
              "SELECT count(*) AS n FROM ai_decisions_audit WHERE kind = 'setpoint_write' AND decision = 'write'",
            )
            .get() as { n: number }
        ).n;
      const auditedBefore = audited();
      let check: { before: number; request: WriteRequest } | undefined;
      // The PLC side: a connector that takes whatever reaches it and checks the envelope's promises.
      const connector = {
        // The PLC's value now, as the envelope reads it before every write.
        async read(tag: string): Promise<number> {
          return plc.get(tag) ?? Number.NaN;
        },
        async write(tag: string, value: number): Promise<WriteResult> {
          const before = check!.before;
          const req = check!.request;
          const tagCfg = cfg.tags.find((x) => x.name === tag)!;
          assert.ok(Number.isFinite(value), "finite");
          assert.ok(value >= tagCfg.min! && value <= tagCfg.max!, `absolute limits: ${value}`);
          assert.ok(
            Math.abs(value - before) <= (Math.abs(before) * s.maxChangePercent) / 100 + 1e-9,
            `±15 %: ${before} -> ${value}`,
          );
          if (!req.approvedBy)
            assert.ok(
              Math.abs(value - before) <= (Math.abs(before) * s.autonomousStepPercent) / 100 + 1e-9,
              `±10 % unapproved: ${before} -> ${value}`,
            );
          assert.ok(!safetyOn, "never while a SAFETY alert is active");
          const last = lastAllowed.get(tag);
          assert.ok(last === undefined || now - last >= s.minIntervalMs, "rate limit");
          assert.ok(
            !(tagCfg.role === "speed_setpoint" && value <= 0 && !req.approvedBy),
            "no stop without a person",
          );
          writes++;
          assert.equal(audited() - auditedBefore, writes, "audited before it reached the PLC");
          lastAllowed.set(tag, now);
          plc.set(tag, value);
          return { tag, requested: value, readBack: value, ok: true };
        },
      } as unknown as Connector;
      const envelope = new SafetyEnvelope(s, {
        store,
        log: silentLogger(),
        tags: cfg.tags,
        connectorOf: () => connector,
        current: (tag) => plc.get(tag) ?? Number.NaN,
        safety: { activeReasons: () => (safetyOn ? ["guard door open"] : []) },
        now: () => now,
      });
      for (const o of ops) {
        if (o.kind === "advance") now += o.ms;
        else if (o.kind === "plc") plc.set(o.tag, o.value);
        else if (o.kind === "safety") {
          safetyOn = o.on; // what the safety monitor reports active (its own tests drive real signals)
        } else {
          const known = plc.get(o.tag);
          const current = known !== undefined && Number.isFinite(known) ? known : 30;
          const request: WriteRequest = {
            tag: o.tag,
            value: o.relative && Math.abs(o.value) <= 0.3 ? current * (1 + o.value) : o.value,
            requestedBy: "optimizer",
            mode: o.mode,
            ...(o.approved ? { approvedBy: "anna" } : {}),
          };
          check = { before: plc.get(o.tag) ?? Number.NaN, request };
          const outcome = await envelope.write(request);
          if (!outcome.written) {
            assert.ok(outcome.reason.length > 0, "a refusal says why");
            rulesSeen.add(outcome.rule);
          }
        }
      }
      totalWrites += writes;
    }),
    { numRuns: 300, seed: 20261124 },
  );
  // Not vacuous: writes went through, and every rule refused something.
  assert.ok(totalWrites > 50, `${totalWrites} writes reached the PLC`);
  assert.deepEqual([...rulesSeen].sort(), [
    "absolute_limits",
    "autonomous_step",
    "max_change",
    "no_current_value",
    "not_finite",
    "not_writable",
    "rate_limit",
    "safety_alert",
    "stop_needs_a_person",
    "unknown_tag",
  ]);
  const refusals = store.db
    .prepare("SELECT reason, details FROM ai_decisions_audit WHERE decision = 'refused' LIMIT 1")
    .get() as { reason: string };
  assert.ok(refusals.reason.length > 0, "refusals are audited with their reason");
});

test("the envelope in front of a real Modbus PLC: in bounds written and read back; beyond 10 % unapproved refused; a failed write is retried, then alerted", async (t) => {
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  t.after(() => plc.stop());
  const { cfg, connector, store, latest } = await startConnector(
    t,
    lineYaml({ storePath: "x.db", plcPort: plc.port, tags: TAGS }),
  );
  const { waitFor } = await import("../helpers.js");
  await waitFor(() => latest("speed").ts > 0 && connector.connected, 10_000, "connected");
  let now = Date.now();
  const envelope = new SafetyEnvelope(cfg.safety, {
    store,
    log: silentLogger(),
    tags: cfg.tags,
    safety: NO_SAFETY_SIGNALS,
    connectorOf: () => connector,
    current: () => plc.setpoint,
    now: () => now,
  });
  const ok = await envelope.write({
    tag: "speed_sp",
    value: 32,
    requestedBy: "optimizer",
    mode: "autonomous",
  });
  assert.equal(ok.written, true);
  assert.equal(plc.setpoint, 32);
  now += 120_000;
  const tooFar = await envelope.write({
    tag: "speed_sp",
    value: 36,
    requestedBy: "optimizer",
    mode: "autonomous",
  });
  assert.deepEqual([tooFar.written, !tooFar.written && tooFar.rule], [false, "autonomous_step"]);
  assert.equal(plc.setpoint, 32, "nothing reached the PLC");
  const approved = await envelope.write({
    tag: "speed_sp",
    value: 36,
    requestedBy: "technician:anna",
    mode: "assisted",
    approvedBy: "anna",
  });
  assert.equal(approved.written, true, "12.5 % with a person's approval");
  const decisions = store.db
    .prepare("SELECT decision FROM ai_decisions_audit WHERE kind = 'setpoint_write' ORDER BY id")
    .all() as { decision: string }[];
  assert.deepEqual(
    decisions.map((d) => d.decision),
    ["write", "written", "refused", "write", "written"],
  );
  // A PLC that does not keep the value: retried once, then an alert, never assumed.
  now += 120_000;
  let attempts = 0;
  const stubborn = {
    read: async () => 36,
    write: async () => {
      attempts++;
      throw new LinepilotError("LP_ERR_WRITE_VERIFY", "tag speed_sp: wrote 38, read back 36");
    },
  } as unknown as Connector;
  const failing = new SafetyEnvelope(cfg.safety, {
    store,
    log: silentLogger(),
    tags: cfg.tags,
    safety: NO_SAFETY_SIGNALS,
    connectorOf: () => stubborn,
    current: () => 36,
    now: () => now,
  });
  const failed = await failing.write({
    tag: "speed_sp",
    value: 38,
    requestedBy: "optimizer",
    mode: "autonomous",
  });
  assert.equal(attempts, 2);
  assert.deepEqual([failed.written, !failed.written && failed.rule], [false, "write_failed"]);
  const alert = store.db
    .prepare("SELECT kind, severity, state FROM alerts WHERE kind = 'write_failed'")
    .get();
  assert.deepEqual(alert, { kind: "write_failed", severity: "HIGH", state: "open" });
});

test("a configured safety signal raises a SAFETY alert that blocks every write until the signal clears; acknowledging does not clear it", async (t) => {
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  t.after(() => plc.stop());
  const yaml = `${lineYaml({ storePath: "x.db", plcPort: plc.port, tags: TAGS })}safety:\n  alarms: [{ tag: speed, above: 25, reason: "press running above the guard-door speed (test)" }]\n`;
  const { cfg, connector, store, writer, latest } = await startConnector(t, yaml);
  const { SafetyMonitor } = await import("../../src/optimizer/safetyMonitor.js");
  const monitor = new SafetyMonitor(cfg, writer, store, silentLogger());
  await monitor.start();
  t.after(() => monitor.stop());
  const { waitFor } = await import("../helpers.js");
  const active = () =>
    (
      store.db
        .prepare("SELECT count(*) AS n FROM alerts WHERE severity = 'SAFETY' AND state != 'cleared'")
        .get() as { n: number }
    ).n;
  await waitFor(() => active() === 1, 10_000, "the SAFETY alert");
  const envelope = new SafetyEnvelope(cfg.safety, {
    store,
    log: silentLogger(),
    tags: cfg.tags,
    safety: monitor,
    connectorOf: () => connector,
    current: () => plc.setpoint,
  });
  const refused = await envelope.write({
    tag: "speed_sp",
    value: 29,
    requestedBy: "technician:anna",
    mode: "assisted",
    approvedBy: "anna",
  });
  assert.deepEqual([refused.written, !refused.written && refused.rule], [false, "safety_alert"]);
  assert.match(!refused.written ? refused.reason : "", /press running above the guard-door speed/);
  store.db
    .prepare("UPDATE alerts SET state = 'acknowledged', acknowledged_by = 'plant' WHERE severity = 'SAFETY'")
    .run();
  assert.equal(
    envelope.check({ tag: "speed_sp", value: 29, requestedBy: "x", mode: "assisted", approvedBy: "anna" })
      .allowed,
    false,
    "acknowledged is still active",
  );
  // The operator slows the press on the HMI (not through linepilot): the signal clears, so does the alert.
  await connector.write("speed_sp", 20);
  await waitFor(() => active() === 0, 15_000, `the alert to clear (speed ${latest("speed").value})`);
  const log = store.db
    .prepare(
      "SELECT decision FROM ai_decisions_audit WHERE kind = 'alert' AND actor = 'safety_monitor' ORDER BY id",
    )
    .all() as { decision: string }[];
  assert.deepEqual(
    log.map((d) => d.decision),
    ["alert opened", "alert cleared"],
  );
  const ok = await envelope.write({
    tag: "speed_sp",
    value: 21,
    requestedBy: "optimizer",
    mode: "autonomous",
  });
  assert.equal(ok.written, true, "writes allowed again");
});

test("a write is bounded by the PLC's value at the moment of the write, not by the last poll: another client moved it, and the audit says which value was checked", async (t) => {
  const plc = new DemoPlc({ port: 0 });
  await plc.start();
  t.after(() => plc.stop());
  // The setpoint is polled every 30 s: between two polls an operator's HMI sets the PLC to 40.
  const slow = TAGS.replace(
    "min: 10, max: 60, modbus: { area: holding, address: 0, dataType: float32 } }",
    "min: 10, max: 60, intervalMs: 30000, modbus: { area: holding, address: 0, dataType: float32 } }",
  );
  const { cfg, connector, store, latest } = await startConnector(
    t,
    lineYaml({ storePath: "x.db", plcPort: plc.port, tags: slow }),
  );
  const { waitFor } = await import("../helpers.js");
  await waitFor(() => latest("speed_sp").ts > 0 && connector.connected, 10_000, "the first poll");
  const polled = latest("speed_sp").value;
  // modbus-serial is CommonJS: its default export's `default` is the client class.
  const ModbusRTU = (await import("modbus-serial")).default.default;
  const { encodeRegisters } = await import("../../src/connectors/modbus/codec.js");
  const hmi = new ModbusRTU();
  await hmi.connectTCP("127.0.0.1", { port: plc.port });
  hmi.setID(1);
  await hmi.writeRegisters(0, encodeRegisters(40, "float32", "big", "big"));
  hmi.close(() => undefined);
  assert.equal(plc.setpoint, 40);
  assert.equal(latest("speed_sp").value, polled, "the daemon has not polled it again");
  const envelope = new SafetyEnvelope(cfg.safety, {
    store,
    log: silentLogger(),
    tags: cfg.tags,
    safety: NO_SAFETY_SIGNALS,
    connectorOf: () => connector,
    current: (tag) => latest(tag).value, // what the daemon last polled
  });
  // Within 10 % of the last poll (30), but +25 % of what the PLC holds now (40): refused.
  const target = polled * 1.1;
  const stale = await envelope.write({
    tag: "speed_sp",
    value: target,
    requestedBy: "technician:anna",
    mode: "assisted",
    approvedBy: "anna",
  });
  assert.deepEqual([stale.written, !stale.written && stale.rule], [false, "max_change"]);
  assert.equal(plc.setpoint, 40, "nothing reached the PLC");
  const audit = store.db
    .prepare(
      "SELECT decision, reason, details FROM ai_decisions_audit WHERE kind = 'setpoint_write' ORDER BY id DESC LIMIT 1",
    )
    .get() as { decision: string; reason: string; details: string };
  assert.equal(audit.decision, "refused");
  assert.match(audit.reason, /speed_sp: 40 -> /);
  assert.equal((JSON.parse(audit.details) as { current: number }).current, 40);
  // A PLC that cannot be read is never written.
  await plc.stop();
  await waitFor(() => !connector.connected, 10_000, "the PLC gone");
  const blind = await envelope.write({
    tag: "speed_sp",
    value: 41,
    requestedBy: "optimizer",
    mode: "autonomous",
  });
  assert.deepEqual([blind.written, !blind.written && blind.rule], [false, "no_current_value"]);
  assert.match(!blind.written ? blind.reason : "", /could not be read from the PLC before the write/);
});
