import assert from "node:assert/strict";
import { refMaxPool } from "./ref/pool.ts";
import { checkOp, randomData, setupGpu } from "./_helpers.ts";
import { maxPool3d } from "../src/ops/pool3d.ts";
import { backward } from "../src/autograd.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

Deno.test("maxPool3d forward and gradient on even and odd sizes", async () => {
  // odd sizes drop the last plane (floor rule); those voxels must get a zero gradient
  const cases: [number[], number][] = [[[1, 1, 5, 6, 7], 1], [[2, 3, 4, 7, 9], 2], [[1, 3, 2, 3, 2], 3]];
  for (const [s, seed] of cases) {
    const n = s.reduce((a, b) => a * b, 1);
    await checkOp(
      `maxPool3d ${s.join("x")}`,
      [{ data: randomData(n, seed), shape: s }],
      ([x]) => maxPool3d(x),
      ([x]) => refMaxPool(x, s),
      { eps: 1e-6, samples: 400 },
    );
  }
});

Deno.test("maxPool3d sends a tie's gradient to the first maximum in d, h, w order", async () => {
  // window 0 ties everywhere; window 1 ties between positions 3 and 5 (d, h, w order: 3 first)
  const data = new Float32Array(16);
  data[8 + 3] = 2;
  data[8 + 5] = 2;
  const x = Tensor.from(data, [1, 2, 2, 2, 2], { requiresGrad: true });
  const y = maxPool3d(x);
  assert.deepEqual([...await y.read()], [0, 2]);
  const seed = Tensor.from([5, 7], [1, 2, 1, 1, 1]);
  backward(y, seed);
  const g = [...await x.grad!.read()];
  const want = new Array(16).fill(0);
  want[0] = 5;
  want[8 + 3] = 7;
  assert.deepEqual(g, want);
  for (const t of [x.grad!, x, y, seed]) t.dispose();
});

Deno.test("maxPool3d refuses other ranks and spatial dims below 2", () => {
  const a = Tensor.zeros([1, 1, 4, 1, 4]), b = Tensor.zeros([2, 4, 4, 4]);
  assert.throws(() => maxPool3d(a), (e) => e instanceof ShapeError && /\[1,1,4,1,4\]/.test(e.message));
  assert.throws(() => maxPool3d(b), (e) => e instanceof ShapeError && /\[2,4,4,4\]/.test(e.message));
  a.dispose();
  b.dispose();
});
