/**
 * Tags in CSV files beside the YAML (tagFiles:): thousands of rows of both protocols join the
 * YAML's own tags and are checked by the same schema; a bad row is reported at the CSV's
 * file:line:column with the reason, like a YAML error, and `config check` prints it so.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { runCliToEnd, tempDir } from "../helpers.js";

const YAML = (dir: string, files: string) => `version: 1
line: { enterprise: acme, site: lyon, area: pressing, name: csv-line }
machines: [{ id: 1, name: Press 1 }, { id: 2, name: Pump 2 }]
connections:
  - { id: opc, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840", securityMode: None, securityPolicy: None }
  - { id: mb, protocol: modbus-tcp, host: 127.0.0.1, port: 502 }
tags:
  - { name: p1.speed, machine: 1, connection: opc, nodeId: "ns=2;s=P1.Speed", role: speed, unit: spm }
tagFiles: [${files}]
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
`;

test("tags from CSV files join the YAML's, with numbers, booleans and Modbus addresses read from their columns", (t) => {
  const dir = tempDir(t);
  const rows = [
    "name,machine,connection,nodeId,unitId,area,address,dataType,wordOrder,unit,role,intervalMs,writable,min,max",
  ];
  for (let i = 0; i < 1500; i++) rows.push(`p1.t${i},1,opc,"ns=2;s=P1.T${i}",,,,,,degC,,1000,,,`);
  for (let i = 0; i < 1500; i++)
    rows.push(`p2.r${i},2,mb,,3,holding,${i * 2},float32,little,bar,,500,false,,`);
  rows.push(`p2.pressure_setpoint,2,mb,,3,holding,4000,float32,big,bar,pressure_setpoint,1000,true,1,9`);
  writeFileSync(join(dir, "tags.csv"), `${rows.join("\r\n")}\r\n`);
  const cfg = parseConfig(YAML(dir, "tags.csv"), join(dir, "line.yaml"));
  assert.equal(cfg.tags.length, 1 + 3001);
  const opc = cfg.tags.find((x) => x.name === "p1.t7")!;
  assert.deepEqual([opc.nodeId, opc.unit, opc.intervalMs, opc.machine], ["ns=2;s=P1.T7", "degC", 1000, 1]);
  const reg = cfg.tags.find((x) => x.name === "p2.r10")!;
  assert.deepEqual(reg.modbus, {
    unitId: 3,
    area: "holding",
    address: 20,
    dataType: "float32",
    wordOrder: "little",
    byteOrder: "big",
    count: 1,
  });
  const sp = cfg.tags.find((x) => x.name === "p2.pressure_setpoint")!;
  assert.deepEqual([sp.writable, sp.min, sp.max, sp.role], [true, 1, 9, "pressure_setpoint"]);
});

test("a bad row is reported at the CSV's file:line:column with the reason; config check prints every one", async (t) => {
  const dir = tempDir(t);
  const csv = join(dir, "bad.csv");
  writeFileSync(
    csv,
    [
      "name,machine,connection,area,address,dataType",
      "p2.a,2,mb,holding,0,float32",
      "p2.b,two,mb,holding,2,float32",
      "p2.c,2,mb,holdng,4,float32",
      "p2.a,2,mb,holding,6,float32",
      "p2.d,2,mb,holding,70000,float32",
      "p2.e,2,mb",
      "p2.f,9,mb,input,8,uint16",
      "",
    ].join("\n"),
  );
  let error: ConfigError | undefined;
  try {
    parseConfig(YAML(dir, "bad.csv"), join(dir, "line.yaml"));
  } catch (e) {
    error = e as ConfigError;
  }
  assert.ok(error instanceof ConfigError);
  const at = error.problems.map(
    (p) => `${p.file === csv ? "bad.csv" : p.file}:${p.line}:${p.column} ${p.path}`,
  );
  assert.ok(at.includes("bad.csv:3:2 machine"), at.join("\n")); // "two" is not a number
  assert.ok(at.includes("bad.csv:4:4 area"), at.join("\n")); // holdng
  assert.ok(at.includes("bad.csv:6:5 address"), at.join("\n")); // past 65535
  assert.ok(at.includes("bad.csv:7:1 row"), at.join("\n")); // 3 cells of 6
  assert.ok(
    error.problems.some((p) => p.line === 8 && /machine 9/.test(p.message)),
    error.problems.map((p) => `${p.line}: ${p.message}`).join("\n"),
  );
  assert.ok(
    error.problems.some((p) => p.line === 5 && /p2\.a/.test(p.message)),
    "a name used twice",
  );

  // Unknown columns and a missing file are named too.
  writeFileSync(join(dir, "odd.csv"), "name,machine,colour\np2.x,2,red\n");
  const check = await runCliToEnd(["config", "check", join(dir, "line.yaml")]);
  assert.equal(check.code, 2);
  writeFileSync(join(dir, "line2.yaml"), YAML(dir, "odd.csv, missing.csv"));
  const odd = await runCliToEnd(["config", "check", join(dir, "line2.yaml")]);
  assert.equal(odd.code, 2);
  assert.match(
    odd.stderr + odd.stdout,
    /odd\.csv:1:3: header: unknown column 'colour'; the columns are name, machine/,
  );
  assert.match(odd.stderr + odd.stdout, /missing\.csv:1:1: tagFiles: cannot read the tag file: ENOENT/);
});
