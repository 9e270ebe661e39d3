/**
 * Grouped reductions (shaders/reduce.wgsl): sums over a tensor viewed as [outer, groups, inner],
 * split across workgroups so that no invocation loops long. Used by normalisation, bias gradients,
 * the loss and the scalar sum/mean ops.
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";

const WG = 256;
const CHUNK = WG * 16;

/** How a group's elements are combined: `x` or `x * y`. */
export type ReduceMode = "sum" | "dot";

/** A view of a tensor's elements as [outer, groups, inner] (row-major). */
export interface GroupView {
  outer: number;
  groups: number;
  inner: number;
}

/** The view that reduces an NC... tensor per channel (over batch and space). */
export function perChannel(shape: readonly number[]): GroupView {
  return { outer: shape[0], groups: shape[1], inner: shape.slice(2).reduce((a, b) => a * b, 1) };
}

/**
 * Sums each group of `x` (mode `dot` multiplies by `y` element-wise first). Returns a new tensor of
 * shape [groups]. Not recorded.
 */
export function groupSum(x: Tensor, view: GroupView, mode: ReduceMode = "sum", y?: Tensor): Tensor {
  const { outer, groups, inner } = view;
  if (outer * groups * inner !== x.size) {
    throw new ShapeError(`groupSum: view ${outer}x${groups}x${inner} does not cover ${x}`);
  }
  if (mode !== "sum" && !y) throw new ShapeError(`groupSum: mode ${mode} needs a second operand`);
  const g = gpu();
  let src = x, o = outer, i = inner, m = mode;
  for (;;) {
    // groups of whole vec4s are read 4 elements at a time (the "vec4" variant counts in vec4s)
    const by4 = i % 4 === 0;
    const iv = by4 ? i / 4 : i;
    const chunks = Math.ceil((o * iv) / CHUNK);
    const out = Tensor.empty([groups * chunks]);
    g.run({
      shader: "reduce.wgsl",
      entry: m,
      params: [o, groups, iv, chunks],
      inputs: [src.buffer, (m === "sum" ? src : y!).buffer],
      outputs: [out.buffer],
      invocations: groups * chunks * WG,
      workgroupSize: WG,
      variant: by4 ? "vec4" : undefined,
    });
    if (src !== x) src.dispose();
    if (chunks === 1) return out;
    // the partials form [1, groups, chunks]: sum them again
    src = out;
    o = 1;
    i = chunks;
    m = "sum";
  }
}

/**
 * Per-group mean and M2, the sum of squared deviations from it, of `x` viewed as [outer, groups,
 * inner], in one read of x: workgroups take chunks, and the chunks' moments are merged with Chan et
 * al.'s pairwise formula (as accurate as two passes). Returns two new tensors of shape [groups].
 * Not recorded.
 */
export function groupMoments(x: Tensor, view: GroupView): { mean: Tensor; m2: Tensor } {
  const { outer, groups, inner } = view;
  if (outer * groups * inner !== x.size) {
    throw new ShapeError(`groupMoments: view ${outer}x${groups}x${inner} does not cover ${x}`);
  }
  const g = gpu();
  const chunks = Math.ceil((outer * inner) / CHUNK);
  const parts = Tensor.empty([groups * chunks * 3]);
  g.run({
    shader: "reduce.wgsl",
    entry: "moments",
    params: [outer, groups, inner, chunks],
    inputs: [x.buffer],
    outputs: [parts.buffer],
    invocations: groups * chunks * WG,
    workgroupSize: WG,
  });
  // the kernel shifted every group by its first element, x[(0 * groups + g) * inner]
  return mergeMoments(parts, groups, chunks, { buffer: x.buffer, stride: inner });
}

/** Most partial moments one `merge_moments` invocation folds (its loop iterations). */
const MERGE_BLOCK = 1024;

/**
 * Per-group mean and M2 from partial moments `parts` [groups][count][3] (count, mean, M2 each), merged
 * with Chan et al.'s formula in passes of at most MERGE_BLOCK partials. `shift[g * stride]`, when given,
 * is added to each group's mean. Takes ownership of `parts`. Returns two new tensors of shape [groups].
 */
export function mergeMoments(
  parts: Tensor,
  groups: number,
  count: number,
  shift: { buffer: GPUBuffer; stride: number } | null,
): { mean: Tensor; m2: Tensor } {
  const mean = Tensor.empty([groups]), m2 = Tensor.empty([groups]);
  let src = parts;
  for (;;) {
    const finish = count <= MERGE_BLOCK;
    const blocks = Math.ceil(count / MERGE_BLOCK);
    const dst = finish ? mean : Tensor.empty([groups, blocks, 3]);
    gpu().run({
      shader: "reduce.wgsl",
      entry: "merge_moments",
      params: [groups, count, MERGE_BLOCK, shift?.stride ?? 0, shift ? 1 : 0, finish ? 1 : 0],
      inputs: [src.buffer, shift?.buffer ?? src.buffer],
      outputs: [dst.buffer, m2.buffer],
      invocations: groups * blocks,
    });
    src.dispose();
    if (finish) return { mean, m2 };
    src = dst;
    count = blocks;
  }
}

/** Sum of all elements, as a tensor of shape [1], with gradient. */
export function sum(x: Tensor): Tensor {
  const out = groupSum(x, { outer: 1, groups: 1, inner: x.size });
  return record(out, {
    name: "sum",
    inputs: [x],
    backward: (g) => [broadcastScalar(g, x.shape, 1)],
  });
}

/** Mean of all elements, as a tensor of shape [1], with gradient. */
export function mean(x: Tensor): Tensor {
  const out = groupSum(x, { outer: 1, groups: 1, inner: x.size });
  const s = Tensor.empty([1]);
  gpu().run({
    shader: "elementwise.wgsl",
    entry: "scale",
    params: [1, 1 / x.size],
    paramTypes: "uf",
    inputs: [out.buffer],
    outputs: [s.buffer],
    invocations: 1,
  });
  out.dispose();
  return record(s, {
    name: "mean",
    inputs: [x],
    backward: (g) => [broadcastScalar(g, x.shape, 1 / x.size)],
  });
}

/** A tensor of `shape` whose every element is `a * g[0]`. */
function broadcastScalar(g: Tensor, shape: readonly number[], a: number): Tensor {
  const out = Tensor.empty(shape);
  gpu().run({
    shader: "elementwise.wgsl",
    entry: "broadcast_scalar",
    params: [out.size, a],
    paramTypes: "uf",
    inputs: [g.buffer],
    outputs: [out.buffer],
    invocations: out.size,
  });
  return out;
}
