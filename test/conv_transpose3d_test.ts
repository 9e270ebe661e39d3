import assert from "node:assert/strict";
import { assertClose, checkOp, randomData, setupGpu } from "./_helpers.ts";
import { convTranspose3dRef, convTranspose3dWeightGradRef, type UpDims } from "./ref/conv.ts";
import { convTranspose3d } from "../src/ops/conv_transpose3d.ts";
import { backward } from "../src/autograd.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

/** Forward and every gradient of one transposed convolution against the float64 reference. */
async function check(n: number, cin: number, cout: number, [d, h, w]: number[], bias: boolean) {
  const dims: UpDims = { n, cin, cout, d, h, w };
  const seed = n + 3 * cin + 7 * cout + d + h + w;
  const inputs = [
    { data: randomData(n * cin * d * h * w, seed), shape: [n, cin, d, h, w] },
    { data: randomData(cin * cout * 8, seed + 1), shape: [cin, cout, 2, 2, 2] },
  ];
  if (bias) inputs.push({ data: randomData(cout, seed + 2), shape: [cout] });
  await checkOp(
    `convTranspose3d ${bias ? "bias" : "nobias"} [${n},${cin},${d},${h},${w}]->${cout}`,
    inputs,
    ([x, wt, b]) => convTranspose3d(x, wt, b ?? null),
    ([x, wt, b]) => convTranspose3dRef(x, wt, b ?? null, dims),
  );
}

Deno.test("convTranspose3d: forward and gradients", async () => {
  await check(2, 3, 2, [3, 4, 5], true);
  await check(1, 1, 3, [4, 3, 2], false);
  await check(1, 5, 1, [2, 3, 3], true);
  await check(2, 2, 5, [1, 2, 3], false);
});

Deno.test("convTranspose3d weight and bias gradients over 72160 input voxels (split reduction)", async () => {
  const [d, h, w] = [44, 40, 41];
  const dims: UpDims = { n: 1, cin: 1, cout: 1, d, h, w };
  const xd = randomData(d * h * w, 21), gyd = randomData(8 * d * h * w, 22);
  const x = Tensor.from(xd, [1, 1, d, h, w]);
  const wt = Tensor.from(randomData(8, 23), [1, 1, 2, 2, 2], { requiresGrad: true });
  const b = Tensor.from([0.5], [1], { requiresGrad: true });
  const gy = Tensor.from(gyd, [1, 1, 2 * d, 2 * h, 2 * w]);
  const y = convTranspose3d(x, wt, b);
  backward(y, gy);
  const ew = assertClose(
    await wt.grad!.read(),
    convTranspose3dWeightGradRef(xd, gyd, dims),
    1e-4,
    "weight gradient",
  );
  const eb = assertClose(await b.grad!.read(), [gyd.reduce((a, v) => a + v, 0)], 1e-4, "bias gradient");
  console.log(
    `error convTranspose3d weight/bias grad 72160 voxels: ${ew.toExponential(1)}, ${eb.toExponential(1)}`,
  );
  for (const t of [x, wt, b, gy, y, wt.grad!, b.grad!]) t.dispose();
});

Deno.test("convTranspose3d refuses bad shapes with a message naming them", () => {
  const x = Tensor.zeros([1, 3, 2, 3, 4]);
  const cases: [Tensor, Tensor, Tensor | null, RegExp][] = [
    [Tensor.zeros([3, 2, 3, 4]), Tensor.zeros([3, 2, 2, 2, 2]), null, /rank-5.*\[3,2,3,4\]/],
    [x, Tensor.zeros([2, 3, 2, 2, 2]), null, /\[2,3,2,2,2\] expect 2 input channels.*\[1,3,2,3,4\]/],
    [x, Tensor.zeros([3, 2, 3, 3, 3]), null, /\[3,2,3,3,3\] should be \[Cin, Cout, 2, 2, 2\]/],
    [x, Tensor.zeros([3, 2, 2, 2, 2]), Tensor.zeros([3]), /bias \[3\] should be \[2\]/],
  ];
  for (const [xi, w, b, message] of cases) {
    assert.throws(() => convTranspose3d(xi, w, b), (e) => e instanceof ShapeError && message.test(e.message));
  }
  for (const [xi, w, b] of cases) for (const t of [xi, w, b]) t?.dispose();
});
