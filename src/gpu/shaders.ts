/**
 * The WGSL sources, imported as text so that the runtime needs no file system (a browser bundle
 * inlines them as strings). `ShaderName` makes a misspelt shader name fail the type check.
 */
import conv3d from "../../shaders/conv3d.wgsl" with { type: "text" };
import conv3dGemm from "../../shaders/conv3d_gemm.wgsl" with { type: "text" };
import convTranspose3d from "../../shaders/conv_transpose3d.wgsl" with { type: "text" };
import elementwise from "../../shaders/elementwise.wgsl" with { type: "text" };
import finite from "../../shaders/finite.wgsl" with { type: "text" };
import intensity from "../../shaders/intensity.wgsl" with { type: "text" };
import layout from "../../shaders/layout.wgsl" with { type: "text" };
import norm from "../../shaders/norm.wgsl" with { type: "text" };
import optim from "../../shaders/optim.wgsl" with { type: "text" };
import pool3d from "../../shaders/pool3d.wgsl" with { type: "text" };
import reduce from "../../shaders/reduce.wgsl" with { type: "text" };
import resample from "../../shaders/resample.wgsl" with { type: "text" };
import softmaxCe from "../../shaders/softmax_ce.wgsl" with { type: "text" };

/** Every kernel file under `shaders/`, by file name. */
export const SHADERS = {
  "conv3d.wgsl": conv3d,
  "conv3d_gemm.wgsl": conv3dGemm,
  "conv_transpose3d.wgsl": convTranspose3d,
  "elementwise.wgsl": elementwise,
  "finite.wgsl": finite,
  "intensity.wgsl": intensity,
  "layout.wgsl": layout,
  "norm.wgsl": norm,
  "optim.wgsl": optim,
  "pool3d.wgsl": pool3d,
  "reduce.wgsl": reduce,
  "resample.wgsl": resample,
  "softmax_ce.wgsl": softmaxCe,
} as const;

/** The name of a kernel file under `shaders/`. */
export type ShaderName = keyof typeof SHADERS;
