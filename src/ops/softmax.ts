/**
 * Softmax and argmax over the channel dimension (dim 1) of an [N, K, D, H, W] tensor
 * (shaders/softmax_ce.wgsl). One invocation per voxel loops over the K classes.
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";

/** The shader of this op family and of the loss (src/ops/loss.ts). */
export const SOFTMAX_CE_SHADER = "softmax_ce.wgsl";

/** A channel-first tensor seen as [N, K, S]: batch, classes, voxels per channel. */
export interface ChannelView {
  n: number;
  k: number;
  s: number;
}

/** Checks that `x` is an f32 tensor [N, K, ...spatial] with K >= 1 and returns its [N, K, S] view. */
export function channelView(op: string, x: Tensor): ChannelView {
  if (x.dtype !== "f32") throw new ShapeError(`${op}: expected f32 scores, got a ${x.dtype} ${x}`);
  if (x.shape.length < 2 || x.shape[1] < 1) {
    throw new ShapeError(`${op}: expected scores [N, K, D, H, W], got [${x.shape}]`);
  }
  const [n, k] = x.shape;
  return { n, k, s: x.size / Math.max(1, n * k) };
}

/** Runs a per-voxel kernel of the family over the [N, K, S] view `v`. */
function perVoxel(entry: string, v: ChannelView, inputs: Tensor[], out: Tensor): void {
  gpu().run({
    shader: SOFTMAX_CE_SHADER,
    entry,
    params: [v.n * v.s, v.k, v.s],
    inputs: inputs.map((t) => t.buffer),
    outputs: [out.buffer],
    invocations: v.n * v.s,
  });
}

/**
 * Softmax over the channel dimension: `exp(x_k - max) / sum_j exp(x_j - max)` at every voxel
 * (subtracting the max keeps it finite for large scores), with gradient.
 */
export function softmax(x: Tensor): Tensor {
  const v = channelView("softmax", x);
  const out = Tensor.empty(x.shape);
  perVoxel("softmax", v, [x], out);
  return record(out, {
    name: "softmax",
    inputs: [x],
    backward: (g) => {
      const dx = Tensor.empty(x.shape);
      perVoxel("softmax_grad", v, [out, g], dx); // the output is alive until its own backward is done
      return [dx];
    },
  });
}

/**
 * The class of the largest score at every voxel: u32 labels [N, D, H, W] (ties go to the lowest class).
 * Not differentiable; never recorded.
 */
export function argmax(x: Tensor): Tensor {
  const v = channelView("argmax", x);
  const out = Tensor.empty([x.shape[0], ...x.shape.slice(2)], "u32");
  perVoxel("argmax", v, [x], out);
  return out;
}
