/**
 * The folder tree is the architecture: imports flow one way, base vocabulary -> config -> store ->
 * field and model parts -> the line's AI -> sync and API -> daemon -> CLI, with no loop between
 * folders. This test reads every import of src/ and fails on a loop or an import that runs up.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { ROOT } from "../helpers.js";

const TIERS: Record<string, number> = {
  common: 0,
  line: 0,
  config: 1,
  store: 2,
  connectors: 3,
  preprocess: 3,
  inference: 3,
  registry: 3,
  history: 3,
  process: 3,
  maintenance: 4,
  optimizer: 4,
  learning: 4,
  twin: 4,
  sync: 5,
  api: 5,
  daemon: 6,
  cli: 7,
};

function folderImports(): Map<string, Map<string, string>> {
  const src = join(ROOT, "src");
  const edges = new Map<string, Map<string, string>>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (path.endsWith(".ts")) {
        const from = relative(src, path).split("/")[0]!;
        for (const m of readFileSync(path, "utf8").matchAll(/from "(\.{1,2}\/[^"]+)"/g)) {
          const target = relative(src, resolve(dirname(path), m[1]!)).split("/")[0]!;
          if (target === from || target.startsWith("..")) continue;
          if (!edges.has(from)) edges.set(from, new Map());
          edges.get(from)!.set(target, relative(ROOT, path));
        }
      }
    }
  };
  walk(src);
  return edges;
}

test("every folder of src/ has its place in the import order, and no import runs up it", () => {
  const edges = folderImports();
  const up: string[] = [];
  for (const [from, targets] of edges) {
    assert.ok(from in TIERS, `src/${from}/ has no place in the order: add it to TIERS`);
    for (const [to, file] of targets) {
      assert.ok(to in TIERS, `src/${to}/ has no place in the order`);
      if (TIERS[to]! > TIERS[from]!) up.push(`${file} imports src/${to}/ (${from} is below ${to})`);
    }
  }
  assert.deepEqual(up, []);
});

test("no loop between folders", () => {
  const edges = folderImports();
  const loops: string[] = [];
  const visit = (node: string, path: string[]) => {
    for (const next of edges.get(node)?.keys() ?? []) {
      if (path.includes(next)) loops.push([...path.slice(path.indexOf(next)), next].join(" -> "));
      else if (path.length < 20) visit(next, [...path, next]);
    }
  };
  for (const start of edges.keys()) visit(start, [start]);
  assert.deepEqual([...new Set(loops)], []);
});

/**
 * The repository explains itself: a clone has no design notes outside it, so nothing may point to
 * SPEC.md, FIELD-NOTES.md or STYLE.md, and every pointer into docs/ names a section that exists.
 */
test("comments and docs point only into the repository, to sections that exist", () => {
  const files = execFileSync(
    "git",
    ["ls-files", "src", "test", "bench", "console", "config", "deploy", "README.md", "docs"],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  )
    .split("\n")
    .filter((f) => /\.(ts|js|md|json|yaml|css|html)$/.test(f) && f !== "test/line/architecture.test.ts");
  const sections = (doc: string, pattern: RegExp) =>
    new Set([...readFileSync(join(ROOT, "docs", doc), "utf8").matchAll(pattern)].map((m) => m[1]!));
  const design = sections("design.md", /^## §(\d+) /gm);
  const style = sections("code-style.md", /^## §(\d+) /gm);
  const problems = sections("field-problems.md", /^(\d+)\. \*\*/gm);
  assert.ok(design.size >= 13 && style.size >= 11 && problems.size >= 10);
  const outside: string[] = [];
  const dangling: string[] = [];
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), "utf8");
    if (/SPEC\.md|FIELD-NOTES|STYLE\.md/.test(text)) outside.push(f);
    for (const m of text.matchAll(/docs\/(design|code-style)\.md §(\d+)/g))
      if (!(m[1] === "design" ? design : style).has(m[2]!)) dangling.push(`${f}: ${m[0]}`);
    for (const m of text.matchAll(/docs\/field-problems\.md #(\d+)/g))
      if (!problems.has(m[1]!)) dangling.push(`${f}: ${m[0]}`);
  }
  assert.deepEqual(outside, [], "files pointing outside the repository");
  assert.deepEqual(dangling, [], "pointers to sections that do not exist");
});

/** One owner per table: SQL is written in src/store/ only (docs/code-style.md §11). */
test("src/store/ is the only folder that speaks SQL", () => {
  const sql =
    /\.prepare\(|\.exec\(`|\.exec\("|\.pragma\(|\b(SELECT|INSERT INTO|DELETE FROM)\b|\bUPDATE \w+ SET\b/;
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !path.includes(`${join("src", "store")}/`)) {
        readFileSync(path, "utf8")
          .split("\n")
          .forEach((line, i) => {
            if (sql.test(line) && !/^\s*(\*|\/\/)/.test(line))
              offenders.push(`${relative(ROOT, path)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
  };
  walk(join(ROOT, "src"));
  assert.deepEqual(offenders, []);
});
