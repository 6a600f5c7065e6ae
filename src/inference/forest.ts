/**
 * A Random Forest classifier (binary: fails within the horizon or not), written here rather than
 * taken from a library: the ONNX export needs every node's split, threshold and leaf value, and
 * exact TreeSHAP needs every node's cover (training samples through it). The JS forests on npm
 * (ml-random-forest) do not keep covers and compare in float64 where ONNX Runtime compares in
 * float32. CART with Gini impurity, bootstrap samples, sqrt(features) tried per split, seeded.
 *
 * Thresholds are float32 and features are compared as float32 (x <= threshold goes left), as the
 * ONNX TreeEnsembleClassifier does, so both give the same probabilities.
 */
import { mulberry32 } from "../common/random.js";

export interface Tree {
  /** Per node; a leaf has feature -1. */
  feature: Int32Array;
  threshold: Float32Array;
  left: Int32Array;
  right: Int32Array;
  /** Fraction of class 1 among the node's training samples (the leaf's probability). */
  value: Float64Array;
  /** Training samples through the node (weighted by bootstrap counts). */
  cover: Float64Array;
}

export interface ForestOptions {
  trees: number;
  maxDepth: number;
  minSamplesLeaf: number;
  seed: number;
  /** Features tried per split; default sqrt(features). */
  featuresPerSplit?: number;
}

export interface Forest {
  features: readonly string[];
  trees: Tree[];
}

export function trainForest(
  x: Float32Array[],
  y: Uint8Array,
  features: readonly string[],
  o: ForestOptions,
): Forest {
  const random = mulberry32(o.seed);
  const nFeatures = features.length;
  const tries = o.featuresPerSplit ?? Math.max(1, Math.round(Math.sqrt(nFeatures)));
  const trees: Tree[] = [];
  for (let t = 0; t < o.trees; t++) {
    const weight = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) weight[Math.floor(random() * x.length)]! += 1;
    const rows: number[] = [];
    for (let i = 0; i < x.length; i++) if (weight[i]! > 0) rows.push(i);
    trees.push(growTree(x, y, weight, rows, nFeatures, tries, o, random));
  }
  return { features, trees };
}

interface Building {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
  cover: number[];
}

function growTree(
  x: Float32Array[],
  y: Uint8Array,
  weight: Float64Array,
  rows: number[],
  nFeatures: number,
  tries: number,
  o: ForestOptions,
  random: () => number,
): Tree {
  const b: Building = { feature: [], threshold: [], left: [], right: [], value: [], cover: [] };
  const grow = (idx: number[], depth: number): number => {
    let w = 0;
    let w1 = 0;
    for (const i of idx) {
      w += weight[i]!;
      if (y[i] === 1) w1 += weight[i]!;
    }
    const node = b.feature.length;
    b.feature.push(-1);
    b.threshold.push(0);
    b.left.push(-1);
    b.right.push(-1);
    b.value.push(w === 0 ? 0 : w1 / w);
    b.cover.push(w);
    if (depth >= o.maxDepth || w1 === 0 || w1 === w || idx.length < 2 * o.minSamplesLeaf) return node;
    const split = bestSplit(x, y, weight, idx, nFeatures, tries, o.minSamplesLeaf, random, w, w1);
    if (split === undefined) return node;
    const leftRows: number[] = [];
    const rightRows: number[] = [];
    for (const i of idx)
      (Math.fround(x[i]![split.feature]!) <= split.threshold ? leftRows : rightRows).push(i);
    b.feature[node] = split.feature;
    b.threshold[node] = split.threshold;
    b.left[node] = grow(leftRows, depth + 1);
    b.right[node] = grow(rightRows, depth + 1);
    return node;
  };
  grow(rows, 0);
  return {
    feature: Int32Array.from(b.feature),
    threshold: Float32Array.from(b.threshold),
    left: Int32Array.from(b.left),
    right: Int32Array.from(b.right),
    value: Float64Array.from(b.value),
    cover: Float64Array.from(b.cover),
  };
}

