import assert from "node:assert/strict";
import { assertClose, checkOp, randomData, setupGpu } from "./_helpers.ts";
import { conv3dRef, conv3dWeightGradRef, type ConvDims } from "./ref/conv.ts";
import { conv3d, convKernels } from "../src/ops/conv3d.ts";
import { backward, noGrad } from "../src/autograd.ts";
import { gpu } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

type Padding = "same" | "valid";

/** Registers a test for each kernel implementation: the tiled GEMMs and the direct reference kernels. */
function bothKernels(name: string, fn: () => Promise<void>): void {
  for (const impl of ["tiled", "direct"] as const) {
    Deno.test(`${name} (${impl} kernels)`, async () => {
      convKernels.implementation = impl;
      try {
        await fn();
      } finally {
        convKernels.implementation = "tiled";
      }
    });
  }
}

/** Forward and every gradient of one convolution against the float64 reference. */
async function check(
  n: number,
  cin: number,
  cout: number,
  [d, h, w]: number[],
  k: number,
  padding: Padding,
  bias: boolean,
  samples = 300,
) {
  const dims: ConvDims = { n, cin, cout, d, h, w, k, pad: padding === "same" ? (k - 1) / 2 : 0 };
  const seed = n + 3 * cin + 7 * cout + d + h + w + k;
  const inputs = [
    { data: randomData(n * cin * d * h * w, seed), shape: [n, cin, d, h, w] },
    { data: randomData(cout * cin * k ** 3, seed + 1), shape: [cout, cin, k, k, k] },
  ];
  if (bias) inputs.push({ data: randomData(cout, seed + 2), shape: [cout] });
  const name = `conv3d ${convKernels.implementation} k${k} ${padding} ${
    bias ? "bias" : "nobias"
  } [${n},${cin},${d},${h},${w}]->${cout}`;
  await checkOp(
    name,
    inputs,
    ([x, wt, b]) => conv3d(x, wt, b ?? null, { padding }),
    ([x, wt, b]) => conv3dRef(x, wt, b ?? null, dims),
    { samples },
  );
}

bothKernels("conv3d k=3 same: forward and gradients", async () => {
  await check(1, 1, 3, [5, 6, 7], 3, "same", true);
  await check(2, 3, 2, [4, 3, 9], 3, "same", false);
});

bothKernels("conv3d k=3 valid: forward and gradients", async () => {
  await check(2, 3, 5, [5, 6, 7], 3, "valid", true);
  await check(1, 2, 1, [4, 3, 9], 3, "valid", false);
});

bothKernels("conv3d k=1: forward and gradients", async () => {
  await check(2, 3, 2, [4, 3, 9], 1, "same", true);
  await check(1, 5, 3, [5, 6, 7], 1, "valid", false);
});

bothKernels("conv3d with 512 input channels, then 512 output channels (long channel loops)", async () => {
  await check(1, 512, 2, [2, 3, 3], 3, "same", true, 60);
  await check(1, 2, 512, [3, 2, 3], 3, "same", false, 60);
});

bothKernels("conv3d weight and bias gradients over 72160 voxels (the reduction is split)", async () => {
  const [d, h, w] = [44, 40, 41];
  const dims: ConvDims = { n: 1, cin: 1, cout: 1, d, h, w, k: 3, pad: 1 };
  const xd = randomData(d * h * w, 11), gyd = randomData(d * h * w, 12);
  const x = Tensor.from(xd, [1, 1, d, h, w]);
  const wt = Tensor.from(randomData(27, 13), [1, 1, 3, 3, 3], { requiresGrad: true });
  const b = Tensor.from([0.5], [1], { requiresGrad: true });
  const gy = Tensor.from(gyd, [1, 1, d, h, w]);
  const y = conv3d(x, wt, b, { padding: "same" });
  backward(y, gy);
  const ew = assertClose(await wt.grad!.read(), conv3dWeightGradRef(xd, gyd, dims), 1e-4, "weight gradient");
  const eb = assertClose(await b.grad!.read(), [gyd.reduce((a, v) => a + v, 0)], 1e-4, "bias gradient");
  console.log(
    `error conv3d ${convKernels.implementation} weight/bias grad 72160 voxels: ${ew.toExponential(1)}, ${
      eb.toExponential(1)
    }`,
  );
  for (const t of [x, wt, b, gy, y, wt.grad!, b.grad!]) t.dispose();
});

Deno.test("conv3d refuses bad shapes with a message naming them", () => {
  const x = Tensor.zeros([1, 3, 4, 5, 6]);
  const cases: [Tensor, Tensor, Tensor | null, Padding, RegExp][] = [
    [Tensor.zeros([3, 4, 5, 6]), Tensor.zeros([2, 3, 3, 3, 3]), null, "same", /rank-5.*\[3,4,5,6\]/],
    [x, Tensor.zeros([2, 2, 3, 3, 3]), null, "same", /\[2,2,3,3,3\] expect 2 input channels.*\[1,3,4,5,6\]/],
    [x, Tensor.zeros([2, 3, 2, 2, 2]), null, "same", /\[2,3,2,2,2\].*1x1x1 or 3x3x3/],
    [x, Tensor.zeros([2, 3, 3, 3, 1]), null, "same", /1x1x1 or 3x3x3/],
    [Tensor.zeros([1, 3, 2, 5, 6]), Tensor.zeros([2, 3, 3, 3, 3]), null, "valid", /\[1,3,2,5,6\].*smaller/],
    [x, Tensor.zeros([2, 3, 3, 3, 3]), Tensor.zeros([3]), "same", /bias \[3\] should be \[2\]/],
  ];
  for (const [xi, w, b, padding, message] of cases) {
    assert.throws(
      () => conv3d(xi, w, b, { padding }),
      (e) => e instanceof ShapeError && message.test(e.message),
    );
  }
  for (const [xi, w, b] of cases) for (const t of [xi, w, b]) t?.dispose();
});

Deno.test({
  name: "conv3d uses the f16 forward for inference only, never while recording gradients",
  ignore: !gpu().hasF16,
  fn: async () => {
    const s: ConvDims = { n: 1, cin: 5, cout: 6, d: 6, h: 7, w: 9, k: 3, pad: 1 };
    const xd = randomData(s.n * s.cin * s.d * s.h * s.w, 71);
    const wd = randomData(s.cout * s.cin * 27, 72);
    const bd = randomData(s.cout, 73);
    const x = Tensor.from(xd, [s.n, s.cin, s.d, s.h, s.w]);
    const w = Tensor.from(wd, [s.cout, s.cin, 3, 3, 3]);
    const b = Tensor.from(bd, [s.cout]);
    w.requiresGrad = true;
    const ref = conv3dRef(xd, wd, bd, s);
    convKernels.inference = "f16";
    try {
      const recorded = conv3d(x, w, b);
      const eTrain = assertClose(await recorded.read(), ref, 1e-5, "f16 setting, recording");
      const inferred = noGrad(() => conv3d(x, w, b));
      const eInfer = assertClose(await inferred.read(), ref, 3e-3, "f16 setting, noGrad");
      assert.ok(eInfer > 1e-5, `noGrad forward error ${eInfer}: not the f16 kernel`);
      console.log(
        `error conv3d f16 setting: recording ${eTrain.toExponential(1)}, noGrad ${eInfer.toExponential(1)}`,
      );
      for (const t of [recorded, inferred]) t.dispose();
    } finally {
      convKernels.inference = "f32";
      for (const t of [x, w, b]) t.dispose();
    }
  },
});
