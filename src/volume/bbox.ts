/** Bounding boxes of masks, and cropping / padding of voxel arrays and volumes. */

import { applyAffine } from "./affine.ts";
import { makeVolume, voxelCount } from "./grid.ts";
import type { Vec3, Volume, VoxelArray } from "./types.ts";

/** A box of voxels: `min` inclusive, `max` exclusive, per axis. May extend outside a volume. */
export interface Box {
  /** First voxel index per axis. */
  min: Vec3;
  /** One past the last voxel index per axis. */
  max: Vec3;
}

/** How voxels outside the source are filled: a constant value, or "edge" (replicate the border). */
export type PadMode = number | "edge";

/** Size of a box per axis. */
export function boxSize(box: Box): Vec3 {
  return [box.max[0] - box.min[0], box.max[1] - box.min[1], box.max[2] - box.min[2]];
}

/**
 * The bounding box of the nonzero voxels, grown by `margin` voxels per side (a number or one per
 * axis) and clipped to the volume; null for an empty mask.
 */
export function boundingBox(mask: ArrayLike<number>, dims: Vec3, margin: number | Vec3 = 0): Box | null {
  const [nx, ny, nz] = dims;
  const min: Vec3 = [nx, ny, nz], max: Vec3 = [-1, -1, -1];
  let n = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        if (mask[n] === 0) continue;
        if (i < min[0]) min[0] = i;
        if (i > max[0]) max[0] = i;
        if (j < min[1]) min[1] = j;
        if (j > max[1]) max[1] = j;
        if (k < min[2]) min[2] = k;
        if (k > max[2]) max[2] = k;
      }
    }
  }
  if (max[0] < 0) return null;
  const m = typeof margin === "number" ? [margin, margin, margin] : margin;
  return {
    min: [0, 1, 2].map((a) => Math.max(0, min[a] - m[a])) as Vec3,
    max: [0, 1, 2].map((a) => Math.min(dims[a], max[a] + 1 + m[a])) as Vec3,
  };
}

/**
 * The voxels of `box` (which may extend past the volume on any side) as a new array of the same
 * type; voxels outside the volume follow `pad`. Cropping and padding are both this one function.
 */
export function extractBox<T extends VoxelArray>(data: T, dims: Vec3, box: Box, pad: PadMode = 0): T {
  const size = boxSize(box);
  if (size.some((s) => s < 0)) throw new RangeError(`box max < min: ${JSON.stringify(box)}`);
  const out = new (data.constructor as { new (n: number): T })(voxelCount(size));
  const [nx, ny, nz] = dims;
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  let o = 0;
  for (let k = box.min[2]; k < box.max[2]; k++) {
    const kIn = k >= 0 && k < nz;
    for (let j = box.min[1]; j < box.max[1]; j++) {
      const jIn = j >= 0 && j < ny;
      for (let i = box.min[0]; i < box.max[0]; i++, o++) {
        if (kIn && jIn && i >= 0 && i < nx) out[o] = data[i + nx * (j + ny * k)];
        else if (pad === "edge") out[o] = data[clamp(i, nx) + nx * (clamp(j, ny) + ny * clamp(k, nz))];
        else out[o] = pad;
      }
    }
  }
  return out;
}

/** The box that pads a volume of `dims` by `before` / `after` voxels per axis. */
export function padBox(dims: Vec3, before: Vec3, after: Vec3): Box {
  return {
    min: [-before[0], -before[1], -before[2]],
    max: [dims[0] + after[0], dims[1] + after[1], dims[2] + after[2]],
  };
}

/** Pads an array by `before` / `after` voxels per axis. */
export function padArray<T extends VoxelArray>(
  data: T,
  dims: Vec3,
  before: Vec3,
  after: Vec3,
  pad: PadMode = 0,
): T {
  return extractBox(data, dims, padBox(dims, before, after), pad);
}

/** The part of a volume inside `box` (padded per `pad` where it extends outside); affine shifted. */
export function cropVolume<T extends VoxelArray>(volume: Volume<T>, box: Box, pad: PadMode = 0): Volume<T> {
  const affine = volume.affine.slice();
  [affine[3], affine[7], affine[11]] = applyAffine(volume.affine, box.min);
  return makeVolume(extractBox(volume.data, volume.dims, box, pad), boxSize(box), affine);
}

/** A volume padded by `before` / `after` voxels per axis; affine shifted so voxels stay in place. */
export function padVolume<T extends VoxelArray>(
  volume: Volume<T>,
  before: Vec3,
  after: Vec3,
  pad: PadMode = 0,
): Volume<T> {
  return cropVolume(volume, padBox(volume.dims, before, after), pad);
}

/** A margin in mm as whole voxels per axis (rounded up). */
export function marginVoxels(mm: number, spacing: Vec3): Vec3 {
  return spacing.map((s) => Math.ceil(mm / s - 1e-9)) as Vec3;
}
