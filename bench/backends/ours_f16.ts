/**
 * Our engine with the half-precision forward convolution (`convKernels.inference = "f16"`): the rows
 * that run it are the forward convolution and the U-Net inference tile (whose other ops stay f32).
 * Gradients and training always run in f32, so those rows say so.
 */
import { gpu } from "../../src/gpu/runtime.ts";
import { startGpu } from "../../src/io/gpu.ts";
import { convKernels } from "../../src/ops/conv3d.ts";
import type { Case } from "../shapes.ts";
import { OursBackend } from "./ours.ts";
import { type Backend, type CaseData, type Runner, Unsupported } from "./types.ts";

/** The ops with a half-precision path. */
const F16_OPS: Case["op"][] = ["conv3d_forward", "unet_inference_tile"];

/** Our engine, convolutions staged and multiplied in f16 (f32 sums of each 12 products). */
export class OursF16Backend implements Backend {
  readonly name = "ours-f16";
  /** Half precision keeps about 3 decimal digits. */
  readonly tolerance = 2e-2;
  #ours = new OursBackend();

  async init(): Promise<void> {
    await startGpu();
  }

  device(): string {
    const f16 = gpu().hasF16 ? "shader-f16" : "no shader-f16";
    return `${gpu().adapterName} (${f16})`;
  }

  unsupported(c: Case): string | null {
    if (!gpu().hasF16) return "this adapter lacks shader-f16";
    if (!F16_OPS.includes(c.op)) {
      return "f16 is for inference: only the forward convolution has an f16 kernel";
    }
    return null;
  }

  async prepare(c: Case, data: CaseData): Promise<Runner> {
    const why = this.unsupported(c);
    if (why) throw new Unsupported(why);
    const inner = await this.#ours.prepare(c, data);
    // the setting is global: switch it on around this backend's runs only
    const half = async <T>(fn: () => Promise<T>): Promise<T> => {
      const before = convKernels.inference;
      convKernels.inference = "f16";
      try {
        return await fn();
      } finally {
        convKernels.inference = before;
      }
    };
    return {
      run: () => half(() => inner.run()),
      output: () => inner.output(),
      dispose: () => inner.dispose(),
    };
  }
}
