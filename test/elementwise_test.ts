import assert from "node:assert/strict";
import { checkOp, randomData, setupGpu } from "./_helpers.ts";
import { add, leakyRelu, mul, relu, scale } from "../src/ops/elementwise.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();
const shape = [2, 3, 5, 4, 7];
const n = 2 * 3 * 5 * 4 * 7;
const map = (f: (v: number, i: number) => number) => (xs: Float64Array[]) => xs[0].map(f);

Deno.test("add and mul match the reference, with gradients", async () => {
  const a = { data: randomData(n, 1), shape }, b = { data: randomData(n, 2), shape };
  await checkOp("add", [a, b], ([x, y]) => add(x, y), ([x, y]) => x.map((v, i) => v + y[i]));
  await checkOp("mul", [a, b], ([x, y]) => mul(x, y), ([x, y]) => x.map((v, i) => v * y[i]));
});

Deno.test("scale, relu and leaky relu match the reference, with gradients", async () => {
  const a = { data: randomData(n, 3), shape };
  await checkOp("scale", [a], ([x]) => scale(x, -1.5), map((v) => -1.5 * v));
  await checkOp("relu", [a], ([x]) => relu(x), map((v) => Math.max(v, 0)), { eps: 1e-6 });
  await checkOp("leaky_relu", [a], ([x]) => leakyRelu(x, 0.1), map((v) => (v > 0 ? v : 0.1 * v)), {
    eps: 1e-6,
  });
});

Deno.test("a grid of more than 65535 workgroups covers every element once", async () => {
  const big = 65535 * 64 + 1000; // one element per invocation, 64 per workgroup
  const x = Tensor.full([big], 1);
  const y = scale(x, 3);
  const v = await y.read();
  assert.ok(v.every((e) => e === 3), "some element was missed or written wrongly");
  x.dispose();
  y.dispose();
});

Deno.test("shape mismatches are refused with a message naming the shapes", () => {
  const x = Tensor.zeros([2, 3]), y = Tensor.zeros([3, 2]);
  assert.throws(() => add(x, y), (e) => e instanceof ShapeError && /\[2,3\] and \[3,2\]/.test(e.message));
  x.dispose();
  y.dispose();
});
