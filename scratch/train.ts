import { trainOptimizer } from "../src/optimizer/trainOptimizer.js";

const r = await trainOptimizer("/tmp/sh/po.onnx", { version: "x" });
console.log(JSON.stringify(r.card.evaluation, null, 1), r.card.onnxruntime_max_abs_difference, r.sha256);