function bestSplit(
  x: Float32Array[],
  y: Uint8Array,
  weight: Float64Array,
  idx: number[],
  nFeatures: number,
  tries: number,
  minLeaf: number,
  random: () => number,
  w: number,
  w1: number,
): { feature: number; threshold: number } | undefined {
  const candidates = Array.from({ length: nFeatures }, (_, i) => i);
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  const parentGini = 1 - (w1 / w) ** 2 - ((w - w1) / w) ** 2;
  let best: { feature: number; threshold: number; gain: number } | undefined;
  const n = idx.length;
  const { values, rows } = scratch(n);
  for (const f of candidates.slice(0, tries)) {
    // A missing value (NaN) sorts last and always goes right, as prediction and ONNX Runtime send
    // it (NaN <= t is false). The node's values and rows are sorted together in typed arrays.
    let present = 0;
    let missing = n;
    for (const i of idx) {
      const v = x[i]![f]!;
      if (Number.isNaN(v)) {
        missing--;
        values[missing] = v;
        rows[missing] = i;
      } else {
        values[present] = v;
        rows[present] = i;
        present++;
      }
    }
    sortPairs(values, rows, 0, present - 1);
    let lw = 0;
    let lw1 = 0;
    let ln = 0;
    for (let k = 0; k < present; k++) {
      const i = rows[k]!;
      const here = values[k]!;
      lw += weight[i]!;
      if (y[i] === 1) lw1 += weight[i]!;
      ln++;
      if (k === n - 1) break; // everything on the left: no split
      const next = values[k + 1]!; // NaN after the last present value
      if (here === next) continue;
      if (ln < minLeaf || n - ln < minLeaf) continue;
      const rw = w - lw;
      const rw1 = w1 - lw1;
      const gini =
        (lw / w) * (1 - (lw1 / lw) ** 2 - ((lw - lw1) / lw) ** 2) +
        (rw / w) * (1 - (rw1 / rw) ** 2 - ((rw - rw1) / rw) ** 2);
      const gain = parentGini - gini;
      if (best === undefined || gain > best.gain) {
        // Midpoint in float32, kept strictly below `next` so `here` goes left and `next` right;
        // before the missing values, `here` itself (every present value left, NaN right).
        let threshold = Number.isNaN(next) ? here : Math.fround((here + next) / 2);
        if (threshold >= next) threshold = here;
        best = { feature: f, threshold, gain };
      }
    }
  }
  return best !== undefined && best.gain > 1e-12 ? best : undefined;
}

