/**
 * The folder tree is the architecture: imports flow one way, base vocabulary -> config -> store ->
 * field and model parts -> the line's AI -> sync and API -> daemon -> CLI, with no loop between
 * folders. This test reads every import of src/ and fails on a loop or an import that runs up.
 */
import assert from "node:assert/strict";
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
