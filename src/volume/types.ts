/** Core volume types shared by the I/O, geometry and preprocessing modules. */

/** Three numbers, one per voxel axis (i, j, k) or world axis (x, y, z). */
export type Vec3 = [number, number, number];

/**
 * A row-major 4x4 matrix (16 numbers) mapping a voxel index (i, j, k, 1) to RAS+ millimetres
 * (x, y, z, 1), as nibabel's `img.affine`. Voxel (0,0,0) is the centre of the first voxel.
 */
export type Affine = number[];

/** The voxel arrays volumes hold: images as float32, label maps and masks as uint8. */
export type VoxelArray = Float32Array | Uint8Array;

/** A voxel grid: its size and where it lies in the world. */
export interface Grid {
  /** Voxel counts [nx, ny, nz]. */
  dims: Vec3;
  /** Voxel index -> RAS+ mm. */
  affine: Affine;
}

/** A 3D volume: voxels stored x fastest, then y, then z (index = i + nx * (j + ny * k)). */
export interface Volume<T extends VoxelArray = Float32Array> extends Grid {
  /** Voxel size in mm along each voxel axis: the lengths of the affine's first three columns. */
  spacing: Vec3;
  /** nx * ny * nz voxels. */
  data: T;
}
