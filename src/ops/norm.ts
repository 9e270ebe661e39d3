/**
 * Batch and instance normalisation (shaders/norm.wgsl) with gradients for the input, the scale gamma
 * and the shift beta, and an optional leaky ReLU fused after them. The statistics come from one read of x
 * (`groupMoments`: chunks merged with Chan et al.'s formula, as accurate as two passes), or from the
 * convolution before (`conv3dWithMoments`); every sum is split across workgroups however many voxels a
 * group holds.
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";
import { clone } from "./elementwise.ts";
import { groupMoments, groupSum, type GroupView, perChannel } from "./reduce.ts";
import { dims5 } from "./layout.ts";

const SHADER = "norm.wgsl";

/** Running statistics of a batch norm layer, one value per channel, updated in place in training. */
export interface RunningStats {
  runningMean: Tensor;
  runningVar: Tensor;
}

/** Options of `batchNorm3d`. */
export interface BatchNormOptions {
  /** Batch statistics (and a running-stat update) when true, running statistics when false. */
  training: boolean;
  /** Weight of the new batch statistics in the running ones (PyTorch's convention); 0.1 by default. */
  momentum?: number;
  /** Added to the variance before the square root; 1e-5 by default. */
  eps?: number;
  /**
   * A leaky ReLU of this slope (0: ReLU) fused after the affine map: the result and gradients of
   * `leakyRelu(norm(x), slope)` with one pass over the tensor fewer each way. Undefined: none.
   */
  negativeSlope?: number;
  /**
   * The per-channel mean and M2 (sum of squared deviations) of x over batch and space, already known
   * (`conv3dWithMoments`): the normalisation uses them instead of reading x for its statistics, and
   * takes ownership of both tensors. Training batch norm, or instance norm with N = 1.
   */
  moments?: { mean: Tensor; m2: Tensor };
}

/** Scalars of a norm.wgsl kernel (see its Params struct). */
interface Scalars {
  inner?: number;
  channels?: number;
  groups?: number;
  a?: number;
  b?: number;
  mode?: number;
}

function run(
  entry: string,
  n: number,
  inputs: Tensor[],
  outputs: Tensor[],
  s: Scalars = {},
  variant?: "vec4",
): void {
  gpu().run({
    shader: SHADER,
    entry,
    params: [n, s.inner ?? 1, s.channels ?? 1, s.groups ?? 1, s.a ?? 0, s.b ?? 0, s.mode ?? 0],
    paramTypes: "uuuuffu",
    inputs: inputs.map((t) => t.buffer),
    outputs: outputs.map((t) => t.buffer),
    invocations: n,
    variant,
  });
}

/**
 * A per-element kernel over the `size` elements of tensors whose planes hold `s.inner` voxels: on
 * vec4s (the shader's "vec4" variant, 4 elements an invocation) when that is a multiple of 4.
 */
function runElements(entry: string, size: number, inputs: Tensor[], outputs: Tensor[], s: Scalars): void {
  if (s.inner! % 4 === 0) run(entry, size / 4, inputs, outputs, s, "vec4");
  else run(entry, size, inputs, outputs, s);
}

/** How a normalisation groups its statistics; the node owns `mean` and `invstd`. */
interface NormSpec {
  name: string;
  /** The statistics groups as a groupSum view of x (the inner extent is one D*H*W plane). */
  view: GroupView;
  /** Elements per statistics group. */
  count: number;
  mean: Tensor;
  invstd: Tensor;
  /** The statistics are constants (batch norm inference): the backward is the affine map only. */
  affineOnly: boolean;
  /** Slope of a leaky ReLU fused after the affine map (0: ReLU), or undefined for none. */
  negativeSlope?: number;
}

/** Checks that gamma and beta are [C] for x's C channels. */
function checkAffine(op: string, x: Tensor, gamma: Tensor, beta: Tensor): void {
  const c = x.shape[1];
  for (const [what, t] of [["gamma", gamma], ["beta", beta]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== c) {
      throw new ShapeError(
        `${op}: ${what} of shape [${t.shape}] does not match the ${c} channels of [${x.shape}]`,
      );
    }
  }
}

/**
 * Per-group mean and 1/sqrt(var + eps) (biased variance) of x, from one read of x (`groupMoments`).
 * Also returns the sums of squared deviations `sq` (the caller disposes it).
 */
function groupStats(
  op: string,
  x: Tensor,
  view: GroupView,
  count: number,
  eps: number,
  known?: { mean: Tensor; m2: Tensor },
) {
  if (known && !(known.mean.size === view.groups && known.m2.size === view.groups)) {
    throw new ShapeError(
      `${op}: ${known.mean.size} channel moments given for ${view.groups} groups of [${x.shape}]`,
    );
  }
  const { mean, m2: sq } = known ?? groupMoments(x, view);
  const invstd = Tensor.empty([view.groups]);
  run("stat_invstd", view.groups, [sq], [invstd], { a: 1 / count, b: eps });
  return { mean, invstd, sq };
}

