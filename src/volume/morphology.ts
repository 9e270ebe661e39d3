/**
 * Binary morphology with ellipsoidal structuring elements given in millimetres, so anisotropic
 * voxels are handled: the element is every offset o with |o * spacing| <= radius. It is computed
 * through an exact Euclidean distance transform (Felzenszwalb & Huttenlocher, separable, linear in
 * the voxel count whatever the radius), which gives exactly that element.
 */

import { extractBox } from "./bbox.ts";
import { voxelCount } from "./grid.ts";
import type { Vec3 } from "./types.ts";

/** 1D squared distance transform of `f` (finite values = sources) on a line of step `s` mm. */
function distance1d(
  f: Float64Array,
  n: number,
  s: number,
  d: Float64Array,
  v: Int32Array,
  z: Float64Array,
): void {
  // Lower envelope of the parabolas (x - q s)^2 + f[q], only over finite f (Infinity = no source).
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (f[q] === Infinity) continue;
    const fq = f[q] + (q * s) * (q * s);
    while (k >= 0) {
      const p = v[k];
      const x = (fq - (f[p] + (p * s) * (p * s))) / (2 * s * (q - p));
      if (x <= z[k]) k--;
      else {
        k++;
        v[k] = q;
        z[k] = x;
        break;
      }
    }
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
    }
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    d.fill(Infinity, 0, n);
    return;
  }
  let j = 0;
  for (let q = 0; q < n; q++) {
    while (z[j + 1] < q * s) j++;
    const dq = (q - v[j]) * s;
    d[q] = dq * dq + f[v[j]];
  }
}

/**
 * Squared Euclidean distance in mm^2 from each voxel to the nearest nonzero voxel of `mask`
 * (0 on the mask, Infinity everywhere when the mask is empty).
 */
export function squaredDistanceMm(mask: ArrayLike<number>, dims: Vec3, spacing: Vec3): Float64Array {
  const n = voxelCount(dims);
  const dist = new Float64Array(n);
  for (let i = 0; i < n; i++) dist[i] = mask[i] !== 0 ? 0 : Infinity;
  const longest = Math.max(...dims);
  const f = new Float64Array(longest), d = new Float64Array(longest);
  const v = new Int32Array(longest), z = new Float64Array(longest + 1);
  const stride = [1, dims[0], dims[0] * dims[1]];
  for (let axis = 0; axis < 3; axis++) {
    const len = dims[axis], st = stride[axis];
    // Lines along `axis` start at every voxel whose index on that axis is 0.
    const [a, b] = [0, 1, 2].filter((x) => x !== axis);
    for (let ib = 0; ib < dims[b]; ib++) {
      for (let ia = 0; ia < dims[a]; ia++) {
        const start = ia * stride[a] + ib * stride[b];
        for (let q = 0; q < len; q++) f[q] = dist[start + q * st];
        distance1d(f, len, spacing[axis], d, v, z);
        for (let q = 0; q < len; q++) dist[start + q * st] = d[q];
      }
    }
  }
  return dist;
}

/** Squared radius with a hair of slack, so offsets exactly on the ellipsoid are inside despite rounding. */
function radius2(radiusMm: number): number {
  return radiusMm * radiusMm * (1 + 1e-9) + 1e-12;
}

/** Dilation of the nonzero voxels (a mask or a label map) by `radiusMm`: a 0/1 mask. */
export function dilate(mask: ArrayLike<number>, dims: Vec3, spacing: Vec3, radiusMm: number): Uint8Array {
  const dist = squaredDistanceMm(mask, dims, spacing);
  const r2 = radius2(radiusMm);
  const out = new Uint8Array(dist.length);
  for (let i = 0; i < dist.length; i++) out[i] = dist[i] <= r2 ? 1 : 0;
  return out;
}

/**
 * Erosion of the nonzero voxels by `radiusMm`: a 0/1 mask. Outside the volume counts as background
 * (as scipy's binary_erosion), so the mask also shrinks away from the volume's faces.
 */
export function erode(mask: ArrayLike<number>, dims: Vec3, spacing: Vec3, radiusMm: number): Uint8Array {
  // Erosion is the complement of the dilated complement; one voxel of padding holds the outside.
  const pdims: Vec3 = [dims[0] + 2, dims[1] + 2, dims[2] + 2];
  const background = new Uint8Array(voxelCount(pdims)).fill(1);
  let n = 0;
  for (let k = 1; k <= dims[2]; k++) {
    for (let j = 1; j <= dims[1]; j++) {
      const row = 1 + pdims[0] * (j + pdims[1] * k);
      for (let i = 0; i < dims[0]; i++, n++) background[row + i] = mask[n] !== 0 ? 0 : 1;
    }
  }
  const grown = dilate(background, pdims, spacing, radiusMm);
  const inside = extractBox(grown, pdims, { min: [1, 1, 1], max: [dims[0] + 1, dims[1] + 1, dims[2] + 1] });
  for (let i = 0; i < inside.length; i++) inside[i] = 1 - inside[i];
  return inside;
}

/** Opening (erosion then dilation): removes structures thinner than the element, e.g. the CT table. */
export function open(mask: ArrayLike<number>, dims: Vec3, spacing: Vec3, radiusMm: number): Uint8Array {
  return dilate(erode(mask, dims, spacing, radiusMm), dims, spacing, radiusMm);
}

/** Closing (dilation then erosion): bridges gaps narrower than the element. */
export function close(mask: ArrayLike<number>, dims: Vec3, spacing: Vec3, radiusMm: number): Uint8Array {
  return erode(dilate(mask, dims, spacing, radiusMm), dims, spacing, radiusMm);
}
