import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { FIXTURES, IMS_MAP, IMS_TIME, imsRigConfig as rigConfig, runCliToEnd, tempDir } from "../helpers.js";

test("a wide historian export (IMS bearing rig) imports onto the YAML's tags; a dry run writes nothing; importing again adds nothing", async (t) => {
  const dir = tempDir(t);
  const config = rigConfig(dir);
  const file = join(FIXTURES, "ims_test2_excerpt.csv");
  const dry = await runCliToEnd(["import", "--config", config, file, ...IMS_TIME, ...IMS_MAP, "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /482 rows, 1,928 samples for 4 tags from 2004-02-12T10:32:39.000Z/);
  assert.match(dry.stdout, /would import 1,928/);
  assert.ok(!existsSync(join(dir, "rig.db")), "a dry run creates no store");
  const first = await runCliToEnd(["import", "--config", config, file, ...IMS_TIME, ...IMS_MAP]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /imported 1,928, 0 already in the store/);
  const again = await runCliToEnd(["import", "--config", config, file, ...IMS_TIME, ...IMS_MAP, "--json"]);
  const report = JSON.parse(again.stdout) as { samples: { inserted: number; duplicates: number } };
  assert.deepEqual([report.samples.inserted, report.samples.duplicates], [0, 1_928]);
  const db = new Database(join(dir, "rig.db"), { readonly: true });
  const row = db
    .prepare(
      "SELECT count(*) AS n, min(d.ts) AS a FROM sensor_data d JOIN tags t ON t.id = d.tag_id WHERE t.name = 'bearing1.vibration'",
    )
    .get() as { n: number; a: number };
  db.close();
  assert.deepEqual(row, { n: 482, a: Date.UTC(2004, 1, 12, 10, 32, 39) });
  // A column that maps to no tag is refused, naming it, unless it is skipped on purpose.
  const unmapped = await runCliToEnd([
    "import",
    "--config",
    config,
    file,
    ...IMS_TIME,
    "--map",
    "Bearing 1=bearing1.vibration",
  ]);
  assert.equal(unmapped.code, 2);
  assert.match(
    unmapped.stderr,
    /ims_test2_excerpt\.csv:1: no tag for the columns 'Bearing 2', 'Bearing 3', 'Bearing 4'.*--skip-unmapped/,
  );
});

test("a long export in local time: daylight saving resolved by the zone, units scaled, bad rows reported by line and skipped", async (t) => {
  const dir = tempDir(t);
  const config = rigConfig(dir);
  const file = join(dir, "historian.csv");
  writeFileSync(
    file,
    [
      "timestamp,tagname,value,quality",
      "2024-03-31 01:30:00,bearing1.vibration,9.81,good",
      "2024-03-31 03:30:00,bearing1.vibration,19.62,192",
      "2024-03-31 03:30:00,bearing1.vibration,19.62,192",
      "2024-03-31 04:00:00,bearing1.vibration,,bad",
      "2024-13-01 00:00:00,bearing1.vibration,1,good",
      "2024-03-31 05:00:00,bearing1.vibration,abc,good",
      "2024-03-31 05:00:00,bearing9.vibration,1,good",
      "2024-03-31 06:00:00,bearing2.vibration,4.905,uncertain",
      "",
    ].join("\n"),
  );
  const r = await runCliToEnd([
    "import",
    "--config",
    config,
    file,
    "--format",
    "long",
    "--timezone",
    "Europe/Paris",
    "--scale",
    "bearing1.vibration=0.1019716",
    "--scale",
    "bearing2.vibration=0.1019716",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /5 samples for 2 tags.*imported 4, 1 already in the store/);
  assert.match(r.stdout, /3 bad rows skipped/);
  assert.match(r.stdout, /historian\.csv:6: time '2024-13-01 00:00:00' is not an ISO 8601 time/);
  assert.match(r.stdout, /historian\.csv:7: value 'abc' is not a number/);
  assert.match(r.stdout, /historian\.csv:8: tag 'bearing9\.vibration' is not in the configuration/);
  const db = new Database(join(dir, "rig.db"), { readonly: true });
  const rows = db
    .prepare(
      "SELECT t.name, d.ts, d.value, d.status FROM sensor_data d JOIN tags t ON t.id = d.tag_id ORDER BY d.ts",
    )
    .all() as { name: string; ts: number; value: number | null; status: number }[];
  db.close();
  // 01:30 is CET (UTC+1); at 02:00 the clocks jumped to CEST (UTC+2).
  assert.deepEqual(
    rows.map((x) => [
      x.name,
      new Date(x.ts).toISOString(),
      x.value === null ? null : Number(x.value.toFixed(3)),
      x.status,
    ]),
    [
      ["bearing1.vibration", "2024-03-31T00:30:00.000Z", 1.0, 0],
      ["bearing1.vibration", "2024-03-31T01:30:00.000Z", 2.001, 0],
      ["bearing1.vibration", "2024-03-31T02:00:00.000Z", null, 0x80000000],
      ["bearing2.vibration", "2024-03-31T04:00:00.000Z", 0.5, 0x40000000],
    ],
  );
});

test("a fleet export without a header (C-MAPSS FD001, cycles as time, a machine per row) and its failure records", async (t) => {
  const dir = tempDir(t);
  const columns = [
    "unit",
    "cycle",
    "setting1",
    "setting2",
    "setting3",
    ...Array.from({ length: 21 }, (_, i) => `s${i + 1}`),
  ];
  const units = [1, 2, 3, 4, 5, 6];
  const tags = units.flatMap((u) =>
    columns
      .slice(2)
      .map(
        (c) =>
          `  - { name: engine${u}.${c}, machine: ${u}, modelInput: true, connection: f, nodeId: "ns=1;s=${u}${c}" }`,
      ),
  );
  const config = join(dir, "fleet.yaml");
  writeFileSync(
    config,
    `version: 1
line: { enterprise: nasa, site: cmapss, area: fd001, name: fleet }
machines: [${units.map((u) => `{ id: ${u}, name: Engine ${u} }`).join(", ")}]
connections: [{ id: f, protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840" }]
tags:
${tags.join("\n")}
store: { path: fleet.db }
`,
  );
  const failures = join(dir, "failures.csv");
  writeFileSync(
    failures,
    "machine,started,completed,failure,mode,parts,work_order,technician,note\n1,2020-01-08T00:30:00Z,2020-01-08T02:30:00Z,yes,hpc_degradation,compressor blade;seal,WO-1,anna,HPC found degraded\n7,2020-01-08T00:30:00Z,,yes,,,,,\n2,2020-01-09T00:00:00Z,2020-01-08T00:00:00Z,no,,,,,\n",
  );
  const r = await runCliToEnd([
    "import",
    "--config",
    config,
    join(FIXTURES, "cmapss_fd001_units1-6.txt"),
    "--delimiter",
    "whitespace",
    "--no-header",
    "--columns",
    columns.join(","),
    "--machine-column",
    "unit",
    "--tag-pattern",
    "engine{machine}.{column}",
    "--time-column",
    "cycle",
    "--time-format",
    "cycle",
    "--maintenance",
    failures,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1,304 rows, 31,296 samples for 144 tags/);
  assert.match(r.stdout, /failures\.csv: 1 records \(1 failures\); 1 added/);
  assert.match(r.stdout, /failures\.csv:3: machine '7' is not in the configuration/);
  assert.match(
    r.stdout,
    /failures\.csv:4: completed '2020-01-08T00:00:00Z' is not a time at or after started/,
  );
  const db = new Database(join(dir, "fleet.db"), { readonly: true });
  const last = db
    .prepare(
      "SELECT max(d.ts) AS ts FROM sensor_data d JOIN tags t ON t.id = d.tag_id WHERE t.name = 'engine1.s2'",
    )
    .get() as { ts: number };
  const record = db.prepare("SELECT failure, failure_mode, parts, source FROM maintenance_records").get();
  db.close();
  // Unit 1 ran 192 cycles: the last one an hour apart from 2020-01-01, as --cycle-ms says by default.
  assert.equal(new Date(last.ts).toISOString(), "2020-01-09T00:00:00.000Z");
  assert.deepEqual(record, {
    failure: 1,
    failure_mode: "hpc_degradation",
    parts: '["compressor blade","seal"]',
    source: "import",
  });
});
