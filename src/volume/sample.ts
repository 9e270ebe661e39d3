/**
 * Sampling a volume at continuous voxel coordinates: the interpolation shared by resampling and
 * the augmentation warp. Coordinates are voxel indices (voxel centres at integers).
 *
 * Outside the grid: with `fill` given, points farther out than half a voxel beyond the first or last
 * voxel centre (i.e. outside the voxels' physical extent) get `fill`; otherwise, and always within
 * that half voxel, the nearest edge voxel is used (edge replication).
 */

import type { Vec3 } from "./types.ts";

/** True when (x, y, z) lies outside the voxels' extent [-0.5, n - 0.5] on some axis. */
function outside(dims: Vec3, x: number, y: number, z: number): boolean {
  return !(x >= -0.5 && x <= dims[0] - 0.5 && y >= -0.5 && y <= dims[1] - 0.5 && z >= -0.5 &&
    z <= dims[2] - 0.5);
}

/** Trilinear interpolation at (x, y, z). */
export function sampleLinear(
  data: ArrayLike<number>,
  dims: Vec3,
  x: number,
  y: number,
  z: number,
  fill?: number,
): number {
  if (fill !== undefined && outside(dims, x, y, z)) return fill;
  const [nx, ny, nz] = dims;
  x = x < 0 ? 0 : x > nx - 1 ? nx - 1 : x;
  y = y < 0 ? 0 : y > ny - 1 ? ny - 1 : y;
  z = z < 0 ? 0 : z > nz - 1 ? nz - 1 : z;
  const x0 = Math.floor(x), y0 = Math.floor(y), z0 = Math.floor(z);
  const fx = x - x0, fy = y - y0, fz = z - z0;
  // The +1 neighbour stays in range: at the last voxel its weight is 0.
  const dx = x0 < nx - 1 ? 1 : 0, dy = y0 < ny - 1 ? nx : 0, dz = z0 < nz - 1 ? nx * ny : 0;
  const i = x0 + nx * (y0 + ny * z0);
  const c00 = data[i] + fx * (data[i + dx] - data[i]);
  const c10 = data[i + dy] + fx * (data[i + dy + dx] - data[i + dy]);
  const c01 = data[i + dz] + fx * (data[i + dz + dx] - data[i + dz]);
  const c11 = data[i + dz + dy] + fx * (data[i + dz + dy + dx] - data[i + dz + dy]);
  const c0 = c00 + fy * (c10 - c00);
  const c1 = c01 + fy * (c11 - c01);
  return c0 + fz * (c1 - c0);
}

/** Nearest-neighbour sampling at (x, y, z) (labels, masks). Ties round up (x.5 -> x + 1). */
export function sampleNearest(
  data: ArrayLike<number>,
  dims: Vec3,
  x: number,
  y: number,
  z: number,
  fill?: number,
): number {
  if (fill !== undefined && outside(dims, x, y, z)) return fill;
  const [nx, ny, nz] = dims;
  let i = Math.floor(x + 0.5), j = Math.floor(y + 0.5), k = Math.floor(z + 0.5);
  i = i < 0 ? 0 : i > nx - 1 ? nx - 1 : i;
  j = j < 0 ? 0 : j > ny - 1 ? ny - 1 : j;
  k = k < 0 ? 0 : k > nz - 1 ? nz - 1 : k;
  return data[i + nx * (j + ny * k)];
}
