/**
 * Training cases on a stage's grid with their candidate regions: C1 (the body mask) for stage 1; for
 * stage 2, C2 computed by the trained stage-1 model on each case, as in the paper, so that stage 2
 * learns on the regions it will see at inference.
 */
import { candidateC1, candidateC2, labelsOnGrid, stageGridHu, stageVolume } from "../cascade/prepare.ts";
import { type Stage1, stage1Labels } from "../cascade/pipeline.ts";
import type { StageSpec } from "../cascade/stage.ts";
import { type TrainingCase } from "../io/dataset.ts";
import { readCase } from "../io/dataset.ts";
import type { LabelRemap } from "../volume/labels.ts";
import { type TrainingVolume, trainingVolume } from "./sampler.ts";

/** Reads a case and puts it on the stage's grid with its candidate region. */
export async function loadTrainingVolume(
  c: TrainingCase,
  spec: StageSpec,
  opts: { remap?: LabelRemap; stage1?: Stage1 } = {},
): Promise<TrainingVolume> {
  const { image, labels } = await readCase(c, { remap: opts.remap });
  const hu = await stageGridHu(image, spec);
  const lab = await labelsOnGrid(labels, hu);
  let candidate: Uint8Array;
  if (spec.stage === 1) candidate = candidateC1(hu);
  else {
    if (!opts.stage1) throw new Error("stage 2 needs the trained stage-1 model to compute C2");
    candidate = candidateC2(await stage1Labels(opts.stage1, image), hu, spec.c2MarginMm ?? 0);
  }
  return trainingVolume(c.id, stageVolume(hu, spec), lab, candidate);
}
