/**
 * Orientation codes (nibabel's aff2axcodes, e.g. "RAS", "LPS") and reorientation by axis
 * permutation and flips, which moves voxels without interpolation and so round-trips exactly.
 */

import { maxAbsDifference, multiplyAffine } from "./affine.ts";
import { makeVolume, voxelCount } from "./grid.ts";
import type { Affine, Grid, Vec3, Volume, VoxelArray } from "./types.ts";

/** For one voxel axis: the world axis it runs along (0 x, 1 y, 2 z) and whether towards -world. */
export interface AxisDirection {
  /** World axis: 0 = x (L-R), 1 = y (P-A), 2 = z (I-S). */
  world: 0 | 1 | 2;
  /** True when increasing the voxel index decreases the world coordinate. */
  flip: boolean;
}

const POSITIVE = "RAS";
const NEGATIVE = "LPI";

/**
 * The world axis nearest to each voxel axis. Oblique affines pick, greedily, the largest remaining
 * direction-cosine component, so each world axis is used once (as nibabel's io_orientation for
 * non-degenerate cases).
 */
export function axisDirections(affine: Affine): [AxisDirection, AxisDirection, AxisDirection] {
  // Normalised columns, so anisotropic voxels do not bias the choice.
  const cos: number[][] = [0, 1, 2].map((c) => {
    const n = Math.hypot(affine[c], affine[4 + c], affine[8 + c]) || 1;
    return [affine[c] / n, affine[4 + c] / n, affine[8 + c] / n];
  });
  const out: AxisDirection[] = new Array(3);
  const usedVoxel = [false, false, false], usedWorld = [false, false, false];
  for (let pick = 0; pick < 3; pick++) {
    let best = -1, bv = 0, bw = 0;
    for (let v = 0; v < 3; v++) {
      for (let w = 0; w < 3; w++) {
        if (!usedVoxel[v] && !usedWorld[w] && Math.abs(cos[v][w]) > best) {
          best = Math.abs(cos[v][w]);
          bv = v;
          bw = w;
        }
      }
    }
    usedVoxel[bv] = usedWorld[bw] = true;
    out[bv] = { world: bw as 0 | 1 | 2, flip: cos[bv][bw] < 0 };
  }
  return out as [AxisDirection, AxisDirection, AxisDirection];
}

/** The orientation code of an affine: the direction each voxel axis points to, e.g. "RAS", "LPS". */
export function axisCodes(affine: Affine): string {
  return axisDirections(affine).map((d) => (d.flip ? NEGATIVE : POSITIVE)[d.world]).join("");
}

/** Parses a code like "LPS" into axis directions; throws RangeError for invalid codes. */
export function parseAxisCodes(code: string): [AxisDirection, AxisDirection, AxisDirection] {
  const upper = code.toUpperCase();
  const dirs = [...upper].map((ch) => {
    const p = POSITIVE.indexOf(ch), n = NEGATIVE.indexOf(ch);
    return p >= 0 ? { world: p as 0 | 1 | 2, flip: false } : { world: n as 0 | 1 | 2, flip: true };
  });
  if (dirs.length !== 3 || dirs.some((d) => d.world < 0) || new Set(dirs.map((d) => d.world)).size !== 3) {
    throw new RangeError(`invalid orientation code ${JSON.stringify(code)}: need one of R/L, A/P, S/I each`);
  }
  return dirs as [AxisDirection, AxisDirection, AxisDirection];
}

/**
 * Permutes and flips voxel axes: output axis b takes input axis `perm[b]`, reversed where
 * `flip[b]`. Returns the new voxels and dims. This is the pure per-voxel kernel of reorientation.
 */
export function permuteAxes<T extends VoxelArray>(data: T, dims: Vec3, perm: Vec3, flip: boolean[]): {
  data: T;
  dims: Vec3;
} {
  const inStride = [1, dims[0], dims[0] * dims[1]];
  const outDims: Vec3 = [dims[perm[0]], dims[perm[1]], dims[perm[2]]];
  // Walking output voxels in order, each output axis steps the input by a signed stride.
  let base = 0;
  const step = [0, 1, 2].map((b) => {
    const a = perm[b];
    if (flip[b]) base += (dims[a] - 1) * inStride[a];
    return flip[b] ? -inStride[a] : inStride[a];
  });
  const out = new (data.constructor as { new (n: number): T })(voxelCount(outDims));
  let o = 0;
  for (let z = 0; z < outDims[2]; z++) {
    for (let y = 0; y < outDims[1]; y++) {
      let src = base + z * step[2] + y * step[1];
      for (let x = 0; x < outDims[0]; x++, src += step[0]) out[o++] = data[src];
    }
  }
  return { data: out, dims: outDims };
}

/** Reorients a volume so that its orientation code is `code` (e.g. "RAS"); the affine follows. */
export function reorient<T extends VoxelArray>(volume: Volume<T>, code: string): Volume<T> {
  const from = axisDirections(volume.affine);
  const to = parseAxisCodes(code);
  const perm = [0, 0, 0] as Vec3;
  const flip = [false, false, false];
  // t maps an output voxel index to the input voxel index: input = t * output.
  const t = new Array<number>(16).fill(0);
  t[15] = 1;
  for (let b = 0; b < 3; b++) {
    const a = from.findIndex((d) => d.world === to[b].world);
    perm[b] = a;
    flip[b] = from[a].flip !== to[b].flip;
    t[a * 4 + b] = flip[b] ? -1 : 1;
    if (flip[b]) t[a * 4 + 3] = volume.dims[a] - 1;
  }
  const moved = permuteAxes(volume.data, volume.dims, perm, flip);
  return makeVolume(moved.data, moved.dims, multiplyAffine(volume.affine, t));
}

/** The volume in canonical RAS orientation (voxel axes point Right, Anterior, Superior). */
export function toCanonical<T extends VoxelArray>(volume: Volume<T>): Volume<T> {
  return reorient(volume, "RAS");
}

/**
 * Brings a canonical (RAS) volume back onto the original grid it came from. Voxels move back
 * exactly; the returned affine is `original.affine` itself (not recomputed, so it is bit-identical).
 * Throws RangeError if the volume is not on the reoriented form of `original`.
 */
export function fromCanonical<T extends VoxelArray>(volume: Volume<T>, original: Grid): Volume<T> {
  const back = reorient(volume, axisCodes(original.affine));
  const sameDims = back.dims.every((n, i) => n === original.dims[i]);
  const diff = maxAbsDifference(back.affine, original.affine);
  if (!sameDims || !(diff <= 1e-6 * (1 + Math.max(...original.affine.map(Math.abs))))) {
    throw new RangeError(
      `volume (${back.dims.join("x")}) is not the reoriented form of the grid ${
        original.dims.join("x")
      } (affine off by ${diff})`,
    );
  }
  return makeVolume(back.data, original.dims, original.affine);
}
