/**
 * Fast 3D convolution kernels (shaders/conv3d_gemm.wgsl): tiled implicit GEMMs for the forward pass,
 * the input gradient and the weight gradient of a stride-1 convolution with a 3x3x3 or 1x1x1 kernel.
 * Plain functions on tensors, not recorded on the tape (src/ops/conv3d.ts wraps them with autograd).
 */
import { gpu } from "../gpu/runtime.ts";
import { GpuLimitError, ShapeError } from "../gpu/errors.ts";
import { Tensor } from "../tensor.ts";
import { mergeMoments } from "./reduce.ts";

const SHADER = "conv3d_gemm.wgsl";

/**
 * Tiling of the GEMM kernels: a workgroup computes `bm` rows (channels) x `bn` columns (voxels, or
 * weight columns in the weight gradient); each invocation `qm` x `qn` quads of 4 x 4 results (2 or 4
 * each), so the workgroup has (bm / 4qm) x (bn / 4qn) invocations, with bm / 4qm in {1, 2, 4}.
 */
export interface GemmTiles {
  bm: number;
  bn: number;
  qm: number;
  qn: number;
}

/** Rows of A and B staged per step of the K loop (the shader's BK). */
const BK = 12;

/**
 * The tiling for `rows` result rows and `cols` columns of the `conv` kernel (forward and input gradient)
 * or the `wgrad` kernel on the current adapter.
 *
 * A CPU adapter (lavapipe) runs invocations as SIMD lanes and pays a loop over the lanes for every
 * memory access. There each invocation gets 4 x 4 quads (16 x 16 results: half the loads per
 * multiply-add of 8 x 8, although the accumulators spill to the stack) and the workgroup a single row
 * of invocations (bm = 16, or 8 for at most 8 rows), so that the convolution gathers its input straight
 * into registers instead of staging it; measured faster than taller tiles up to 128 channels. The
 * weight gradient always stages, so there taller tiles (as on GPUs) share the staged input.
 *
 * GPUs get 2 x 2 quads (8 x 8 results in registers) and up to 4 invocation rows (bm up to 32), so that
 * each staged input value serves several of them.
 *
 * Columns: 16 invocations across (64 on a GPU when the channel tile is small), 8 when there are few
 * columns (the weight gradient of a layer with 1 or 2 input channels); not fewer, because each
 * invocation stages 3 bm / (4 * invocations across) weights per K slice and the K loop must stay short.
 */
export function chooseTiles(rows: number, cols: number, kernel: "conv" | "wgrad" = "conv"): GemmTiles {
  const g = gpu();
  const cpu = gemmTiling.blocking === "auto" ? g.isFallback : gemmTiling.blocking === "cpu";
  return pickTiles(rows, cols, kernel, {
    cpu,
    workgroupStorage: g.device.limits.maxComputeWorkgroupStorageSize,
  });
}

/**
 * Which of `chooseTiles`' two blockings the convolutions use: `auto` (the CPU one on a fallback
 * adapter, the GPU one elsewhere), or either one forced, so that tests can run both on one adapter.
 */
export const gemmTiling: { blocking: "auto" | "cpu" | "gpu" } = { blocking: "auto" };

/** What `pickTiles` needs to know of an adapter. */
export interface TilingTarget {
  /** A CPU adapter (the software one): SIMD lanes as invocations. */
  cpu: boolean;
  /** The adapter's maxComputeWorkgroupStorageSize, in bytes. */
  workgroupStorage: number;
}

/** `chooseTiles` for a given kind of adapter (see there); a pure function of its arguments. */
export function pickTiles(
  rows: number,
  cols: number,
  kernel: "conv" | "wgrad",
  target: TilingTarget,
): GemmTiles {
  const { cpu } = target;
  const qm = cpu && rows > 8 ? 4 : 2;
  const qn = cpu && cols > 64 ? 4 : 2;
  let bm = 4 * qm;
  while ((!cpu || kernel === "wgrad") && bm < rows && bm < 16 * qm) bm *= 2;
  let bn = cols <= 64 ? 32 * qn : 64 * qn;
  if (!cpu && bm <= 16 && cols > 64) bn = 256;
  while ((bm + bn) * BK * 4 > target.workgroupStorage && bn > 4 * qn) bn /= 2;
  return { bm, bn, qm, qn };
}

