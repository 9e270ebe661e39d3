/**
 * 3D convolution, stride 1, kernel 3x3x3 or 1x1x1, "same" or "valid" padding (shaders/conv3d.wgsl),
 * with gradients for input, weights and bias; plus the helpers that the transposed convolution shares
 * (shape checks, the split weight-gradient reduction, the bias gradient).
 */
import { gpu } from "../gpu/runtime.ts";
import { GpuError, ShapeError } from "../gpu/errors.ts";
import { isGradEnabled, record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";
import { groupSum, perChannel } from "./reduce.ts";
import {
  type ChannelMoments,
  conv3dForwardFast,
  conv3dForwardMoments,
  conv3dInputGradFast,
  conv3dWeightGradFast,
  type ConvPrecision,
} from "./conv3d_fast.ts";

const SHADER = "conv3d.wgsl";

/** Output voxels one weight-gradient invocation sums (whole rows, so slightly more for long rows). */
const CHUNK_VOXELS = 1024;

/**
 * Which kernels `conv3d` runs: `tiled` (shaders/conv3d_gemm.wgsl, tiled implicit GEMMs, the default)
 * or `direct` (shaders/conv3d.wgsl, one output per invocation: the plain reference the tiled ones
 * are tested against). `inference` is the arithmetic of the tiled forward pass when nothing is being
 * recorded for gradients (`noGrad`): `f16` needs an adapter with "shader-f16" (see
 * `inferencePrecision`); training always runs in f32. Settings, not per-call options, so a whole
 * network switches at once.
 */
export const convKernels: { implementation: "tiled" | "direct"; inference: ConvPrecision } = {
  implementation: "tiled",
  inference: "f32",
};

/**
 * The inference arithmetic for a `--precision` choice: `auto` is f16 on a hardware adapter with
 * "shader-f16" and f32 elsewhere (on the software adapter the f16 kernel is slower: bench/RESULTS.md).
 * Throws when f16 is asked of an adapter without it.
 */
export function inferencePrecision(choice: "auto" | ConvPrecision): ConvPrecision {
  const g = gpu();
  if (choice === "f16" && !g.hasF16) {
    throw new GpuError(`this adapter (${g.adapterName}) has no shader-f16: use --precision f32`);
  }
  if (choice === "auto") return g.hasF16 && !g.isFallback ? "f16" : "f32";
  return choice;
}

/** Options of `conv3d`. */
export interface Conv3dOptions {
  /** `same`: zero padding (k-1)/2, output size = input size; `valid`: no padding, size - k + 1. */
  padding: "same" | "valid";
}

/** Throws a ShapeError unless `t` is a rank-5 f32 tensor. */
export function checkRank5(op: string, what: string, t: Tensor): void {
  if (t.shape.length !== 5 || t.dtype !== "f32") {
    throw new ShapeError(`${op}: ${what} must be a rank-5 f32 tensor, got [${t.shape}] (${t.dtype})`);
  }
}

/** Throws a ShapeError unless the bias is null or of shape [cout]. */
export function checkBias(op: string, b: Tensor | null, cout: number): void {
  if (b && (b.shape.length !== 1 || b.shape[0] !== cout || b.dtype !== "f32")) {
    throw new ShapeError(`${op}: bias [${b.shape}] should be [${cout}] to match the weights`);
  }
}

/** How the weight gradient splits `rows` rows of `rowLength` voxels into chunks of whole rows. */
export function rowChunks(rows: number, rowLength: number): { rowsPerChunk: number; chunks: number } {
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_VOXELS / rowLength));
  return { rowsPerChunk, chunks: Math.ceil(rows / rowsPerChunk) };
}

/**
 * Runs a weight-gradient kernel that writes partial sums laid out [weights, chunks] and returns their
 * sums as a tensor of `shape` (a single chunk is the gradient itself).
 */
export function reducePartials(
  shape: readonly number[],
  chunks: number,
  launch: (partials: Tensor) => void,
): Tensor {
  const weights = shape.reduce((a, b) => a * b, 1);
  if (chunks === 1) {
    const out = Tensor.empty(shape);
    launch(out);
    return out;
  }
  const partials = Tensor.empty([weights, chunks]);
  launch(partials);
  const sums = groupSum(partials, { outer: 1, groups: weights, inner: chunks });
  partials.dispose();
  const out = Tensor.empty(shape);
  gpu().copy(sums.buffer, out.buffer, weights * 4);
  sums.dispose();
  return out;
}

/** Gradient of a per-channel bias: the output gradient summed over batch and space. */
export function biasGrad(g: Tensor): Tensor {
  return groupSum(g, perChannel(g.shape));
}

/** Checked sizes of a convolution: input, kernel, padding and output. */
interface ConvShape {
  n: number;
  cin: number;
  cout: number;
  k: number;
  pad: number;
  d: number;
  h: number;
  w: number;
  od: number;
  oh: number;
  ow: number;
}

function convShape(x: Tensor, w: Tensor, b: Tensor | null, padding: string): ConvShape {
  const op = "conv3d";
  checkRank5(op, "input", x);
  checkRank5(op, "weights", w);
  const [n, cin, d, h, wd] = x.shape;
  const [cout, wcin, k, k2, k3] = w.shape;
  if (wcin !== cin) {
    throw new ShapeError(
      `${op}: weights [${w.shape}] expect ${wcin} input channels, input [${x.shape}] has ${cin}`,
    );
  }
  if (!(k === k2 && k === k3 && (k === 1 || k === 3))) {
    throw new ShapeError(`${op}: weights [${w.shape}]: the kernel must be 1x1x1 or 3x3x3`);
  }
  if (padding !== "same" && padding !== "valid") {
    throw new ShapeError(`${op}: padding must be "same" or "valid", got ${JSON.stringify(padding)}`);
  }
  checkBias(op, b, cout);
  const pad = padding === "same" ? (k - 1) / 2 : 0;
  const [od, oh, ow] = [d, h, wd].map((s) => s + 2 * pad - k + 1);
  if (!(od > 0 && oh > 0 && ow > 0)) {
    throw new ShapeError(
      `${op}: input [${x.shape}] is smaller than the ${k}x${k}x${k} kernel (valid padding)`,
    );
  }
  if (n === 0 || cin === 0 || cout === 0) throw new ShapeError(`${op}: empty input [${x.shape}] or weights`);
  return { n, cin, cout, k, pad, d, h, w: wd, od, oh, ow };
}

