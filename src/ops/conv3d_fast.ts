/**
 * Fast 3D convolution kernels (shaders/conv3d_gemm.wgsl): tiled implicit GEMMs for the forward pass,
 * the input gradient and the weight gradient of a stride-1 convolution with a 3x3x3 or 1x1x1 kernel.
 * Plain functions on tensors, not recorded on the tape (src/ops/conv3d.ts wraps them with autograd).
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { Tensor } from "../tensor.ts";

const SHADER = Deno.env.get("CONV_SHADER") ?? "conv3d_gemm.wgsl"; // TEMP

/** Workgroup tile of the GEMM: BM rows (channels, multiple of 16) x BN columns (multiple of 4). */
export interface GemmTiles {
  bm: number;
  bn: number;
}

/** Sizes of one launch of the `conv` kernel: a GEMM of [rows] x [cin * k^3] by the gathered source. */
interface GemmLaunch {
  k: number;
  src: readonly number[]; // [n, cin, d, h, w]
  rows: number;
  out: readonly number[]; // [n, rows, od, oh, ow]
  pad: number;
  flip: boolean;
}

/**
 * The tile for `rows` output channels and `cols` output voxels. Row tiles follow the channel count (a
 * 16-channel layer wastes nothing with BM = 16); the column tile is wide, so that each gathered input
 * value is reused by BM channels and each weight by BN voxels.
 */
export function chooseTiles(rows: number, _cols: number): GemmTiles {
  const bm = rows <= 16 ? 16 : rows <= 32 ? 32 : 64;
  const bn = 256;
  return { bm, bn };
}

function launchConv(
  s: GemmLaunch,
  srcBuf: GPUBuffer,
  wBuf: GPUBuffer,
  bBuf: GPUBuffer | null,
  tiles = chooseTiles(s.rows, s.out[0] * s.out[2] * s.out[3] * s.out[4]),
): Tensor {
  const out = Tensor.empty(s.out);
  const [n, , od, oh, ow] = s.out;
  const [, cin, d, h, w] = s.src;
  const nvox = n * od * oh * ow;
  const mtiles = Math.ceil(s.rows / tiles.bm);
  const ntiles = Math.ceil(nvox / tiles.bn);
  const wg = (tiles.bm * tiles.bn) / 64;
  gpu().run({
    shader: SHADER,
    entry: "conv",
    params: [cin, d, h, w, s.rows, od, oh, ow, nvox, s.pad, mtiles, mtiles * ntiles, bBuf ? 1 : 0],
    // without a bias the binding still needs a buffer: the weights stand in, unread
    inputs: [srcBuf, wBuf, bBuf ?? wBuf],
    outputs: [out.buffer],
    invocations: mtiles * ntiles * wg,
    workgroupSize: wg,
    constants: { BM: tiles.bm, BN: tiles.bn, KS: s.k, FLIP: s.flip ? 1 : 0 },
  });
  return out;
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

/**
 * Forward convolution, stride 1: x [N, Cin, D, H, W], w [Cout, Cin, k, k, k] (k = 1 or 3), bias [Cout]
 * or null, zero padding `pad` (0 or (k-1)/2). Returns [N, Cout, D', H', W'] with D' = D + 2 pad - k + 1.
 */
export function conv3dForwardFast(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  pad: number,
  tiles?: GemmTiles,
): Tensor {
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
  return launchConv(
    { k, src: x.shape, rows: cout, out: [n, cout, ...o], pad, flip: false },
    x.buffer,
    w.buffer,
    b?.buffer ?? null,
    tiles,
  );
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
    { k, src: gy.shape, rows: cin, out: inputShape, pad: k - 1 - pad, flip: true },
    gy.buffer,
    w.buffer,
    null,
    tiles,
  );
}

/** Voxels one weight-gradient workgroup sums by default (slices of 16: 64 steps of its K loop). */
const CHUNK = 1024;
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
  const t = tiles ?? chooseTiles(cout, cols);
  const nvox = n * o[0] * o[1] * o[2];
  const chunk = Math.max(CHUNK, Math.ceil(nvox / MAX_CHUNKS / 16) * 16);
  const chunks = Math.ceil(nvox / chunk);
  const mtiles = Math.ceil(cout / t.bm);
  const ntiles = Math.ceil(cols / t.bn);
  const wg = (t.bm * t.bn) / 64;
  const shape = [cout, cin, k, k, k];
  const out = Tensor.empty(shape);
  const partials = chunks > 1 ? Tensor.empty([chunks, out.size]) : out;
  const g = gpu();
  g.run({
    shader: SHADER,
    entry: "wgrad",
    params: [cin, d, h, w, cout, ...o, nvox, pad, mtiles, ntiles, chunk, mtiles * ntiles * chunks],
    inputs: [gy.buffer, x.buffer],
    outputs: [partials.buffer],
    invocations: mtiles * ntiles * chunks * wg,
    workgroupSize: wg,
    constants: { BM: t.bm, BN: t.bn, KS: k },
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
