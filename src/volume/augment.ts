/**
 * Training augmentation: a smooth random cubic B-spline deformation plus a small random rotation,
 * composed into one sampling field and applied identically to an image (trilinear) and its labels
 * (nearest). Deterministic for a given seed.
 *
 * A sampling field holds, for each output voxel, the continuous input voxel index (x, y, z) to read
 * from, interleaved: field[3n], field[3n+1], field[3n+2] for voxel n.
 */

import { Rng } from "../util/random.ts";
import { makeVolume, voxelCount } from "./grid.ts";
import type { Interpolation } from "./resample.ts";
import { sampleLinear, sampleNearest } from "./sample.ts";
import type { Vec3, Volume, VoxelArray } from "./types.ts";

/** Augmentation strength. */
export interface AugmentOptions {
  /** Voxels between B-spline control points (default 32). */
  controlSpacing?: number;
  /** Control point displacements are uniform in +-this many voxels per axis (default 3). */
  maxDisplacement?: number;
  /** Rotation angles about each axis are uniform in +-this many degrees (default 5). */
  maxRotationDeg?: number;
}

/** Control points per axis for a cubic B-spline over `n` voxels with knots every `spacing` voxels. */
export function controlPointCount(n: number, spacing: number): number {
  // Voxel x uses control points floor(x / spacing) - 1 .. + 2, stored from index 0.
  return Math.floor((n - 1) / spacing) + 4;
}

/** Cubic B-spline basis weights at fraction t in [0, 1). */
function bsplineWeights(t: number): [number, number, number, number] {
  const t2 = t * t, t3 = t2 * t;
  return [(1 - t) ** 3 / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6];
}

/**
 * Dense displacement (voxels, interleaved x y z per voxel) of a cubic B-spline whose control points
 * lie every `controlSpacing` voxels. `coefficients` holds 3 numbers per control point, x fastest
 * over a grid of controlPointCount(dims[a], controlSpacing) points per axis.
 */
export function bsplineDisplacement(
  dims: Vec3,
  controlSpacing: number,
  coefficients: Float32Array,
): Float32Array {
  const cdims = dims.map((n) => controlPointCount(n, controlSpacing)) as Vec3;
  if (coefficients.length !== 3 * voxelCount(cdims)) {
    throw new RangeError(`need ${3 * voxelCount(cdims)} coefficients for a ${cdims.join("x")} control grid`);
  }
  // Per axis and voxel: first control index and the four weights.
  const axes = dims.map((n) => {
    const first = new Int32Array(n), w = new Float64Array(4 * n);
    for (let x = 0; x < n; x++) {
      const u = x / controlSpacing, i = Math.floor(u);
      first[x] = i;
      w.set(bsplineWeights(u - i), 4 * x);
    }
    return { first, w };
  });
  const [X, Y, Z] = axes;
  const cx = cdims[0], cxy = cdims[0] * cdims[1];
  const out = new Float32Array(3 * voxelCount(dims));
  let o = 0;
  for (let z = 0; z < dims[2]; z++) {
    for (let y = 0; y < dims[1]; y++) {
      for (let x = 0; x < dims[0]; x++, o += 3) {
        let dx = 0, dy = 0, dz = 0;
        for (let c = 0; c < 4; c++) {
          const wz = Z.w[4 * z + c], rowZ = (Z.first[z] + c) * cxy;
          for (let b = 0; b < 4; b++) {
            const wzy = wz * Y.w[4 * y + b], row = rowZ + (Y.first[y] + b) * cx + X.first[x];
            for (let a = 0; a < 4; a++) {
              const w = wzy * X.w[4 * x + a], p = 3 * (row + a);
              dx += w * coefficients[p];
              dy += w * coefficients[p + 1];
              dz += w * coefficients[p + 2];
            }
          }
        }
        out[o] = dx;
        out[o + 1] = dy;
        out[o + 2] = dz;
      }
    }
  }
  return out;
}