function leafOf(tree: Tree, row: ArrayLike<number>): number {
  let node = 0;
  while (tree.feature[node]! >= 0) {
    const v = Math.fround(row[tree.feature[node]!]!);
    // NaN goes right, as ONNX Runtime's BRANCH_LEQ does (NaN <= t is false).
    node = v <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}

/** P(fails within the horizon): the mean of the trees' leaf values. */
export function predictProbability(forest: Forest, row: ArrayLike<number>): number {
  let sum = 0;
  for (const tree of forest.trees) sum += tree.value[leafOf(tree, row)]!;
  return sum / forest.trees.length;
}

/** The expected model output over the training data (the SHAP base value). */
export function baseValue(forest: Forest): number {
  let sum = 0;
  for (const tree of forest.trees) sum += expectedValue(tree);
  return sum / forest.trees.length;
}

function expectedValue(tree: Tree): number {
  let total = 0;
  for (let node = 0; node < tree.feature.length; node++)
    if (tree.feature[node]! < 0) total += tree.value[node]! * tree.cover[node]!;
  return total / tree.cover[0]!;
}

/**
 * Exact SHAP values of one prediction (Lundberg et al., "Consistent individualized feature
 * attribution for tree ensembles", Algorithm 2, polynomial-time TreeSHAP), averaged over the
 * trees. Local accuracy holds: base value + sum of contributions = the predicted probability.
 */
export function treeShap(forest: Forest, row: ArrayLike<number>): Float64Array {
  const phi = new Float64Array(forest.features.length);
  for (const tree of forest.trees) shapTree(tree, row, phi);
  for (let i = 0; i < phi.length; i++) phi[i]! /= forest.trees.length;
  return phi;
}

interface PathElement {
  feature: number;
  zero: number;
  one: number;
  weight: number;
}

function shapTree(tree: Tree, row: ArrayLike<number>, phi: Float64Array): void {
  const extend = (path: PathElement[], zero: number, one: number, feature: number): PathElement[] => {
    const m = path.map((p) => ({ ...p }));
    const l = m.length;
    m.push({ feature, zero, one, weight: l === 0 ? 1 : 0 });
    for (let i = l - 1; i >= 0; i--) {
      m[i + 1]!.weight += (one * m[i]!.weight * (i + 1)) / (l + 1);
      m[i]!.weight = (zero * m[i]!.weight * (l - i)) / (l + 1);
    }
    return m;
  };
  const unwind = (path: PathElement[], i: number): PathElement[] => {
    const m = path.map((p) => ({ ...p }));
    const l = m.length - 1;
    const { one, zero } = m[i]!;
    let next = m[l]!.weight;
    for (let j = l - 1; j >= 0; j--) {
      if (one !== 0) {
        const tmp = m[j]!.weight;
        m[j]!.weight = (next * (l + 1)) / ((j + 1) * one);
        next = tmp - (m[j]!.weight * zero * (l - j)) / (l + 1);
      } else {
        m[j]!.weight = (m[j]!.weight * (l + 1)) / (zero * (l - j));
      }
    }
    for (let j = i; j < l; j++) {
      m[j]!.feature = m[j + 1]!.feature;
      m[j]!.zero = m[j + 1]!.zero;
      m[j]!.one = m[j + 1]!.one;
    }
    m.pop();
    return m;
  };
  const unwoundSum = (path: PathElement[], i: number): number => {
    const l = path.length - 1;
    const { one, zero } = path[i]!;
    let total = 0;
    let next = path[l]!.weight;
    for (let j = l - 1; j >= 0; j--) {
      if (one !== 0) {
        const tmp = (next * (l + 1)) / ((j + 1) * one);
        total += tmp;
        next = path[j]!.weight - (tmp * zero * (l - j)) / (l + 1);
      } else {
        total += path[j]!.weight / ((zero * (l - j)) / (l + 1));
      }
    }
    return total;
  };
  const recurse = (node: number, path: PathElement[], zero: number, one: number, feature: number): void => {
    let m = extend(path, zero, one, feature);
    const f = tree.feature[node]!;
    if (f < 0) {
      for (let i = 1; i < m.length; i++) {
        const w = unwoundSum(m, i);
        phi[m[i]!.feature]! += w * (m[i]!.one - m[i]!.zero) * tree.value[node]!;
      }
      return;
    }
    const goesLeft = Math.fround(row[f]!) <= tree.threshold[node]!;
    const hot = goesLeft ? tree.left[node]! : tree.right[node]!;
    const cold = goesLeft ? tree.right[node]! : tree.left[node]!;
    let iZero = 1;
    let iOne = 1;
    const k = m.findIndex((p, i) => i > 0 && p.feature === f);
    if (k > 0) {
      iZero = m[k]!.zero;
      iOne = m[k]!.one;
      m = unwind(m, k);
    }
    const cover = tree.cover[node]!;
    recurse(hot, m, (iZero * tree.cover[hot]!) / cover, iOne, f);
    recurse(cold, m, (iZero * tree.cover[cold]!) / cover, 0, f);
  };
  recurse(0, [], 1, 1, -1);
}

let scratchValues = new Float32Array(0);
let scratchRows = new Int32Array(0);

/** Buffers for one node's values and rows, grown as needed and reused by every split search. */
function scratch(n: number): { values: Float32Array; rows: Int32Array } {
  if (scratchValues.length < n) {
    scratchValues = new Float32Array(n);
    scratchRows = new Int32Array(n);
  }
  return { values: scratchValues, rows: scratchRows };
}

/**
 * Sorts values[lo..hi] ascending and moves rows[] with them: an introsort-free quicksort
 * (median of three, insertion sort below 16) on typed arrays. Written here because the split
 * search sorts every candidate feature at every node, and Array.prototype.sort with a comparator
 * over an index array was 80 % of the training time (10x scikit-learn on C-MAPSS FD001).
 */
function sortPairs(values: Float32Array, rows: Int32Array, lo: number, hi: number): void {
  while (hi - lo > 16) {
    const mid = (lo + hi) >> 1;
    // median of three into values[mid]
    if (values[mid]! < values[lo]!) swap(values, rows, mid, lo);
    if (values[hi]! < values[lo]!) swap(values, rows, hi, lo);
    if (values[hi]! < values[mid]!) swap(values, rows, hi, mid);
    const pivot = values[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        swap(values, rows, i, j);
        i++;
        j--;
      }
    }
    // recurse into the smaller side, loop on the larger: the stack stays O(log n)
    if (j - lo < hi - i) {
      sortPairs(values, rows, lo, j);
      lo = i;
    } else {
      sortPairs(values, rows, i, hi);
      hi = j;
    }
  }
  for (let k = lo + 1; k <= hi; k++) {
    const v = values[k]!;
    const r = rows[k]!;
    let m = k - 1;
    while (m >= lo && values[m]! > v) {
      values[m + 1] = values[m]!;
      rows[m + 1] = rows[m]!;
      m--;
    }
    values[m + 1] = v;
    rows[m + 1] = r;
  }
}

function swap(values: Float32Array, rows: Int32Array, a: number, b: number): void {
  const v = values[a]!;
  values[a] = values[b]!;
  values[b] = v;
  const r = rows[a]!;
  rows[a] = rows[b]!;
  rows[b] = r;
}
