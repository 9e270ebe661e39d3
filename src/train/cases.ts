/**
 * Training cases on a stage's grid with their candidate regions: C1 (the body mask) for stage 1; for
 * stage 2, C2 computed by the trained stage-1 model on each case, as in the paper, so that stage 2
 * learns on the regions it will see at inference.
 */
import { candidateC1, candidateC2, labelsOnGrid, stageGridHu, stageVolume } from "../cascade/prepare.ts";
import type { StageSpec } from "../cascade/stage.ts";
import { predictRegion, type Segmenter } from "../cascade/infer.ts";
import { type TrainingCase } from "../volume/dataset.ts";
import { readCase } from "../volume/dataset.ts";
import type { LabelRemap } from "../volume/labels.ts";
import { boundingBox } from "../volume/bbox.ts";
import { makeVolume } from "../volume/grid.ts";
import { type TrainingVolume, trainingVolume } from "./sampler.ts";

/** The stage-1 model and its spec, needed to build C2. */
export interface Stage1 {
  model: Segmenter;
  spec: StageSpec;
}

/** Stage-1 labels of a HU CT (canonical orientation, stage-1 grid), restricted to C1. */
export async function stage1Labels(stage1: Stage1, ct: Parameters<typeof stageGridHu>[0]) {
  const hu = stageGridHu(ct, stage1.spec);
  const c1 = candidateC1(hu);
  const v = stageVolume(hu, stage1.spec);
  const box = boundingBox(c1, v.dims);
  const labels = box
    ? await predictRegion(stage1.model, stage1.spec, v.image, v.dims, box)
    : new Uint8Array(c1.length);
  for (let i = 0; i < labels.length; i++) if (!c1[i]) labels[i] = 0;
  return makeVolume(labels, hu.dims, hu.affine);
}

/** Reads a case and puts it on the stage's grid with its candidate region. */
export async function loadTrainingVolume(
  c: TrainingCase,
  spec: StageSpec,
  opts: { remap?: LabelRemap; stage1?: Stage1 } = {},
): Promise<TrainingVolume> {
  const { image, labels } = await readCase(c, { remap: opts.remap });
  const hu = stageGridHu(image, spec);
  const lab = labelsOnGrid(labels, hu);
  let candidate: Uint8Array;
  if (spec.stage === 1) candidate = candidateC1(hu);
  else {
    if (!opts.stage1) throw new Error("stage 2 needs the trained stage-1 model to compute C2");
    candidate = candidateC2(await stage1Labels(opts.stage1, image), hu, spec.c2MarginMm ?? 0);
  }
  return trainingVolume(c.id, stageVolume(hu, spec), lab, candidate);
}
