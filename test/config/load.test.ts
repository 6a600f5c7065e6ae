import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfigFile, parseConfig } from "../../src/config/load.js";
import { configJsonSchema } from "../../src/config/schema.js";
import { resolveSecret } from "../../src/config/secrets.js";
import { lineYaml, ROOT, runCliToEnd, tempDir, writeFile } from "../helpers.js";

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseConfig(text, "line.yaml", { env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, "LP_ERR_CONFIG");
    return error.problems;
  }
  assert.fail("the configuration was accepted");
}

test("the demo configuration is valid and frozen, with defaults filled in", () => {
  const cfg = loadConfigFile(join(ROOT, "config/demo.yaml"));
  assert.equal(cfg.line.name, "demo-line");
  assert.equal(cfg.api.host, "127.0.0.1");
  assert.equal(cfg.api.port, 8001);
  assert.equal(cfg.store.batchSize, 1000);
  assert.ok(cfg.store.path.endsWith("var/demo-line/linepilot.db") && cfg.store.path.startsWith("/"));
  assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.tags[0]));
  assert.throws(() => {
    (cfg.store as { batchSize: number }).batchSize = 1;
  });
});

test("a broken config reports every error at once with line:column, key path, expectation and what was found", () => {
  const text = `version: 1
line: { enterprise: acme, site: lyon plant, area: a, name: l1 }
machines:
  - { id: 7, name: Press }
connections:
  - id: rack1
    protocol: modbus-tcp
    host: 127.0.0.1
    prot: 502
tags:
  - name: t1
    machine: 8
    connection: rack1
    intervalMs: fast
    modbus: { area: holding, address: 10, dataType: float33 }
store: { path: x.db, batchSize: 0 }
api: { host: 0.0.0.0, token: hunter2 }
`;
  const problems = problemsOf(text);
  const byPath = new Map(problems.map((p) => [p.path, p]));
  assert.deepEqual(
    [...byPath.keys()].sort(),
    [
      "api.token",
      "connections[0].prot",
      "line.site",
      "store.batchSize",
      "tags[0].intervalMs",
      "tags[0].machine",
      "tags[0].modbus.dataType",
    ].sort(),
  );
  const unknown = byPath.get("connections[0].prot")!;
  assert.equal(unknown.line, 9);
  assert.equal(unknown.column, 5);
  assert.match(unknown.message, /unknown key 'prot'.*allowed here: .*\bport\b/);
  const interval = byPath.get("tags[0].intervalMs")!;
  assert.equal(interval.line, 14);
  assert.match(interval.message, /expected number, found string "fast"/);
  assert.match(
    byPath.get("tags[0].modbus.dataType")!.message,
    /expected one of .*"float32".*found string "float33"/,
  );
  assert.match(byPath.get("tags[0].machine")!.message, /machine 8 is not defined/);
  assert.match(byPath.get("api.token")!.message, /secrets are never inline, found string "hunter2"/);
  assert.match(byPath.get("store.batchSize")!.message, /expected >= 1, found number 0/);
});

test("a missing required key names the key and what is expected", () => {
  const problems = problemsOf(
    "version: 1\nline: { enterprise: a, site: b, area: c }\nmachines: []\nstore: { path: x.db }\n",
  );
  const messages = problems.map((p) => `${p.path}: ${p.message}`);
  assert.ok(
    messages.some((m) => /^line\.name: missing; expected string/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /^machines: expected at least 1 item/.test(m)),
    messages.join("\n"),
  );
});

test("YAML syntax errors and duplicate keys are reported with their position", () => {
  const problems = problemsOf("version: 1\nline:\n  name: a\n  name: b\n");
  assert.equal(problems[0]!.line, 4);
  assert.match(problems[0]!.message, /the key .name. appears twice in the same mapping/);
});

test("a file from a newer linepilot is refused with the reason", () => {
  const problems = problemsOf("version: 99\n");
  assert.match(problems[0]!.message, /newer linepilot/);
});

