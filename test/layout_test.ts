import assert from "node:assert/strict";
import { refConcat, refCrop } from "./ref/layout.ts";
import { checkOp, randomData, setupGpu } from "./_helpers.ts";
import { centerCrop, concat, concatChannels, sliceBlock } from "../src/ops/layout.ts";
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

Deno.test("concat of several tensors, forward and gradients", async () => {
  const n = 2, sp = [3, 4, 5], s = size(sp), cs = [2, 1, 3];
  await checkOp(
    "concat of 3",
    cs.map((c, i) => ({ data: randomData(n * c * s, 40 + i), shape: [n, c, ...sp] })),
    (xs) => concatChannels(xs),
    ([a, b, c]) => {
      const ab = refConcat(a, b, n, cs[0], cs[1], s);
      return refConcat(ab, c, n, cs[0] + cs[1], cs[2], s);
    },
  );
});

Deno.test("sliceBlock: blocks of weights and vectors, forward and gradients (zero padding)", async () => {
  /** float64 reference: rows [r0, r0 + rn) x cols [c0, c0 + cn) of x seen as [a, b, r]. */
  const ref = (x: Float64Array, [a, b]: number[], [r0, rn]: number[], [c0, cn]: number[]) => {
    const r = x.length / (a * b);
    const out = new Float64Array(rn * cn * r);
    for (let i = 0; i < rn; i++) {
      for (let j = 0; j < cn; j++) {
        for (let k = 0; k < r; k++) out[(i * cn + j) * r + k] = x[((r0 + i) * b + c0 + j) * r + k];
      }
    }
    return out;
  };
  const cases: [number[], [number, number], [number, number] | undefined][] = [
    [[7, 5, 3, 3, 3], [2, 3], [1, 4]], // conv weights [Cout, Cin, k, k, k]: an inner block
    [[6, 4, 2, 2, 2], [0, 6], [3, 1]], // all rows, the last column
    [[5, 9, 1, 1, 1], [4, 1], undefined], // the last row, all columns
    [[11], [3, 5], undefined], // a vector (bias, norm scale)
  ];
  for (const [shape, rows, cols] of cases) {
    const b = shape.length > 1 ? shape[1] : 1;
    const got = await checkOp(
      `sliceBlock [${shape}] rows ${rows} cols ${cols ?? "all"}`,
      [{ data: randomData(size(shape), shape[0] * 7), shape }],
      ([x]) => sliceBlock(x, rows, cols),
      ([x]) => ref(x, [shape[0], b], rows, cols ?? [0, b]),
    );
    assert.equal(got.forward, 0);
  }
  const w = Tensor.zeros([4, 3, 3, 3, 3]);
  assert.equal(sliceBlock(w, [0, 4], [0, 3]), w, "the whole tensor should come back as is");
  assert.throws(() => sliceBlock(w, [2, 3]), (e) => e instanceof ShapeError && /\[2,3\]/.test(e.message));
  assert.throws(() => sliceBlock(w, [0, 1], [3, 1]), ShapeError);
  w.dispose();
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
