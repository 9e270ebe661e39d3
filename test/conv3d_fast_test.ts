/**
 * The fast convolution kernels (src/ops/conv3d_fast.ts) against float64 references, on poisoned
 * outputs: awkward shapes for every function and kernel, both invocation blockings (the CPU one with
 * 4 x 4 quads, the GPU one with 2 x 2), a weight gradient over more voxels than one invocation could
 * loop over, a forward whose K loop is longer than the software driver's cut-off, and shape errors.
 *
 * Tilings are pinned where they can be: every distinct tiling is a pipeline that lavapipe compiles in
 * seconds (the 4 x 4 one in about five), and the test must start cold in under a minute.
 */
import assert from "node:assert/strict";
import { assertClose, randomData, setupGpu } from "./_helpers.ts";
import { conv3dInputGradRef, conv3dRef, conv3dWeightGradRef, type ConvDims, convOut } from "./ref/conv.ts";
import {
  conv3dForwardFast,
  conv3dForwardMoments,
  conv3dInputGradFast,
  conv3dWeightGradFast,
  type GemmTiles,
} from "../src/ops/conv3d_fast.ts";
import { Tensor } from "../src/tensor.ts";
import { gpu } from "../src/gpu/runtime.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

/** Sizes not multiples of any tile, C = 1 and 3, D != H != W, N = 1 and 2. */
const SHAPES: Omit<ConvDims, "k" | "pad">[] = [
  { n: 1, cin: 1, cout: 3, d: 5, h: 6, w: 7 },
  { n: 2, cin: 3, cout: 17, d: 9, h: 4, w: 11 },
  { n: 2, cin: 20, cout: 5, d: 4, h: 5, w: 3 },
];
const KERNELS = [
  { k: 3, pad: 1, name: "k3 same" },
  { k: 3, pad: 0, name: "k3 valid" },
  { k: 1, pad: 0, name: "k1" },
];
/**
 * The CPU blocking (4 x 4 quads, one invocation row: the input goes straight to registers) and a GPU
 * one (2 x 2 quads, two invocation rows sharing a staged input slice); the chooser's other picks are
 * exercised by the last tests.
 */
const TILINGS: { name: string; tiles: GemmTiles }[] = [
  { name: "4x4 quads", tiles: { bm: 16, bn: 256, qm: 4, qn: 4 } },
  { name: "2x2 quads", tiles: { bm: 16, bn: 64, qm: 2, qn: 2 } },
];

/** Random input, weights, bias and output gradient for sizes s, with the float64 host copies. */
function problem(s: ConvDims, seed: number) {
  const [od, oh, ow] = convOut(s);
  const xd = randomData(s.n * s.cin * s.d * s.h * s.w, seed);
  const wd = randomData(s.cout * s.cin * s.k ** 3, seed + 1);
  const bd = randomData(s.cout, seed + 2);
  const gd = randomData(s.n * s.cout * od * oh * ow, seed + 3);
  return {
    xd,
    wd,
    bd,
    gd,
    x: Tensor.from(xd, [s.n, s.cin, s.d, s.h, s.w]),
    w: Tensor.from(wd, [s.cout, s.cin, s.k, s.k, s.k]),
    b: Tensor.from(bd, [s.cout]),
    gy: Tensor.from(gd, [s.n, s.cout, od, oh, ow]),
  };
}

type Problem = ReturnType<typeof problem>;

/** Runs `gpuOp` and `ref` on every shape, kernel and tiling; prints the largest error per group. */
async function sweep(
  name: string,
  gpuOp: (p: Problem, s: ConvDims, tiles: GemmTiles) => Tensor,
  ref: (p: Problem, s: ConvDims) => Float64Array,
  tolerance = 1e-4,
): Promise<number> {
  let overall = 0;
  let seed = 1;
  for (const { name: tname, tiles } of TILINGS) {
    for (const { k, pad, name: kname } of KERNELS) {
      let worst = 0;
      for (const shape of SHAPES) {
        const s = { ...shape, k, pad };
        const p = problem(s, seed += 4);
        const out = gpuOp(p, s, tiles);
        const label = `${name} ${kname} ${s.n}x${s.cin}->${s.cout} ${s.d}x${s.h}x${s.w} (${tname})`;
        worst = Math.max(worst, assertClose(await out.read(), ref(p, s), tolerance, label));
        for (const t of [p.x, p.w, p.b, p.gy, out]) t.dispose();
      }
      console.log(`error ${name} ${kname} (${tname}, ${SHAPES.length} shapes): ${worst.toExponential(1)}`);
      overall = Math.max(overall, worst);
    }
  }
  return overall;
}

Deno.test("conv3dForwardFast matches the float64 reference", async () => {
  await sweep(
    "conv3dForwardFast",
    (p, s, t) => conv3dForwardFast(p.x, p.w, p.b, s.pad, t),
    (p, s) => conv3dRef(p.xd, p.wd, p.bd, s),
  );
});

