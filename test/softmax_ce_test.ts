import assert from "node:assert/strict";
import { refCounts, refCrossEntropy, refPaperWeights, refSoftmax } from "./ref/loss.ts";
import { assertClose, checkOp, randomData, rng, setupGpu } from "./_helpers.ts";
import { argmax, softmax } from "../src/ops/softmax.ts";
import { classCounts, paperClassWeights, weightedCrossEntropy } from "../src/ops/loss.ts";
import { noGrad } from "../src/autograd.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

// --- float64 references over [N, K, S] ---

/** Labels 0..k-1 with class `absent` never drawn, and a mask with holes (about 30% ignored). */
function labelsAndMask(count: number, k: number, absent: number, seed: number) {
  const r = rng(seed);
  const labels = new Uint32Array(count), mask = new Uint32Array(count);
  for (let v = 0; v < count; v++) {
    let y = Math.floor(r() * k);
    if (y === absent) y = (y + 1) % k;
    labels[v] = y;
    mask[v] = r() < 0.7 ? 1 : 0;
  }
  return { labels, mask };
}

const u32 = (data: Uint32Array, shape: number[]) => Tensor.from(data, shape, { dtype: "u32" });

Deno.test("softmax over channels, with gradient, on awkward shapes", async () => {
  for (const [n, k, d, h, w] of [[2, 3, 3, 4, 5], [1, 8, 2, 5, 3], [2, 1, 3, 2, 1]]) {
    const shape = [n, k, d, h, w], s = d * h * w;
    await checkOp(
      `softmax ${shape.join("x")}`,
      [{ data: randomData(n * k * s, k + s, -3, 3), shape }],
      ([x]) => softmax(x),
      ([x]) => refSoftmax(x, n, k, s),
    );
  }
});

Deno.test("softmax stays finite for large scores", async () => {
  const x = Tensor.from([1000, 0, -1000, 500], [1, 2, 1, 1, 2]);
  const y = softmax(x);
  assertClose(await y.read(), [1, 0, 0, 1], 1e-6, "softmax of large scores");
  x.dispose();
  y.dispose();
});

Deno.test("argmax takes the lowest class on ties", async () => {
  // [1, 3, 1, 1, 4]: ties between classes 1 and 2 (voxel 0), 0 and 2 (voxel 1), all three (voxel 3)
  const data = [
    [0, 5, 1, 7],
    [3, 2, 1, 7],
    [3, 5, 9, 7],
  ].flat();
  const x = Tensor.from(data, [1, 3, 1, 1, 4]);
  const y = argmax(x);
  assert.deepEqual(y.shape, [1, 1, 1, 4]);
  assert.deepEqual([...await y.readU32()], [1, 0, 2, 0]);
  x.dispose();
  y.dispose();
  // batch 2 against the reference
  const [n, k, s] = [2, 8, 3 * 4 * 5];
  const xd = randomData(n * k * s, 3);
  const t = Tensor.from(xd, [n, k, 3, 4, 5]);
  const a = argmax(t);
  const want: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let v = 0; v < s; v++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (xd[(b * k + c) * s + v] > xd[(b * k + best) * s + v]) best = c;
      want.push(best);
    }
  }
  assert.deepEqual([...await a.readU32()], want);
  t.dispose();
  a.dispose();
});

Deno.test("classCounts and paperClassWeights: awkward shape, holes, an absent class, > 70000 voxels", async () => {
  const k = 8;
  // 2 x 3 x 5 x 7 = 210 voxels, and 2 x 31 x 40 x 29 = 71920 (one unsplit loop would pass 65535)
  for (const spatial of [[2, 3, 5, 7], [2, 31, 40, 29]]) {
    const count = spatial.reduce((a, b) => a * b, 1);
    const { labels, mask } = labelsAndMask(count, k, 5, count);
    const tl = u32(labels, spatial), tm = u32(mask, spatial);
    for (const m of [tm, null]) {
      const expected = refCounts(labels, m ? mask : null, k);
      assert.equal(expected[5], 0);
      const counts = classCounts(tl, m, k);
      assert.deepEqual([...await counts.read()], [...expected], `counts over ${spatial}, mask ${!!m}`);
      const w = paperClassWeights(counts, k);
      assertClose(await w.read(), refPaperWeights(expected), 1e-6, "paper weights");
      counts.dispose();
      w.dispose();
    }
    tl.dispose();
    tm.dispose();
  }
});

Deno.test("paperClassWeights is zero for an empty candidate region; argument errors", async () => {
  const labels = u32(new Uint32Array(30).fill(2), [1, 2, 3, 5]);
  const empty = u32(new Uint32Array(30), [1, 2, 3, 5]);
  const counts = classCounts(labels, empty, 4);
  assert.deepEqual([...await counts.read()], [0, 0, 0, 0]);
  const w = paperClassWeights(counts, 4);
  assert.deepEqual([...await w.read()], [0, 0, 0, 0]);
  assert.throws(() => paperClassWeights(counts, 1), ShapeError);
  assert.throws(() => paperClassWeights(counts, 3), /f32 counts \[3\]/);
  const wrong = u32(new Uint32Array(6), [1, 2, 3]);
  assert.throws(
    () => classCounts(labels, wrong, 4),
    (e) => e instanceof ShapeError && /\[1,2,3\]/.test(e.message),
  );
  for (const t of [labels, empty, counts, w, wrong]) t.dispose();
});

