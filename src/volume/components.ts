/**
 * 3D connected components of a mask, by breadth-first flood fill over an explicit queue (no
 * recursion: volumes have millions of voxels).
 */

import { voxelCount } from "./grid.ts";
import type { Vec3 } from "./types.ts";

/** 6 (faces) or 26 (faces, edges and corners) neighbours. */
export type Connectivity = 6 | 26;

/** Neighbour offsets (di, dj, dk) for a connectivity. */
function offsets(connectivity: Connectivity): Vec3[] {
  const out: Vec3[] = [];
  for (let dk = -1; dk <= 1; dk++) {
    for (let dj = -1; dj <= 1; dj++) {
      for (let di = -1; di <= 1; di++) {
        const n = Math.abs(di) + Math.abs(dj) + Math.abs(dk);
        if (n === 0 || (connectivity === 6 && n > 1)) continue;
        out.push([di, dj, dk]);
      }
    }
  }
  return out;
}

/** Component labels (0 = background, 1.. = components in scan order) and each one's voxel count. */
export interface Components {
  /** Per voxel: its component id, or 0. */
  labels: Int32Array;
  /** sizes[c] = voxels of component c (sizes[0] = 0). */
  sizes: number[];
}

/** Labels the connected components of the nonzero voxels. */
export function connectedComponents(
  mask: ArrayLike<number>,
  dims: Vec3,
  connectivity: Connectivity = 6,
): Components {
  const [nx, ny, nz] = dims;
  const n = voxelCount(dims);
  const labels = new Int32Array(n);
  const queue = new Int32Array(n);
  const offs = offsets(connectivity);
  // Linear offsets for voxels away from the faces, where no bounds check is needed.
  const linear = Int32Array.from(offs, ([di, dj, dk]) => di + nx * (dj + ny * dk));
  const sizes = [0];
  for (let seed = 0; seed < n; seed++) {
    if (mask[seed] === 0 || labels[seed] !== 0) continue;
    const id = sizes.length;
    let head = 0, tail = 0;
    queue[tail++] = seed;
    labels[seed] = id;
    while (head < tail) {
      const p = queue[head++];
      const i = p % nx, j = ((p - i) / nx) % ny, k = (p - i - nx * j) / (nx * ny);
      const interior = i > 0 && i < nx - 1 && j > 0 && j < ny - 1 && k > 0 && k < nz - 1;
      for (let o = 0; o < linear.length; o++) {
        if (!interior) {
          const [di, dj, dk] = offs[o];
          const a = i + di, b = j + dj, c = k + dk;
          if (a < 0 || a >= nx || b < 0 || b >= ny || c < 0 || c >= nz) continue;
        }
        const q = p + linear[o];
        if (mask[q] !== 0 && labels[q] === 0) {
          labels[q] = id;
          queue[tail++] = q;
        }
      }
    }
    sizes.push(tail);
  }
  return { labels, sizes };
}

/** The largest connected component as a 0/1 mask (all zeros for an empty mask). */
export function largestComponent(
  mask: ArrayLike<number>,
  dims: Vec3,
  connectivity: Connectivity = 6,
): Uint8Array {
  const { labels, sizes } = connectedComponents(mask, dims, connectivity);
  let best = 0;
  for (let c = 1; c < sizes.length; c++) if (sizes[c] > sizes[best]) best = c;
  const out = new Uint8Array(labels.length);
  if (best > 0) { for (let i = 0; i < labels.length; i++) out[i] = labels[i] === best ? 1 : 0; }
  return out;
}
