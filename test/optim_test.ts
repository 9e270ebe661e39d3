import assert from "node:assert/strict";
import { assertClose, randomData, setupGpu } from "./_helpers.ts";
import { Optimizer, SGD } from "../src/optim/sgd.ts";
import { Adam } from "../src/optim/adam.ts";
import { constantLr, cosineWarmup, polyLr, stepDecay } from "../src/optim/schedule.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

const SHAPES = [[3, 5, 7], [13], [2, 1, 3]];
const STEPS = 5;
/** Learning rate of step `t`, changing so that setting `lr` between steps is exercised. */
const lrAt = (t: number) => 0.05 * (1 - t / 10);

/** Gradient of parameter `k` at step `t`; parameter 2 has none at step 1 (it must be skipped). */
function gradData(k: number, t: number): Float64Array | null {
  return k === 2 && t === 1 ? null : randomData(SHAPES[k].reduce((a, b) => a * b), 100 * t + k, -2, 2);
}

/** One float64 update rule over a parameter and its state, PyTorch's formulas. */
type RefRule = (
  p: Float64Array,
  g: Float64Array,
  s: Record<string, Float64Array>,
  lr: number,
  t: number,
) => void;

function refSgd(momentum: number, wd: number, nesterov: boolean): RefRule {
  return (p, grad, s, lr, t) => {
    s.momentum_buffer ??= new Float64Array(p.length);
    const buf = s.momentum_buffer;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i] + wd * p[i];
      buf[i] = t === 1 ? g : momentum * buf[i] + g;
      p[i] -= lr * (momentum === 0 ? g : nesterov ? g + momentum * buf[i] : buf[i]);
    }
  };
}

function refAdam(b1: number, b2: number, eps: number, wd: number, decoupled: boolean): RefRule {
  return (p, grad, s, lr, t) => {
    s.exp_avg ??= new Float64Array(p.length);
    s.exp_avg_sq ??= new Float64Array(p.length);
    const m = s.exp_avg, v = s.exp_avg_sq;
    for (let i = 0; i < p.length; i++) {
      let g = grad[i];
      if (decoupled) p[i] *= 1 - lr * wd;
      else g += wd * p[i];
      m[i] += (g - m[i]) * (1 - b1);
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] -= (lr / (1 - b1 ** t)) * m[i] / denom;
    }
  };
}

/** Sets every parameter's `.grad` for step `t` (after disposing the previous ones). */
function setGrads(opt: Optimizer, t: number): void {
  opt.zeroGrad();
  opt.params.forEach((p, k) => {
    const g = gradData(k, t);
    if (g) p.grad = Tensor.from(g, p.shape);
  });
}

/** Runs STEPS steps on the GPU and in float64; compares parameters and state buffers. */
async function checkOptimizer(name: string, make: (ps: Tensor[]) => Optimizer, rule: RefRule) {
  const init = SHAPES.map((s, k) => randomData(s.reduce((a, b) => a * b), k + 1));
  const params = init.map((d, k) => Tensor.from(d, SHAPES[k], { requiresGrad: true }));
  const refP = init.map((d) => d.slice());
  const refS: Record<string, Float64Array>[] = init.map(() => ({}));
  const refT = init.map(() => 0);
  const opt = make(params);
  for (let t = 0; t < STEPS; t++) {
    opt.lr = lrAt(t);
    setGrads(opt, t);
    opt.step();
    refP.forEach((p, k) => {
      const g = gradData(k, t);
      if (g) rule(p, g, refS[k], lrAt(t), ++refT[k]);
    });
  }
  let worst = 0;
  for (let k = 0; k < params.length; k++) {
    worst = Math.max(worst, assertClose(await params[k].read(), refP[k], 1e-5, `${name} param ${k}`));
  }
  const st = await opt.state();
  assert.equal(st.step, STEPS);
  assert.deepEqual(st.buffers.step.map((a) => a[0]), refT);
  for (const [buf, arrays] of Object.entries(st.buffers)) {
    if (buf === "step") continue;
    arrays.forEach((a, k) => {
      worst = Math.max(worst, assertClose(a, refS[k][buf], 1e-5, `${name} ${buf} ${k}`));
    });
  }
  console.log(`error ${name}: ${STEPS} steps, params and state ${worst.toExponential(1)}`);
  opt.zeroGrad();
  opt.dispose();
  params.forEach((p) => p.dispose());
}

