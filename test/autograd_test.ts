import assert from "node:assert/strict";
import { assertClose, randomData, setupGpu } from "./_helpers.ts";
import { backward, noGrad } from "../src/autograd.ts";
import { add, mul, relu, scale } from "../src/ops/elementwise.ts";
import { sum } from "../src/ops/reduce.ts";
import { Tensor, tidy } from "../src/tensor.ts";

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
