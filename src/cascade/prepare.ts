/**
 * Putting a CT onto a stage's grid: canonical (RAS) orientation, the stage's voxel size, the HU
 * window; and the candidate regions of Roth et al.: C1, the body mask, for stage 1, and C2, the
 * stage-1 organs dilated by a margin, for stage 2. Training and segmentation share these steps.
 */
import type { StageSpec } from "./stage.ts";
import { toCanonical } from "../volume/orientation.ts";
import { resampleToGrid } from "../volume/resample.ts";
import { resampleToGridAuto, resampleToSpacingAuto } from "../volume/gpu.ts";
import { normalizeHu } from "../volume/intensity.ts";
import { bodyMask } from "../volume/body-mask.ts";
import { dilate } from "../volume/morphology.ts";
import type { Grid, Vec3, Volume } from "../volume/types.ts";

/** A volume on a stage's grid: the normalised image and its grid. */
export interface StageVolume {
  /** Normalised intensities ([-1, 1] over the HU window), x fastest. */
  image: Float32Array;
  dims: Vec3;
  spacing: Vec3;
  affine: number[];
}

/** The CT in canonical orientation on the stage's voxel size, in HU (on the GPU where that pays off). */
export function stageGridHu(ct: Volume<Float32Array>, spec: StageSpec): Promise<Volume<Float32Array>> {
  return resampleToSpacingAuto(toCanonical(ct), spec.spacing, "linear");
}

/** Normalises a HU volume with the stage's window. */
export function stageVolume(hu: Volume<Float32Array>, spec: StageSpec): StageVolume {
  return { image: normalizeHu(hu.data, spec.hu), dims: hu.dims, spacing: hu.spacing, affine: hu.affine };
}

/** A label map in canonical orientation on the grid of `onto` (nearest neighbour; GPU where it pays off). */
export async function labelsOnGrid(labels: Volume<Uint8Array>, onto: Grid): Promise<Uint8Array> {
  return (await resampleToGridAuto(toCanonical(labels), onto, "nearest")).data;
}

/** C1: the body mask of a HU volume (threshold, opening, largest component, hole filling). */
export function candidateC1(hu: Volume<Float32Array>): Uint8Array {
  return bodyMask(hu);
}

/**
 * C2: the organs of a stage-1 label map (on the stage-1 grid) carried onto the stage-2 grid and
 * dilated by `marginMm`.
 */
export function candidateC2(
  stage1: Volume<Uint8Array>,
  stage2: Grid & { spacing: Vec3 },
  marginMm: number,
): Uint8Array {
  const organs = resampleToGrid(stage1, stage2, "nearest").data.map((v) => (v > 0 ? 1 : 0));
  return dilate(organs, stage2.dims, stage2.spacing, marginMm);
}
