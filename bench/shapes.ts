/**
 * The benchmark's shape list: the layers of the U-Net presets at their real sizes (the default run) and
 * small stand-ins (`--quick`), with the operation count each row's GFLOP/s is computed from.
 *
 * Sizes are written D x H x W (NCDHW tensors). The paper's tile is 132x132x116 (x, y, z), i.e.
 * D = 116, H = W = 132; valid 3x3x3 convolutions shrink each dim by 2, each pooling halves it.
 */
import { channelPlan, FAST_UNET, outputSize, PAPER_UNET, type UNetConfig } from "../src/nn/unet3d.ts";

/** Operation names as they appear in the JSON. */
export const OPS = [
  "conv3d_forward",
  "conv3d_input_grad",
  "conv3d_weight_grad",
  "conv_transpose3d_forward",
  "max_pool3d_forward",
  "softmax_ce_forward",
  "unet_train_step",
  "unet_inference_tile",
] as const;
/** One operation of the benchmark. */
export type OpName = typeof OPS[number];

/** A 3x3x3 (or k^3) convolution: input [n, cin, d, h, w], weights [cout, cin, k, k, k]. */
export interface ConvShape {
  kind: "conv";
  n: number;
  cin: number;
  cout: number;
  d: number;
  h: number;
  w: number;
  k: number;
  padding: "same" | "valid";
}

/** A 2x2x2 stride-2 up-convolution: input [n, cin, d, h, w], weights [cin, cout, 2, 2, 2]. */
export interface ConvTShape {
  kind: "convT";
  n: number;
  cin: number;
  cout: number;
  d: number;
  h: number;
  w: number;
}

/** 2x2x2 max pooling of [n, c, d, h, w]. */
export interface PoolShape {
  kind: "pool";
  n: number;
  c: number;
  d: number;
  h: number;
  w: number;
}

/** Softmax cross-entropy of logits [n, k, d, h, w] against labels [n, d, h, w]. */
export interface CeShape {
  kind: "ce";
  n: number;
  k: number;
  d: number;
  h: number;
  w: number;
}

/** A whole U-Net on an input tile [n, 1, d, h, w]. */
export interface UNetShape {
  kind: "unet";
  preset: "paper" | "fast";
  n: number;
  d: number;
  h: number;
  w: number;
}

/** Any shape of the list. */
export type Shape = ConvShape | ConvTShape | PoolShape | CeShape | UNetShape;

/** One row group of the benchmark: an op at one shape, run on every backend. */
export interface Case {
  op: OpName;
  shape: Shape;
  /** Short human-readable form, e.g. `32->64 116x132x132 valid`. */
  label: string;
  /** Floating-point operations of one run (multiply and add count as two). */
  flops: number;
}

/** Output spatial size of a stride-1 convolution. */
export function convOut(s: ConvShape): [number, number, number] {
  const p = s.padding === "same" ? (s.k - 1) / 2 : 0;
  return [s.d + 2 * p - s.k + 1, s.h + 2 * p - s.k + 1, s.w + 2 * p - s.k + 1];
}

const vol = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);
const dims = (d: number, h: number, w: number) => `${d}x${h}x${w}`;

/** Multiply-adds of a convolution, times two (the same count for forward, input and weight gradient). */
export function convFlops(s: ConvShape): number {
  return 2 * s.n * s.cout * s.cin * s.k ** 3 * vol(convOut(s));
}

function convCase(op: OpName, s: Omit<ConvShape, "kind">): Case {
  const shape: ConvShape = { kind: "conv", ...s };
  const batch = s.n > 1 ? `N${s.n} ` : "";
  return {
    op,
    shape,
    label: `${batch}${s.cin}->${s.cout} k${s.k} ${dims(s.d, s.h, s.w)} ${s.padding}`,
    flops: convFlops(shape),
  };
}

function convTCase(s: Omit<ConvTShape, "kind">): Case {
  return {
    op: "conv_transpose3d_forward",
    shape: { kind: "convT", ...s },
    label: `${s.cin}->${s.cout} ${dims(s.d, s.h, s.w)}`,
    flops: 2 * s.n * s.cin * s.cout * 8 * s.d * s.h * s.w,
  };
}

/** Pooling counts one operation per input element read (8 per output: 7 compares and the load). */
function poolCase(s: Omit<PoolShape, "kind">): Case {
  const out = Math.floor(s.d / 2) * Math.floor(s.h / 2) * Math.floor(s.w / 2);
  return {
    op: "max_pool3d_forward",
    shape: { kind: "pool", ...s },
    label: `C${s.c} ${dims(s.d, s.h, s.w)}`,
    flops: s.n * s.c * out * 8,
  };
}

/** Cross-entropy counts 4 operations per logit (max, subtract, exp, sum) and a few per voxel. */
function ceCase(s: Omit<CeShape, "kind">): Case {
  const v = s.n * s.d * s.h * s.w;
  return {
    op: "softmax_ce_forward",
    shape: { kind: "ce", ...s },
    label: `K${s.k} ${dims(s.d, s.h, s.w)}`,
    flops: v * (4 * s.k + 4),
  };
}

/**
 * Convolution FLOPs of one U-Net forward pass on a tile (3x3x3 and 1x1x1 convolutions and the
 * up-convolutions; normalisation, activation and pooling are left out, being a few per voxel).
 */
