import assert from "node:assert/strict";
import { refConcat, refCrop } from "./ref/layout.ts";
import { checkOp, randomData, setupGpu } from "./_helpers.ts";
import { centerCrop, concat } from "../src/ops/layout.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

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