/** The forward kernel: `out = conv(x, w) + b`, sizes `s` (also the input gradient, with flipped weights). */
function runForward(x: GPUBuffer, w: GPUBuffer, b: GPUBuffer | null, s: ConvShape): Tensor {
  const out = Tensor.empty([s.n, s.cout, s.od, s.oh, s.ow]);
  gpu().run({
    shader: SHADER,
    entry: "forward",
    params: [out.size, s.cin, s.cout, s.d, s.h, s.w, s.od, s.oh, s.ow, s.pad, b ? 1 : 0],
    // without a bias the binding still needs a buffer: the weights stand in, unread
    inputs: [x, w, b ?? w],
    outputs: [out.buffer],
    invocations: out.size,
    constants: { K: s.k },
  });
  return out;
}

/** Input gradient: the forward kernel over `g` with flipped, transposed weights and padding k-1-pad. */
function inputGrad(g: Tensor, w: Tensor, s: ConvShape): Tensor {
  const flipped = Tensor.empty([s.cin, s.cout, s.k, s.k, s.k]);
  gpu().run({
    shader: SHADER,
    entry: "flip_weights",
    params: [w.size, s.cin, s.cout],
    inputs: [w.buffer],
    outputs: [flipped.buffer],
    invocations: w.size,
    constants: { K: s.k },
  });
  const gx = runForward(g.buffer, flipped.buffer, null, {
    ...s,
    cin: s.cout,
    cout: s.cin,
    pad: s.k - 1 - s.pad,
    d: s.od,
    h: s.oh,
    w: s.ow,
    od: s.d,
    oh: s.h,
    ow: s.w,
  });
  flipped.dispose();
  return gx;
}

/** Weight gradient, split over chunks of output rows. */
function weightGrad(g: Tensor, x: Tensor, wShape: readonly number[], s: ConvShape): Tensor {
  const rows = s.n * s.od * s.oh;
  const { rowsPerChunk, chunks } = rowChunks(rows, s.ow);
  const weights = s.cout * s.cin * s.k ** 3;
  return reducePartials(wShape, chunks, (partials) =>
    gpu().run({
      shader: SHADER,
      entry: "grad_weight",
      params: [s.cin, s.cout, s.d, s.h, s.w, s.od, s.oh, s.ow, s.pad, rows, rowsPerChunk, chunks, weights],
      inputs: [g.buffer, x.buffer],
      outputs: [partials.buffer],
      invocations: weights * chunks,
      constants: { K: s.k },
    }));
}

/**
 * 3D convolution, stride 1: x [N, Cin, D, H, W], w [Cout, Cin, k, k, k] with k = 1 or 3 (PyTorch
 * layout), optional bias [Cout]. `same` pads by (k-1)/2 with zeros (output [N, Cout, D, H, W]);
 * `valid` does not pad (output [N, Cout, D-k+1, H-k+1, W-k+1]). Recorded, with gradients for x, w, b.
 * Throws ShapeError on a wrong rank, a channel mismatch, a kernel other than 1 or 3, or an input
 * smaller than the kernel.
 */
export function conv3d(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  opts: Conv3dOptions = { padding: "same" },
): Tensor {
  return convolve(x, w, b, opts, false).y;
}

/**
 * `conv3d` that also returns the mean and M2 of each output channel over batch and space (bias
 * included), for the normalisation that follows (`instanceNorm3d` with N = 1, `batchNorm3d`), which then
 * skips its own read of the output. The tiled kernels compute them in their epilogue; with the direct
 * kernels `moments` is null. The moments are values, not recorded.
 */
export function conv3dWithMoments(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  opts: Conv3dOptions = { padding: "same" },
): { y: Tensor; moments: ChannelMoments | null } {
  return convolve(x, w, b, opts, true);
}

function convolve(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  opts: Conv3dOptions,
  withMoments: boolean,
): { y: Tensor; moments: ChannelMoments | null } {
  const s = convShape(x, w, b, opts.padding);
  const tiled = convKernels.implementation === "tiled";
  const precision = isGradEnabled() ? "f32" : convKernels.inference;
  let out: Tensor, moments: ChannelMoments | null = null;
  if (!tiled) out = runForward(x.buffer, w.buffer, b?.buffer ?? null, s);
  else if (withMoments) ({ y: out, moments } = conv3dForwardMoments(x, w, b, s.pad, precision));
  else out = conv3dForwardFast(x, w, b, s.pad, undefined, precision);
  const y = record(out, {
    name: "conv3d",
    inputs: b ? [x, w, b] : [x, w],
    backward: (g) => [
      x.requiresGrad ? (tiled ? conv3dInputGradFast(g, w, x.shape, s.pad) : inputGrad(g, w, s)) : null,
      w.requiresGrad ? (tiled ? conv3dWeightGradFast(x, g, s.k, s.pad) : weightGrad(g, x, w.shape, s)) : null,
      b?.requiresGrad ? biasGrad(g) : null,
    ],
  });
  return { y, moments };
}