/** The normalise kernel and the recorded node shared by batch and instance norm. */
function normalize(x: Tensor, gamma: Tensor, beta: Tensor, spec: NormSpec): Tensor {
  const [batch, channels] = x.shape;
  const { view, mean, invstd } = spec;
  const shape = { inner: view.inner, channels, groups: view.groups };
  const out = Tensor.empty(x.shape);
  const slope = spec.negativeSlope;
  const act = slope === undefined ? {} : { b: slope, mode: 2 };
  runElements("norm_apply", x.size, [x, mean, invstd, gamma, beta], [out], { ...shape, ...act });

  // per-group sums of the backward folded to per-channel sums for gamma and beta
  const perChannelSum = (s: Tensor) => {
    if (view.groups === channels) return s;
    const r = groupSum(s, { outer: batch, groups: channels, inner: 1 });
    s.dispose();
    return r;
  };

  return record(out, {
    name: spec.name,
    inputs: [x, gamma, beta],
    backward: (gOut) => {
      const [needX, needGamma, needBeta] = [x, gamma, beta].map((t) => t.requiresGrad);
      const full = needX && !spec.affineOnly; // gx goes through the statistics
      let xhat: Tensor | null = null, s1: Tensor | null = null, s2: Tensor | null = null;
      // with a fused activation, the gradient is first taken back through it (along with xhat)
      let g = gOut;
      if (slope !== undefined) {
        xhat = Tensor.empty(x.shape);
        g = Tensor.empty(x.shape);
        runElements("xhat_act", x.size, [x, mean, invstd, gamma, beta, gOut], [xhat, g], {
          ...shape,
          b: slope,
        });
      }
      if (needGamma || full) {
        if (!xhat) {
          xhat = Tensor.empty(x.shape);
          runElements("xhat", x.size, [x, mean, invstd], [xhat], shape);
        }
        s2 = groupSum(g, view, "dot", xhat);
      }
      if (needBeta || full) s1 = groupSum(g, view);
      let gx: Tensor | null = null;
      if (needX) {
        gx = Tensor.empty(x.shape);
        // unused bindings (affine-only mode) get any valid buffer
        const inputs = [g, xhat ?? invstd, invstd, gamma, s1 ?? invstd, s2 ?? invstd];
        runElements("norm_grad", x.size, inputs, [gx], {
          ...shape,
          a: 1 / spec.count,
          mode: spec.affineOnly ? 1 : 0,
        });
      }
      xhat?.dispose();
      if (g !== gOut) g.dispose();
      const gGamma = needGamma ? perChannelSum(s2!) : null;
      const gBeta = needBeta ? perChannelSum(s1!) : null;
      if (!needGamma) s2?.dispose();
      if (!needBeta) s1?.dispose();
      return [gx, gGamma, gBeta];
    },
    release: () => {
      mean.dispose();
      invstd.dispose();
    },
  });
}

/**
 * Batch normalisation of `x` [N, C, D, H, W]: `y = gamma * (x - mean) / sqrt(var + eps) + beta`
 * per channel, with `gamma` and `beta` of shape [C].
 *
 * Training (`training: true`): mean and biased variance of the batch over (N, D, H, W); the running
 * statistics in `state` are updated in place as `r = (1 - momentum) r + momentum * batch`, with the
 * unbiased variance for `runningVar` (as PyTorch). Needs more than one value per channel. The
 * gradient of x goes through the batch statistics.
 *
 * Inference (`training: false`): normalises with `state`'s running statistics, left unchanged; the
 * gradient of x is the affine map only.
 */
export function batchNorm3d(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  state: RunningStats,
  opts: BatchNormOptions,
): Tensor {
  const [n, c, d, h, w] = dims5("batchNorm3d", x);
  checkAffine("batchNorm3d", x, gamma, beta);
  for (const [what, t] of [["runningMean", state.runningMean], ["runningVar", state.runningVar]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== c) {
      throw new ShapeError(
        `batchNorm3d: ${what} of shape [${t.shape}] does not match the ${c} channels of [${x.shape}]`,
      );
    }
  }
  const { momentum = 0.1, eps = 1e-5 } = opts;
  const view = perChannel(x.shape);
  const count = n * d * h * w;
  const spec = { name: "batchNorm3d", view, count, negativeSlope: opts.negativeSlope };
  if (!opts.training) {
    // the running statistics normalise: moments of x, if given, are not needed
    opts.moments?.mean.dispose();
    opts.moments?.m2.dispose();
    // copies, so that a later training step cannot change what this node's backward sees
    const mean = clone(state.runningMean);
    const invstd = Tensor.empty([c]);
    run("stat_invstd", c, [state.runningVar], [invstd], { a: 1, b: eps });
    return normalize(x, gamma, beta, { ...spec, mean, invstd, affineOnly: true });
  }
  if (count < 2) {
    throw new ShapeError(`batchNorm3d: training needs more than one value per channel, got [${x.shape}]`);
  }
  const { mean, invstd, sq } = groupStats("batchNorm3d", x, view, count, eps, opts.moments);
  run("running_update", c, [mean, sq], [state.runningMean, state.runningVar], {
    a: momentum,
    b: 1 / (count - 1),
  });
  sq.dispose();
  return normalize(x, gamma, beta, { ...spec, mean, invstd, affineOnly: false });
}

/**
 * Instance normalisation of `x` [N, C, D, H, W]: each (n, c) volume is normalised with its own mean
 * and biased variance over (D, H, W), then scaled and shifted per channel by `gamma`, `beta` [C].
 * No running statistics. Gradients for x (through the statistics), gamma and beta. `eps`,
 * `negativeSlope` (a fused leaky ReLU) and `moments` (statistics already known; N = 1) as for
 * `batchNorm3d`.
 */
export function instanceNorm3d(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  opts: Pick<BatchNormOptions, "eps" | "negativeSlope" | "moments"> = {},
): Tensor {
  const [n, c, d, h, w] = dims5("instanceNorm3d", x);
  checkAffine("instanceNorm3d", x, gamma, beta);
  const count = d * h * w;
  const view = { outer: 1, groups: n * c, inner: count };
  const { mean, invstd, sq } = groupStats("instanceNorm3d", x, view, count, opts.eps ?? 1e-5, opts.moments);
  sq.dispose();
  const spec = { name: "instanceNorm3d", view, count, negativeSlope: opts.negativeSlope };
  return normalize(x, gamma, beta, { ...spec, mean, invstd, affineOnly: false });
}