Deno.test("SGD matches PyTorch's update rule: momentum, nesterov, weight decay, plain", async () => {
  await checkOptimizer("sgd momentum", (ps) => new SGD(ps, { lr: 1 }), refSgd(0.9, 0, false));
  await checkOptimizer(
    "sgd nesterov wd",
    (ps) => new SGD(ps, { lr: 1, momentum: 0.8, weightDecay: 0.01, nesterov: true }),
    refSgd(0.8, 0.01, true),
  );
  await checkOptimizer(
    "sgd plain wd",
    (ps) => new SGD(ps, { lr: 1, momentum: 0, weightDecay: 0.1 }),
    refSgd(0, 0.1, false),
  );
  assert.throws(() => new SGD([], { lr: 1, momentum: 0, nesterov: true }), RangeError);
});

Deno.test("Adam and AdamW match PyTorch's update rule with bias correction", async () => {
  await checkOptimizer("adam", (ps) => new Adam(ps, { lr: 1 }), refAdam(0.9, 0.999, 1e-8, 0, false));
  await checkOptimizer(
    "adam l2",
    (ps) => new Adam(ps, { lr: 1, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.05 }),
    refAdam(0.8, 0.99, 1e-6, 0.05, false),
  );
  await checkOptimizer(
    "adamw",
    (ps) => new Adam(ps, { lr: 1, weightDecay: 0.05, decoupled: true }),
    refAdam(0.9, 0.999, 1e-8, 0.05, true),
  );
});

Deno.test("state() and loadState() resume training exactly", async () => {
  for (
    const make of [
      (ps: Tensor[]) => new SGD(ps, { lr: 0.1, nesterov: true }),
      (ps: Tensor[]) => new Adam(ps, { lr: 0.01 }),
    ]
  ) {
    const init = SHAPES.map((s, k) => randomData(s.reduce((a, b) => a * b), k + 7));
    const a = init.map((d, k) => Tensor.from(d, SHAPES[k], { requiresGrad: true }));
    const optA = make(a);
    for (let t = 0; t < 3; t++) {
      setGrads(optA, t);
      optA.step();
    }
    const saved = await optA.state();
    // a fresh optimiser over copies of the parameters, as after loading a checkpoint
    const b: Tensor[] = [];
    for (const p of a) b.push(Tensor.from(await p.read(), p.shape, { requiresGrad: true }));
    const optB = make(b);
    optB.loadState(saved);
    assert.equal(optB.stepCount, 3);
    for (const opt of [optA, optB]) {
      setGrads(opt, 3);
      opt.step();
    }
    for (let k = 0; k < a.length; k++) assert.deepEqual(await b[k].read(), await a[k].read(), `param ${k}`);
    assert.deepEqual(await optB.state(), await optA.state());
    // a state of another optimiser or other shapes is refused
    const wrong = { step: 1, buffers: { step: saved.buffers.step, other: saved.buffers.step } };
    assert.throws(() => optB.loadState(wrong), ShapeError);
    const short = structuredClone(saved);
    Object.values(short.buffers)[0][0] = new Float32Array(2);
    assert.throws(() => optB.loadState(short), ShapeError);
    for (const opt of [optA, optB]) {
      opt.zeroGrad();
      opt.dispose();
      opt.params.forEach((p) => p.dispose());
    }
  }
});

Deno.test("learning-rate schedules", () => {
  assert.equal(constantLr(0.1)(1234), 0.1);
  const step = stepDecay(1, 10, 0.5);
  assert.deepEqual([0, 9, 10, 25].map(step), [1, 1, 0.5, 0.25]);
  const cos = cosineWarmup(1, { warmup: 4, max: 14, minLr: 0.1 });
  assert.deepEqual([0, 1, 3].map(cos), [0.25, 0.5, 1]);
  assert.equal(cos(4), 1);
  assertClose([cos(9)], [0.55], 1e-12);
  assert.equal(cos(14), 0.1);
  assert.equal(cos(100), 0.1);
  const poly = polyLr(0.01, 1000);
  assert.equal(poly(0), 0.01);
  assertClose([poly(500)], [0.01 * 0.5 ** 0.9], 1e-12);
  assert.equal(poly(1000), 0);
  assert.equal(poly(2000), 0);
  assert.throws(() => cosineWarmup(1, { warmup: 5, max: 5 }), RangeError);
});
