/**
 * linepilot's models to and from standard ONNX, so any ONNX runtime can run them and
 * onnxruntime-node runs them here: Random Forests as a TreeEnsembleClassifier of the ai.onnx.ml
 * domain, the optimizer's policy network as Gemm and Tanh nodes with its weights as initializers. The protobuf subset of
 * onnx.proto we need is declared below (field numbers from onnx/onnx.proto3); protobufjs encodes
 * it. The forest's node covers, which exact TreeSHAP needs and ONNX has no field for, travel in the
 * model's metadata_props, as do the feature names and the training summary.
 */
import protobuf from "protobufjs";
import type { Forest, Tree } from "./forest.js";

const root = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } },
        },
        StringStringEntryProto: {
          fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            domain: { type: "string", id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            floats: { rule: "repeated", type: "float", id: 7, options: { packed: true } },
            ints: { rule: "repeated", type: "int64", id: 8, options: { packed: true } },
            strings: { rule: "repeated", type: "bytes", id: 9 },
            type: { type: "int32", id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1, options: { packed: true } },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: "repeated", type: "float", id: 4, options: { packed: true } },
            int64Data: { rule: "repeated", type: "int64", id: 7, options: { packed: true } },
            name: { type: "string", id: 8 },
          },
        },
        ValueInfoProto: { fields: { name: { type: "string", id: 1 }, type: { type: "TypeProto", id: 2 } } },
        TypeProto: { fields: { tensorType: { type: "TensorTypeProto", id: 1 } } },
        TensorTypeProto: {
          fields: { elemType: { type: "int32", id: 1 }, shape: { type: "TensorShapeProto", id: 2 } },
        },
        TensorShapeProto: { fields: { dim: { rule: "repeated", type: "Dimension", id: 1 } } },
        Dimension: { fields: { dimValue: { type: "int64", id: 1 }, dimParam: { type: "string", id: 2 } } },
      },
    },
  },
});
const ModelProto = root.lookupType("onnx.ModelProto");

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const ELEM = { FLOAT: 1, INT64: 7 } as const;
export const INPUT_NAME = "features";
export const OUTPUTS = { label: "label", probabilities: "probabilities" } as const;

export interface ModelInfo {
  name: string;
  version: string;
  features: string[];
  /** Free-form facts for the card (horizon, window, training range, metrics). */
  metadata: Record<string, string>;
}

type Attribute = {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
};

