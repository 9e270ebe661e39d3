import assert from "node:assert/strict";
import { assertClose, randomData, rng, setupGpu } from "./_helpers.ts";
import { AutogradError, backward, noGrad, record } from "../src/autograd.ts";
import { add, leakyRelu, mul, relu, scale } from "../src/ops/elementwise.ts";
import { sum } from "../src/ops/reduce.ts";
import { conv3d } from "../src/ops/conv3d.ts";
import { convTranspose3d } from "../src/ops/conv_transpose3d.ts";
import { maxPool3d } from "../src/ops/pool3d.ts";
import { weightedCrossEntropy } from "../src/ops/loss.ts";
import { Tensor, tidy } from "../src/tensor.ts";
import { conv3dRef, convTranspose3dRef } from "./ref/conv.ts";
import { refMaxPool } from "./ref/pool.ts";
import { refCrossEntropy } from "./ref/loss.ts";

const g = await setupGpu();
const n = 37;
const xd = randomData(n, 11);

Deno.test("a tensor used several times accumulates its gradient", async () => {
  const x = Tensor.from(xd, [n], { requiresGrad: true });
  // y = sum(x*x + x + x) -> dy/dx = 2x + 2
  const y = sum(add(add(mul(x, x), x), x));
  backward(y);
  assertClose(await x.grad!.read(), xd.map((v) => 2 * v + 2), 1e-6, "grad");
  // add(x, x) hands the same gradient tensor to both inputs
  x.grad!.dispose();
  x.grad = null;
  const z = sum(add(x, x));
  backward(z);
  assertClose(await x.grad!.read(), xd.map(() => 2), 1e-7, "grad of x + x");
});

Deno.test("a second backward adds to the leaf's gradient", async () => {
  const x = Tensor.from(xd, [n], { requiresGrad: true });
  backward(sum(scale(x, 3)));
  backward(sum(scale(x, 3)));
  assertClose(await x.grad!.read(), xd.map(() => 6), 1e-7, "accumulated grad");
});

Deno.test("two leaves receiving the same gradient tensor get separate copies", async () => {
  const a = Tensor.from(xd, [n], { requiresGrad: true });
  const b = Tensor.from(xd, [n], { requiresGrad: true });
  backward(sum(add(a, b)));
  assert.notEqual(a.grad, b.grad);
  assert.ok(!a.grad!.disposed && !b.grad!.disposed);
  assertClose(await b.grad!.read(), xd.map(() => 1), 1e-7, "b.grad");
});

Deno.test("backward frees intermediates and keeps retained ones", () => {
  const x = Tensor.from(xd, [n], { requiresGrad: true });
  const h = relu(x);
  const kept = scale(h, 2).retain();
  const y = sum(mul(kept, h));
  backward(y);
  assert.ok(h.disposed, "intermediate not freed");
  assert.ok(!kept.disposed, "retained tensor freed");
  assert.ok(!x.disposed && !y.disposed, "leaf or root freed");
  assert.equal(y.node, null, "graph not released");
});

Deno.test("noGrad records nothing and backward refuses a constant", () => {
  const x = Tensor.from(xd, [n], { requiresGrad: true });
  const y = noGrad(() => sum(relu(x)));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.node, null);
  assert.throws(() => backward(y), /does not require gradients/);
});

Deno.test("tidy disposes what it does not return, and repeated steps reuse pooled buffers", async () => {
  const x = Tensor.from(xd, [n], { requiresGrad: true });
  let inner: Tensor | null = null;
  const out = tidy(() => {
    inner = relu(x);
    return scale(inner, 2);
  });
  assert.ok(inner!.disposed && !out.disposed);
  const step = () =>
    tidy(() => {
      backward(sum(mul(relu(x), x)));
      x.grad!.dispose();
      x.grad = null;
    });
  step();
  await g.sync();
  const before = g.pool.liveBytes;
  for (let i = 0; i < 5; i++) step();
  await g.sync();
  assert.equal(g.pool.liveBytes, before, "a step allocated new buffers instead of reusing the pool");
});

/** Disposes tensors and their gradients. */
function free(...ts: Tensor[]): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.dispose();
  }
}