export function unetForwardFlops(c: UNetConfig, n: number, tile: readonly number[]): number {
  outputSize(c, tile); // throws on an impossible tile
  const plan = channelPlan(c);
  const shrink = (s: number[]) => c.padding === "valid" ? s.map((v) => v - 2) : s;
  let flops = 0;
  let s = [...tile];
  const conv = (cin: number, cout: number, k: number) => {
    const out = k === 3 ? shrink(s) : s;
    flops += 2 * n * cin * cout * k ** 3 * vol(out);
    s = out;
  };
  plan.down.forEach((level, l) => {
    for (const b of level) conv(b.cin, b.cout, 3);
    if (l < c.levels - 1) s = s.map((v) => Math.floor(v / 2));
  });
  plan.up.forEach((u, k) => {
    flops += 2 * n * u.cin * u.cout * 8 * vol(s);
    s = s.map((v) => 2 * v);
    for (const b of plan.dec[k]) conv(b.cin, b.cout, 3);
  });
  const last = plan.dec.at(-1)?.[1].cout ?? plan.down.at(-1)![1].cout;
  conv(last, c.classes, 1);
  return flops;
}

function unetCase(
  op: "unet_train_step" | "unet_inference_tile",
  config: UNetConfig,
  s: Omit<UNetShape, "kind">,
) {
  const fwd = unetForwardFlops(config, s.n, [s.d, s.h, s.w]);
  const batch = s.n > 1 ? `N${s.n} ` : "";
  return {
    op,
    shape: { kind: "unet", ...s } as UNetShape,
    label: `${s.preset} ${batch}${dims(s.d, s.h, s.w)}`,
    // a training step: forward, input gradient and weight gradient of every convolution
    flops: op === "unet_train_step" ? 3 * fwd : fwd,
  };
}

/** The U-Net configuration of a preset. */
export function presetConfig(preset: UNetShape["preset"]): UNetConfig {
  return preset === "paper" ? PAPER_UNET : FAST_UNET;
}

/** The paper's tile, D x H x W. */
export const PAPER_TILE = [116, 132, 132] as const;

/** The cases of one run: `quick` small shapes, otherwise the real layer sizes. */
export function cases(quick: boolean): Case[] {
  const out: Case[] = [];
  const convOps: OpName[] = ["conv3d_forward", "conv3d_input_grad", "conv3d_weight_grad"];
  if (quick) {
    const convs = [
      { n: 1, cin: 1, cout: 8, d: 13, h: 14, w: 15, k: 3, padding: "valid" as const },
      { n: 2, cin: 8, cout: 16, d: 9, h: 10, w: 11, k: 3, padding: "same" as const },
      // past 36^3 voxels: where jax-js's weight gradient was seen to go wrong
      { n: 1, cin: 2, cout: 2, d: 38, h: 38, w: 38, k: 3, padding: "same" as const },
    ];
    for (const op of convOps) for (const s of convs) out.push(convCase(op, s));
    out.push(convTCase({ n: 1, cin: 16, cout: 8, d: 5, h: 6, w: 7 }));
    out.push(poolCase({ n: 1, c: 8, d: 11, h: 12, w: 13 }));
    out.push(ceCase({ n: 1, k: 8, d: 11, h: 12, w: 13 }));
    for (const op of ["unet_train_step", "unet_inference_tile"] as const) {
      out.push(unetCase(op, FAST_UNET, { preset: "fast", n: 1, d: 16, h: 16, w: 20 }));
    }
    return out;
  }
  const [D, H, W] = PAPER_TILE;
  // the paper network's layers, at the size they see in a 132x132x116 tile
  const convs = [
    { n: 1, cin: 1, cout: 32, d: D, h: H, w: W, k: 3, padding: "valid" as const }, // down0.conv0
    { n: 1, cin: 64, cout: 64, d: 56, h: 64, w: 64, k: 3, padding: "valid" as const }, // down1.conv0
    { n: 1, cin: 128, cout: 256, d: 24, h: 28, w: 28, k: 3, padding: "valid" as const }, // down2.conv1
    { n: 1, cin: 32, cout: 64, d: D - 2, h: H - 2, w: W - 2, k: 3, padding: "valid" as const }, // down0.conv1
    { n: 1, cin: 64, cout: 8, d: 28, h: 44, w: 44, k: 1, padding: "valid" as const }, // head
  ];
  // ascending work, so that a backend's throughput on one row predicts the next
  convs.sort((a, b) => convFlops({ kind: "conv", ...a }) - convFlops({ kind: "conv", ...b }));
  for (const op of convOps) for (const s of convs) out.push(convCase(op, s));
  out.push(convTCase({ n: 1, cin: 128, cout: 128, d: 16, h: 24, w: 24 })); // up0
  out.push(convTCase({ n: 1, cin: 512, cout: 512, d: 7, h: 9, w: 9 })); // up2
  out.push(poolCase({ n: 1, c: 64, d: D - 4, h: H - 4, w: W - 4 })); // level 0
  out.push(ceCase({ n: 1, k: 8, d: 28, h: 44, w: 44 })); // the paper's output tile
  out.push(ceCase({ n: 1, k: 8, d: 96, h: 96, w: 96 })); // a same-padding tile
  for (const op of ["unet_train_step", "unet_inference_tile"] as const) {
    out.push(unetCase(op, FAST_UNET, { preset: "fast", n: 1, d: 64, h: 64, w: 64 }));
    out.push(unetCase(op, PAPER_UNET, { preset: "paper", n: 1, d: D, h: H, w: W }));
  }
  return out;
}
