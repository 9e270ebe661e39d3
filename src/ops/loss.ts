/**
 * The weighted softmax cross-entropy of Roth et al. (shaders/softmax_ce.wgsl), restricted to a candidate
 * region (mask), with their class weights computed on the GPU from per-class voxel counts. Nothing here
 * reads back to the host, so a training step stays one batch of GPU work.
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { isGradEnabled, record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";
import { groupSum } from "./reduce.ts";
import { channelView, SOFTMAX_CE_SHADER } from "./softmax.ts";

/** Most voxels one counting invocation visits (far below the 65535-iteration cut-off of lavapipe). */
const CHUNK_LEN = 2048;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Checks a u32 labels tensor and an optional u32 mask of the same shape. */
function checkLabels(op: string, labels: Tensor, mask: Tensor | null | undefined): void {
  if (labels.dtype !== "u32") {
    throw new ShapeError(`${op}: labels must be u32, got a ${labels.dtype} ${labels}`);
  }
  if (!mask) return;
  if (mask.dtype !== "u32") throw new ShapeError(`${op}: the mask must be u32, got a ${mask.dtype} ${mask}`);
  if (!sameShape(mask.shape, labels.shape)) {
    throw new ShapeError(`${op}: mask [${mask.shape}] and labels [${labels.shape}] differ`);
  }
}

/**
 * Counts of masked voxels per class (`groups` classes), or of all masked voxels when `anyLabel`
 * (then `groups` is 1): every invocation counts at most CHUNK_LEN voxels into a partial laid out
 * [groups, chunks], and groupSum adds the chunks.
 */
function countMasked(labels: Tensor, mask: Tensor | null, groups: number, anyLabel: boolean): Tensor {
  const n = labels.size;
  const chunks = Math.max(1, Math.ceil(n / CHUNK_LEN));
  const partial = Tensor.empty([groups, chunks]);
  gpu().run({
    shader: SOFTMAX_CE_SHADER,
    entry: "count_partials",
    params: [n, groups, chunks, mask ? 1 : 0, anyLabel ? 1 : 0],
    inputs: [labels.buffer, (mask ?? labels).buffer], // without a mask the binding is never read
    outputs: [partial.buffer],
    invocations: groups * chunks,
  });
  const out = groupSum(partial, { outer: 1, groups, inner: chunks });
  partial.dispose();
  return out;
}

/**
 * Number of voxels of each class 0..K-1 inside the mask (all voxels when `mask` is null), as an f32
 * tensor [K]. `labels` and `mask` are u32 [N, D, H, W]; mask 1 = inside the candidate region, 0 = ignored.
 * Labels >= K are not counted. Counts are exact up to 2^24 voxels per class.
 */
export function classCounts(labels: Tensor, mask: Tensor | null, K: number): Tensor {
  checkLabels("classCounts", labels, mask);
  if (!Number.isInteger(K) || K < 1) throw new ShapeError(`classCounts: K = ${K} is not a class count`);
  return countMasked(labels, mask, K, false);
}

/**
 * The class weights of Roth et al.: `lambda_i = (1 - N_i / N_C) / (K - 1)` with `N_i = counts[i]` and
 * `N_C = sum_i N_i` (the candidate-region size), computed on the GPU into an f32 tensor [K]. The weights
 * sum to 1, and rarer classes weigh more. When `N_C = 0` (an empty region) every weight is 0, so a loss
 * using them is 0. Needs K >= 2.
 */
export function paperClassWeights(counts: Tensor, K: number): Tensor {
  if (!Number.isInteger(K) || K < 2) {
    throw new ShapeError(`paperClassWeights: K = ${K}, but the weights need at least 2 classes`);
  }
  if (counts.dtype !== "f32" || counts.size !== K || counts.shape.length !== 1) {
    throw new ShapeError(`paperClassWeights: expected f32 counts [${K}], got a ${counts.dtype} ${counts}`);
  }
  const w = Tensor.empty([K]);
  gpu().run({
    shader: SOFTMAX_CE_SHADER,
    entry: "paper_weights",
    params: [K],
    inputs: [counts.buffer],
    outputs: [w.buffer],
    invocations: 1,
  });
  return w;
}

