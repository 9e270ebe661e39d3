/**
 * The paper's pipeline end to end on one CT: canonical orientation, stage 1 at the coarse spacing
 * inside the body mask C1, C2 = the dilated stage-1 organs, stage 2 at the fine spacing over C2's
 * bounding box (background outside C2), and the labels carried back onto the input's own grid.
 */
import { predictInside, type Segmenter } from "./infer.ts";
import { candidateC1, candidateC2, stageGridHu, stageVolume } from "./prepare.ts";
import type { StageSpec } from "./stage.ts";
import type { TrainingProfile } from "./fit.ts";
import { makeVolume } from "../volume/grid.ts";
import { fromCanonical, toCanonical } from "../volume/orientation.ts";
import { resampleToGrid } from "../volume/resample.ts";
import type { Grid, Volume } from "../volume/types.ts";

/** A stage's network and its spec. */
export interface StageModel {
  model: Segmenter;
  spec: StageSpec;
  /** What the stage's training CTs covered, when its file says. */
  training?: TrainingProfile;
  /** The file it was loaded from, named by errors. */
  source?: string;
}

/** The stage-1 model and its spec (needed for C2). */
export type Stage1 = StageModel;

/** Progress of one stage: tiles done and total. */
export type TileProgress = (stage: number, done: number, total: number) => void;

/** Options of the stages' sliding windows. */
export interface InferenceOptions {
  /** Overlap of neighbouring tiles in [0, 1) (default 0.5). */
  overlap?: number;
  onTile?: TileProgress;
}

/** Stage-1 labels of a HU CT on the stage-1 grid (canonical orientation), restricted to C1. */
export async function stage1Labels(
  stage1: Stage1,
  ct: Volume<Float32Array>,
  opts: InferenceOptions = {},
): Promise<Volume<Uint8Array>> {
  const hu = await stageGridHu(ct, stage1.spec);
  const v = stageVolume(hu, stage1.spec);
  const labels = await predictInside(stage1.model, stage1.spec, v.image, v.dims, candidateC1(hu), {
    overlap: opts.overlap,
    onTile: (d, t) => opts.onTile?.(1, d, t),
    source: stage1.source,
  });
  return makeVolume(labels, hu.dims, hu.affine);
}

/** Stage-2 labels on the stage-2 grid (canonical orientation), background outside C2. */
export async function stage2Labels(
  stage2: StageModel,
  ct: Volume<Float32Array>,
  s1: Volume<Uint8Array>,
  opts: InferenceOptions = {},
): Promise<Volume<Uint8Array>> {
  const hu = await stageGridHu(ct, stage2.spec);
  const v = stageVolume(hu, stage2.spec);
  const c2 = candidateC2(s1, hu, stage2.spec.c2MarginMm ?? 0);
  const labels = await predictInside(stage2.model, stage2.spec, v.image, v.dims, c2, {
    overlap: opts.overlap,
    onTile: (d, t) => opts.onTile?.(2, d, t),
    source: stage2.source,
  });
  return makeVolume(labels, hu.dims, hu.affine);
}

/** A label map on a stage grid carried back onto the input's grid and orientation (nearest). */
export function toInputGrid(labels: Volume<Uint8Array>, input: Grid): Volume<Uint8Array> {
  const canonical = toCanonical(
    makeVolume(new Uint8Array(input.dims[0] * input.dims[1] * input.dims[2]), input.dims, input.affine),
  );
  const onCanonical = resampleToGrid(labels, canonical, "nearest");
  return fromCanonical(onCanonical, input);
}

/** Seconds spent in each step of {@link segmentVolume}. */
export interface SegmentTimes {
  stage1: number;
  stage2: number;
}

/** Segments a HU CT with both stages (or stage 1 only); the labels have the input's grid. */
export async function segmentVolume(
  ct: Volume<Float32Array>,
  stage1: StageModel,
  stage2: StageModel | null,
  opts: InferenceOptions = {},
): Promise<{ labels: Volume<Uint8Array>; seconds: SegmentTimes }> {
  let t = performance.now();
  const s1 = await stage1Labels(stage1, ct, opts);
  const stage1Seconds = (performance.now() - t) / 1000;
  t = performance.now();
  const fine = stage2 ? await stage2Labels(stage2, ct, s1, opts) : s1;
  const stage2Seconds = stage2 ? (performance.now() - t) / 1000 : 0;
  return { labels: toInputGrid(fine, ct), seconds: { stage1: stage1Seconds, stage2: stage2Seconds } };
}
