/**
 * Machine templates: a kind described once (tags relative to a base node id or base register,
 * roles, units, limits, events), instantiated per machine with a few parameters; hand-written tags
 * still work beside them; a mistake in a template is reported where it is written, naming the
 * machine; `config check --print` shows the expansion, and the print is itself a valid config.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type ConfigError, parseConfig } from "../../src/config/load.js";
import { runCliToEnd, tempDir } from "../helpers.js";

const LINE = (dir: string, templates: string, machines: string) => `version: 1
line: { enterprise: acme, site: lyon, area: pressing, name: tpl-line }
connections:
  - { id: opc, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840", securityMode: None, securityPolicy: None }
  - { id: mb, protocol: modbus-tcp, host: 127.0.0.1, port: 502 }
templates:
${templates}
machines:
${machines}
  - { id: 9, name: Hall }
tags:
  - { name: hall.ambient, machine: 9, connection: mb, role: ambient_temperature, unit: degC, modbus: { area: input, address: 900, dataType: float32 } }
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
`;

const TEMPLATES = `  press:
    description: a servo press
    tags:
      - { name: speed, role: speed, unit: spm, nodeId: "{base}.Speed" }
      - { name: speed_setpoint, role: speed_setpoint, unit: spm, nodeId: "{base}.SpeedSetpoint", writable: true, min: 10, max: 60 }
      - { name: state, role: state, nodeId: "{base}.State", events: { type: enum, states: { "1": running, "3": fault } } }
  pump:
    tags:
      - { name: flow, role: flow, unit: m3/h, modbus: { area: input, address: 0, dataType: float32 } }
      - { name: discharge_pressure, role: discharge_pressure, unit: bar, modbus: { area: input, address: 2, dataType: float32 } }`;

test("a machine kind described once is instantiated per machine, beside hand-written tags", (t) => {
  const dir = tempDir(t);
  const cfg = parseConfig(
    LINE(
      dir,
      TEMPLATES,
      `  - { id: 1, name: Press 1, template: press, connection: opc, nodeBase: "ns=2;s=Line1.Press1" }
  - { id: 2, name: Press 2, template: press, connection: opc, nodeBase: "ns=2;s=Line1.Press2", tagPrefix: p2 }
  - { id: 3, name: Pump 3, template: pump, connection: mb, registerBase: 100, unitId: 4 }
  - { id: 4, name: Pump 4, template: pump, connection: mb, registerBase: 200, unitId: 4 }`,
    ),
    join(dir, "line.yaml"),
  );
  assert.equal(cfg.tags.length, 1 + 3 + 3 + 2 + 2);
  const byName = new Map(cfg.tags.map((x) => [x.name, x]));
  assert.equal(byName.get("press1.speed")!.nodeId, "ns=2;s=Line1.Press1.Speed");
  assert.equal(byName.get("p2.speed_setpoint")!.nodeId, "ns=2;s=Line1.Press2.SpeedSetpoint");
  assert.deepEqual(
    [
      byName.get("p2.speed_setpoint")!.writable,
      byName.get("p2.speed_setpoint")!.min,
      byName.get("p2.speed_setpoint")!.max,
    ],
    [true, 10, 60],
  );
  assert.equal(byName.get("press1.state")!.events?.type, "enum");
  assert.deepEqual(
    [
      byName.get("pump4.discharge_pressure")!.modbus?.address,
      byName.get("pump4.discharge_pressure")!.modbus?.unitId,
    ],
    [202, 4],
  );
  assert.equal(byName.get("pump3.flow")!.machine, 3);
  assert.equal(byName.get("hall.ambient")!.modbus?.address, 900, "hand-written tags still work");
});

test("a mistake in a template is reported where it is written, naming the machine; config check --print shows the expansion", async (t) => {
  const dir = tempDir(t);
  const problems = (templates: string, machines: string) => {
    try {
      parseConfig(LINE(dir, templates, machines), join(dir, "line.yaml"));
      return [];
    } catch (e) {
      return (e as ConfigError).problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
    }
  };
  // A register past 65535 once the base is added: at the template's address, for machine 3.
  const far = problems(
    TEMPLATES,
    "  - { id: 3, name: Pump 3, template: pump, connection: mb, registerBase: 65535 }",
  );
  assert.ok(
    far.some((p) => /templates\.pump\.tags\[1\]\.modbus\.address: .*\(as machine 3's tag\)/.test(p)),
    far.join("\n"),
  );
  const unknown = problems(TEMPLATES, "  - { id: 5, name: Mill 5, template: mill, connection: mb }");
  assert.ok(
    unknown.some((p) => /machines\[0\]\.template: no template 'mill'; the templates are press, pump/.test(p)),
    unknown.join("\n"),
  );
  const noBase = problems(TEMPLATES, "  - { id: 1, name: Press 1, template: press, connection: opc }");
  assert.ok(
    noBase.some((p) => /has node ids with \{base\}: give the machine a nodeBase/.test(p)),
    noBase.join("\n"),
  );
  const noConnection = problems(TEMPLATES, "  - { id: 3, name: Pump 3, template: pump }");
  assert.ok(
    noConnection.some((p) => /no connection: \(the connection its tags are read on\)/.test(p)),
    noConnection.join("\n"),
  );
  const twice = problems(
    TEMPLATES,
    `  - { id: 3, name: Pump 3, template: pump, connection: mb, tagPrefix: pump }
  - { id: 4, name: Pump 4, template: pump, connection: mb, tagPrefix: pump, registerBase: 10 }`,
  );
  assert.ok(
    twice.some((p) => /as machine 4's tag/.test(p) && /pump\.flow/.test(p)),
    twice.join("\n"),
  );

  // --print: the expansion, and a configuration that loads as it is.
  const file = join(dir, "line.yaml");
  writeFileSync(
    file,
    LINE(dir, TEMPLATES, "  - { id: 3, name: Pump 3, template: pump, connection: mb, registerBase: 100 }"),
  );
  const printed = await runCliToEnd(["config", "check", "--print", file]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(printed.stdout, /name: pump3\.discharge_pressure/);
  assert.match(printed.stdout, /address: 102/);
  assert.doesNotMatch(printed.stdout, /templates:|template: pump/);
  writeFileSync(join(dir, "printed.yaml"), printed.stdout);
  const again = parseConfig(printed.stdout, join(dir, "printed.yaml"));
  assert.equal(again.tags.length, 3);
});
