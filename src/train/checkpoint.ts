/**
 * Training checkpoints: the model, the optimiser's state and the loop's counters in one safetensors
 * file, written atomically, from which training resumes exactly where it stopped.
 */
import { decodeSafetensors, encodeSafetensors, type HostTensor, WeightsError } from "../nn/safetensors.ts";
import { loadInto, modelTensors } from "../nn/weights.ts";
import type { UNet3D } from "../nn/unet3d.ts";
import type { Optimizer, OptimizerState } from "../optim/sgd.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { readModelBytes } from "../io/models.ts";

/** The loop's counters saved with a checkpoint. */
export interface LoopState {
  /** Iterations completed. */
  iteration: number;
  /** Best validation score so far (mean Dice) and where it was reached. */
  bestScore: number;
  bestIteration: number;
  /** Training seconds spent so far (excluding time while stopped). */
  seconds: number;
}

const OPTIM = "optimizer.";

/** Writes model + optimiser + loop state to `path` (atomically). */
export async function saveCheckpoint(
  path: string,
  model: UNet3D,
  optimizer: Optimizer,
  loop: LoopState,
  metadata: Record<string, string>,
): Promise<void> {
  const tensors = await modelTensors(model);
  const s = await optimizer.state();
  for (const [name, arrays] of Object.entries(s.buffers)) {
    arrays.forEach((data, i) => tensors.set(`${OPTIM}${name}.${i}`, { shape: [data.length], data }));
  }
  const meta = {
    ...metadata,
    config: JSON.stringify(model.config),
    loop: JSON.stringify({ ...loop, step: s.step }),
  };
  await writeFileAtomic(path, encodeSafetensors(tensors, meta));
}

/** Restores a checkpoint into `model` and `optimizer`; returns the loop state and the metadata. */
export async function loadCheckpoint(
  path: string,
  model: UNet3D,
  optimizer: Optimizer,
): Promise<{ loop: LoopState; metadata: Record<string, string> }> {
  const { tensors, metadata } = decodeSafetensors(await readModelBytes(path), path);
  if (metadata.config !== JSON.stringify(model.config)) {
    throw new WeightsError(path, "the checkpoint's network differs from the one being trained");
  }
  const modelPart = new Map<string, HostTensor>();
  const buffers: Record<string, Float32Array[]> = {};
  for (const [name, t] of tensors) {
    if (!name.startsWith(OPTIM)) {
      modelPart.set(name, t);
      continue;
    }
    const dot = name.lastIndexOf(".");
    const key = name.slice(OPTIM.length, dot);
    (buffers[key] ??= [])[Number(name.slice(dot + 1))] = t.data;
  }
  loadInto(model, modelPart, path);
  const loop = JSON.parse(metadata.loop ?? "null") as (LoopState & { step: number }) | null;
  if (!loop) throw new WeightsError(path, "not a training checkpoint (no loop state)");
  try {
    optimizer.loadState({ step: loop.step, buffers } as OptimizerState);
  } catch (e) {
    throw new WeightsError(path, `optimiser state does not fit: ${(e as Error).message}`);
  }
  return { loop, metadata };
}
