/**
 * NIfTI quaternion (qform) <-> affine conversion, following nifti1_io.c
 * (nifti_quatern_to_mat44 and nifti_mat44_to_quatern), which nibabel matches.
 */

import type { Affine, Vec3 } from "./types.ts";

/** The qform fields of a NIfTI header. */
export interface Qform {
  /** Quaternion b, c, d (a is implied, non-negative). */
  quatern: Vec3;
  /** World position of voxel (0,0,0) in mm. */
  offset: Vec3;
  /** Voxel sizes (pixdim[1..3]). */
  pixdim: Vec3;
  /** pixdim[0]: -1 flips the third axis, anything else means 1. */
  qfac: number;
}

/** The affine a qform describes. */
export function qformToAffine(q: Qform): Affine {
  let [b, c, d] = q.quatern;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // Rounding put the quaternion off the unit sphere: renormalise (b, c, d), a = 0 (180 degree turn).
    const n = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= n;
    c *= n;
    d *= n;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const [xd, yd, zd0] = q.pixdim.map((p) => (p > 0 ? p : 1));
  const zd = q.qfac < 0 ? -zd0 : zd0;
  return [
    (a * a + b * b - c * c - d * d) * xd,
    2 * (b * c - a * d) * yd,
    2 * (b * d + a * c) * zd,
    q.offset[0],
    2 * (b * c + a * d) * xd,
    (a * a + c * c - b * b - d * d) * yd,
    2 * (c * d - a * b) * zd,
    q.offset[1],
    2 * (b * d - a * c) * xd,
    2 * (c * d + a * b) * yd,
    (a * a + d * d - c * c - b * b) * zd,
    q.offset[2],
    0,
    0,
    0,
    1,
  ];
}

/** 3x3 determinant of a row-major 9-array. */
function det9(m: number[]): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
    m[2] * (m[3] * m[7] - m[4] * m[6]);
}

/** The nearest orthogonal matrix (polar decomposition by Newton iteration X <- (X + X^-T) / 2). */
function nearestOrthogonal(m: number[]): number[] {
  let x = m.slice();
  for (let it = 0; it < 50; it++) {
    const d = det9(x);
    // Transposed inverse = cofactor matrix / det.
    const invT = [
      (x[4] * x[8] - x[5] * x[7]) / d,
      (x[5] * x[6] - x[3] * x[8]) / d,
      (x[3] * x[7] - x[4] * x[6]) / d,
      (x[2] * x[7] - x[1] * x[8]) / d,
      (x[0] * x[8] - x[2] * x[6]) / d,
      (x[1] * x[6] - x[0] * x[7]) / d,
      (x[1] * x[5] - x[2] * x[4]) / d,
      (x[2] * x[3] - x[0] * x[5]) / d,
      (x[0] * x[4] - x[1] * x[3]) / d,
    ];
    const next = x.map((v, i) => 0.5 * (v + invT[i]));
    const change = next.reduce((s, v, i) => Math.max(s, Math.abs(v - x[i])), 0);
    x = next;
    if (change < 1e-15) break;
  }
  return x;
}

/**
 * The qform nearest to an affine: voxel sizes are the column lengths, the rotation is the nearest
 * orthogonal matrix to the normalised columns (shear, if any, cannot be stored in a qform).
 */
export function affineToQform(aff: Affine): Qform {
  const pixdim: Vec3 = [0, 0, 0];
  const m = new Array<number>(9);
  for (let c = 0; c < 3; c++) {
    let n = Math.hypot(aff[c], aff[4 + c], aff[8 + c]);
    if (!(n > 0)) n = 1;
    pixdim[c] = n;
    for (let r = 0; r < 3; r++) m[r * 3 + c] = aff[r * 4 + c] / n;
  }
  const p = nearestOrthogonal(m);
  let qfac = 1;
  if (det9(p) < 0) {
    qfac = -1;
    p[2] = -p[2];
    p[5] = -p[5];
    p[8] = -p[8];
  }
  const [r11, r12, r13, r21, r22, r23, r31, r32, r33] = p;
  let a = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = 0.25 * (r32 - r23) / a;
    c = 0.25 * (r13 - r31) / a;
    d = 0.25 * (r21 - r12) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = 0.25 * (r12 + r21) / b;
      d = 0.25 * (r13 + r31) / b;
      a = 0.25 * (r32 - r23) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = 0.25 * (r12 + r21) / c;
      d = 0.25 * (r23 + r32) / c;
      a = 0.25 * (r13 - r31) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = 0.25 * (r13 + r31) / d;
      c = 0.25 * (r23 + r32) / d;
      a = 0.25 * (r21 - r12) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { quatern: [b, c, d], offset: [aff[3], aff[7], aff[11]], pixdim, qfac };
}
