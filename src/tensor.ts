/**
 * Tensor: a shape, a dtype and a GPU buffer from the pool, NCDHW layout, batch first. Tensors are
 * freed explicitly (`dispose`) or by a `tidy` scope; the autograd tape frees the intermediates it owns.
 */
import { gpu } from "./gpu/runtime.ts";
import { ShapeError } from "./gpu/errors.ts";
import type { Node } from "./autograd.ts";

/** Element type on the GPU: float32 values or u32 labels/indices. */
export type DType = "f32" | "u32";

const scopes: Set<Tensor>[] = [];

/** A multi-dimensional array on the GPU. */
export class Tensor {
  /** Number of elements. */
  readonly size: number;
  /** Whether gradients flow to this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf tensor after `backward`. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while the tape holds it. */
  node: Node | null = null;
  /** Kept by `backward` and `tidy` even though it is an intermediate. */
  retained = false;
  /**
   * The op that made this tensor, once the tape has let go of its node (a `backward` freed it, or the
   * tensor was disposed): a later `backward` that reaches this tensor throws instead of taking it for
   * a leaf.
   */
  freedBy: string | null = null;
  #buffer: GPUBuffer | null;

  /** Wraps a buffer of at least `size * 4` bytes; prefer `Tensor.empty` / `Tensor.from`. */
  constructor(readonly shape: readonly number[], buffer: GPUBuffer, readonly dtype: DType = "f32") {
    this.size = shapeSize(shape);
    this.#buffer = buffer;
    scopes.at(-1)?.add(this);
  }

  /** A tensor whose contents are undefined (NaN when the runtime poisons new buffers). */
  static empty(shape: readonly number[], dtype: DType = "f32"): Tensor {
    return new Tensor(shape, gpu().alloc(shapeSize(shape) * 4), dtype);
  }

  /** A tensor filled with `value`. */
  static full(shape: readonly number[], value: number): Tensor {
    const t = Tensor.empty(shape);
    gpu().fill(t.buffer, value, t.size);
    return t;
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[]): Tensor {
    return Tensor.full(shape, 0);
  }

  /** Uploads host data. */
  static from(
    data: ArrayLike<number>,
    shape: readonly number[],
    opts: { dtype?: DType; requiresGrad?: boolean } = {},
  ): Tensor {
    const dtype = opts.dtype ?? "f32";
    if (data.length !== shapeSize(shape)) {
      throw new ShapeError(`${data.length} values do not fill shape [${shape}]`);
    }
    const t = Tensor.empty(shape, dtype);
    const typed = dtype === "f32"
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : (data instanceof Uint32Array ? data : Uint32Array.from(data));
    gpu().write(t.buffer, typed);
    t.requiresGrad = opts.requiresGrad ?? false;
    return t;
  }

  /** The GPU buffer; throws once the tensor has been disposed. */
  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new Error(`use of a disposed tensor of shape [${this.shape}]`);
    return this.#buffer;
  }

  /** Whether `dispose` has been called. */
  get disposed(): boolean {
    return this.#buffer === null;
  }

  /** Copies the values back to the host. */
  async read(): Promise<Float32Array> {
    if (this.dtype !== "f32") throw new Error("read() is for f32 tensors; use readU32()");
    return new Float32Array(await gpu().read(this.buffer, this.size * 4));
  }

  /** Copies u32 values back to the host. */
  async readU32(): Promise<Uint32Array> {
    return new Uint32Array(await gpu().read(this.buffer, this.size * 4));
  }

  /** Keeps this intermediate alive through `backward` and enclosing `tidy` scopes. */
  retain(): this {
    this.retained = true;
    return this;
  }

  /** Returns the buffer to the pool (idempotent). Work already recorded may still read it. */
  dispose(): void {
    if (!this.#buffer) return;
    gpu().free(this.#buffer);
    this.#buffer = null;
    if (this.node) {
      // what the op kept for its backward goes too, and a backward that reaches this tensor throws
      this.freedBy = this.node.name;
      this.node.release?.();
      this.node = null;
    }
    untrack(this);
  }

  /** Shape as text, for messages. */
  toString(): string {
    return `Tensor[${this.shape.join("x")}]`;
  }
}

/** Removes a tensor from every `tidy` scope, so that it outlives them (parameter gradients). */
export function untrack(t: Tensor): void {
  for (const s of scopes) s.delete(t);
}

/** Product of the dimensions. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid shape [${shape}]`);
    n *= d;
  }
  return n;
}

/**
 * Runs `fn` and disposes every tensor created inside it, except those it returns (a tensor, or an
 * array or object of tensors) and those marked with `retain()`.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const keep = new Set<Tensor>();
  collect(result, keep);
  const outer = scopes.at(-1);
  for (const t of scope) {
    if (keep.has(t) || t.retained) outer?.add(t);
    else t.dispose();
  }
  return result;
}

function collect(v: unknown, into: Set<Tensor>): void {
  if (v instanceof Tensor) into.add(v);
  else if (Array.isArray(v)) v.forEach((x) => collect(x, into));
  else if (v && typeof v === "object" && !(v instanceof Promise)) {
    Object.values(v).forEach((x) => collect(x, into));
  }
}
