/**
 * Compiling inference's kernels ahead of the first tile. A dry run of one tile of each stage (nothing
 * launched, see `Gpu.recordPipelines`) lists every pipeline the sliding windows will use, with the
 * tilings and precision of this adapter; `Gpu.precompile` then builds them all at once,
 * asynchronously, so that a browser compiles them in parallel where it can and a page stays
 * responsive while it does.
 */
import { gpu, type PipelineSpec } from "../gpu/runtime.ts";
import { NonFiniteFlag } from "../ops/finite.ts";
import { Tensor } from "../tensor.ts";
import { tileProbabilities } from "./infer.ts";
import type { StageModel } from "./pipeline.ts";

/** The pipelines that the tiles of these stages launch (forward pass, softmax, non-finite check). */
export function inferencePipelines(stages: readonly StageModel[]): PipelineSpec[] {
  return gpu().recordPipelines(() => {
    const flag = new NonFiniteFlag();
    try {
      for (const { model, spec } of stages) {
        const [x, y, z] = spec.patch;
        const wasTraining = model.training;
        model.training = false;
        try {
          tileProbabilities(model, Tensor.empty([1, 1, z, y, x]), flag).dispose();
        } finally {
          model.training = wasTraining;
        }
      }
    } finally {
      flag.dispose();
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
