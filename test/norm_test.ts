import assert from "node:assert/strict";
import { refNorm, refNormGrad, refStats } from "./ref/norm.ts";
import { assertClose, checkOp, randomData, setupGpu } from "./_helpers.ts";
import { batchNorm3d, instanceNorm3d, type RunningStats } from "../src/ops/norm.ts";
import { backward } from "../src/autograd.ts";
import { conv3d, conv3dWithMoments } from "../src/ops/conv3d.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Host copies and GPU running statistics [C] (variance positive). */
function runningStats(c: number, seed: number) {
  const mean = randomData(c, seed), variance = randomData(c, seed + 1, 0.5, 2);
  const state: RunningStats = { runningMean: Tensor.from(mean, [c]), runningVar: Tensor.from(variance, [c]) };
  return { mean, variance, state };
}

const disposeState = (s: RunningStats) => {
  s.runningMean.dispose();
  s.runningVar.dispose();
};

/** x (offset so the mean is far from 0), gamma and beta as checkOp inputs. */
function normInputs(shape: number[], seed: number) {
  const c = shape[1];
  return [
    { data: randomData(size(shape), seed, 1, 4), shape },
    { data: randomData(c, seed + 1, 0.5, 1.5), shape: [c] },
    { data: randomData(c, seed + 2), shape: [c] },
  ];
}

const shapes = [[2, 3, 5, 6, 7], [1, 1, 4, 7, 9], [2, 1, 3, 2, 5], [1, 3, 5, 6, 7]];

Deno.test("batchNorm3d training: forward and gradients of x, gamma, beta", async () => {
  for (const [k, shape] of shapes.entries()) {
    const { state } = runningStats(shape[1], k);
    await checkOp(
      `batchNorm3d train ${shape.join("x")}`,
      normInputs(shape, 10 * k),
      ([x, g, b]) => batchNorm3d(x, g, b, state, { training: true }),
      ([x, g, b]) => refNorm(x, g, b, shape, false),
    );
    disposeState(state);
  }
});

Deno.test("batchNorm3d inference: forward and affine gradients with the running statistics", async () => {
  for (const [k, shape] of shapes.slice(0, 2).entries()) {
    const { mean, variance, state } = runningStats(shape[1], 50 + k);
    const eps = 1e-3;
    await checkOp(
      `batchNorm3d eval ${shape.join("x")}`,
      normInputs(shape, 20 * k),
      ([x, g, b]) => batchNorm3d(x, g, b, state, { training: false, eps }),
      ([x, g, b]) => refNorm(x, g, b, shape, false, eps, { mean, variance }),
    );
    // inference leaves the running statistics alone
    assertClose(await state.runningMean.read(), mean, 1e-7, "running mean");
    assertClose(await state.runningVar.read(), variance, 1e-7, "running var");
    disposeState(state);
  }
});

Deno.test("batchNorm3d training updates the running statistics with the unbiased variance", async () => {
  const shape = [2, 3, 4, 7, 5], c = 3, momentum = 0.3;
  let { mean, variance, state } = runningStats(c, 7);
  const gamma = Tensor.full([c], 1), beta = Tensor.zeros([c]);
  for (const seed of [1, 2]) {
    const xd = randomData(size(shape), seed, -2, 3);
    const x = Tensor.from(xd, shape);
    batchNorm3d(x, gamma, beta, state, { training: true, momentum }).dispose();
    x.dispose();
    const s = refStats(xd, shape, false);
    const unbiased = s.count / (s.count - 1);
    mean = mean.map((v, i) => (1 - momentum) * v + momentum * s.mean[i]);
    variance = variance.map((v, i) => (1 - momentum) * v + momentum * s.variance[i] * unbiased);
  }
  const em = assertClose(await state.runningMean.read(), mean, 1e-5, "running mean");
  const ev = assertClose(await state.runningVar.read(), variance, 1e-5, "running var");
  console.log(`error batchNorm3d running stats: mean ${em.toExponential(1)}, var ${ev.toExponential(1)}`);
  disposeState(state);
  gamma.dispose();
  beta.dispose();
});

Deno.test("instanceNorm3d: forward and gradients of x, gamma, beta", async () => {
  for (const [k, shape] of shapes.entries()) {
    await checkOp(
      `instanceNorm3d ${shape.join("x")}`,
      normInputs(shape, 30 + 10 * k),
      ([x, g, b]) => instanceNorm3d(x, g, b),
      ([x, g, b]) => refNorm(x, g, b, shape, true),
    );
  }
});

/** The float64 leaky ReLU of slope a, applied to a reference result. */
const leaky = (v: Float64Array, a: number) => v.map((u) => (u > 0 ? u : a * u));

Deno.test("a leaky ReLU fused into the normalisation: forward and gradients as the composition", async () => {
  for (const [k, [shape, slope]] of ([[[2, 3, 5, 6, 7], 0.01], [[1, 1, 4, 7, 9], 0.2]] as const).entries()) {
    const sh = [...shape];
    await checkOp(
      `instanceNorm3d + leaky ReLU ${slope} ${sh.join("x")}`,
      normInputs(sh, 60 + 10 * k),
      ([x, g, b]) => instanceNorm3d(x, g, b, { negativeSlope: slope }),
      ([x, g, b]) => leaky(refNorm(x, g, b, sh, true), slope),
    );
  }
  const shape = [2, 3, 4, 5, 3];
  const { mean, variance, state } = runningStats(3, 90);
  await checkOp(
    `batchNorm3d train + ReLU ${shape.join("x")}`,
    normInputs(shape, 91),
    ([x, g, b]) => batchNorm3d(x, g, b, state, { training: true, negativeSlope: 0 }),
    ([x, g, b]) => leaky(refNorm(x, g, b, shape, false), 0),
  );
  disposeState(state);
  const fixed = runningStats(3, 90);
  await checkOp(
    `batchNorm3d eval + leaky ReLU 0.1 ${shape.join("x")}`,
    normInputs(shape, 92),
    ([x, g, b]) => batchNorm3d(x, g, b, fixed.state, { training: false, negativeSlope: 0.1 }),
    ([x, g, b]) => leaky(refNorm(x, g, b, shape, false, 1e-5, { mean, variance }), 0.1),
  );
  disposeState(fixed.state);
});

