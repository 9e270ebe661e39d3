/**
 * Training patches: a centre drawn on an organ voxel (two thirds of the time, by default) or anywhere
 * in the candidate region, the network's input patch around it, and the labels and loss mask of its
 * output tile; augmented by one random smooth deformation and rotation applied alike to all three.
 * The organ voxel is drawn among all organ voxels alike (`voxel`), or, as nnU-Net oversamples, among
 * the voxels of one organ class drawn alike from those the case holds (`class`), so that a thin
 * vessel is centred as often as the liver.
 */
import { stageOutput, type StageSpec } from "../cascade/stage.ts";
import type { StageVolume } from "../cascade/prepare.ts";
import type { ForegroundSampling } from "../cascade/presets.ts";
import { augmentPairAuto } from "../volume/gpu.ts";
import { type Box, extractBox } from "../volume/bbox.ts";
import { makeVolume } from "../volume/grid.ts";
import { scaleAffine } from "../volume/affine.ts";
import type { Vec3 } from "../volume/types.ts";
import type { Rng } from "../util/random.ts";

/** A training case on a stage's grid, with its candidate region and the voxels to centre patches on. */
export interface TrainingVolume extends StageVolume {
  id: string;
  labels: Uint8Array;
  /** Candidate region (C1 or C2): the loss counts only these voxels. */
  candidate: Uint8Array;
  /** Indices of candidate voxels, and of those with an organ label. */
  inside: Uint32Array;
  organs: Uint32Array;
}

/** One patch: input (x fastest, the stage's patch size), and labels and mask on the output tile. */
export interface Patch {
  image: Float32Array;
  labels: Uint32Array;
  mask: Uint32Array;
}

/** Marks voxels outside the candidate region in a label map, so one warp carries labels and mask. */
const OUTSIDE = 255;
/** Extra voxels around a patch so that the deformation samples real voxels near its borders. */
const MARGIN = 8;

/** Builds a training volume from a stage volume, its labels and its candidate region. */
export function trainingVolume(
  id: string,
  v: StageVolume,
  labels: Uint8Array,
  candidate: Uint8Array,
): TrainingVolume {
  const inside: number[] = [], organs: number[] = [];
  for (let i = 0; i < candidate.length; i++) {
    if (!candidate[i]) continue;
    inside.push(i);
    if (labels[i]) organs.push(i);
  }
  if (!inside.length) throw new Error(`${id}: the candidate region is empty`);
  return { ...v, id, labels, candidate, inside: Uint32Array.from(inside), organs: Uint32Array.from(organs) };
}

/** Options of {@link samplePatch} and {@link patchCentre}. */
export interface SampleOptions {
  /** Fraction of patches centred on an organ voxel (the rest anywhere in the candidate region). */
  foregroundFraction: number;
  /** How the organ voxel is chosen (default `voxel`). */
  foregroundSampling?: ForegroundSampling;
}

/** The organ voxels of a volume grouped by class (classes in increasing order, absent ones left out). */
const byClass = new WeakMap<Uint32Array, Uint32Array[]>();

function organsByClass(v: TrainingVolume): Uint32Array[] {
  let groups = byClass.get(v.organs);
  if (!groups) {
    const count = new Uint32Array(256);
    for (const i of v.organs) count[v.labels[i]]++;
    const lists = Array.from(count, (n) => new Uint32Array(n));
    const at = new Uint32Array(256);
    for (const i of v.organs) {
      const k = v.labels[i];
      lists[k][at[k]++] = i;
    }
    groups = lists.filter((l) => l.length);
    byClass.set(v.organs, groups);
  }
  return groups;
}

/** The index of a patch's centre voxel in the volume (see {@link SampleOptions}). */
export function patchCentre(v: TrainingVolume, rng: Rng, opts: SampleOptions): number {
  const onOrgan = v.organs.length > 0 && rng.next() < opts.foregroundFraction;
  if (onOrgan && opts.foregroundSampling === "class") {
    const groups = organsByClass(v);
    const pool = groups[rng.int(groups.length)];
    return pool[rng.int(pool.length)];
  }
  const pool = onOrgan ? v.organs : v.inside;
  return pool[rng.int(pool.length)];
}

/** Draws one augmented patch (the warp on the GPU where that pays off). */
export async function samplePatch(
  v: TrainingVolume,
  spec: StageSpec,
  rng: Rng,
  opts: SampleOptions & { augment: boolean },
): Promise<Patch> {
  const c = patchCentre(v, rng, opts);
  const nx = v.dims[0], ny = v.dims[1];
  const centre: Vec3 = [c % nx, Math.floor(c / nx) % ny, Math.floor(c / (nx * ny))];
  const m = opts.augment ? MARGIN : 0;
  const big: Vec3 = [0, 1, 2].map((a) => spec.patch[a] + 2 * m) as Vec3;
  const box: Box = {
    min: [0, 1, 2].map((a) => centre[a] - Math.floor(big[a] / 2)) as Vec3,
    max: [0, 1, 2].map((a) => centre[a] - Math.floor(big[a] / 2) + big[a]) as Vec3,
  };
  let image = extractBox(v.image, v.dims, box, "edge");
  let marked = extractBox(v.labels, v.dims, box, OUTSIDE);
  const cand = extractBox(v.candidate, v.dims, box, 0);
  for (let i = 0; i < marked.length; i++) if (!cand[i]) marked[i] = OUTSIDE;
  if (opts.augment) {
    const affine = scaleAffine(v.spacing);
    const warped = await augmentPairAuto(
      makeVolume(image, big, affine),
      makeVolume(marked, big, affine),
      rng.int(2 ** 31),
    );
    image = warped.image.data;
    marked = warped.labels.data;
  }
  const out = stageOutput(spec);
  const inner = (size: Vec3): Box => {
    const lo = [0, 1, 2].map((a) => (big[a] - size[a]) / 2) as Vec3;
    return { min: lo, max: [0, 1, 2].map((a) => lo[a] + size[a]) as Vec3 };
  };
  const patchImage = extractBox(image, big, inner(spec.patch));
  const tile = extractBox(marked, big, inner(out));
  const labels = new Uint32Array(tile.length), mask = new Uint32Array(tile.length);
  for (let i = 0; i < tile.length; i++) {
    const inCandidate = tile[i] !== OUTSIDE;
    labels[i] = inCandidate ? tile[i] : 0;
    mask[i] = inCandidate ? 1 : 0;
  }
  return { image: patchImage, labels, mask };
}
