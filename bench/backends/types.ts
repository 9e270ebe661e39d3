/**
 * What every benchmark backend implements, the case data they all receive, and the layout
 * conventions they share (NCDHW tensors, PyTorch weight layouts).
 */
import type { Case, ConvShape, ConvTShape } from "../shapes.ts";
import { convOut } from "../shapes.ts";

/** Backend names as they appear in the JSON. */
export const BACKENDS = [
  "ours",
  "ours-f16",
  "typescript",
  "jax-js",
  "jax-js-wasm",
  "tfjs-webgpu",
  "tfjs-cpu",
  "onnxruntime",
  "pytorch-cpu",
  "pytorch-f64",
  "pytorch-fp32",
  "pytorch-tf32",
] as const;
/** One backend of the benchmark. */
export type BackendName = typeof BACKENDS[number];
/** The backends a run without `--backends` uses: all but the float64 reference, which is for checks. */
export const DEFAULT_BACKENDS: readonly BackendName[] = BACKENDS.filter((b) => b !== "pytorch-f64");

/**
 * Host data of one case, shared by every backend (all NCDHW, float32 unless said otherwise):
 * - conv: `x` [n, cin, d, h, w], `w` [cout, cin, k, k, k], `b` [cout], `dy` [n, cout, ...out];
 * - convT: `x`, `w` [cin, cout, 2, 2, 2], `b` [cout];
 * - pool: `x`; ce: `x` the logits [n, k, d, h, w] and `labels` [n, d, h, w];
 * - unet: `x` the input tile [n, 1, d, h, w] and `labels` for its output tile; weights from `seed`.
 */
export interface CaseData {
  x: Float32Array;
  w?: Float32Array;
  b?: Float32Array;
  dy?: Float32Array;
  labels?: Uint32Array;
  /** Seed of the U-Net's weights. */
  seed?: number;
}

/**
 * Named result tensors, each checked on its own: a U-Net training step gives its loss ("loss") and the
 * gradient of every parameter ("grad:" and the parameter's name), in the order of our engine's
 * `UNet3D.params`.
 */
export type Parts = ReadonlyMap<string, Float32Array>;

/**
 * What one run of a case produces, compared across backends: conv3d_forward, the transposed
 * convolution and pooling give their output; conv3d_input_grad dx and conv3d_weight_grad dw for the
 * output gradient `dy`; softmax_ce_forward the scalar loss; a U-Net inference tile its logits; a U-Net
 * training step its `Parts`: the loss before the update and every parameter's gradient, so that a
 * wrong backward pass fails the check even where the loss agrees.
 */
export type CaseOutput = Float32Array | Parts;

/** A case set up on one backend, ready to be timed. */
export interface Runner {
  /** One complete run, awaited until the device has finished it. */
  run(): Promise<void>;
  /** The result of the last run (for the correctness check). */
  output(): Promise<CaseOutput>;
  /**
   * Optional: the backend times its runs itself (e.g. in another process) and returns the times in
   * milliseconds of at most `reps` runs after `warmup - 1` more untimed ones, stopping once `budgetMs`
   * is spent but not before `minReps` runs.
   */
  measure?(reps: number, budgetMs: number, warmup: number, minReps: number): Promise<number[]>;
  /** Frees what the case allocated. */
  dispose(): void | Promise<void>;
}

/** Thrown by `prepare` for an op the backend does not have; the table shows the message. */
export class Unsupported extends Error {
  override name = "Unsupported";
}

/** A reference implementation (or ours) that can run benchmark cases. */
export interface Backend {
  readonly name: BackendName;
  /** Relative error accepted against the baseline (looser for reduced-precision backends). */
  readonly tolerance?: number;
  /** Starts the backend; an error here is shown on every row of this backend. */
  init(): Promise<void>;
  /** The device the backend runs on, for the table (e.g. the adapter's name, "CPU, 2 threads"). */
  device(): string;
  /** Why the backend cannot run this case, known before any set-up; null (or absent) when it can try. */
  unsupported?(c: Case): string | null;
  /** Sets up one case; throws `Unsupported` where the backend cannot run the op. */
  prepare(c: Case, data: CaseData): Promise<Runner>;
  /** Releases the backend. */
  close?(): Promise<void>;
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Tensor shapes of a convolution case: input, weights, output. */
export function convShapes(s: ConvShape): { x: number[]; w: number[]; y: number[] } {
  return {
    x: [s.n, s.cin, s.d, s.h, s.w],
    w: [s.cout, s.cin, s.k, s.k, s.k],
    y: [s.n, s.cout, ...convOut(s)],
  };
}

/** Tensor shapes of a transposed convolution case: input, weights [cin, cout, 2, 2, 2], output. */
export function convTShapes(s: ConvTShape): { x: number[]; w: number[]; y: number[] } {
  return {
    x: [s.n, s.cin, s.d, s.h, s.w],
    w: [s.cin, s.cout, 2, 2, 2],
    y: [s.n, s.cout, 2 * s.d, 2 * s.h, 2 * s.w],
  };
}

/** Padding per side of a convolution case. */
export function convPad(s: ConvShape): number {
  return s.padding === "same" ? (s.k - 1) / 2 : 0;
}

/**
 * Permutes an NCDHW array to NDHWC (channels last, as TensorFlow.js wants), or back with `inverse`.
 * `shape` is the NCDHW shape.
 */
export function toChannelsLast(a: Float32Array, shape: readonly number[], inverse = false): Float32Array {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const out = new Float32Array(a.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const src = (b * c + ch) * s;
      for (let v = 0; v < s; v++) {
        const cl = (b * s + v) * c + ch;
        if (inverse) out[src + v] = a[cl];
        else out[cl] = a[src + v];
      }
    }
  }
  return out;
}

/**
 * Permutes weights between [A, B, kd, kh, kw] (PyTorch) and [kd, kh, kw, B, A] (TensorFlow:
 * [kd, kh, kw, in, out] for a convolution with A = out, B = in). `shape` is the PyTorch shape.
 */
export function toTfWeights(wt: Float32Array, shape: readonly number[], inverse = false): Float32Array {
  const [a, b, kd, kh, kw] = shape;
  const taps = kd * kh * kw;
  const out = new Float32Array(wt.length);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      for (let t = 0; t < taps; t++) {
        const pt = (i * b + j) * taps + t;
        const tf = (t * b + j) * a + i;
        if (inverse) out[pt] = wt[tf];
        else out[tf] = wt[pt];
      }
    }
  }
  return out;
}