/** A graph input or output: a tensor of this element type and shape (a string is a named dimension). */
function tensor(name: string, elemType: number, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * One linepilot model file: the ModelProto header, metadata (name, version, features, then what
 * the kind of model adds, then the card's facts) and the graph.
 */
function encodeModel(
  info: ModelInfo,
  doc: string,
  opsetImport: { domain: string; version: number }[],
  kindMetadata: Record<string, string>,
  graph: Record<string, unknown>,
): Uint8Array {
  const meta = (entries: Record<string, string>) =>
    Object.entries(entries).map(([key, value]) => ({ key: `linepilot.${key}`, value }));
  const message = ModelProto.fromObject({
    irVersion: 8,
    producerName: "linepilot",
    producerVersion: "1",
    domain: "linepilot",
    modelVersion: 1,
    docString: `${info.name} ${info.version}: ${doc}`,
    opsetImport,
    metadataProps: [
      ...meta({ name: info.name, version: info.version, features: JSON.stringify(info.features) }),
      ...meta(kindMetadata),
      ...meta(info.metadata),
    ],
    graph: { name: info.name, ...graph },
  });
  return ModelProto.encode(message).finish();
}

/**
 * A forest as a TreeEnsembleClassifier. Its own label output is not used: ONNX Runtime's binary
 * case answers 1 for any positive score. The model's `label` is `probabilities[:, 1] >= threshold`
 * (the alert threshold the card reports precision and recall at), so both outputs agree.
 */
export function forestToOnnx(forest: Forest, info: ModelInfo & { threshold?: number }): Uint8Array {
  const nodesTree: number[] = [];
  const nodesId: number[] = [];
  const nodesFeature: number[] = [];
  const nodesValue: number[] = [];
  const nodesMode: Uint8Array[] = [];
  const nodesTrue: number[] = [];
  const nodesFalse: number[] = [];
  const classTree: number[] = [];
  const classNode: number[] = [];
  const classId: number[] = [];
  const classWeight: number[] = [];
  const n = forest.trees.length;
  const threshold = info.threshold ?? 0.5;
  const enc = new TextEncoder();
  forest.trees.forEach((tree, t) => {
    for (let node = 0; node < tree.feature.length; node++) {
      const leaf = tree.feature[node]! < 0;
      nodesTree.push(t);
      nodesId.push(node);
      nodesFeature.push(leaf ? 0 : tree.feature[node]!);
      nodesValue.push(leaf ? 0 : tree.threshold[node]!);
      nodesMode.push(enc.encode(leaf ? "LEAF" : "BRANCH_LEQ"));
      nodesTrue.push(leaf ? 0 : tree.left[node]!);
      nodesFalse.push(leaf ? 0 : tree.right[node]!);
      if (leaf) {
        // The forest's probability is the mean of the trees' leaf values: each leaf adds value / trees.
        for (const [cls, w] of [
          [0, 1 - tree.value[node]!],
          [1, tree.value[node]!],
        ] as const) {
          classTree.push(t);
          classNode.push(node);
          classId.push(cls);
          classWeight.push(w / n);
        }
      }
    }
  });
  const attrs: Attribute[] = [
    { name: "classlabels_int64s", type: ATTR.INTS, ints: [0, 1] },
    { name: "nodes_treeids", type: ATTR.INTS, ints: nodesTree },
    { name: "nodes_nodeids", type: ATTR.INTS, ints: nodesId },
    { name: "nodes_featureids", type: ATTR.INTS, ints: nodesFeature },
    { name: "nodes_values", type: ATTR.FLOATS, floats: nodesValue },
    { name: "nodes_modes", type: ATTR.STRINGS, strings: nodesMode },
    { name: "nodes_truenodeids", type: ATTR.INTS, ints: nodesTrue },
    { name: "nodes_falsenodeids", type: ATTR.INTS, ints: nodesFalse },
    // NaN goes right (the false branch), as in the forest.
    { name: "nodes_missing_value_tracks_true", type: ATTR.INTS, ints: nodesTree.map(() => 0) },
    { name: "class_treeids", type: ATTR.INTS, ints: classTree },
    { name: "class_nodeids", type: ATTR.INTS, ints: classNode },
    { name: "class_ids", type: ATTR.INTS, ints: classId },
    { name: "class_weights", type: ATTR.FLOATS, floats: classWeight },
    { name: "post_transform", type: ATTR.STRING, s: enc.encode("NONE") },
  ];
  const covers = forest.trees.map((tree) => Array.from(tree.cover));
  return encodeModel(
    info,
    `Random Forest, ${n} trees`,
    [
      { domain: "", version: 17 },
      { domain: "ai.onnx.ml", version: 3 },
    ],
    { node_covers: JSON.stringify(covers), threshold: String(threshold) },
    {
      node: [
        {
          name: "forest",
          opType: "TreeEnsembleClassifier",
          domain: "ai.onnx.ml",
          input: [INPUT_NAME],
          output: ["ensemble_label", OUTPUTS.probabilities],
          attribute: attrs,
        },
        {
          name: "p_fail",
          opType: "Gather",
          input: [OUTPUTS.probabilities, "one"],
          output: ["p1"],
          attribute: [{ name: "axis", type: ATTR.INT, i: 1 }],
        },
        { name: "at_threshold", opType: "GreaterOrEqual", input: ["p1", "threshold"], output: ["alert"] },
        {
          name: "as_label",
          opType: "Cast",
          input: ["alert"],
          output: [OUTPUTS.label],
          attribute: [{ name: "to", type: ATTR.INT, i: ELEM.INT64 }],
        },
      ],
      initializer: [
        { name: "one", dataType: ELEM.INT64, dims: [], int64Data: [1] },
        { name: "threshold", dataType: ELEM.FLOAT, dims: [], floatData: [threshold] },
      ],
      input: [tensor(INPUT_NAME, ELEM.FLOAT, ["N", info.features.length])],
      output: [tensor(OUTPUTS.label, ELEM.INT64, ["N"]), tensor(OUTPUTS.probabilities, ELEM.FLOAT, ["N", 2])],
    },
  );
}

export interface ParsedModel {
  info: ModelInfo;
  forest: Forest;
  input: { name: string; elemType: number; dims: (number | string)[] };
}

type DecodedModel = {
  metadataProps: { key: string; value: string }[];
  graph: {
    node: { opType: string; attribute: (Attribute & { strings: string[] })[] }[];
    input: {
      name: string;
      type: { tensorType: { elemType: number; shape: { dim: { dimValue: number; dimParam: string }[] } } };
    }[];
  };
};

function decode(bytes: Uint8Array): { model: DecodedModel; meta: Record<string, string> } {
  const model = ModelProto.toObject(ModelProto.decode(bytes), {
    longs: Number,
    bytes: String,
    defaults: true,
  }) as DecodedModel;
  return { model, meta: Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value])) };
}