test("secret references resolve from env, file (0600 only) and systemd credentials", (t) => {
  const dir = tempDir(t);
  const key = writeFile(dir, "key", "s3cret\n");
  chmodSync(key, 0o600);
  assert.equal(resolveSecret(`\${file:${key}}`, {}), "s3cret");
  assert.equal(resolveSecret("${env:LP_TOKEN}", { LP_TOKEN: "abc" }), "abc");
  assert.equal(resolveSecret("${credential:key}", { CREDENTIALS_DIRECTORY: dir }), "s3cret");
  chmodSync(key, 0o644);
  assert.throws(() => resolveSecret(`\${file:${key}}`, {}), /readable by group or others/);
  const withToken = lineYaml({ storePath: "x.db" }).replace(
    "api: { host: 127.0.0.1, port: 0 }",
    'api: { host: 127.0.0.1, port: 0, token: "${env:LP_MISSING}" }',
  );
  const problems = problemsOf(withToken);
  assert.equal(problems[0]!.path, "api.token");
  assert.match(problems[0]!.message, /environment variable LP_MISSING is not set/);
});

test("cross references: modbus tags need a modbus block, writable tags need limits", () => {
  const tags = `  - { name: a, machine: 7, connection: plc, modbus: { area: input, address: 0 }, writable: true }
  - { name: a, machine: 7, connection: plc }`;
  const problems = problemsOf(lineYaml({ storePath: "x.db", tags }));
  const messages = problems.map((p) => `${p.path}: ${p.message}`);
  assert.ok(messages.includes("tags[0].writable: a Modbus input is read-only"), messages.join("\n"));
  assert.ok(
    messages.includes("tags[0].writable: a writable tag needs absolute min and max limits (safety envelope)"),
  );
  assert.ok(messages.includes("tags[1].name: duplicate tag name a"));
  assert.ok(messages.includes("tags[1]: a Modbus tag needs a modbus: {area, address, dataType} block"));
});

test("OPC UA: security mode and policy must agree, tags need a nodeId, paths are relative to the file", () => {
  const yaml = lineYaml({
    storePath: "x.db",
    tags: `  - { name: a, machine: 7, connection: plc }
  - { name: b, machine: 7, connection: plc, nodeId: "ns=1;s=B", modbus: { area: input, address: 0 } }`,
  }).replace(
    /connections:\n.*\n/,
    `connections:
  - { id: plc, protocol: opcua, endpoint: "opc.tcp://10.0.0.5:4840", securityMode: SignAndEncrypt }
  - { id: plc2, protocol: opcua, endpoint: "opc.tcp://10.0.0.6:4840", securityMode: None, securityPolicy: Basic256Sha256 }
`,
  );
  const messages = problemsOf(yaml).map((p) => `${p.path}: ${p.message}`);
  assert.ok(
    messages.includes(
      "connections[0].securityPolicy: securityMode SignAndEncrypt needs a securityPolicy such as Basic256Sha256",
    ),
    messages.join("\n"),
  );
  assert.ok(
    messages.includes("connections[1].securityPolicy: securityMode None goes with securityPolicy None"),
  );
  assert.ok(messages.includes("tags[0]: an OPC UA tag needs nodeId"));
  assert.ok(messages.includes("tags[1].modbus: connection 'plc' is OPC UA, not Modbus"));
  const good = parseConfig(
    lineYaml({
      storePath: "x.db",
      tags: `  - { name: a, machine: 7, connection: plc, nodeId: "ns=1;s=A" }`,
    }).replace(
      /connections:\n.*\n/,
      `connections:
  - id: plc
    protocol: opcua
    endpoint: "opc.tcp://10.0.0.5:4840"
    securityMode: Sign
    securityPolicy: Basic256Sha256
    pkiDir: pki
    auth: { type: certificate, certificateFile: certs/user.pem, privateKey: "\${env:KEY}" }
`,
    ),
    "/etc/linepilot/line1.yaml",
    { checkSecrets: false },
  );
  const c = good.connections[0]!;
  assert.equal(c.protocol, "opcua");
  if (c.protocol !== "opcua" || c.auth.type !== "certificate") return assert.fail("an OPC UA connection");
  assert.equal(c.pkiDir, "/etc/linepilot/pki");
  assert.equal(c.auth.certificateFile, "/etc/linepilot/certs/user.pem");
});

