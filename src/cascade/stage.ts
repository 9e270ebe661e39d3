/**
 * What a cascade stage is: the grid it works on (spacing), the network's input patch, the network,
 * and the intensity window. Stored in each stage's weights file so that inference needs nothing else.
 */
import type { Vec3 } from "../volume/types.ts";
import type { HuWindow } from "../volume/intensity.ts";
import { outputSize, type UNetConfig } from "../nn/unet3d.ts";

/** One stage of the cascade. */
export interface StageSpec {
  /** 1 (coarse, inside the body mask C1) or 2 (fine, inside C2). */
  stage: 1 | 2;
  /** Voxel size in mm the stage works at (x, y, z of the canonical RAS grid). */
  spacing: Vec3;
  /** Network input patch in voxels (x, y, z). */
  patch: Vec3;
  /** The network. */
  unet: UNetConfig;
  /** HU window mapped onto [-1, 1]. */
  hu: HuWindow;
  /** Stage 2 only: the margin in mm by which the stage-1 organs are dilated into C2. */
  c2MarginMm?: number;
  /**
   * The class weights of the training loss, when they are to be divided out of the probabilities
   * before the arg-max. A network trained with a weighted cross-entropy learns the weighted posterior
   * (its softmax tends to w_c p_c / sum w p), so an arg-max of its raw output widens every class by its
   * weight; dividing by w_c gives back p_c. Absent: the raw arg-max (the paper's weights, which are
   * meant to favour recall).
   */
  lossWeights?: number[];
}

/** Output tile (x, y, z) of the stage's network for its input patch. */
export function stageOutput(spec: StageSpec): Vec3 {
  const [d, h, w] = outputSize(spec.unet, [spec.patch[2], spec.patch[1], spec.patch[0]]);
  return [w, h, d];
}
