/**
 * A cascade model directory: `stage1.safetensors` and `stage2.safetensors`, each holding its network,
 * its weights and its stage spec (grid, patch, HU window) in the metadata. Files that are missing,
 * corrupt or of the wrong shape are refused by name before anything is loaded.
 */
import { fileURLToPath } from "node:url";
import { loadModel } from "../nn/weights.ts";
import { WeightsError } from "../nn/safetensors.ts";
import type { StageModel } from "./pipeline.ts";
import type { StageSpec } from "./stage.ts";

/** The demo model shipped with the project (trained on the sample CT; see its model card). */
export const DEMO_MODEL_DIR: string = fileURLToPath(new URL("../../models/demo", import.meta.url));

/** Loads one stage's model and checks that its spec is that of `stage`. */
export async function loadStage(path: string, stage: 1 | 2): Promise<StageModel> {
  const { model, metadata } = await loadModel(path);
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
  return { model, spec: { ...spec, unet: model.config }, source: path };
}

/** Loads both stages of a model directory (stage 1 alone with `stage1Only`). */
export async function loadCascade(
  dir: string,
  opts: { stage1Only?: boolean } = {},
): Promise<{ stage1: StageModel; stage2: StageModel | null }> {
  const path = (s: number) => `${dir}/stage${s}.safetensors`;
  for (const s of opts.stage1Only ? [1] : [1, 2]) {
    const ok = await Deno.stat(path(s)).then((i) => i.isFile, () => false);
    if (!ok) throw new WeightsError(path(s), "no such model file (train one with deno task train)");
  }
  const stage1 = await loadStage(path(1), 1);
  const stage2 = opts.stage1Only ? null : await loadStage(path(2), 2);
  return { stage1, stage2 };
}