Deno.test({
  name: "conv3dForwardFast in half precision stays within 3 significant digits",
  ignore: !gpu().hasF16,
  fn: async () => {
    const worst = await sweep(
      "conv3dForwardFast f16",
      (p, s, t) => conv3dForwardFast(p.x, p.w, p.b, s.pad, t, "f16"),
      (p, s) => conv3dRef(p.xd, p.wd, p.bd, s),
      3e-3,
    );
    // float32 arithmetic would be 100 times closer: the half-precision variant really ran
    assert.ok(worst > 1e-5, `f16 error ${worst} is that of float32`);
  },
});

Deno.test({
  name: "a half-precision forward with K = 54000 sums its slices in f32",
  ignore: !gpu().hasF16,
  fn: async () => {
    // 54000 products summed in f16 would lose about two digits; the kernel adds each slice of 12 into
    // f32 totals, so the error stays that of rounding the operands.
    const s = { n: 1, cin: 2000, cout: 4, d: 3, h: 2, w: 17, k: 3, pad: 1 };
    const p = problem(s, 2001);
    const y = conv3dForwardFast(p.x, p.w, p.b, 1, undefined, "f16");
    const e = assertClose(await y.read(), conv3dRef(p.xd, p.wd, p.bd, s), 3e-3, "f16 forward Cin 2000");
    console.log(`error conv3dForwardFast f16 k3 same 1x2000->4 3x2x17: ${e.toExponential(1)}`);
    for (const t of [p.x, p.w, p.b, p.gy, y]) t.dispose();
  },
});

/** Mean and M2 of each channel of an NC... output over batch and space, in float64. */
function channelMoments(y: Float64Array, n: number, c: number): { mean: Float64Array; m2: Float64Array } {
  const plane = y.length / (n * c);
  const mean = new Float64Array(c), m2 = new Float64Array(c);
  for (let i = 0; i < y.length; i++) mean[Math.floor(i / plane) % c] += y[i] / (n * plane);
  for (let i = 0; i < y.length; i++) {
    m2[Math.floor(i / plane) % c] += (y[i] - mean[Math.floor(i / plane) % c]) ** 2;
  }
  return { mean, m2 };
}

Deno.test("conv3dForwardMoments: the output and its per-channel mean and M2 from the epilogue", async () => {
  let seed = 300;
  for (const { name: tname, tiles } of TILINGS) {
    for (const { k, pad, name: kname } of KERNELS) {
      for (const shape of SHAPES) {
        const s = { ...shape, k, pad };
        const p = problem(s, seed += 4);
        const { y, moments } = conv3dForwardMoments(p.x, p.w, p.b, s.pad, "f32", tiles);
        const ref = conv3dRef(p.xd, p.wd, p.bd, s);
        const label = `moments ${kname} ${s.n}x${s.cin}->${s.cout} ${s.d}x${s.h}x${s.w} (${tname})`;
        assertClose(await y.read(), ref, 1e-4, label);
        const { mean, m2 } = channelMoments(ref, s.n, s.cout);
        assertClose(await moments.mean.read(), mean, 1e-5, `${label} mean`);
        assertClose(await moments.m2.read(), m2, 1e-5, `${label} M2`);
        for (const t of [p.x, p.w, p.b, p.gy, y, moments.mean, moments.m2]) t.dispose();
      }
    }
  }
});

Deno.test("conv3dForwardMoments merges partials in two levels past 1024 per channel", async () => {
  // 1 -> 3 channels over 2 x 40 x 41 x 45 voxels: about 6000 partials a channel with the CPU tiling
  const s = { n: 2, cin: 1, cout: 3, d: 40, h: 41, w: 45, k: 3, pad: 1 };
  const p = problem(s, 400);
  const { y, moments } = conv3dForwardMoments(p.x, p.w, p.b, 1);
  const { mean, m2 } = channelMoments(conv3dRef(p.xd, p.wd, p.bd, s), s.n, s.cout);
  const em = assertClose(await moments.mean.read(), mean, 1e-5, "mean, two levels");
  const eq = assertClose(await moments.m2.read(), m2, 1e-5, "M2, two levels");
  console.log(
    `error conv3dForwardMoments 2x1->3 40x41x45: mean ${em.toExponential(1)}, M2 ${eq.toExponential(1)}`,
  );
  for (const t of [p.x, p.w, p.b, p.gy, y, moments.mean, moments.m2]) t.dispose();
});

Deno.test("conv3dInputGradFast matches the float64 reference", async () => {
  await sweep(
    "conv3dInputGradFast",
    (p, s, t) => conv3dInputGradFast(p.gy, p.w, p.x.shape, s.pad, t),
    (p, s) => conv3dInputGradRef(p.gd, p.wd, s),
  );
});

