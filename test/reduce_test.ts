import assert from "node:assert/strict";
import { assertClose, checkOp, randomData, setupGpu } from "./_helpers.ts";
import { groupMoments, groupSum, mean, sum } from "../src/ops/reduce.ts";
import { Tensor } from "../src/tensor.ts";

await setupGpu();

/** float64 reference of groupSum. */
function refGroupSum(
  x: Float64Array,
  outer: number,
  groups: number,
  inner: number,
  mode: string,
  y?: Float64Array,
) {
  const out = new Float64Array(groups);
  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < groups; g++) {
      for (let i = 0; i < inner; i++) {
        const j = (o * groups + g) * inner + i;
        out[g] += mode === "sum" ? x[j] : x[j] * y![j];
      }
    }
  }
  return out;
}

Deno.test("groupSum in both modes over awkward views, including several passes", async () => {
  for (const [outer, groups, inner] of [[1, 1, 7], [3, 5, 13], [2, 3, 5000], [1, 2, 70001]]) {
    const n = outer * groups * inner;
    const xd = randomData(n, outer + inner), yd = randomData(n, 5);
    const x = Tensor.from(xd, [n]), y = Tensor.from(yd, [n]);
    const view = { outer, groups, inner };
    assertClose(await groupSum(x, view).read(), refGroupSum(xd, outer, groups, inner, "sum"), 1e-4, "sum");
    assertClose(
      await groupSum(x, view, "dot", y).read(),
      refGroupSum(xd, outer, groups, inner, "dot", yd),
      1e-4,
      "dot",
    );
  }
});

Deno.test("groupMoments: mean and squared deviations in one read, stable far from zero", async () => {
  // an offset of 1000 with unit spread: E[x^2] - E[x]^2 in float32 would lose every digit
  for (const [outer, groups, inner] of [[1, 1, 7], [3, 5, 13], [2, 3, 5000], [1, 2, 70001]]) {
    const n = outer * groups * inner;
    // rounded to float32 first: the spread is 1e-3 of the values, so rounding them moves M2 by 1e-4;
    // unshifted float32 means near 1000 would cost M2 about 4e-5 (the kernel shifts by an element)
    const xd = Float64Array.from(Float32Array.from(randomData(n, 3 * outer + inner, 999, 1001)));
    const x = Tensor.from(xd, [n]);
    const { mean, m2 } = groupMoments(x, { outer, groups, inner });
    const count = outer * inner;
    const refMean = refGroupSum(xd, outer, groups, inner, "sum").map((s) => s / count);
    const refM2 = new Float64Array(groups);
    for (let o = 0; o < outer; o++) {
      for (let g = 0; g < groups; g++) {
        for (let i = 0; i < inner; i++) refM2[g] += (xd[(o * groups + g) * inner + i] - refMean[g]) ** 2;
      }
    }
    const label = `${outer}x${groups}x${inner}`;
    const em = assertClose(await mean.read(), refMean, 1e-6, `mean ${label}`);
    const eq = assertClose(await m2.read(), refM2, 1e-6, `M2 ${label}`);
    console.log(`error groupMoments ${label}: mean ${em.toExponential(1)}, M2 ${eq.toExponential(1)}`);
    for (const t of [x, mean, m2]) t.dispose();
  }
});

Deno.test("a sum over 300000 elements is exact for integers (no shader loop is cut short)", async () => {
  const n = 300_000;
  const x = Tensor.full([n], 1);
  const s = await groupSum(x, { outer: 1, groups: 1, inner: n }).read();
  assert.equal(s[0], n);
});

Deno.test("sum and mean with gradients", async () => {
  const shape = [2, 1, 3, 4, 5];
  const a = { data: randomData(120, 4), shape };
  await checkOp("sum", [a], ([x]) => sum(x), ([x]) => Float64Array.of(x.reduce((s, v) => s + v, 0)));
  await checkOp(
    "mean",
    [a],
    ([x]) => mean(x),
    ([x]) => Float64Array.of(x.reduce((s, v) => s + v, 0) / x.length),
  );
});
