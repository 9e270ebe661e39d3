/** 4x4 affine matrix helpers (row-major, 16 numbers). */

import type { Affine, Vec3 } from "./types.ts";

/** The identity affine. */
export function identityAffine(): Affine {
  return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
}

/** A diagonal affine with the given voxel sizes and origin (the first voxel's centre). */
export function scaleAffine(spacing: Vec3, origin: Vec3 = [0, 0, 0]): Affine {
  return [spacing[0], 0, 0, origin[0], 0, spacing[1], 0, origin[1], 0, 0, spacing[2], origin[2], 0, 0, 0, 1];
}

/** The product a * b (apply b first, then a). */
export function multiplyAffine(a: Affine, b: Affine): Affine {
  const out = new Array<number>(16);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r * 4 + k] * b[k * 4 + c];
      out[r * 4 + c] = s;
    }
  }
  return out;
}

/** Determinant of the upper-left 3x3 block. */
export function determinant3(a: Affine): number {
  return a[0] * (a[5] * a[10] - a[6] * a[9]) - a[1] * (a[4] * a[10] - a[6] * a[8]) +
    a[2] * (a[4] * a[9] - a[5] * a[8]);
}

/** Inverse of an affine whose last row is (0, 0, 0, 1). Throws RangeError if it is singular. */
export function invertAffine(a: Affine): Affine {
  const det = determinant3(a);
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new RangeError(`affine is singular (det ${det})`);
  // Inverse of the 3x3 block by cofactors, then -inv * translation.
  const m = [
    (a[5] * a[10] - a[6] * a[9]) / det,
    (a[2] * a[9] - a[1] * a[10]) / det,
    (a[1] * a[6] - a[2] * a[5]) / det,
    (a[6] * a[8] - a[4] * a[10]) / det,
    (a[0] * a[10] - a[2] * a[8]) / det,
    (a[2] * a[4] - a[0] * a[6]) / det,
    (a[4] * a[9] - a[5] * a[8]) / det,
    (a[1] * a[8] - a[0] * a[9]) / det,
    (a[0] * a[5] - a[1] * a[4]) / det,
  ];
  const t = [a[3], a[7], a[11]];
  return [
    m[0],
    m[1],
    m[2],
    -(m[0] * t[0] + m[1] * t[1] + m[2] * t[2]),
    m[3],
    m[4],
    m[5],
    -(m[3] * t[0] + m[4] * t[1] + m[5] * t[2]),
    m[6],
    m[7],
    m[8],
    -(m[6] * t[0] + m[7] * t[1] + m[8] * t[2]),
    0,
    0,
    0,
    1,
  ];
}

/** Applies an affine to a point. */
export function applyAffine(a: Affine, p: Vec3): Vec3 {
  return [
    a[0] * p[0] + a[1] * p[1] + a[2] * p[2] + a[3],
    a[4] * p[0] + a[5] * p[1] + a[6] * p[2] + a[7],
    a[8] * p[0] + a[9] * p[1] + a[10] * p[2] + a[11],
  ];
}

/** Voxel sizes in mm: the lengths of the affine's first three columns. */
export function spacingOf(a: Affine): Vec3 {
  const col = (c: number) => Math.hypot(a[c], a[4 + c], a[8 + c]);
  return [col(0), col(1), col(2)];
}

/** The affine with its first three columns multiplied by `factors` (voxel size change, same origin). */
export function scaleColumns(a: Affine, factors: Vec3): Affine {
  const out = a.slice();
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) out[r * 4 + c] = a[r * 4 + c] * factors[c];
  }
  return out;
}

/** The largest absolute difference between corresponding entries. */
export function maxAbsDifference(a: Affine, b: Affine): number {
  let d = 0;
  for (let i = 0; i < 16; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