Deno.test("conv3dWeightGradFast matches the float64 reference", async () => {
  await sweep(
    "conv3dWeightGradFast",
    (p, s, t) => conv3dWeightGradFast(p.x, p.gy, s.k, s.pad, t),
    (p, s) => conv3dWeightGradRef(p.xd, p.gd, s),
  );
});

Deno.test("the weight gradient splits a sum over 70818 voxels across workgroups", async () => {
  // One invocation summing all voxels would loop 70818 times: past the 65535 iterations after which
  // lavapipe silently stops a shader. The kernel sums chunks of ~1000 voxels and adds the chunks up.
  const s = { n: 2, cin: 2, cout: 16, d: 29, h: 33, w: 37, k: 3, pad: 1 };
  const p = problem(s, 1000);
  const gw = conv3dWeightGradFast(p.x, p.gy, 3, 1); // the chooser's tiling
  const e = assertClose(
    await gw.read(),
    conv3dWeightGradRef(p.xd, p.gd, s),
    1e-4,
    "weight grad 70818 voxels",
  );
  console.log(`error conv3dWeightGradFast k3 same 2x2->16 29x33x37: ${e.toExponential(1)}`);
  for (const t of [p.x, p.w, p.b, p.gy, gw]) t.dispose();
});

Deno.test("the weight gradient's partial sums stay within one binding when they would not fit", async () => {
  // 48 -> 48 channels over 16^3 voxels: the input and the output gradient (768 KiB each) fit a binding
  // of 800 KiB, the default 4 chunks of partial sums (972 KiB) would not; fewer, longer chunks do
  const s = { n: 1, cin: 48, cout: 48, d: 16, h: 16, w: 16, k: 3, pad: 1 };
  const p = problem(s, 77);
  const g = gpu();
  g.capBinding(800 * 1024);
  try {
    const gw = conv3dWeightGradFast(p.x, p.gy, 3, 1);
    const e = assertClose(await gw.read(), conv3dWeightGradRef(p.xd, p.gd, s), 1e-4, "weight grad, capped");
    console.log(`error conv3dWeightGradFast k3 same 48->48 16^3, binding 800 KiB: ${e.toExponential(1)}`);
    gw.dispose();
    // a gradient whose weights alone exceed the binding is refused by name
    g.capBinding(200 * 1024);
    assert.throws(() => conv3dWeightGradFast(p.x, p.gy, 3, 1), /conv3dWeightGradFast: the gradient of 62208/);
  } finally {
    g.capBinding(null);
  }
  for (const t of [p.x, p.w, p.b, p.gy]) t.dispose();
});

Deno.test("a forward with K = 54000 (Cin = 2000) stays under the driver's loop cut-off", async () => {
  // The K loop runs in slices of 12 with the steps written out: 4500 slices of a few iterations.
  const s = { n: 1, cin: 2000, cout: 4, d: 3, h: 2, w: 17, k: 3, pad: 1 };
  const p = problem(s, 2000);
  const y = conv3dForwardFast(p.x, p.w, p.b, 1); // the chooser's tiling
  const e = assertClose(await y.read(), conv3dRef(p.xd, p.wd, p.bd, s), 1e-4, "forward Cin 2000");
  console.log(`error conv3dForwardFast k3 same 1x2000->4 3x2x17: ${e.toExponential(1)}`);
  for (const t of [p.x, p.w, p.b, p.gy, y]) t.dispose();
});

Deno.test("shape errors are refused with a message naming the shapes", () => {
  const x = Tensor.zeros([1, 3, 4, 5, 6]),
    w = Tensor.zeros([2, 4, 3, 3, 3]),
    w5 = Tensor.zeros([2, 3, 5, 5, 5]);
  const gy = Tensor.zeros([1, 2, 4, 5, 6]);
  const isShape = (re: RegExp) => (e: unknown) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => conv3dForwardFast(x, w, null, 1), isShape(/\[2,4,3,3,3\].*\[1,3,4,5,6\]/));
  assert.throws(() => conv3dForwardFast(x, w5, null, 2), isShape(/1x1x1 or 3x3x3/));
  assert.throws(() => conv3dInputGradFast(gy, w, [1, 3, 4, 5, 6], 1), isShape(/\[1,2,4,5,6\]/));
  assert.throws(() => conv3dWeightGradFast(x, gy, 3, 0), isShape(/\[1,2,4,5,6\].*\[1,3,4,5,6\]/));
  assert.throws(
    () => conv3dForwardFast(x, Tensor.zeros([2, 3, 3, 3, 3]), null, 1, { bm: 24, bn: 64, qm: 2, qn: 2 }),
    isShape(/unsupported tiling/),
  );
  for (const t of [x, w, w5, gy]) t.dispose();
});
