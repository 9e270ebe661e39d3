import assert from "node:assert/strict";
import { randomData, setupGpu } from "./_helpers.ts";
import { NonFiniteFlag } from "../src/ops/finite.ts";
import { Tensor } from "../src/tensor.ts";

await setupGpu();

Deno.test("the non-finite counter finds NaN and infinities anywhere, ignores every finite value, and sticks", async () => {
  // 3 workgroups of 256 and a ragged end; finite extremes (largest, smallest normal, subnormal, -0)
  const n = 3 * 256 + 37;
  const data = Float32Array.from(randomData(n, 4, -1e3, 1e3));
  data.set([3.4028234663852886e38, -3.4028234663852886e38, 1.17549435e-38, 1e-45, -0], 100);
  const flag = new NonFiniteFlag();
  const clean = Tensor.from(data, [n]);
  flag.check(clean);
  assert.equal(await flag.count(), 0, "a finite tensor was flagged");
  // one bad value in each of: the first element, the middle of a workgroup, the very last element
  const bad = data.slice();
  bad[0] = NaN;
  bad[300] = Infinity;
  bad[n - 1] = -Infinity;
  const t = Tensor.from(bad, [n]);
  flag.check(t);
  flag.check(clean);
  assert.equal(await flag.count(), 3);
  flag.check(t); // counts add up across checks until the flag is disposed
  assert.equal(await flag.count(), 6);
  // a whole tensor of NaN (every invocation of every workgroup at once)
  const all = Tensor.full([n], NaN);
  flag.check(all);
  assert.equal(await flag.count(), 6 + n);
  const labels = Tensor.empty([2], "u32");
  assert.throws(() => flag.check(labels), /expected f32 values/);
  for (const x of [clean, t, all, labels]) x.dispose();
  flag.dispose();
});
