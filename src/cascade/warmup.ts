/**
 * Compiling inference's kernels ahead of the first tile. A dry run of one tile of each stage (nothing
 * launched, see `Gpu.recordPipelines`) lists every pipeline the sliding windows will use, with the
 * tilings and precision of this adapter; `Gpu.precompile` then builds them all at once,
 * asynchronously, so that a browser compiles them in parallel where it can and a page stays
 * responsive while it does.
 */
import { noGrad } from "../autograd.ts";
import { gpu, type PipelineSpec } from "../gpu/runtime.ts";
import { softmax } from "../ops/softmax.ts";
import { Tensor, tidy } from "../tensor.ts";
import type { StageModel } from "./pipeline.ts";

/** The pipelines that the tiles of these stages launch (forward pass and softmax). */
export function inferencePipelines(stages: readonly StageModel[]): PipelineSpec[] {
  return gpu().recordPipelines(() => {
    for (const { model, spec } of stages) {
      const [x, y, z] = spec.patch;
      const wasTraining = model.training;
      model.training = false;
      try {
        tidy(() => noGrad(() => softmax(model.forward(Tensor.empty([1, 1, z, y, x])))));
      } finally {
        model.training = wasTraining;
      }
    }
  });
}

/** What `prepareInference` did. */
export interface WarmUp {
  /** Pipelines inference needs. */
  pipelines: number;
  /** Of those, built now (the others were built already). */
  built: number;
  /** Seconds it took. */
  seconds: number;
}

/**
 * Builds every pipeline that inference with `stages` needs, before the first tile, in parallel;
 * `onBuilt(done, total)` follows the builds.
 */
export async function prepareInference(
  stages: readonly StageModel[],
  onBuilt?: (done: number, total: number) => void,
): Promise<WarmUp> {
  const t0 = performance.now();
  const g = gpu();
  const specs = inferencePipelines(stages);
  const before = g.pipelineCount;
  await g.precompile(specs, onBuilt);
  return {
    pipelines: specs.length,
    built: g.pipelineCount - before,
    seconds: (performance.now() - t0) / 1000,
  };
}
