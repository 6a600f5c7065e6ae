/**
 * One model in one worker thread: an onnxruntime-node session, plus, for linepilot forests, the
 * forest itself for exact TreeSHAP reasons and tree agreement. Messages in: {id, rows, input};
 * out: {id, probabilities, values, width, contributions?, agreement?} or {id, error}. For a
 * baseline, `probabilities` carries its anomaly score and `contributions` its deviations.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { type Forest, treeShap } from "./forest.js";
import { onnxToForest } from "./onnxModel.js";

interface Request {
  id: number;
  rows: number;
  input: Float32Array;
}

const { bytes, features } = workerData as { bytes: Uint8Array; features: number };
let forest: Forest | undefined;
try {
  forest = onnxToForest(bytes).forest;
} catch {
  forest = undefined; // a model trained elsewhere: probabilities only, no tree reasons
}
const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
parentPort!.postMessage({ ready: true, inputs: session.inputNames, outputs: session.outputNames });

parentPort!.on("message", async (request: Request) => {
  try {
    const tensor = new ort.Tensor("float32", request.input, [request.rows, features]);
    const out = await session.run({ [session.inputNames[0]!]: tensor });
    // A classifier's label output is skipped: its scores (or a policy's actions) are what we want.
    const scores = out[session.outputNames.find((n) => n !== "label") ?? session.outputNames[0]!]!
      .data as Float32Array;
    const probabilities = new Float64Array(request.rows);
    const width = scores.length / request.rows;
    for (let r = 0; r < request.rows; r++) probabilities[r] = scores[r * width + (width - 1)]!;
    let contributions: Float64Array | undefined;
    let agreement: Float64Array | undefined;
    // A baseline's per-feature deviations are its reasons, as TreeSHAP's are a forest's.
    const deviations = out.deviations?.data as Float32Array | undefined;
    if (deviations !== undefined) contributions = Float64Array.from(deviations);
    if (forest !== undefined) {
      contributions = new Float64Array(request.rows * features);
      agreement = new Float64Array(request.rows);
      for (let r = 0; r < request.rows; r++) {
        const row = request.input.subarray(r * features, (r + 1) * features);
        contributions.set(treeShap(forest, row), r * features);
        let agree = 0;
        for (const tree of forest.trees) {
          let node = 0;
          while (tree.feature[node]! >= 0)
            node =
              Math.fround(row[tree.feature[node]!]!) <= tree.threshold[node]!
                ? tree.left[node]!
                : tree.right[node]!;
          if (tree.value[node]! >= 0.5 === probabilities[r]! >= 0.5) agree++;
        }
        agreement[r] = agree / forest.trees.length;
      }
    }
    parentPort!.postMessage({
      id: request.id,
      probabilities,
      values: scores,
      width,
      contributions,
      agreement,
    });
  } catch (error) {
    parentPort!.postMessage({ id: request.id, error: (error as Error).message });
  }
});