Deno.test("weightedCrossEntropy forward and logits gradient: given, paper and default weights", async () => {
  const k = 8;
  for (const shape of [[2, k, 3, 4, 5], [1, k, 2, 3, 7]]) {
    const [n, , d, h, wd] = shape, s = d * h * wd;
    const spatial = [n, d, h, wd];
    const { labels, mask } = labelsAndMask(n * s, k, 3, s);
    const tl = u32(labels, spatial), tm = u32(mask, spatial);
    const logits = { data: randomData(n * k * s, s, -4, 4), shape };
    const wData = randomData(k, 11, 0.1, 2);
    const tw = Tensor.from(wData, [k]);
    const paper = refPaperWeights(refCounts(labels, mask, k));
    const ones = new Float64Array(k).fill(1);
    const name = `ce ${shape.join("x")}`;
    await checkOp(
      `${name} weights`,
      [logits],
      ([z]) => weightedCrossEntropy(z, tl, { mask: tm, weights: tw }),
      ([z]) => refCrossEntropy(z, labels, mask, wData, n, k, s),
    );
    await checkOp(
      `${name} paper`,
      [logits],
      ([z]) => weightedCrossEntropy(z, tl, { mask: tm, weights: "paper" }),
      ([z]) => refCrossEntropy(z, labels, mask, paper, n, k, s),
    );
    await checkOp(
      `${name} unweighted, no mask`,
      [logits],
      ([z]) => weightedCrossEntropy(z, tl),
      ([z]) => refCrossEntropy(z, labels, null, ones, n, k, s),
    );
    // without gradients the kernel skips the gradient: same loss
    const z = Tensor.from(logits.data, shape);
    const loss = noGrad(() => weightedCrossEntropy(z, tl, { mask: tm, weights: "paper" }));
    assert.equal(loss.node, null);
    assertClose(
      await loss.read(),
      refCrossEntropy(logits.data, labels, mask, paper, n, k, s),
      1e-4,
      "noGrad",
    );
    for (const t of [tl, tm, tw, z, loss]) t.dispose();
  }
});

Deno.test("weightedCrossEntropy is 0 with zero gradient for an empty mask; bad labels give NaN", async () => {
  const shape = [2, 3, 2, 3, 2], spatial = [2, 2, 3, 2], count = 24;
  const labels = u32(new Uint32Array(count).fill(1), spatial);
  const none = u32(new Uint32Array(count), spatial);
  for (const weights of [undefined, "paper" as const]) {
    const res = await checkOp(
      `ce empty mask ${weights ?? "ones"}`,
      [{ data: randomData(72, 5), shape }],
      ([z]) => weightedCrossEntropy(z, labels, { mask: none, weights }),
      () => Float64Array.of(0),
    );
    assert.equal(res.forward, 0);
    assert.equal(res.grads[0], 0);
  }
  // a label >= K inside the mask shows up as a NaN loss; outside the mask it is ignored
  const bad = new Uint32Array(count).fill(1);
  bad[7] = 255;
  const tb = u32(bad, spatial);
  const z = Tensor.from(randomData(72, 6), shape);
  const l1 = weightedCrossEntropy(z, tb);
  assert.ok(Number.isNaN((await l1.read())[0]), "an out-of-range label should make the loss NaN");
  const holes = new Uint32Array(count).fill(1);
  holes[7] = 0;
  const th = u32(holes, spatial);
  const l2 = weightedCrossEntropy(z, tb, { mask: th });
  assert.ok(Number.isFinite((await l2.read())[0]));
  for (const t of [labels, none, tb, z, l1, th, l2]) t.dispose();
});

Deno.test("weightedCrossEntropy refuses mismatched shapes and dtypes", () => {
  const z = Tensor.zeros([2, 3, 2, 3, 4]);
  const labels = u32(new Uint32Array(24), [2, 3, 2, 2]);
  const f32Labels = Tensor.zeros([2, 2, 3, 4]);
  assert.throws(
    () => weightedCrossEntropy(z, labels),
    (e) => e instanceof ShapeError && /\[2,3,2,2\]/.test(e.message) && /\[2,3,2,3,4\]/.test(e.message),
  );
  assert.throws(() => weightedCrossEntropy(z, f32Labels), /labels must be u32/);
  const w = Tensor.zeros([4]);
  const ok = u32(new Uint32Array(48), [2, 2, 3, 4]);
  assert.throws(() => weightedCrossEntropy(z, ok, { weights: w }), /weights must be f32 \[3\]/);
  for (const t of [z, labels, f32Labels, w, ok]) t.dispose();
});