Deno.test("normalisation over 75600 voxels per volume (151200 per channel) matches float64 (split reductions)", async () => {
  // one unsplit loop over a channel would pass the software driver's 65535-iteration cut-off
  const shape = [2, 2, 40, 42, 45], c = 2;
  const xd = randomData(size(shape), 3, 2, 6), gyd = randomData(size(shape), 4);
  const ones = new Float64Array(c).fill(1), zeros = new Float64Array(c);
  const { state } = runningStats(c, 1);
  for (const instance of [false, true]) {
    const x = Tensor.from(xd, shape, { requiresGrad: true });
    const gamma = Tensor.from(ones, [c]), beta = Tensor.from(zeros, [c]);
    const y = instance
      ? instanceNorm3d(x, gamma, beta)
      : batchNorm3d(x, gamma, beta, state, { training: true });
    const ef = assertClose(await y.read(), refNorm(xd, ones, zeros, shape, instance), 1e-4, "forward");
    const gy = Tensor.from(gyd, shape);
    backward(y, gy);
    const eg = assertClose(await x.grad!.read(), refNormGrad(xd, gyd, shape, instance), 1e-4, "gradient");
    console.log(
      `error ${instance ? "instanceNorm3d 75600/volume" : "batchNorm3d 151200/channel"}: forward ${
        ef.toExponential(1)
      }, grad ${eg.toExponential(1)}`,
    );
    for (const t of [x.grad!, x, y, gy, gamma, beta]) t.dispose();
  }
  disposeState(state);
});

Deno.test("norms refuse mismatched parameters with a message naming the shapes", () => {
  const x = Tensor.zeros([2, 3, 4, 4, 4]), g3 = Tensor.zeros([3]), g2 = Tensor.zeros([2]);
  const one = Tensor.zeros([1, 3, 1, 1, 1]);
  const state = { runningMean: Tensor.zeros([3]), runningVar: Tensor.zeros([3]) };
  const bad = { runningMean: Tensor.zeros([2]), runningVar: Tensor.zeros([3]) };
  const named = (re: RegExp) => (e: unknown) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => instanceNorm3d(x, g2, g3), named(/gamma of shape \[2\].*\[2,3,4,4,4\]/));
  assert.throws(() => batchNorm3d(x, g3, g2, state, { training: true }), named(/beta of shape \[2\]/));
  assert.throws(() => batchNorm3d(x, g3, g3, bad, { training: false }), named(/runningMean of shape \[2\]/));
  assert.throws(() => batchNorm3d(one, g3, g3, state, { training: true }), named(/more than one value/));
  assert.throws(() => instanceNorm3d(g3, g3, g3), named(/NCDHW.*\[3\]/));
  for (const t of [x, g3, g2, one]) t.dispose();
  disposeState(state);
  disposeState(bad);
});

Deno.test("normalising with the convolution's epilogue moments matches the normalisation's own statistics", async () => {
  for (const [norm, shape] of [["instance", [1, 3, 6, 5, 9]], ["batch", [2, 3, 5, 4, 7]]] as const) {
    const [n, cin, d, h, w] = shape, cout = 5;
    const x = Tensor.from(randomData(size([...shape]), 81, 0, 2), [...shape]);
    const wt = Tensor.from(randomData(cout * cin * 27, 82), [cout, cin, 3, 3, 3]);
    const b = Tensor.from(randomData(cout, 83, 2, 3), [cout]); // an offset the statistics must carry
    const g = Tensor.from(randomData(cout, 84, 0.5, 1.5), [cout]),
      be = Tensor.from(randomData(cout, 85), [cout]);
    const apply = (y: Tensor, moments?: { mean: Tensor; m2: Tensor }) => {
      const opts = { negativeSlope: 0.01, moments };
      if (norm === "instance") return instanceNorm3d(y, g, be, opts);
      const state = { runningMean: Tensor.zeros([cout]), runningVar: Tensor.full([cout], 1) };
      return batchNorm3d(y, g, be, state, { training: true, ...opts });
    };
    const fused = conv3dWithMoments(x, wt, b);
    assert.ok(fused.moments, "the tiled kernels give moments");
    const a = apply(fused.y, fused.moments!);
    const c = apply(conv3d(x, wt, b));
    const e = assertClose(await a.read(), await c.read(), 1e-5, `${norm} norm, epilogue moments`);
    console.log(
      `error ${norm} norm with epilogue moments [${n},${cin},${d},${h},${w}]->${cout}: ${e.toExponential(1)}`,
    );
  }
});

Deno.test("instance norm refuses per-channel moments for a batch of several volumes", () => {
  const x = Tensor.zeros([2, 3, 4, 4, 4]), g = Tensor.full([3], 1), be = Tensor.zeros([3]);
  const moments = { mean: Tensor.zeros([3]), m2: Tensor.zeros([3]) };
  assert.throws(
    () => instanceNorm3d(x, g, be, { moments }),
    (e) => e instanceof ShapeError && /moments/.test(e.message),
  );
});
