import assert from "node:assert/strict";
import { checkOp, randomData, setupGpu } from "./_helpers.ts";
import { centerCrop, concat } from "../src/ops/layout.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** float64 reference: channel concatenation of [N, Ca, S] and [N, Cb, S]. */
function refConcat(a: Float64Array, b: Float64Array, n: number, ca: number, cb: number, s: number) {
  const out = new Float64Array(n * (ca + cb) * s);
  for (let i = 0; i < n; i++) {
    out.set(a.subarray(i * ca * s, (i + 1) * ca * s), i * (ca + cb) * s);
    out.set(b.subarray(i * cb * s, (i + 1) * cb * s), (i * (ca + cb) + ca) * s);
  }
  return out;
}

/** float64 reference: centre crop of [N, C, D, H, W] to [d, h, w]. */
function refCrop(x: Float64Array, shape: number[], to: number[]) {
  const [n, c, d, h, w] = shape;
  const [od, oh, ow] = [0, 1, 2].map((i) => Math.floor((shape[i + 2] - to[i]) / 2));
  const out = new Float64Array(n * c * to[0] * to[1] * to[2]);
  let o = 0;
  for (let q = 0; q < n * c; q++) {
    for (let z = 0; z < to[0]; z++) {
      for (let y = 0; y < to[1]; y++) {
        for (let v = 0; v < to[2]; v++) out[o++] = x[((q * d + z + od) * h + y + oh) * w + v + ow];
      }
    }
  }
  return out;
}

Deno.test("concat forward and gradients for several channel counts and batches", async () => {
  const cases: [number, number, number, number[]][] = [
    [1, 1, 3, [5, 6, 7]],
    [2, 3, 1, [4, 7, 9]],
    [2, 3, 3, [3, 2, 5]],
  ];
  for (const [n, ca, cb, sp] of cases) {
    const s = size(sp);
    const sa = [n, ca, ...sp], sb = [n, cb, ...sp];
    await checkOp(
      `concat ${sa.join("x")} + ${cb}ch`,
      [{ data: randomData(size(sa), ca + 10), shape: sa }, {
        data: randomData(size(sb), cb + 20),
        shape: sb,
      }],
      ([a, b]) => concat(a, b),
      ([a, b]) => refConcat(a, b, n, ca, cb, s),
    );
  }
});

Deno.test("centerCrop forward and gradient (zero padding), odd and even margins", async () => {
  const cases: [number[], [number, number, number]][] = [
    [[1, 1, 5, 6, 7], [3, 3, 4]],
    [[2, 3, 4, 7, 9], [2, 7, 4]],
    [[2, 1, 9, 8, 6], [4, 5, 1]],
  ];
  for (const [s, t] of cases) {
    await checkOp(
      `centerCrop ${s.join("x")} -> ${t.join("x")}`,
      [{ data: randomData(size(s), s[2] * 31), shape: s }],
      ([x]) => centerCrop(x, t),
      ([x]) => refCrop(x, s, t),
    );
  }
});

Deno.test("concat and centerCrop refuse mismatched shapes with a message naming them", () => {
  const a = Tensor.zeros([1, 2, 4, 4, 4]),
    b = Tensor.zeros([1, 2, 4, 4, 5]),
    c = Tensor.zeros([2, 2, 4, 4, 4]);
  assert.throws(
    () => concat(a, b),
    (e) => e instanceof ShapeError && /\[1,2,4,4,4\] and \[1,2,4,4,5\]/.test(e.message),
  );
  assert.throws(() => concat(a, c), ShapeError);
  assert.throws(
    () => centerCrop(a, [5, 4, 4]),
    (e) => e instanceof ShapeError && /\[5,4,4\]/.test(e.message),
  );
  assert.throws(() => centerCrop(a, [0, 4, 4]), ShapeError);
  for (const t of [a, b, c]) t.dispose();
});