Deno.test("a backward through a graph that an earlier backward freed throws naming the op, and leaks nothing", async () => {
  const before = g.pool.inUseBytes;
  // the example of the report: t is shared by two losses, and the first backward frees its node
  const x = Tensor.from([1, 2, 3], [3], { requiresGrad: true });
  const t = tidy(() => {
    const t = scale(x, 2).retain();
    const l1 = sum(t), l2 = sum(scale(t, 3));
    backward(l1);
    assert.throws(
      () => backward(l2),
      (e) => e instanceof AutogradError && /second time: the scale that made Tensor\[3\]/.test(e.message),
    );
    // the same root twice, and an intermediate that the first backward disposed
    assert.throws(() => backward(l1), /second time: the sum that made/);
    const h = relu(x);
    const m1 = sum(h), m2 = sum(scale(h, 3));
    backward(m1);
    assert.ok(h.disposed);
    assert.throws(() => backward(m2), /second time: the leaky_relu that made/);
    return t;
  });
  assert.deepEqual([...await x.grad!.read()], [3, 3, 3], "a failed backward changed x.grad");
  assert.equal(t.grad, null, "the shared intermediate got a gradient as if it were a leaf");
  free(x, t);
  assert.equal(g.pool.inUseBytes, before, "gradient buffers leaked");
});

Deno.test("several roots in one backward, or retainGraph, give the gradient of the sum", async () => {
  const before = g.pool.inUseBytes;
  const graph = () => {
    const x = Tensor.from([1, 2, 3], [3], { requiresGrad: true });
    const t = scale(x, 2).retain();
    return { x, t, l1: sum(t), l2: sum(scale(t, 3)) };
  };
  const a = graph();
  backward([a.l1, a.l2]);
  assert.deepEqual([...await a.x.grad!.read()], [8, 8, 8]);
  assert.equal(a.t.grad, null);
  const b = graph();
  backward(b.l1, { retainGraph: true });
  backward(b.l1, { retainGraph: true }); // twice through the kept graph: accumulates
  backward(b.l2); // frees it
  assert.deepEqual([...await b.x.grad!.read()], [10, 10, 10]);
  assert.throws(() => backward(b.l1), AutogradError);
  // a root that is also an intermediate of another root, with seeds
  const c = graph();
  const s1 = Tensor.from([2, 3, 4], [3]), s2 = Tensor.from([5], [1]);
  backward([c.t, c.l2], { seed: [s1, s2] });
  // d/dx of sum(s1 * t) + 5 * sum(3t), t = 2x: 2 s1 + 30
  assert.deepEqual([...await c.x.grad!.read()], [34, 36, 38]);
  assert.ok(!s1.disposed && !s2.disposed, "the caller's seeds were disposed");
  assert.throws(() => backward([c.x], { seed: [s2] }), /seed \[1\] does not match its root \[3\]/);
  for (const v of [a, b, c]) free(v.x, v.t, v.l1, v.l2);
  free(s1, s2);
  assert.equal(g.pool.inUseBytes, before, "gradient or graph buffers leaked");
});

Deno.test("a backward that throws part way frees the gradients it held and assigns none", () => {
  const before = g.pool.inUseBytes;
  const x = Tensor.from(xd, [n], { requiresGrad: true });
  const y = Tensor.from(xd, [n], { requiresGrad: true });
  const h = relu(x);
  // an op whose backward fails, reached after other gradients exist (mul's, the sum's seed)
  const bad = record(Tensor.zeros([n]), {
    name: "failing_op",
    inputs: [h],
    backward: () => {
      throw new Error("failing_op: backward failed");
    },
  });
  const loss = sum(add(mul(bad, y), y));
  assert.throws(() => backward(loss), /failing_op: backward failed/);
  assert.equal(x.grad, null);
  assert.equal(y.grad, null);
  free(x, y, h, bad, loss);
  assert.equal(g.pool.inUseBytes, before, "gradient buffers leaked");
});