/** Throws unless `t` is a tiling the kernels support on this adapter. */
function checkTiles(op: string, t: GemmTiles): void {
  const tr = t.bm / (4 * t.qm), tc = t.bn / (4 * t.qn);
  const ok = (t.qm === 2 || t.qm === 4) && (t.qn === 2 || t.qn === 4) && [1, 2, 4].includes(tr) &&
    Number.isInteger(tc) && tc >= 1 && tr * tc <= gpu().device.limits.maxComputeInvocationsPerWorkgroup &&
    (t.bm + t.bn) * BK * 4 <= gpu().device.limits.maxComputeWorkgroupStorageSize;
  if (!ok) throw new ShapeError(`${op}: unsupported tiling ${JSON.stringify(t)}`);
}

/** Sizes of one launch of the `conv` kernel: a GEMM of [rows] x [cin * k^3] by the gathered source. */
interface GemmLaunch {
  /** The caller, for errors. */
  op: string;
  k: number;
  src: readonly number[]; // [n, cin, d, h, w]
  rows: number;
  out: readonly number[]; // [n, rows, od, oh, ow]
  pad: number;
  flip: boolean;
  /** Stage and multiply in half precision (sums of 12 products in f16, totals in f32). */
  f16?: boolean;
}

/** Override constants and workgroup size of a tiling. */
function tileConstants(t: GemmTiles, k: number): { constants: Record<string, number>; wg: number } {
  const wg = (t.bm / (4 * t.qm)) * (t.bn / (4 * t.qn));
  return { constants: { BM: t.bm, BN: t.bn, QM: t.qm, QN: t.qn, KS: k }, wg };
}

/** Per-channel statistics of a convolution's output (see `conv3dForwardMoments`). */
export interface ChannelMoments {
  /** Mean of each output channel, bias included: [Cout]. */
  mean: Tensor;
  /** Sum of squared deviations from that mean: [Cout]. */
  m2: Tensor;
}

function launchConv(
  s: GemmLaunch,
  srcBuf: GPUBuffer,
  wBuf: GPUBuffer,
  bBuf: GPUBuffer | null,
  tiles?: GemmTiles,
  withMoments = false,
): { out: Tensor; moments: ChannelMoments | null } {
  const out = Tensor.empty(s.out);
  const [n, , od, oh, ow] = s.out;
  const [, cin, d, h, w] = s.src;
  // voxels are handled in quads of 4 along a row (rows padded to a multiple of 4)
  const qw = Math.ceil(ow / 4);
  const quads = n * od * oh * qw;
  const t = tiles ?? chooseTiles(s.rows, quads * 4);
  checkTiles(s.op, t);
  const mtiles = Math.ceil(s.rows / t.bm);
  const ntiles = Math.ceil(quads / (t.bn / 4));
  const { constants, wg } = tileConstants(t, s.k);
  const parts = ntiles * (t.bn / (4 * t.qn));
  // the moments binding exists either way: without moments, a stand-in that is never written
  const partials = Tensor.empty(withMoments ? [s.rows, parts, 3] : [1]);
  gpu().run({
    shader: SHADER,
    entry: "conv",
    params: [
      cin,
      d,
      h,
      w,
      s.rows,
      od,
      oh,
      ow,
      quads,
      qw,
      s.pad,
      mtiles,
      mtiles * ntiles,
      bBuf ? 1 : 0,
      withMoments ? 1 : 0,
      parts,
    ],
    // without a bias the binding still needs a buffer: the weights stand in, unread
    inputs: [srcBuf, wBuf, bBuf ?? wBuf],
    outputs: [out.buffer, partials.buffer],
    invocations: mtiles * ntiles * wg,
    workgroupSize: wg,
    constants: { ...constants, FLIP: s.flip ? 1 : 0 },
    variant: s.f16 ? "f16" : undefined,
  });
  if (!withMoments) {
    partials.dispose();
    return { out, moments: null };
  }
  // the bias, left out of the partials, shifts each channel's mean
  return { out, moments: mergeMoments(partials, s.rows, parts, bBuf ? { buffer: bBuf, stride: 1 } : null) };
}

function rank5(op: string, what: string, t: { shape: readonly number[] }): void {
  if (t.shape.length !== 5) throw new ShapeError(`${op}: ${what} must have rank 5, got [${t.shape}]`);
}

/** Checks the kernel [cout, cin, k, k, k] (k = 1 or 3) and padding; returns k. */
function kernelSize(op: string, w: Tensor, pad: number): number {
  rank5(op, "weights", w);
  const k = w.shape[2];
  if (!(w.shape[3] === k && w.shape[4] === k && (k === 1 || k === 3))) {
    throw new ShapeError(`${op}: weights [${w.shape}]: the kernel must be 1x1x1 or 3x3x3`);
  }
  if (pad !== 0 && pad !== (k - 1) / 2) {
    throw new ShapeError(`${op}: padding ${pad} must be 0 or ${(k - 1) / 2} for a ${k}x${k}x${k} kernel`);
  }
  return k;
}

