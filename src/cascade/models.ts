/**
 * A cascade model: `stage1.safetensors` and `stage2.safetensors`, each holding its network, its
 * weights and its stage spec (grid, patch, HU window) in the metadata, and what its training CTs
 * covered (`training`, for the fit check). Files that are corrupt or of
 * the wrong shape are refused by name before anything is loaded (src/io/models.ts reads them from a
 * model directory).
 */
import { decodeModel } from "../nn/weights.ts";
import { WeightsError } from "../nn/safetensors.ts";
import type { StageModel } from "./pipeline.ts";
import type { StageSpec } from "./stage.ts";
import type { TrainingProfile } from "./fit.ts";

/** Decodes one stage's model file and checks that its spec is that of `stage`. */
export function decodeStage(bytes: Uint8Array, path: string, stage: 1 | 2): StageModel {
  const { model, metadata } = decodeModel(bytes, path);
  let spec: StageSpec;
  try {
    spec = JSON.parse(metadata.stage);
  } catch {
    model.dispose();
    throw new WeightsError(path, "no stage description in the file's metadata (not a cascade stage model)");
  }
  if (spec?.stage !== stage || !Array.isArray(spec.spacing) || !Array.isArray(spec.patch)) {
    model.dispose();
    throw new WeightsError(path, `not a stage-${stage} model`);
  }
  const lw: unknown = spec.lossWeights;
  const classes = model.config.classes;
  if (
    lw !== undefined &&
    !(Array.isArray(lw) && lw.length === classes &&
      lw.every((w) => typeof w === "number" && w > 0 && w < Infinity))
  ) {
    model.dispose();
    throw new WeightsError(
      path,
      `the stage's lossWeights must be ${classes} positive finite numbers, one per class`,
    );
  }
  let training: TrainingProfile | undefined;
  try {
    training = metadata.training ? JSON.parse(metadata.training) : undefined;
  } catch {
    training = undefined; // an unreadable profile only costs the fit check its precision
  }
  return { model, spec: { ...spec, unet: model.config }, source: path, ...(training ? { training } : {}) };
}
