/**
 * Shared test helpers: GPU set-up with poisoned buffers, seeded random data, error measures, and the
 * gradient check against central finite differences of a float64 reference.
 */
import assert from "node:assert/strict";
import { startGpu } from "../src/io/gpu.ts";
import { Tensor } from "../src/tensor.ts";
import { backward } from "../src/autograd.ts";
import { Rng } from "../src/util/random.ts";

/** Initialises the GPU for tests: every new buffer is filled with NaN before kernels write it. */
export async function setupGpu() {
  const g = await startGpu();
  g.poison = true;
  return g;
}

/** Deterministic uniform floats in [0, 1) from a seed (the project's seeded generator). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** `n` uniform values in [lo, hi), rounded to float32 so GPU and reference see the same inputs. */
export function randomData(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * r());
  return out;
}

/** Normwise relative error: max |a - e| / max |e| (max |a - e| when e is all zero). */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, "length mismatch");
  let num = 0, den = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= num)) num = Number.isNaN(d) ? Infinity : d;
    den = Math.max(den, Math.abs(expected[i]));
  }
  return den > 0 ? num / den : num;
}

/** Asserts relative error under `tol` and returns it. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-4,
  what = "values",
): number {
  const e = relError(actual, expected);
  assert.ok(e < tol, `${what}: relative error ${e.toExponential(2)} >= ${tol}`);
  return e;
}

/** One input of a gradient check: host data and shape. */
export interface CheckInput {
  data: Float64Array;
  shape: number[];
  /** Whether to check its gradient (default true). */
  grad?: boolean;
}

/** Measured errors of a gradient check: forward and one per checked input. */
export interface CheckResult {
  forward: number;
  grads: number[];
}

/**
 * Runs `op` on the GPU and `ref` (float64) on the host: checks the forward output, then back-propagates
 * a random seed and compares each input gradient with central finite differences of
 * `sum(seed * ref(inputs))`, at up to `samples` coordinates per input.
 */
export async function checkOp(
  name: string,
  inputs: CheckInput[],
  op: (xs: Tensor[]) => Tensor,
  ref: (xs: Float64Array[]) => Float64Array,
  opts: { tol?: number; gradTol?: number; samples?: number; eps?: number; seed?: number } = {},
): Promise<CheckResult> {
  const tol = opts.tol ?? 1e-4;
  const gradTol = opts.gradTol ?? 1e-4;
  const tensors = inputs.map((i) => Tensor.from(i.data, i.shape, { requiresGrad: i.grad !== false }));
  const out = op(tensors);
  const expected = ref(inputs.map((i) => i.data));
  const forward = assertClose(await out.read(), expected, tol, `${name} forward`);
  const seedData = randomData(out.size, opts.seed ?? 99);
  const seed = Tensor.from(seedData, out.shape);
  backward(out, seed);
  const grads: number[] = [];
  const r = rng(opts.seed ?? 7);
  for (let k = 0; k < inputs.length; k++) {
    if (inputs[k].grad === false) continue;
    const g = tensors[k].grad;
    assert.ok(g, `${name}: input ${k} got no gradient`);
    const analytic = await g.read();
    const n = inputs[k].data.length;
    const coords = n <= (opts.samples ?? 300)
      ? [...Array(n).keys()]
      : Array.from({ length: opts.samples ?? 300 }, () => Math.floor(r() * n));
    const eps = opts.eps ?? 1e-4;
    const numeric: number[] = [], picked: number[] = [];
    for (const j of coords) {
      const xs = inputs.map((i) => i.data.slice());
      xs[k][j] = inputs[k].data[j] + eps;
      const up = dot(ref(xs), seedData);
      xs[k][j] = inputs[k].data[j] - eps;
      const down = dot(ref(xs), seedData);
      numeric.push((up - down) / (2 * eps));
      picked.push(analytic[j]);
    }
    grads.push(assertClose(picked, numeric, gradTol, `${name} gradient of input ${k}`));
  }
  for (const t of tensors) {
    t.grad?.dispose();
    t.dispose();
  }
  out.dispose();
  seed.dispose();
  // one line per check, collected for the error table in the notes
  console.log(
    `error ${name}: forward ${forward.toExponential(1)}, grads ${grads.map((e) => e.toExponential(1))}`,
  );
  return { forward, grads };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
