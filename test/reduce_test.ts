import assert from "node:assert/strict";
import { assertClose, checkOp, randomData, setupGpu } from "./_helpers.ts";
import { groupSum, mean, sum } from "../src/ops/reduce.ts";
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
        out[g] += mode === "sum" ? x[j] : mode === "dot" ? x[j] * y![j] : (x[j] - y![g]) ** 2;
      }
    }
  }
  return out;
}

Deno.test("groupSum in every mode over awkward views, including several passes", async () => {
  for (const [outer, groups, inner] of [[1, 1, 7], [3, 5, 13], [2, 3, 5000], [1, 2, 70001]]) {
    const n = outer * groups * inner;
    const xd = randomData(n, outer + inner), yd = randomData(n, 5);
    const md = randomData(groups, 9);
    const x = Tensor.from(xd, [n]), y = Tensor.from(yd, [n]), m = Tensor.from(md, [groups]);
    const view = { outer, groups, inner };
    assertClose(await groupSum(x, view).read(), refGroupSum(xd, outer, groups, inner, "sum"), 1e-4, "sum");
    assertClose(
      await groupSum(x, view, "dot", y).read(),
      refGroupSum(xd, outer, groups, inner, "dot", yd),
      1e-4,
      "dot",
    );
    assertClose(
      await groupSum(x, view, "sqdev", m).read(),
      refGroupSum(xd, outer, groups, inner, "sqdev", md),
      1e-4,
      "sqdev",
    );
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