/** Output spatial size of a convolution of `shape` (NCDHW) with kernel k and padding pad. */
function outSpatial(op: string, shape: readonly number[], k: number, pad: number): number[] {
  const o = shape.slice(2).map((s) => s + 2 * pad - k + 1);
  if (!o.every((v) => v > 0)) {
    throw new ShapeError(`${op}: input [${shape}] is smaller than the ${k}x${k}x${k} kernel`);
  }
  return o;
}

/** Arithmetic of the forward kernel: `f16` needs an adapter with "shader-f16" (see `conv3dForwardFast`). */
export type ConvPrecision = "f32" | "f16";

/**
 * Forward convolution, stride 1: x [N, Cin, D, H, W], w [Cout, Cin, k, k, k] (k = 1 or 3), bias [Cout]
 * or null, zero padding `pad` (0 or (k-1)/2). Returns [N, Cout, D', H', W'] with D' = D + 2 pad - k + 1.
 * With `precision` "f16" the operands are rounded to half precision and multiplied there, each run of
 * 12 products summed in f16 and the sums in f32 (tensors stay f32): for inference, where about three
 * significant digits suffice.
 */
export function conv3dForwardFast(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  pad: number,
  tiles?: GemmTiles,
  precision: ConvPrecision = "f32",
): Tensor {
  return forward(x, w, b, pad, tiles, precision, false).out;
}

/**
 * `conv3dForwardFast` that also returns the mean and M2 (sum of squared deviations) of every output
 * channel over batch and space, computed in the kernel's epilogue from the results still in registers:
 * what a normalisation that follows needs (batch norm; instance norm when N = 1), without another read
 * of the output. Each invocation's values are merged with Chan et al.'s formula.
 */
export function conv3dForwardMoments(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  pad: number,
  precision: ConvPrecision = "f32",
  tiles?: GemmTiles,
): { y: Tensor; moments: ChannelMoments } {
  const { out, moments } = forward(x, w, b, pad, tiles, precision, true);
  return { y: out, moments: moments! };
}

function forward(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  pad: number,
  tiles: GemmTiles | undefined,
  precision: ConvPrecision,
  withMoments: boolean,
): { out: Tensor; moments: ChannelMoments | null } {
  const op = "conv3dForwardFast";
  rank5(op, "input", x);
  const k = kernelSize(op, w, pad);
  const [n, cin] = x.shape;
  const cout = w.shape[0];
  if (w.shape[1] !== cin) {
    throw new ShapeError(`${op}: weights [${w.shape}] expect ${w.shape[1]} channels, input [${x.shape}]`);
  }
  if (b && (b.shape.length !== 1 || b.shape[0] !== cout)) {
    throw new ShapeError(`${op}: bias [${b.shape}] should be [${cout}] for weights [${w.shape}]`);
  }
  const o = outSpatial(op, x.shape, k, pad);
  const launch = {
    op,
    k,
    src: x.shape,
    rows: cout,
    out: [n, cout, ...o],
    pad,
    flip: false,
    f16: precision === "f16",
  };
  if (k > 1) return launchConv(launch, x.buffer, w.buffer, b?.buffer ?? null, tiles, withMoments);
  // A 1x1x1 forward runs 1.4-2x faster on lavapipe through the input gradient's weight addressing (why
  // is up to LLVM; the 3x3x3 one runs alike both ways): the same GEMM with the weights transposed
  const wt = Tensor.empty([cin, cout]);
  gpu().run({
    shader: SHADER,
    entry: "transpose_matrix",
    params: [cout, cin],
    inputs: [w.buffer],
    outputs: [wt.buffer],
    invocations: w.size,
  });
  const r = launchConv({ ...launch, flip: true }, x.buffer, wt.buffer, b?.buffer ?? null, tiles, withMoments);
  wt.dispose();
  return r;
}

/**
 * Gradient of the forward convolution for its input: gy [N, Cout, D', H', W'], w [Cout, Cin, k, k, k],
 * the input's shape [N, Cin, D, H, W] and the forward padding. A convolution of gy with the flipped,
 * channel-transposed kernel and padding k-1-pad (the same GEMM kernel, reading w in place).
 */
export function conv3dInputGradFast(
  gy: Tensor,
  w: Tensor,
  inputShape: readonly number[],
  pad: number,
  tiles?: GemmTiles,
): Tensor {
  const op = "conv3dInputGradFast";
  rank5(op, "output gradient", gy);
  rank5(op, "input shape", { shape: inputShape });
  const k = kernelSize(op, w, pad);
  const [cout, cin] = w.shape;
  const o = outSpatial(op, inputShape, k, pad);
  const expect = [inputShape[0], cout, ...o];
  if (inputShape[1] !== cin || gy.shape.some((v, i) => v !== expect[i])) {
    throw new ShapeError(
      `${op}: output gradient [${gy.shape}] and weights [${w.shape}] do not match input [${inputShape}]`,
    );
  }
  return launchConv(
    { op, k, src: gy.shape, rows: cin, out: inputShape, pad: k - 1 - pad, flip: true },
    gy.buffer,
    w.buffer,
    null,
    tiles,
  ).out;
}

