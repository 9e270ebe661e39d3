/**
 * Sliding-window tiling: where to put output tiles so that they cover a region with a given overlap,
 * and the blending weight that lets overlapping tiles fall off towards their borders (a Gaussian of
 * sigma = size / 8, as nnU-Net does).
 */

import type { Box } from "../volume/bbox.ts";
import type { Vec3 } from "../volume/types.ts";

/** Start positions along one axis of tiles of length `size` covering [lo, hi) with `overlap` in [0, 1). */
export function axisStarts(lo: number, hi: number, size: number, overlap: number): number[] {
  const length = hi - lo;
  if (length <= size) return [lo - Math.floor((size - length) / 2)]; // one tile, centred (padded)
  const stride = Math.max(1, Math.floor(size * (1 - overlap)));
  const n = Math.ceil((length - size) / stride) + 1;
  const step = (length - size) / (n - 1);
  return Array.from({ length: n }, (_, i) => lo + Math.round(i * step));
}

/** Origins of the output tiles of size `size` that cover `region` with the given overlap. */
export function planTiles(region: Box, size: Vec3, overlap: number): Vec3[] {
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap must be in [0, 1), got ${overlap}`);
  const [xs, ys, zs] = [0, 1, 2].map((a) => axisStarts(region.min[a], region.max[a], size[a], overlap));
  const out: Vec3[] = [];
  for (const z of zs) for (const y of ys) for (const x of xs) out.push([x, y, z]);
  return out;
}

/** Gaussian blending weights of a tile (x fastest), peak 1, never below 1e-3 so every voxel counts. */
export function blendWeights(size: Vec3): Float32Array {
  const axis = (n: number) => {
    const sigma = n / 8, c = (n - 1) / 2;
    return Array.from({ length: n }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  };
  const [wx, wy, wz] = size.map(axis);
  const out = new Float32Array(size[0] * size[1] * size[2]);
  let i = 0;
  for (let z = 0; z < size[2]; z++) {
    for (let y = 0; y < size[1]; y++) {
      for (let x = 0; x < size[0]; x++) out[i++] = Math.max(1e-3, wx[x] * wy[y] * wz[z]);
    }
  }
  return out;
}
