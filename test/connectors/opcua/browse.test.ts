/**
 * `linepilot browse` against a real node-opcua server holding a plant's worth of folders: 2 lines
 * x 25 presses x 40 analog items (2,000 variables with units and ranges), a setpoint per press,
 * a waveform array and a string per press. It must find them all through folders, read units and
 * ranges, and write tags that the line's config accepts, machines taken from the path.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DataType, DataValue, Variant, VariantArrayType } from "node-opcua-client";
import { parseConfig } from "../../../src/config/load.js";
import { tagNameOf } from "../../../src/connectors/opcua/browse.js";
import { OpcuaPlcServer } from "../../../src/twin/opcuaServer.js";
import { runCliToEnd, tempDir } from "../../helpers.js";

const SIGNALS = 40;

test("browse walks thousands of variables in folders, with units, ranges and access, and writes tags the config accepts", async (t) => {
  const dir = tempDir(t);
  const server = new OpcuaPlcServer({
    pkiDir: join(dir, "server-pki"),
    variables: [],
    populate(ns, objects) {
      const plant = ns.addFolder(objects, { browseName: "Plant", nodeId: "s=Plant" });
      for (const line of [1, 2]) {
        const folder = ns.addFolder(plant, { browseName: `Line${line}`, nodeId: `s=Line${line}` });
        for (let p = 1; p <= 25; p++) {
          const id = (line - 1) * 25 + p;
          const press = ns.addObject({
            organizedBy: folder,
            browseName: `Press${id}`,
            nodeId: `s=Press${id}`,
          });
          for (let k = 0; k < SIGNALS; k++)
            ns.addAnalogDataItem({
              componentOf: press,
              browseName: `Signal${k}`,
              nodeId: `s=Press${id}.Signal${k}`,
              dataType: "Double",
              accessLevel: "CurrentRead",
              userAccessLevel: "CurrentRead",
              engineeringUnits: {
                unitId: 4408652,
                displayName: { text: k % 2 === 0 ? "degC" : "mm/s" },
              } as never,
              engineeringUnitsRange: { low: 0, high: 100 + k },
              value: {
                timestamped_get: () =>
                  new DataValue({ value: new Variant({ dataType: DataType.Double, value: k }) }),
              },
            });
          ns.addVariable({
            componentOf: press,
            browseName: "SpeedSetpoint",
            nodeId: `s=Press${id}.SpeedSetpoint`,
            dataType: "Double",
            accessLevel: "CurrentRead | CurrentWrite",
            userAccessLevel: "CurrentRead | CurrentWrite",
            value: {
              timestamped_get: () =>
                new DataValue({ value: new Variant({ dataType: DataType.Double, value: 30 }) }),
            },
          });
          ns.addVariable({
            componentOf: press,
            browseName: "Vibration Block",
            nodeId: `s=Press${id}.Block`,
            dataType: "Float",
            valueRank: 1,
            arrayDimensions: [0],
            value: {
              timestamped_get: () =>
                new DataValue({
                  value: new Variant({
                    dataType: DataType.Float,
                    arrayType: VariantArrayType.Array,
                    value: new Float32Array(8),
                  }),
                }),
            },
          });
          ns.addVariable({
            componentOf: press,
            browseName: "Recipe",
            nodeId: `s=Press${id}.Recipe`,
            dataType: "String",
            value: {
              timestamped_get: () =>
                new DataValue({ value: new Variant({ dataType: DataType.String, value: "A" }) }),
            },
          });
        }
      }
    },
  });
  await server.start();
  t.after(() => server.stop());
  const config = join(dir, "line.yaml");
  const header = `version: 1
line: { enterprise: acme, site: lyon, area: pressing, name: browse-line }
connections:
  - { id: plc, protocol: opcua, endpoint: "${server.endpointUrl}", securityMode: None, securityPolicy: None }
store: { path: ${JSON.stringify(join(dir, "line.db"))} }
`;
  writeFileSync(config, `${header}machines: [{ id: 7, name: Press 7 }]\ntags: []\n`);

  const out = join(dir, "tags.yaml");
  const browsed = await runCliToEnd([
    "browse",
    "--config",
    config,
    "--connection",
    "plc",
    "--root",
    "ns=1;s=Plant",
    "--machine-pattern",
    "Press(\\d+)",
    "--out",
    out,
  ]);
  assert.equal(browsed.code, 0, browsed.stderr);
  const variables = 50 * (SIGNALS + 3);
  assert.match(
    browsed.stdout,
    new RegExp(
      `${variables} variables under ns=1;s=Plant: ${50 * (SIGNALS + 1)} numeric scalars, 50 numeric arrays \\(waveform candidates\\), 50 of other types`,
    ),
  );
  assert.match(
    browsed.stdout,
    /ns=1;s=Press7\.Signal3 +Line1\/Press7\/Signal3 +Double +r +mm\/s +0 \.\. 103/,
  );
  assert.match(
    browsed.stdout,
    /ns=1;s=Press7\.SpeedSetpoint +Line1\/Press7\/SpeedSetpoint +Double +rw +- +-/,
  );
  assert.match(browsed.stdout, /ns=1;s=Press30\.Block +Line2\/Press30\/Vibration Block +Float\[\] +r/);
  assert.match(browsed.stdout, new RegExp(`wrote ${50 * (SIGNALS + 1)} tags of 50 machines to `));

  // The written tags, pasted into the line's YAML, are a valid configuration.
  const written = readFileSync(out, "utf8");
  assert.match(written, /^# linepilot browse opc\.tcp:/);
  assert.match(written, /Review before use/);
  const cfg = parseConfig(`${header}${written}`, config);
  assert.equal(cfg.tags.length, 50 * (SIGNALS + 1));
  assert.equal(cfg.machines.length, 50);
  assert.equal(
    cfg.machines.find((m) => m.id === 7)?.name,
    "Press 7",
    "a machine the line already names keeps its name",
  );
  assert.equal(cfg.machines.find((m) => m.id === 8)?.name, "Machine 8");
  const signal = cfg.tags.find((tg) => tg.nodeId === "ns=1;s=Press7.Signal0")!;
  assert.deepEqual(
    [signal.name, signal.machine, signal.unit, signal.connection],
    ["line1.press7.signal0", 7, "degC", "plc"],
  );
  assert.ok(
    cfg.tags.every((tg) => tg.writable === false),
    "writing is never switched on for you",
  );

  // CSV for review in a spreadsheet, with what the YAML leaves out (type, access, range, path).
  const csv = join(dir, "tags.csv");
  const again = await runCliToEnd([
    "browse",
    "--config",
    config,
    "--connection",
    "plc",
    "--root",
    "ns=1;s=Line2",
    "--machine",
    "7",
    "--out",
    csv,
  ]);
  assert.equal(again.code, 0, again.stderr);
  const rows = readFileSync(csv, "utf8").trim().split(/\r?\n/);
  assert.equal(rows[0], "name,machine,connection,nodeId,unit,#type,#access,#euLow,#euHigh,#path");
  assert.equal(rows.length, 1 + 25 * (SIGNALS + 1));
  assert.ok(
    rows.includes("press26.signal1,7,plc,ns=1;s=Press26.Signal1,mm/s,Double,r,0,101,Press26/Signal1"),
    rows[2],
  );

  // The CSV is a tag file as it stands: tagFiles: reads it, notes and all.
  const withFile = `${header}machines: [{ id: 7, name: Press 7 }]\ntagFiles: [tags.csv]\n`;
  assert.equal(parseConfig(withFile, config).tags.length, 25 * (SIGNALS + 1));

  // A connection that is not there, or not OPC UA, is named.
  const wrong = await runCliToEnd(["browse", "--config", config, "--connection", "nope"]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /no connection 'nope' in .*line\.yaml; it has plc/);
});

test("tag names from browse paths are valid tag names", () => {
  assert.equal(tagNameOf("Line1/Press 7/Motor.Temp (°C)"), "line1.press_7.motor_temp_c");
  assert.equal(tagNameOf("_hidden/3rd"), "hidden.3rd");
  assert.equal(tagNameOf("Ä/Ö").length > 0, true);
  assert.ok(tagNameOf("x".repeat(200)).length <= 64);
});