/** Options of `weightedCrossEntropy`. */
export interface CrossEntropyOptions {
  /** u32 [N, D, H, W]: 1 = inside the candidate region, 0 = ignored. All voxels count when absent. */
  mask?: Tensor | null;
  /** Per-class weights: an f32 tensor [K], `"paper"` (Roth et al., from the counts in the mask), or all ones. */
  weights?: Tensor | "paper";
}

/**
 * Weighted softmax cross-entropy, a scalar tensor [1] with gradient for `logits`:
 * `loss = -(1 / M) * sum_{v in mask} w[y_v] * log softmax(z_v)[y_v]`, with M the number of voxels in
 * the mask (all voxels without one) and 0 when M = 0. `logits` is f32 [N, K, D, H, W], `labels` u32
 * [N, D, H, W]. Voxels outside the mask are ignored whatever their label (e.g. 255); a label >= K
 * inside the mask makes the loss NaN (detected on the GPU, without a host round trip).
 *
 * The forward pass computes, in the same kernel, the gradient `(softmax - onehot) * w * mask / M`,
 * which the node keeps for its backward (skipped when no gradient will be asked for).
 */
export function weightedCrossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = "weightedCrossEntropy";
  const v = channelView(op, logits);
  const mask = opts.mask ?? null;
  checkLabels(op, labels, mask);
  const spatial = [v.n, ...logits.shape.slice(2)];
  if (!sameShape(labels.shape, spatial)) {
    throw new ShapeError(
      `${op}: labels [${labels.shape}] do not match logits [${logits.shape}] (want [${spatial}])`,
    );
  }
  const given = opts.weights instanceof Tensor ? opts.weights : null;
  if (given && (given.dtype !== "f32" || given.shape.length !== 1 || given.size !== v.k)) {
    throw new ShapeError(`${op}: weights must be f32 [${v.k}], got a ${given.dtype} ${given}`);
  }
  const nvox = v.n * v.s;
  let weights: Tensor;
  if (given) weights = given;
  else if (opts.weights === "paper") {
    const counts = classCounts(labels, mask, v.k);
    weights = paperClassWeights(counts, v.k);
    counts.dispose();
  } else weights = Tensor.full([v.k], 1);
  const m = mask ? countMasked(labels, mask, 1, true) : Tensor.full([1], nvox);
  const needGrad = isGradEnabled() && logits.requiresGrad;
  const term = Tensor.empty([nvox]);
  // without a gradient the kernel never writes the binding, but one must be bound
  const dz = Tensor.empty(needGrad ? logits.shape : [1]);
  gpu().run({
    shader: SOFTMAX_CE_SHADER,
    entry: "ce_forward",
    params: [nvox, v.k, v.s, mask ? 1 : 0],
    inputs: [logits.buffer, labels.buffer, (mask ?? labels).buffer, weights.buffer, m.buffer],
    outputs: [term.buffer, dz.buffer],
    invocations: nvox,
    constants: { GRAD: needGrad ? 1 : 0 },
  });
  const loss = groupSum(term, { outer: 1, groups: 1, inner: nvox });
  term.dispose();
  m.dispose();
  if (weights !== given) weights.dispose();
  return record(loss, {
    name: op,
    inputs: [logits],
    backward: (g) => {
      const dx = Tensor.empty(logits.shape);
      gpu().run({
        shader: SOFTMAX_CE_SHADER,
        entry: "scale_by_scalar",
        params: [dx.size],
        inputs: [dz.buffer, g.buffer],
        outputs: [dx.buffer],
        invocations: dx.size,
      });
      return [dx];
    },
    release: () => dz.dispose(),
  });
}