/** Rotation by angles (radians) about the x, then y, then z axis: R = Rz Ry Rx, row-major 3x3. */
function rotationMatrix(ax: number, ay: number, az: number): number[] {
  const [cx, sx, cy, sy, cz, sz] = [
    Math.cos(ax),
    Math.sin(ax),
    Math.cos(ay),
    Math.sin(ay),
    Math.cos(az),
    Math.sin(az),
  ];
  return [
    cz * cy,
    cz * sy * sx - sz * cx,
    cz * sy * cx + sz * sx,
    sz * cy,
    sz * sy * sx + cz * cx,
    sz * sy * cx - cz * sx,
    -sy,
    cy * sx,
    cy * cx,
  ];
}

/**
 * A random sampling field for a grid: a rotation about the volume centre in millimetres (so it is a
 * true rotation with anisotropic voxels) plus a B-spline displacement, both drawn from `rng` (first
 * the three angles, then the control coefficients x, y, z per point, x fastest).
 */
export function randomSamplingField(
  dims: Vec3,
  spacing: Vec3,
  rng: Rng,
  opts: AugmentOptions = {},
): Float32Array {
  const controlSpacing = opts.controlSpacing ?? 32;
  const maxDisp = opts.maxDisplacement ?? 3;
  const maxRot = ((opts.maxRotationDeg ?? 5) * Math.PI) / 180;
  const r = rotationMatrix(
    rng.uniform(-maxRot, maxRot),
    rng.uniform(-maxRot, maxRot),
    rng.uniform(-maxRot, maxRot),
  );
  // In voxel units the rotation is S^-1 R S (S = diag(spacing)).
  const m = r.map((v, i) => (v * spacing[i % 3]) / spacing[Math.floor(i / 3)]);
  const cdims = dims.map((n) => controlPointCount(n, controlSpacing)) as Vec3;
  const coefficients = new Float32Array(3 * voxelCount(cdims));
  for (let i = 0; i < coefficients.length; i++) coefficients[i] = rng.uniform(-maxDisp, maxDisp);
  const field = bsplineDisplacement(dims, controlSpacing, coefficients);
  const c = dims.map((n) => (n - 1) / 2);
  let o = 0;
  for (let z = 0; z < dims[2]; z++) {
    for (let y = 0; y < dims[1]; y++) {
      for (let x = 0; x < dims[0]; x++, o += 3) {
        const px = x - c[0], py = y - c[1], pz = z - c[2];
        field[o] += c[0] + m[0] * px + m[1] * py + m[2] * pz;
        field[o + 1] += c[1] + m[3] * px + m[4] * py + m[5] * pz;
        field[o + 2] += c[2] + m[6] * px + m[7] * py + m[8] * pz;
      }
    }
  }
  return field;
}

/**
 * The per-voxel warp kernel: output voxel n = input sampled at field[3n..3n+2]. Linear mode needs
 * Float32Array input; `fill` is used outside the input's extent (default: edge replication).
 */
export function warpArray<T extends VoxelArray>(
  data: T,
  dims: Vec3,
  field: Float32Array,
  mode: Interpolation,
  fill?: number,
): T {
  if (mode === "linear" && !(data instanceof Float32Array)) {
    throw new TypeError("linear warping needs Float32Array voxels; use nearest for labels");
  }
  const sample = mode === "linear" ? sampleLinear : sampleNearest;
  const n = field.length / 3;
  const out = new (data.constructor as { new (n: number): T })(n);
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    out[i] = sample(data, dims, field[o], field[o + 1], field[o + 2], fill);
  }
  return out;
}

/**
 * Augments an image and its label map (same grid) with one random field drawn from `seed`: image
 * trilinear, labels nearest, edge replication outside. Same seed, same result.
 */
export function augmentPair(
  image: Volume<Float32Array>,
  labels: Volume<Uint8Array>,
  seed: number,
  opts: AugmentOptions = {},
): { image: Volume<Float32Array>; labels: Volume<Uint8Array> } {
  if (image.dims.some((n, i) => n !== labels.dims[i])) {
    throw new RangeError(`image ${image.dims.join("x")} and labels ${labels.dims.join("x")} differ`);
  }
  const field = randomSamplingField(image.dims, image.spacing, new Rng(seed), opts);
  return {
    image: makeVolume(warpArray(image.data, image.dims, field, "linear"), image.dims, image.affine),
    labels: makeVolume(warpArray(labels.data, labels.dims, field, "nearest"), labels.dims, labels.affine),
  };
}