test("linepilot config check exits 2 with the report, and 0 on a valid file", async (t) => {
  const dir = tempDir(t);
  const bad = writeFile(
    dir,
    "bad.yaml",
    "version: 1\nline: { enterprise: a, site: b, area: c, name: d, colour: red }\nmachines: []\nstore: { path: x.db }\n",
  );
  const res = await runCliToEnd(["config", "check", bad]);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /2 errors in the configuration/);
  assert.match(res.stderr, new RegExp(`${bad}:2:51: line.colour: unknown key 'colour'`));
  assert.doesNotMatch(res.stderr, /at .*\.js:\d+/, "no stack trace");
  const good = writeFile(dir, "good.yaml", lineYaml({ storePath: "x.db" }));
  const ok = await runCliToEnd(["config", "check", good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /valid \(line acme\/lyon\/assembly\/test-line: 2 machines, 1 connections, 3 tags/);
  const missing = await runCliToEnd(["config", "check", join(dir, "nope.yaml")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read the configuration: no such file/);
});

test("a non-numeric CLI option is a usage error, not a silent empty answer", async () => {
  const res = await runCliToEnd(["tags", "--api", "http://127.0.0.1:1", "--machine", "abc"]);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /expected a whole number, found "abc"/);
});

test("registry and learning: a bad cron schedule, Vault without auth, learning without a registry are named with their line", () => {
  const base = lineYaml({ storePath: "/tmp/x.db" });
  const problems = problemsOf(
    `${base}maintenance: { model: m.onnx }
learning: { schedule: "every sunday" }
`,
  );
  const messages = problems.map((p) => `${p.line}:${p.path}: ${p.message}`);
  assert.ok(
    messages.some((m) => /learning\.schedule: not a cron expression \('every sunday'/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /learning: continuous learning needs a registry/.test(m)),
    messages.join("\n"),
  );
  const vault = problemsOf(
    `${base}registry: { key: { source: vault, address: "https://vault:8200", path: linepilot/k } }
`,
  );
  assert.match(
    vault.map((p) => `${p.path}: ${p.message}`).join("\n"),
    /registry\.key: Vault needs exactly one of token or approle/,
  );
  // Checked for its files elsewhere; here only how the paths resolve.
  const cfg = parseConfig(
    `${base}registry: { key: { source: file, path: keys/model.key } }
`,
    "/etc/linepilot/l1.yaml",
    { checkSecrets: false },
  );
  assert.equal(cfg.registry!.dir, "/tmp/models", "model files beside the store by default");
  assert.equal((cfg.registry!.key as { path: string }).path, "/etc/linepilot/keys/model.key");
});

test("refused by config check, not later by the daemon: a value past register 65535, missing certificate and key files; overlapping registers are a warning naming both; a partial sync.backoff keeps the other defaults", async (t) => {
  const dir = tempDir(t);
  const tags = `  - { name: far, machine: 7, connection: plc, modbus: { area: holding, address: 65535, dataType: float32 } }
  - { name: a, machine: 7, connection: plc, modbus: { area: holding, address: 10, dataType: float32 } }
  - { name: b, machine: 7, connection: plc, modbus: { area: holding, address: 11, dataType: uint16 } }`;
  const past = problemsOf(lineYaml({ storePath: "x.db", tags }));
  assert.ok(
    past.some(
      (p) =>
        p.path === "tags[0].modbus.address" &&
        /would need registers up to 65536; the last is 65535/.test(p.message),
    ),
    JSON.stringify(past),
  );
  const cert = `connections:
  - { id: plc1, protocol: opcua, endpoint: "opc.tcp://10.0.0.5:4840", securityMode: SignAndEncrypt, securityPolicy: Basic256Sha256, auth: { type: certificate, certificateFile: ${join(dir, "no-user.pem")}, privateKey: "\${env:K}" } }
`;
  const registry = `registry: { dir: ${JSON.stringify(dir)}, key: { source: file, path: ${join(dir, "no.key")} } }\n`;
  const text = `version: 1
line: { enterprise: a, site: b, area: c, name: d }
machines: [{ id: 1, name: M1 }]
${cert}store: { path: x.db }
${registry}`;
  const problems = problemsOf(text, { K: "-----BEGIN PRIVATE KEY-----" });
  const messages = problems.map((p) => `${p.path}: ${p.message}`);
  assert.ok(
    messages.some((m) =>
      /^connections\[0\]\.auth\.certificateFile: the user certificate .*no-user\.pem does not exist/.test(m),
    ),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /^registry\.key\.path: the model key file .*no\.key does not exist/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    problems.every((p) => p.line > 1),
    "each with its line",
  );

  const overlap = writeFile(
    dir,
    "overlap.yaml",
    lineYaml({ storePath: "x.db", tags: tags.split("\n").slice(1).join("\n") }),
  );
  const checked = await runCliToEnd(["config", "check", overlap]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(
    checked.stderr,
    /warning: tags a \(float32 at 10\) and b \(uint16 at 11\) share plc unit 1 holding registers 11-11/,
  );

  const partial = parseConfig(
    lineYaml({
      storePath: "x.db",
      extra: "sync: { url: mqtt://127.0.0.1:1883, backoff: { initialMs: 500 } }\n",
    }),
    "line.yaml",
  );
  const none = parseConfig(
    lineYaml({ storePath: "x.db", extra: "sync: { url: mqtt://127.0.0.1:1883 }\n" }),
    "line.yaml",
  );
  assert.deepEqual(
    partial.sync!.backoff,
    { ...none.sync!.backoff, initialMs: 500 },
    "only the named field differs",
  );
});

test("config messages say what is wrong in the plant's words: protocols, .nan/.inf/1e400, a missing version, a duplicate key, an alias bomb, deep nesting, UTF-16, a long error list", async (t) => {
  const dir = tempDir(t);
  const base =
    "line: { enterprise: a, site: b, area: c, name: d }\nmachines: [{ id: 1, name: M }]\nstore: { path: x.db }\n";
  const tag = (extra: string) =>
    `version: 1\n${base}connections: [{ id: p, protocol: modbus-tcp, host: h }]\ntags: [{ name: t, machine: 1, connection: p, modbus: { area: input, address: 0 }, ${extra} }]\n`;
  let bomb = "version: 1\na0: &a0 [x,x,x,x,x,x,x,x,x,x]\n";
  for (let i = 1; i < 12; i++) bomb += `a${i}: &a${i} [${new Array(10).fill(`*a${i - 1}`).join(",")}]\n`;
  const cases: [string, string | Buffer, RegExp][] = [
    [
      "proto",
      `version: 1\n${base}connections: [{ id: p, protocol: profinet, host: h }]\n`,
      /connections\[0\]\.protocol: expected one of opcua, modbus-tcp, modbus-rtu, found "profinet"/,
    ],
    ["nan", tag("deadband: .nan"), /tags\[0\]\.deadband: expected number, found \.nan \(not a number\)/],
    ["inf", tag("deadband: .inf"), /tags\[0\]\.deadband: expected number, found \.inf \(infinity\)/],
    [
      "huge",
      tag("deadband: 1e400"),
      /tags\[0\]\.deadband: expected number, found 1e400, which is beyond the range of a number/,
    ],
    ["noversion", base, /:1:1: version: missing; expected the config file version, 1/],
    [
      "duplicate",
      `version: 1\nversion: 1\n${base}`,
      /:2:1: .*the key 'version' appears twice in the same mapping/,
    ],
    ["bomb", bomb, /:3:\d+: .*YAML aliases expand too far/],
    ["deep", `version: 1\nx: ${"[".repeat(5000)}${"]".repeat(5000)}\n`, /:2:\d+: .*nested too deeply/],
    [
      "utf16",
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`version: 1\n${base}`, "utf16le")]),
      /the file is UTF-16 .*save it as UTF-8/,
    ],
  ];
  for (const [name, content, message] of cases) {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, content);
    const r = await runCliToEnd(["config", "check", file]);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, message, `${name}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+`),
      `${name} names file:line`,
    );
  }
  const many = `version: 1\n${base}connections: [{ id: p, protocol: modbus-tcp, host: h }]\ntags:\n${Array.from({ length: 60 }, (_, i) => `  - { name: t${i}, machine: 1, connection: p, modbus: { area: input, address: ${i} }, deadband: no }`).join("\n")}\n`;
  const r = await runCliToEnd(["config", "check", writeFile(dir, "many.yaml", many)]);
  assert.match(r.stderr, /^60 errors in the configuration:/);
  assert.match(r.stderr, /\.\.\. and 10 more$/m);
  assert.equal(r.stderr.trim().split("\n").length, 52, "50 shown, the rest counted");
});

test("deploy/linepilot-config.schema.json is the schema the loader validates with (for an editor's completion)", () => {
  const file = join(ROOT, "deploy", "linepilot-config.schema.json");
  assert.deepEqual(
    JSON.parse(readFileSync(file, "utf8")),
    configJsonSchema(),
    `${file} is stale: npm run schemas`,
  );
  const properties = (configJsonSchema() as { properties: Record<string, unknown> }).properties;
  for (const key of ["version", "line", "machines", "connections", "tags", "store", "sync", "maintenance"])
    assert.ok(key in properties, key);
});
