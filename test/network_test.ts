// A small composed network whose gradients are checked end to end against finite differences of the
// float64 references chained the same way: conv -> instance norm -> relu -> pool -> up-conv ->
// concat -> conv -> weighted cross-entropy with the paper's class weights inside a mask.
import { checkOp, randomData, rng, setupGpu } from "./_helpers.ts";
import { conv3dRef, convTranspose3dRef } from "./ref/conv.ts";
import { refNorm } from "./ref/norm.ts";
import { refMaxPool } from "./ref/pool.ts";
import { refConcat } from "./ref/layout.ts";
import { refCounts, refCrossEntropy, refPaperWeights } from "./ref/loss.ts";
import { conv3d } from "../src/ops/conv3d.ts";
import { convTranspose3d } from "../src/ops/conv_transpose3d.ts";
import { instanceNorm3d } from "../src/ops/norm.ts";
import { relu } from "../src/ops/elementwise.ts";
import { maxPool3d } from "../src/ops/pool3d.ts";
import { concat } from "../src/ops/layout.ts";
import { weightedCrossEntropy } from "../src/ops/loss.ts";
import { Tensor } from "../src/tensor.ts";

await setupGpu();

Deno.test("a composed network's gradients match finite differences end to end", async () => {
  const [n, d, h, w] = [2, 6, 4, 8];
  const c1 = 3, cu = 2, k = 4, s = d * h * w;
  const r = rng(5);
  const labels = Uint32Array.from({ length: n * s }, () => Math.floor(r() * k));
  const mask = Uint32Array.from({ length: n * s }, () => (r() < 0.8 ? 1 : 0));
  const lab = Tensor.from(labels, [n, d, h, w], { dtype: "u32" });
  const msk = Tensor.from(mask, [n, d, h, w], { dtype: "u32" });
  const shapes: number[][] = [
    [n, 1, d, h, w], // x
    [c1, 1, 3, 3, 3], // conv1 weight
    [c1], // conv1 bias
    [c1], // gamma
    [c1], // beta
    [c1, cu, 2, 2, 2], // up-conv weight
    [cu], // up-conv bias
    [k, c1 + cu, 3, 3, 3], // conv2 weight
    [k], // conv2 bias
  ];
  const inputs = shapes.map((shape, i) => ({
    data: i === 3 ? randomData(shape[0], 40, 0.5, 1.5) : randomData(shape.reduce((a, b) => a * b, 1), 30 + i),
    shape,
    // instance norm removes any per-channel shift, so the first bias has an exactly zero gradient:
    // a relative comparison of noise against zero would be meaningless
    grad: i !== 2,
  }));
  const same = { padding: "same" as const };
  const op = ([x, w1, b1, g, be, wu, bu, w2, b2]: Tensor[]) => {
    const h1 = relu(instanceNorm3d(conv3d(x, w1, b1, same), g, be));
    const up = convTranspose3d(maxPool3d(h1), wu, bu);
    const logits = conv3d(concat(up, h1), w2, b2, same);
    return weightedCrossEntropy(logits, lab, { mask: msk, weights: "paper" });
  };
  const weights = refPaperWeights(refCounts(labels, mask, k));
  const ref = ([x, w1, b1, g, be, wu, bu, w2, b2]: Float64Array[]) => {
    const a = conv3dRef(x, w1, b1, { n, cin: 1, cout: c1, d, h, w, k: 3, pad: 1 });
    const h1 = refNorm(a, g, be, [n, c1, d, h, w], true).map((v) => Math.max(v, 0));
    const pooled = refMaxPool(h1, [n, c1, d, h, w]);
    const up = convTranspose3dRef(pooled, wu, bu, { n, cin: c1, cout: cu, d: d / 2, h: h / 2, w: w / 2 });
    const cat = refConcat(up, h1, n, cu, c1, s);
    const logits = conv3dRef(cat, w2, b2, { n, cin: c1 + cu, cout: k, d, h, w, k: 3, pad: 1 });
    return refCrossEntropy(logits, labels, mask, weights, n, k, s);
  };
  await checkOp("network", inputs, op, ref, { eps: 1e-5, samples: 60 });
  lab.dispose();
  msk.dispose();
});
