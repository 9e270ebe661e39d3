/**
 * A pool of GPU buffers keyed by usage and size class, so that a training loop which allocates the
 * same shapes every step reuses its buffers instead of asking the driver again.
 */
import { GpuLimitError } from "./errors.ts";

/** Rounds a byte size up to its size class: 256-byte steps below 64 KiB, then 1/8 of a power of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 256) * 256);
  if (b <= 65536) return b;
  const step = 2 ** Math.floor(Math.log2(b)) / 8;
  return Math.ceil(b / step) * step;
}

/** Free lists of buffers by `usage:size`. */
export class BufferPool {
  #free = new Map<string, GPUBuffer[]>();
  #pooledBytes = 0;
  /** Bytes currently held in free lists. */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }
  /** Bytes allocated through this pool and not destroyed (in use or free). */
  liveBytes = 0;
  /** Bytes handed out by `acquire` and not given back (what tests check for leaks). */
  get inUseBytes(): number {
    return this.liveBytes - this.#pooledBytes;
  }

  /**
   * The largest buffer handed out, a multiple of 4: a size class never rounds a request past it (a
   * request that fits but whose class would not gets a buffer of exactly this size).
   */
  readonly maxBytes: number;

  /**
   * `maxBytes` defaults to the device's `maxBufferSize`; the runtime passes its largest storage
   * binding, so that every buffer can be bound whole.
   */
  /** Buffers given back beyond `maxPooledBytes`, destroyed by `collect`. */
  #retired: GPUBuffer[] = [];

  constructor(
    private device: GPUDevice,
    /** Bytes the free lists may hold; buffers given back beyond it are destroyed (see `collect`). */
    public maxPooledBytes = 2 ** 30,
    maxBytes: number = device.limits.maxBufferSize,
  ) {
    this.maxBytes = Math.floor(maxBytes / 4) * 4;
  }

  /** Returns a buffer of at least `bytes` bytes with exactly `usage`; more than `maxBytes` is refused. */
  acquire(bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    if (bytes > this.maxBytes) {
      throw new GpuLimitError(`a buffer of ${bytes} bytes exceeds this adapter's largest (${this.maxBytes})`);
    }
    const size = Math.min(sizeClass(bytes), this.maxBytes);
    const list = this.#free.get(`${usage}:${size}`);
    const hit = list?.pop();
    if (hit) {
      this.#pooledBytes -= size;
      return hit;
    }
    this.liveBytes += size;
    return this.device.createBuffer({ size, usage });
  }

  /**
   * Gives a buffer back; it may be handed out again by the next `acquire`. Work recorded but not yet
   * submitted may still use it, so one that the free lists have no room for is only destroyed by the
   * next `collect`.
   */
  release(buffer: GPUBuffer): void {
    if (this.#pooledBytes + buffer.size > this.maxPooledBytes) {
      this.liveBytes -= buffer.size;
      this.#retired.push(buffer);
      return;
    }
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, list = []);
    list.push(buffer);
    this.#pooledBytes += buffer.size;
  }

  /**
   * Destroys the buffers given back beyond the pool's room. The runtime calls it once the work recorded
   * so far is submitted: a destroyed buffer may not be in a submission, but work already submitted that
   * uses it still completes.
   */
  collect(): void {
    for (const b of this.#retired) b.destroy();
    this.#retired.length = 0;
  }

  /** Destroys every free buffer at the next `collect` (buffers in use are untouched). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.liveBytes -= b.size;
        this.#retired.push(b);
      }
    }
    this.#free.clear();
    this.#pooledBytes = 0;
  }
}