/** What any linepilot model declares: name, version, feature names, metadata and its input. */
export function readModelInfo(bytes: Uint8Array): Omit<ParsedModel, "forest"> & { kind: string } {
  const { model, meta } = decode(bytes);
  const input = model.graph?.input[0];
  if (input === undefined) throw new Error("the model has no graph input");
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta))
    if (key.startsWith("linepilot.") && !["linepilot.node_covers", "linepilot.features"].includes(key))
      metadata[key.slice("linepilot.".length)] = value;
  return {
    kind: meta["linepilot.kind"] ?? (meta["linepilot.node_covers"] !== undefined ? "forest" : "unknown"),
    info: {
      name: meta["linepilot.name"] ?? "",
      version: meta["linepilot.version"] ?? "",
      features: JSON.parse(meta["linepilot.features"] ?? "[]") as string[],
      metadata,
    },
    input: {
      name: input.name,
      elemType: input.type.tensorType.elemType,
      dims: input.type.tensorType.shape.dim.map((d) => (d.dimParam !== "" ? d.dimParam : Number(d.dimValue))),
    },
  };
}

/** Reads a model written by forestToOnnx back (for TreeSHAP and input checks). */
export function onnxToForest(bytes: Uint8Array): ParsedModel {
  const { model, meta } = decode(bytes);
  const node = model.graph?.node.find((x) => x.opType === "TreeEnsembleClassifier");
  if (node === undefined || meta["linepilot.node_covers"] === undefined)
    throw new Error("not a linepilot forest: no TreeEnsembleClassifier with node covers");
  const attr = (name: string) => node.attribute.find((a) => a.name === name)!;
  const ints = (name: string) => attr(name).ints as number[];
  const floats = (name: string) => attr(name).floats as number[];
  const modes = (attr("nodes_modes").strings as unknown as string[]).map((s) =>
    Buffer.from(s, "base64").toString(),
  );
  const covers = JSON.parse(meta["linepilot.node_covers"]) as number[][];
  const trees: Tree[] = covers.map((cover) => ({
    feature: new Int32Array(cover.length).fill(-1),
    threshold: new Float32Array(cover.length),
    left: new Int32Array(cover.length).fill(-1),
    right: new Int32Array(cover.length).fill(-1),
    value: new Float64Array(cover.length),
    cover: Float64Array.from(cover),
  }));
  const treeIds = ints("nodes_treeids");
  const nodeIds = ints("nodes_nodeids");
  treeIds.forEach((t, k) => {
    const tree = trees[t]!;
    const id = nodeIds[k]!;
    if (modes[k] === "LEAF") return;
    tree.feature[id] = ints("nodes_featureids")[k]!;
    tree.threshold[id] = floats("nodes_values")[k]!;
    tree.left[id] = ints("nodes_truenodeids")[k]!;
    tree.right[id] = ints("nodes_falsenodeids")[k]!;
  });
  const n = trees.length;
  const classTree = ints("class_treeids");
  const classNode = ints("class_nodeids");
  const classIds = ints("class_ids");
  const weights = floats("class_weights");
  classTree.forEach((t, k) => {
    if (classIds[k] === 1) trees[t]!.value[classNode[k]!] = weights[k]! * n;
  });
  const { info, input } = readModelInfo(bytes);
  return { info, forest: { features: info.features, trees }, input };
}

/** A dense layer: out = activation(in x weights + bias), weights row-major [inputs, outputs]. */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  weights: Float32Array | Float64Array;
  bias: Float32Array | Float64Array;
  activation: "tanh" | "none";
}

export const POLICY_INPUT = "observation";
export const POLICY_OUTPUT = "action";

/** A small fully connected network (the optimizer's PPO actor) as Gemm and Tanh nodes. */
export function mlpToOnnx(layers: DenseLayer[], info: ModelInfo): Uint8Array {
  const node: Record<string, unknown>[] = [];
  const initializer: Record<string, unknown>[] = [];
  let input = POLICY_INPUT;
  layers.forEach((layer, i) => {
    const w = `w${i}`;
    const b = `b${i}`;
    initializer.push({
      name: w,
      dataType: ELEM.FLOAT,
      dims: [layer.inputs, layer.outputs],
      floatData: Array.from(layer.weights),
    });
    initializer.push({
      name: b,
      dataType: ELEM.FLOAT,
      dims: [layer.outputs],
      floatData: Array.from(layer.bias),
    });
    const last = i === layers.length - 1;
    const gemm = layer.activation === "none" && last ? POLICY_OUTPUT : `gemm${i}`;
    node.push({ name: `dense${i}`, opType: "Gemm", input: [input, w, b], output: [gemm] });
    input = gemm;
    if (layer.activation === "tanh") {
      const out = last ? POLICY_OUTPUT : `tanh${i}`;
      node.push({ name: `tanh${i}`, opType: "Tanh", input: [gemm], output: [out] });
      input = out;
    }
  });
  return encodeModel(
    info,
    `${layers.map((l) => l.outputs).join("-")} network`,
    [{ domain: "", version: 17 }],
    { kind: "policy" },
    {
      node,
      initializer,
      input: [tensor(POLICY_INPUT, ELEM.FLOAT, ["N", layers[0]!.inputs])],
      output: [tensor(POLICY_OUTPUT, ELEM.FLOAT, ["N", layers[layers.length - 1]!.outputs])],
    },
  );
}

