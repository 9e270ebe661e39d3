/**
 * Resampling onto another voxel grid: trilinear for images, nearest for label maps.
 *
 * Convention (as SimpleITK's ResampleImageFilter with the input's origin and direction, which
 * nnU-Net-style pipelines using SimpleITK get): a new spacing keeps the origin, i.e. the centre of
 * voxel (0,0,0) stays at the same world position, and the direction cosines; the new size is
 * round(size * old spacing / new spacing). The grid's far end can then move by under one new voxel.
 * Going back uses the original grid (dims and affine) itself, so the affine is restored exactly.
 */

import { invertAffine, multiplyAffine, scaleColumns, spacingOf } from "./affine.ts";
import { makeVolume, voxelCount } from "./grid.ts";
import { sampleLinear, sampleNearest } from "./sample.ts";
import type { Grid, Vec3, Volume, VoxelArray } from "./types.ts";

/** "linear" (trilinear, images) or "nearest" (labels, masks). */
export type Interpolation = "linear" | "nearest";

/**
 * The per-voxel resampling kernel: output voxel p = (i, j, k) takes the input sampled at the
 * continuous index M p, where `indexMap` is M's 3x4 rows (12 numbers, row-major). Linear mode needs
 * Float32Array input. `fill` is used outside the input's extent (default: edge replication).
 */
export function resampleArray<T extends VoxelArray>(
  src: T,
  srcDims: Vec3,
  dstDims: Vec3,
  indexMap: number[],
  mode: Interpolation,
  fill?: number,
): T {
  if (mode === "linear" && !(src instanceof Float32Array)) {
    throw new TypeError("linear resampling needs Float32Array voxels; use nearest for labels");
  }
  const sample = mode === "linear" ? sampleLinear : sampleNearest;
  const out = new (src.constructor as { new (n: number): T })(voxelCount(dstDims));
  const m = indexMap;
  let o = 0;
  for (let k = 0; k < dstDims[2]; k++) {
    for (let j = 0; j < dstDims[1]; j++) {
      // Start of the row; each step in i adds M's first column.
      let x = m[1] * j + m[2] * k + m[3];
      let y = m[5] * j + m[6] * k + m[7];
      let z = m[9] * j + m[10] * k + m[11];
      for (let i = 0; i < dstDims[0]; i++, x += m[0], y += m[4], z += m[8]) {
        out[o++] = sample(src, srcDims, x, y, z, fill);
      }
    }
  }
  return out;
}

/** Resamples a volume onto `grid` (exact dims and affine of the result). */
export function resampleToGrid<T extends VoxelArray>(
  volume: Volume<T>,
  grid: Grid,
  mode: Interpolation,
  fill?: number,
): Volume<T> {
  // Output index -> world -> input index.
  const indexMap = multiplyAffine(invertAffine(volume.affine), grid.affine).slice(0, 12);
  return makeVolume(
    resampleArray(volume.data, volume.dims, grid.dims, indexMap, mode, fill),
    grid.dims,
    grid.affine,
  );
}

/** The grid with voxel size `spacing` covering `grid`: same origin voxel centre and directions. */
export function gridWithSpacing(grid: Grid, spacing: Vec3): Grid {
  const old = spacingOf(grid.affine);
  const factor = [0, 1, 2].map((a) => spacing[a] / old[a]) as Vec3;
  const dims = [0, 1, 2].map((a) => Math.max(1, Math.round(grid.dims[a] / factor[a]))) as Vec3;
  return { dims, affine: scaleColumns(grid.affine, factor) };
}

/** Resamples a volume to voxel size `spacing` (mm), keeping the origin voxel centre. */
export function resampleToSpacing<T extends VoxelArray>(
  volume: Volume<T>,
  spacing: Vec3,
  mode: Interpolation,
  fill?: number,
): Volume<T> {
  return resampleToGrid(volume, gridWithSpacing(volume, spacing), mode, fill);
}
