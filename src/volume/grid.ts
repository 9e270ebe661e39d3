/** Building volumes and comparing voxel grids. */

import { maxAbsDifference, spacingOf } from "./affine.ts";
import { VolumeError } from "./errors.ts";
import type { Affine, Grid, Vec3, Volume, VoxelArray } from "./types.ts";

/** nx * ny * nz. */
export function voxelCount(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2];
}

/** A volume from its voxels and grid; spacing is derived from the affine. */
export function makeVolume<T extends VoxelArray>(data: T, dims: Vec3, affine: Affine): Volume<T> {
  if (data.length !== voxelCount(dims)) {
    throw new RangeError(`data has ${data.length} voxels, dims ${dims.join("x")} need ${voxelCount(dims)}`);
  }
  return { dims: [...dims], affine: affine.slice(), spacing: spacingOf(affine), data };
}

/** Just the grid of a volume (copies, so it can outlive changes to the volume). */
export function gridOf(g: Grid): Grid {
  return { dims: [...g.dims], affine: g.affine.slice() };
}

/**
 * How two grids differ, or null when they match: same dims and affines equal within `toleranceMm`
 * (float32 header storage makes exact comparison too strict).
 */
export function gridDifference(a: Grid, b: Grid, toleranceMm = 1e-3): string | null {
  if (a.dims.some((n, i) => n !== b.dims[i])) return `dims ${b.dims.join("x")} vs ${a.dims.join("x")}`;
  const d = maxAbsDifference(a.affine, b.affine);
  if (!(d <= toleranceMm)) return `affine differs by up to ${+d.toPrecision(3)} mm`;
  return null;
}

/** Throws a "grid" VolumeError naming `labelsFile` when a label map's grid differs from its image's. */
export function assertSameGrid(image: Grid, imageFile: string, labels: Grid, labelsFile: string): void {
  const diff = gridDifference(image, labels);
  if (diff !== null) {
    throw new VolumeError(labelsFile, "grid", `label grid differs from image ${imageFile}: ${diff}`);
  }
}

/** The voxel (i, j, k) of a linear index, for messages. */
export function voxelOf(index: number, dims: Vec3): Vec3 {
  const i = index % dims[0];
  const rest = (index - i) / dims[0];
  const j = rest % dims[1];
  return [i, j, (rest - j) / dims[1]];
}