Deno.test("deep supervision: losses at two depths, one backward, against finite differences", async () => {
  // a two-level network with a head at each depth (as nnU-Net supervises its decoder outputs), the
  // lower loss weighted by half; labels random
  const k = 3, c = 2, d = 6;
  const r = rng(5);
  const shapes: Record<string, number[]> = {
    w1: [c, 1, 3, 3, 3],
    w2: [c, c, 3, 3, 3],
    wu: [c, c, 2, 2, 2],
    h0: [k, c, 1, 1, 1],
    h1: [k, c, 1, 1, 1],
  };
  const names = Object.keys(shapes);
  const data = names.map((nm, i) => randomData(shapes[nm].reduce((a, b) => a * b), 20 + i, -0.6, 0.6));
  const xd = randomData(d ** 3, 31);
  const lab0 = Uint32Array.from({ length: d ** 3 }, () => Math.floor(r() * k));
  const lab1 = Uint32Array.from({ length: (d / 2) ** 3 }, () => Math.floor(r() * k));
  const lrelu = (v: Float64Array) => v.map((u) => (u > 0 ? u : 0.1 * u));
  const conv = (cin: number, cout: number, s: number, kk: number) => ({
    n: 1,
    cin,
    cout,
    d: s,
    h: s,
    w: s,
    k: kk,
    pad: (kk - 1) / 2,
  });
  const ref = ([w1, w2, wu, h0, h1]: Float64Array[]) => {
    const h = lrelu(conv3dRef(xd, w1, null, conv(1, c, d, 3)));
    const p = refMaxPool(h, [1, c, d, d, d]);
    const q = lrelu(conv3dRef(p, w2, null, conv(c, c, d / 2, 3)));
    const u = convTranspose3dRef(q, wu, null, { n: 1, cin: c, cout: c, d: d / 2, h: d / 2, w: d / 2 });
    const o0 = conv3dRef(u.map((v, i) => v + h[i]), h0, null, conv(c, k, d, 1));
    const o1 = conv3dRef(q, h1, null, conv(c, k, d / 2, 1));
    const ones = new Float64Array(k).fill(1);
    return refCrossEntropy(o0, lab0, null, ones, 1, k, d ** 3)[0] +
      0.5 * refCrossEntropy(o1, lab1, null, ones, 1, k, (d / 2) ** 3)[0];
  };
  const params = names.map((nm, i) => Tensor.from(data[i], shapes[nm], { requiresGrad: true }));
  const [w1, w2, wu, h0, h1] = params;
  const x = Tensor.from(xd, [1, 1, d, d, d]);
  const l0 = Tensor.from(lab0, [1, d, d, d], { dtype: "u32" });
  const l1 = Tensor.from(lab1, [1, d / 2, d / 2, d / 2], { dtype: "u32" });
  const run = (join: boolean) =>
    tidy(() => {
      const h = leakyRelu(conv3d(x, w1, null), 0.1);
      const q = leakyRelu(conv3d(maxPool3d(h), w2, null), 0.1);
      const o0 = conv3d(add(convTranspose3d(q, wu, null), h), h0, null);
      const o1 = conv3d(q, h1, null);
      const losses = [weightedCrossEntropy(o0, l0), scale(weightedCrossEntropy(o1, l1), 0.5)];
      if (join) backward(add(losses[0], losses[1]));
      else backward(losses);
    });
  run(false);
  const grads = await Promise.all(params.map((p) => p.grad!.read()));
  for (const p of params) {
    p.grad!.dispose();
    p.grad = null;
  }
  run(true);
  const eps = 1e-4;
  for (let i = 0; i < params.length; i++) {
    // the same as one backward of the summed loss
    assertClose(grads[i], await params[i].grad!.read(), 1e-5, `${names[i]}: roots vs summed loss`);
    const coords = [...Array(Math.min(40, data[i].length)).keys()].map((j) =>
      Math.floor((j * data[i].length) / Math.min(40, data[i].length))
    );
    const numeric = coords.map((j) => {
      const xs = data.map((v) => v.slice());
      xs[i][j] += eps;
      const up = ref(xs);
      xs[i][j] -= 2 * eps;
      return (up - ref(xs)) / (2 * eps);
    });
    assertClose(coords.map((j) => grads[i][j]), numeric, 2e-3, `${names[i]} against finite differences`);
  }
  free(...params, x, l0, l1);
});
