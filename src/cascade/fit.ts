/**
 * Whether a CT is within what a model was trained on. A model is applied to any CT, but a scan far
 * from its training data (not in Hounsfield units, much coarser slices, a few centimetres of the
 * body, no abdomen) gives labels that look plausible and are not: each check returns one line saying
 * so, for the command to print before its results.
 */
import type { OrganStats } from "../report/organs.ts";
import type { Grid, Volume } from "../volume/types.ts";
import { spacingOf } from "../volume/affine.ts";
import type { StageSpec } from "./stage.ts";

/** What a model's training CTs covered (stored in its metadata by `deno task train`). */
export interface TrainingProfile {
  /** Smallest and largest voxel size along any axis, mm. */
  spacingMm: [number, number];
  /** Smallest and largest extent along the body axis (z), mm. */
  extentZMm: [number, number];
  /** Number of training CTs. */
  cases: number;
}

/** The voxel axis closest to the body's superior-inferior direction (slices of an axial CT: 2). */
export function bodyAxis(g: Grid): 0 | 1 | 2 {
  const sp = spacingOf(g.affine);
  const sup = (a: number) => Math.abs(g.affine[8 + a]) / sp[a];
  return ([0, 1, 2] as const).reduce((best, a) => (sup(a) > sup(best) ? a : best));
}

/**
 * The profile of a set of training CTs from their grids: voxel sizes, extents along the body axis
 * (the voxel axis closest to superior-inferior), and the median of each CT's coarsest voxel size.
 */
export function trainingProfile(grids: Grid[]): TrainingProfile & { typicalVoxelMm: number } {
  const coarsest: number[] = [], finest: number[] = [], extents: number[] = [];
  for (const g of grids) {
    const sp = spacingOf(g.affine);
    coarsest.push(Math.max(...sp));
    finest.push(Math.min(...sp));
    const z = bodyAxis(g);
    extents.push(g.dims[z] * sp[z]);
  }
  const sorted = [...coarsest].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    spacingMm: [r(Math.min(...finest)), r(Math.max(...coarsest))],
    extentZMm: [r(Math.min(...extents)), r(Math.max(...extents))],
    cases: grids.length,
    typicalVoxelMm: sorted[Math.floor(sorted.length / 2)],
  };
}

/** The 1st and 99th percentiles of a sample of the voxels (every `step`-th). */
function percentiles(data: Float32Array): [number, number] {
  const step = Math.max(1, Math.floor(data.length / 200_000));
  const sample: number[] = [];
  for (let i = 0; i < data.length; i += step) sample.push(data[i]);
  sample.sort((a, b) => a - b);
  return [sample[Math.floor(sample.length * 0.01)], sample[Math.floor(sample.length * 0.99)]];
}

const fmt = (x: number) => (Math.round(x * 10) / 10).toString();

/**
 * One line per way in which `ct` is far from what the fine stage (`spec`) and, when known, the
 * training CTs (`profile`) expect; empty when it looks like an abdominal CT the model can handle.
 */
export function inputFitWarnings(
  ct: Volume<Float32Array>,
  spec: StageSpec,
  profile?: TrainingProfile,
): string[] {
  const out: string[] = [];
  const [lo, hi] = percentiles(ct.data);
  if (lo > -500 || hi > 4000 || hi - lo < 300) {
    out.push(
      `intensities run from ${fmt(lo)} to ${fmt(hi)} (1st-99th percentile), which does not look like CT in ` +
        "Hounsfield units (air outside the body is about -1000 HU): is this a CT, with its rescale applied?",
    );
  }
  const coarsest = Math.max(...ct.spacing);
  const modelCoarsest = profile ? profile.spacingMm[1] : Math.max(...spec.spacing);
  if (coarsest > 2 * modelCoarsest) {
    out.push(
      `voxels of up to ${fmt(coarsest)} mm are much coarser than the ${fmt(modelCoarsest)} mm the model ` +
        "was trained on: small organs and vessels will be less accurate",
    );
  }
  const z = bodyAxis(ct);
  const extent = [0, 1, 2].map((a) => ct.dims[a] * ct.spacing[a]);
  const extentZ = extent[z];
  const extentXY = Math.min(...extent.filter((_, a) => a !== z));
  const minZ = profile ? profile.extentZMm[0] / 2 : 100;
  if (extentZ < minZ || extentXY < 150) {
    out.push(
      `the scan covers ${fmt(extentXY)} mm across and ${fmt(extentZ)} mm along the body axis: the model ` +
        "was trained on whole abdomens, so organs cut by a small field of view are less reliable",
    );
  }
  return out;
}

/** A line when the result does not look like an abdomen (no liver, spleen or stomach found). */
export function outputFitWarnings(organs: OrganStats[]): string[] {
  const main = organs.filter((o) => ["liver", "spleen", "stomach"].includes(o.name));
  if (main.length && main.every((o) => o.ml < 10)) {
    return [
      "no liver, spleen or stomach was found: the model segments the abdomen, and this scan may not show it",
    ];
  }
  return [];
}