export const BASELINE_OUTPUTS = { score: "score", deviations: "deviations" } as const;

/**
 * A normal-behaviour baseline: deviations = (features - center) / scale per feature, a fall
 * clipped to 0 where only a rise counts (upperOnly), and the score = the root mean square of the
 * deviations (about 1 for a normal window). Center and scale are also kept in the metadata, so
 * reasons can say "normal 0.07 g" in the tag's own unit.
 */
export function baselineToOnnx(
  baseline: {
    center: ArrayLike<number>;
    scale: ArrayLike<number>;
    upperOnly: ArrayLike<number>;
    threshold: number;
  },
  info: ModelInfo,
): Uint8Array {
  const f = info.features.length;
  return encodeModel(
    info,
    `normal-behaviour baseline over ${f} features`,
    [{ domain: "", version: 17 }],
    {
      kind: "baseline",
      center: JSON.stringify(Array.from(baseline.center)),
      scale: JSON.stringify(Array.from(baseline.scale)),
      upper_only: JSON.stringify(Array.from(baseline.upperOnly)),
      threshold: String(baseline.threshold),
    },
    {
      node: [
        { name: "centre", opType: "Sub", input: [INPUT_NAME, "center"], output: ["offset"] },
        { name: "standardise", opType: "Div", input: ["offset", "scale"], output: ["z"] },
        // deviations = z - upperOnly * min(z, 0): a fall is no deviation where only a rise counts
        { name: "falls", opType: "Min", input: ["z", "zero"], output: ["below"] },
        { name: "ignored", opType: "Mul", input: ["below", "upper_only"], output: ["ignored_fall"] },
        { name: "clip", opType: "Sub", input: ["z", "ignored_fall"], output: [BASELINE_OUTPUTS.deviations] },
        {
          name: "square",
          opType: "Mul",
          input: [BASELINE_OUTPUTS.deviations, BASELINE_OUTPUTS.deviations],
          output: ["squared"],
        },
        {
          name: "mean",
          opType: "ReduceMean",
          input: ["squared"],
          output: ["mean_square"],
          attribute: [
            { name: "axes", type: ATTR.INTS, ints: [1] },
            { name: "keepdims", type: ATTR.INT, i: 0 },
          ],
        },
        { name: "root", opType: "Sqrt", input: ["mean_square"], output: [BASELINE_OUTPUTS.score] },
      ],
      initializer: [
        { name: "center", dataType: ELEM.FLOAT, dims: [f], floatData: Array.from(baseline.center) },
        { name: "scale", dataType: ELEM.FLOAT, dims: [f], floatData: Array.from(baseline.scale) },
        { name: "upper_only", dataType: ELEM.FLOAT, dims: [f], floatData: Array.from(baseline.upperOnly) },
        { name: "zero", dataType: ELEM.FLOAT, dims: [], floatData: [0] },
      ],
      input: [tensor(INPUT_NAME, ELEM.FLOAT, ["N", f])],
      output: [
        tensor(BASELINE_OUTPUTS.score, ELEM.FLOAT, ["N"]),
        tensor(BASELINE_OUTPUTS.deviations, ELEM.FLOAT, ["N", f]),
      ],
    },
  );
}

/** A baseline's center, scale and threshold, from its metadata. */
export function readBaseline(bytes: Uint8Array): {
  info: ModelInfo;
  center: number[];
  scale: number[];
  upperOnly: number[];
  threshold: number;
} {
  const parsed = readModelInfo(bytes);
  if (parsed.kind !== "baseline") throw new Error(`a ${parsed.kind} model, not a baseline`);
  const m = parsed.info.metadata;
  return {
    info: parsed.info,
    center: JSON.parse(m.center ?? "[]") as number[],
    scale: JSON.parse(m.scale ?? "[]") as number[],
    upperOnly: JSON.parse(m.upper_only ?? "[]") as number[],
    threshold: Number(m.threshold),
  };
}
