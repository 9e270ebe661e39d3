/**
 * Non-finite detection on the GPU (shaders/finite.wgsl): a counter of NaN and infinite values that
 * kernels add to as tensors are checked, and that is read back once at the end, so that a check costs
 * one pass over the tensor on the device and no transfer.
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { Tensor, untrack } from "../tensor.ts";

/**
 * A sticky count of the non-finite values of every tensor given to `check` since it was made.
 *
 * @example
 * ```ts
 * const flag = new NonFiniteFlag();
 * for (const t of tiles) flag.check(t);
 * if (await flag.count()) throw new Error("NaN or infinity in the tiles");
 * flag.dispose();
 * ```
 */
export class NonFiniteFlag {
  #counter: Tensor;

  constructor() {
    this.#counter = Tensor.empty([1], "u32");
    untrack(this.#counter); // lives across `tidy` scopes, until `dispose`
    gpu().fill(this.#counter.buffer, 0, 1); // the f32 0 has the bits of the u32 0
  }

  /** Records a kernel that adds the number of NaN and infinite values of `x` (f32) to the count. */
  check(x: Tensor): void {
    if (x.dtype !== "f32") {
      throw new ShapeError(`NonFiniteFlag.check: expected f32 values, got a ${x.dtype} ${x}`);
    }
    gpu().run({
      shader: "finite.wgsl",
      entry: "count_nonfinite",
      params: [x.size],
      inputs: [x.buffer],
      outputs: [this.#counter.buffer],
      invocations: x.size,
      workgroupSize: 256,
    });
  }

  /** Non-finite values seen so far (waits for the recorded checks; one 4-byte read-back). */
  async count(): Promise<number> {
    return (await this.#counter.readU32())[0];
  }

  /** Frees the counter. */
  dispose(): void {
    this.#counter.dispose();
  }
}
