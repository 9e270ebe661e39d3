/** Typed errors raised by the GPU runtime; the CLI turns them into one-line messages. */

/** Base class of every GPU runtime error. */
export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** No WebGPU adapter could be found (no GPU and no software Vulkan driver). */
export class GpuUnavailableError extends GpuError {}

/** WebGPU reported a validation error (a bad shader, binding or dispatch): a bug in this engine. */
export class GpuValidationError extends GpuError {}

/** The device ran out of memory. */
export class GpuOutOfMemoryError extends GpuError {}

/** The device was lost (driver reset, GPU removed); nothing on it can be used any more. */
export class GpuDeviceLostError extends GpuError {}

/** A tensor or buffer is larger than what one storage binding of this adapter can hold. */
export class GpuLimitError extends GpuError {}

/** A tensor operation received arguments of the wrong shape or type. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}
