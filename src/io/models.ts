/**
 * Models by path: a U-Net's safetensors file, a cascade's model directory and the shipped demo model
 * (the Deno edge of src/nn/weights.ts and src/cascade/models.ts).
 */
import { fileURLToPath } from "node:url";
import { WeightsError } from "../nn/safetensors.ts";
import type { UNet3D } from "../nn/unet3d.ts";
import { decodeModel, encodeModel } from "../nn/weights.ts";
import { decodeStage } from "../cascade/models.ts";
import type { StageModel } from "../cascade/pipeline.ts";
import { writeFileAtomic } from "./atomic.ts";
import { FileReadError, isFile, readFileBytes } from "./fs.ts";

/** The demo model shipped with the project (trained on the sample CT; see its model card). */
export const DEMO_MODEL_DIR: string = fileURLToPath(new URL("../../models/demo", import.meta.url));

/** The bytes of a model file, with file-system problems as WeightsErrors naming it. */
export async function readModelBytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await readFileBytes(path);
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    throw new WeightsError(path, e.code === "not-found" ? "no such file" : e.problem);
  }
}

/** Writes the model atomically; `metadata` values are stored as strings next to `config`. */
export async function saveModel(
  path: string,
  model: UNet3D,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, await encodeModel(model, metadata));
}

/** Reads a model file: the network with its weights, and the file's metadata. */
export async function loadModel(path: string): Promise<{ model: UNet3D; metadata: Record<string, string> }> {
  return decodeModel(await readModelBytes(path), path);
}

/** Loads one stage's model and checks that its spec is that of `stage`. */
export async function loadStage(path: string, stage: 1 | 2): Promise<StageModel> {
  return decodeStage(await readModelBytes(path), path, stage);
}

/** Loads both stages of a model directory (stage 1 alone with `stage1Only`). */
export async function loadCascade(
  dir: string,
  opts: { stage1Only?: boolean } = {},
): Promise<{ stage1: StageModel; stage2: StageModel | null }> {
  const path = (s: number) => `${dir}/stage${s}.safetensors`;
  for (const s of opts.stage1Only ? [1] : [1, 2]) {
    if (!(await isFile(path(s)))) {
      throw new WeightsError(path(s), "no such model file (train one with deno task train)");
    }
  }
  const stage1 = await loadStage(path(1), 1);
  const stage2 = opts.stage1Only ? null : await loadStage(path(2), 2);
  return { stage1, stage2 };
}
