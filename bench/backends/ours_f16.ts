/**
 * Our engine in half precision. The engine has no f16 kernels yet, so every row says so (and, where
 * the adapter lacks `shader-f16`, that too); when an f16 path lands, wire it in here with a looser
 * tolerance than float32.
 */
import { gpu, initGpu } from "../../src/gpu/runtime.ts";
import type { Case } from "../shapes.ts";
import { type Backend, type Runner, Unsupported } from "./types.ts";

/** Our engine with f16 storage and arithmetic (not implemented yet: every row is "unsupported"). */
export class OursF16Backend implements Backend {
  readonly name = "ours-f16";
  /** Half precision keeps about 3 decimal digits. */
  readonly tolerance = 2e-2;

  async init(): Promise<void> {
    await initGpu();
  }

  device(): string {
    const f16 = gpu().device.features.has("shader-f16") ? "shader-f16" : "no shader-f16";
    return `${gpu().adapterName} (${f16})`;
  }

  unsupported(_c: Case): string {
    return gpu().device.features.has("shader-f16")
      ? "the engine has no f16 kernels yet"
      : "the engine has no f16 kernels yet, and this adapter lacks shader-f16";
  }

  prepare(c: Case): Promise<Runner> {
    return Promise.reject(new Unsupported(this.unsupported(c)));
  }
}
