/**
 * Per-organ statistics of a segmentation, as TotalSegmentator's `--statistics` gives them: voxels,
 * volume in mL, mean and standard deviation of HU inside the organ, whether the organ touches the
 * boundary of the scan (then its volume is a lower bound: the scan cut it), and the Dice against a
 * reference when one is given.
 */
import { dicePerLabel } from "../train/dice.ts";
import { LABEL_NAMES, labelName } from "../volume/labels.ts";
import type { Volume } from "../volume/types.ts";

/** One organ's row of the report. */
export interface OrganStats {
  label: number;
  name: string;
  voxels: number;
  /** Volume in millilitres, rounded to 0.1. */
  ml: number;
  /** True when the organ has voxels on a face of the scan: it may extend beyond it. */
  touches_edge: boolean;
  /** Mean HU inside the organ (null when absent), rounded to 0.1. */
  hu_mean: number | null;
  /** Standard deviation of HU inside the organ (null when absent), rounded to 0.1. */
  hu_sd: number | null;
  /** Dice against the reference, when one was given (null when absent from both). */
  dice?: number | null;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Labels 1..K-1 that have a voxel on one of the six faces of the grid. */
export function labelsOnEdge(labels: Volume<Uint8Array>, classes = LABEL_NAMES.length): boolean[] {
  const [nx, ny, nz] = labels.dims;
  const d = labels.data;
  const on = new Array<boolean>(classes).fill(false);
  const mark = (i: number) => {
    const v = d[i];
    if (v > 0 && v < classes) on[v] = true;
  };
  for (let z = 0; z < nz; z++) {
    const zEdge = z === 0 || z === nz - 1;
    for (let y = 0; y < ny; y++) {
      const row = nx * (y + ny * z);
      if (zEdge || y === 0 || y === ny - 1) {
        for (let x = 0; x < nx; x++) mark(row + x);
      } else {
        mark(row);
        mark(row + nx - 1);
      }
    }
  }
  return on;
}

/**
 * The statistics of organs 1..K-1 (every organ, found or not) of a label map on the CT's grid;
 * `reference`, a label map on the same grid, adds the Dice of each organ.
 */
export function organStats(
  ct: Volume<Float32Array>,
  labels: Volume<Uint8Array>,
  opts: { reference?: Uint8Array; names?: readonly string[] } = {},
): OrganStats[] {
  const k = (opts.names ?? LABEL_NAMES).length;
  if (ct.data.length !== labels.data.length) throw new RangeError("organStats: CT and labels differ in size");
  const count = new Float64Array(k), sum = new Float64Array(k), sq = new Float64Array(k);
  // Sums shifted by each organ's first voxel keep the variance accurate (no cancellation).
  const shift = new Float64Array(k).fill(NaN);
  for (let i = 0; i < labels.data.length; i++) {
    const l = labels.data[i];
    if (l === 0 || l >= k) continue;
    if (Number.isNaN(shift[l])) shift[l] = ct.data[i];
    const v = ct.data[i] - shift[l];
    count[l]++;
    sum[l] += v;
    sq[l] += v * v;
  }
  const edge = labelsOnEdge(labels, k);
  const dice = opts.reference ? dicePerLabel(labels.data, opts.reference, k) : null;
  const voxelMl = (ct.spacing[0] * ct.spacing[1] * ct.spacing[2]) / 1000;
  const out: OrganStats[] = [];
  for (let l = 1; l < k; l++) {
    const n = count[l];
    const mean = n ? sum[l] / n : NaN;
    const variance = n > 1 ? Math.max(0, (sq[l] - n * mean * mean) / (n - 1)) : 0;
    const row: OrganStats = {
      label: l,
      name: opts.names?.[l] ?? labelName(l),
      voxels: n,
      ml: round(n * voxelMl, 1),
      touches_edge: edge[l],
      hu_mean: n ? round(mean + shift[l], 1) : null,
      hu_sd: n ? round(Math.sqrt(variance), 1) : null,
    };
    if (dice) row.dice = Number.isNaN(dice[l - 1].dice) ? null : round(dice[l - 1].dice, 4);
    out.push(row);
  }
  return out;
}