/** Voxel quads one weight-gradient workgroup sums by default (a multiple of 3: 86 steps of its K loop). */
const CHUNK = 258;
/** Most voxel quads of one chunk (a multiple of 3: 1000 steps of the K loop, about 60 iterations each). */
const MAX_CHUNK = 3000;
/** Most chunks the partial sums may have: `sum_partials` loops this often at most. */
const MAX_CHUNKS = 1024;

/**
 * Gradient of the forward convolution for its weights: x [N, Cin, D, H, W], gy [N, Cout, D', H', W'],
 * kernel size k (1 or 3) and the forward padding. Returns [Cout, Cin, k, k, k]: the sum over batch and
 * output voxels of gy times the shifted input. The voxel sum is split into chunks of about a thousand
 * voxels, one workgroup column each, whose partial sums a second kernel adds up, so that no invocation
 * loops more than a few thousand times whatever the volume.
 */
export function conv3dWeightGradFast(
  x: Tensor,
  gy: Tensor,
  k: number,
  pad: number,
  tiles?: GemmTiles,
): Tensor {
  const op = "conv3dWeightGradFast";
  rank5(op, "input", x);
  rank5(op, "output gradient", gy);
  if (k !== 1 && k !== 3) throw new ShapeError(`${op}: kernel size ${k} must be 1 or 3`);
  if (pad !== 0 && pad !== (k - 1) / 2) {
    throw new ShapeError(`${op}: padding ${pad} must be 0 or ${(k - 1) / 2} for a ${k}x${k}x${k} kernel`);
  }
  const [n, cin, d, h, w] = x.shape;
  const cout = gy.shape[1];
  const o = outSpatial(op, x.shape, k, pad);
  const expect = [n, cout, ...o];
  if (gy.shape.some((v, i) => v !== expect[i])) {
    throw new ShapeError(
      `${op}: output gradient [${gy.shape}] does not match input [${x.shape}] (kernel ${k}, padding ${pad})`,
    );
  }
  const cols = cin * k ** 3;
  const t = tiles ?? chooseTiles(cout, cols, "wgrad");
  checkTiles(op, t);
  // the voxels are reduced in quads of 4 along a row (rows padded to a multiple of 4)
  const qw = Math.ceil(o[2] / 4);
  const quads = n * o[0] * o[1] * qw;
  // the partial sums [chunks, weights] must fit one binding too: fewer, longer chunks where they would not
  const fit = Math.floor(gpu().maxBinding / (4 * cout * cols));
  if (fit < 1) throw new GpuLimitError(`${op}: the gradient of ${cout * cols} weights exceeds one binding`);
  const chunk = Math.max(CHUNK, Math.ceil(quads / Math.min(MAX_CHUNKS, fit) / 3) * 3);
  if (chunk > MAX_CHUNK) {
    // an invocation loops about 20 chunk times: past lavapipe's 65535 iterations it would stop silently
    throw new GpuLimitError(
      `${op}: the gradient of ${cout * cols} weights over ${
        quads * 4
      } voxels needs more partial sums than one binding holds`,
    );
  }
  const chunks = Math.ceil(quads / chunk);
  const mtiles = Math.ceil(cout / t.bm);
  const ntiles = Math.ceil(cols / t.bn);
  const { constants, wg } = tileConstants(t, k);
  const shape = [cout, cin, k, k, k];
  const out = Tensor.empty(shape);
  const partials = chunks > 1 ? Tensor.empty([chunks, out.size]) : out;
  const g = gpu();
  g.run({
    shader: SHADER,
    entry: "wgrad",
    params: [cin, d, h, w, cout, ...o, quads, qw, pad, mtiles, ntiles, chunk, mtiles * ntiles * chunks],
    inputs: [gy.buffer, x.buffer],
    outputs: [partials.buffer],
    invocations: mtiles * ntiles * chunks * wg,
    workgroupSize: wg,
    constants,
  });
  if (partials !== out) {
    g.run({
      shader: SHADER,
      entry: "sum_partials",
      params: [out.size, chunks],
      inputs: [partials.buffer],
      outputs: [out.buffer],
      invocations: out.size,
    });
    partials.dispose();
  }
  return out;
}
