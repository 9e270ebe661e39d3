/**
 * The WebGPU runtime: one adapter and device with the adapter's real limits, a pipeline cache keyed by
 * shader, entry point and constants, a buffer pool, batched dispatches with grids split over the
 * 65535-workgroup limit, and read-back. Errors from the device surface as typed errors at the next
 * synchronisation point (`flush`, `read`, `sync`), never as a hang or a silent zero.
 *
 * Kernel convention (every file under `shaders/`): parameters, if any, are a uniform struct at
 * `@group(0) @binding(0)`; then the read-only inputs at bindings 1.., then the read-write outputs.
 * The workgroup size is the override constant `WG`, and a one-dimensional invocation index is
 * `gid.x + gid.y * nwg.x * WG` (the grid may be split into two dimensions).
 *
 * @example
 * ```ts
 * const g = await initGpu();
 * g.run({ shader: "elementwise.wgsl", entry: "relu", params: [n], inputs: [x], outputs: [y], invocations: n });
 * const data = new Float32Array(await g.read(y, n * 4));
 * ```
 */
import {
  GpuDeviceLostError,
  GpuError,
  GpuLimitError,
  GpuOutOfMemoryError,
  GpuUnavailableError,
  GpuValidationError,
} from "./errors.ts";
import { BufferPool } from "./pool.ts";
import { type ShaderName, SHADERS } from "./shaders.ts";

/** One kernel launch. */
export interface Dispatch {
  /** File name under `shaders/`. */
  shader: ShaderName;
  /** Entry point in that file. */
  entry: string;
  /** Values of the uniform struct at binding 0, in order (4 bytes each). */
  params?: readonly number[];
  /** One letter per param: `u` (u32, the default), `i` (i32) or `f` (f32). */
  paramTypes?: string;
  /** Read-only storage buffers, bound at 1, 2, ... */
  inputs?: readonly GPUBuffer[];
  /** Read-write storage buffers, bound after the inputs. */
  outputs: readonly GPUBuffer[];
  /** Number of invocations; the kernel must ignore indices at or past its own count. */
  invocations: number;
  /** Workgroup size (the shader's override `WG`); 64 unless given. */
  workgroupSize?: number;
  /** Further override constants of the shader. */
  constants?: Record<string, number>;
  /**
   * A variant of the shader: every line that ends in a comment `// NAME: CODE` is replaced by CODE.
   * `f16` (half precision; adapters with "shader-f16") also gets `enable f16;` prepended.
   */
  variant?: "f16" | "vec4";
}

/**
 * What a compute pipeline is made of: the shader (and variant), the entry point, the override
 * constants (the workgroup size `WG` among them) and the binding layout. `Gpu.recordPipelines` lists
 * the ones a piece of work needs; `Gpu.precompile` builds them ahead of it.
 */
export interface PipelineSpec {
  shader: ShaderName;
  entry: string;
  variant?: "f16" | "vec4";
  /** Override constants, `WG` included. */
  constants: Record<string, number>;
  /** Whether binding 0 is the uniform parameter struct. */
  hasParams: boolean;
  /** Read-only storage bindings. */
  inputs: number;
  /** Read-write storage bindings. */
  outputs: number;
}

/** Dispatches recorded before the batch is submitted on its own. */
const MAX_BATCH = 256;
const PARAM_SLOT = 256;

/** The engine's GPU: device, limits, caches and the command batch being recorded. */
export class Gpu {
  readonly pool: BufferPool;
  /** The device's largest storage binding (and buffer), in bytes, a multiple of 4. */
  readonly #deviceBinding: number;
  #bindingCap: number | null = null;
  /** When set, every new buffer from `alloc` is filled with NaN first (tests use it). */
  poison = false;
  #modules = new Map<string, GPUShaderModule>();
  #pipelines = new Map<string, GPUComputePipeline>();
  #layouts = new Map<string, GPUBindGroupLayout>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #count = 0;
  #params: GPUBuffer;
  #paramData = new ArrayBuffer(MAX_BATCH * PARAM_SLOT);
  #errors: GpuError[] = [];
  #lost: string | null = null;
  #profile: Profile | null = null;
  #recording: Map<string, PipelineSpec> | null = null;

  constructor(
    readonly device: GPUDevice,
    /** Human-readable adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
    readonly adapterName: string,
    /** True for a software adapter (lavapipe). */
    readonly isFallback: boolean,
  ) {
    const limits = device.limits;
    this.#deviceBinding = Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / 4) *
      4;
    // a size class may not round a buffer that fits one binding past it
    this.pool = new BufferPool(device, undefined, this.#deviceBinding);
    this.#params = device.createBuffer({
      size: MAX_BATCH * PARAM_SLOT,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.addEventListener("uncapturederror", (ev) => {
      const error = (ev as GPUUncapturedErrorEvent).error;
      const msg = error.message.split("\n").map((l) => l.trim()).filter(Boolean).join(" ");
      this.#errors.push(
        error instanceof GPUOutOfMemoryError
          ? new GpuOutOfMemoryError(`GPU out of memory: ${msg}`)
          : new GpuValidationError(`GPU validation error: ${msg}`),
      );
    });
    device.lost.then((info) => {
      this.#lost = info.message || info.reason || "unknown reason";
    });
  }

  /** Largest storage binding, in bytes (a multiple of 4): `alloc` refuses larger buffers. */
  get maxBinding(): number {
    return this.#bindingCap ?? this.#deviceBinding;
  }

  /**
   * Lowers the largest binding that `alloc` accepts (and that code splitting large tensors plans
   * for) to `bytes`, or restores the device's with null: tests use it to run those splits on small
   * tensors. Buffers are still bound whole.
   */
  capBinding(bytes: number | null): void {
    this.#bindingCap = bytes === null ? null : Math.min(this.#deviceBinding, Math.floor(bytes / 4) * 4);
  }

  /** Whether the device has been lost. */
  get lost(): boolean {
    return this.#lost !== null;
  }

  /** A storage buffer of `bytes` bytes from the pool; refused when one binding cannot hold it. */
  alloc(bytes: number): GPUBuffer {
    this.#checkAlive();
    if (bytes > this.maxBinding) {
      throw new GpuLimitError(
        `a tensor of ${mib(bytes)} exceeds this adapter's largest storage binding ` +
          `(${mib(this.maxBinding)}): use smaller tiles or patches`,
      );
    }
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffer = this.pool.acquire(bytes, usage);
    if (this.poison) this.fill(buffer, NaN);
    return buffer;
  }

  /** Returns a buffer from `alloc` to the pool. Work already recorded that uses it stays valid. */
  free(buffer: GPUBuffer): void {
    this.pool.release(buffer);
  }

  /** Records a fill of the whole buffer with one f32 value. */
  fill(buffer: GPUBuffer, value: number, words = buffer.size / 4): void {
    this.run({
      shader: "elementwise.wgsl",
      entry: "fill",
      params: [words, value],
      paramTypes: "uf",
      outputs: [buffer],
      invocations: words,
      workgroupSize: 256,
    });
  }

  /** Uploads data into a buffer, after all work recorded so far (which may still read it). */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.flush();
    this.device.queue.writeBuffer(
      buffer,
      offset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /** Records one kernel launch (submitted with the batch). */
  run(d: Dispatch): void {
    this.#checkAlive();
    if (d.invocations <= 0) return;
    const wg = d.workgroupSize ?? 64;
    const params = d.params ?? [];
    const inputs = d.inputs ?? [];
    const spec: PipelineSpec = {
      shader: d.shader,
      entry: d.entry,
      variant: d.variant,
      constants: { WG: wg, ...d.constants },
      hasParams: params.length > 0,
      inputs: inputs.length,
      outputs: d.outputs.length,
    };
    if (this.#recording) {
      this.#recording.set(pipelineKey(spec), spec);
      return;
    }
    const pipeline = this.#pipeline(spec);
    if (this.#count >= MAX_BATCH) this.flush();
    const entries: GPUBindGroupEntry[] = [];
    if (params.length) {
      const slot = this.#count * PARAM_SLOT;
      if (params.length * 4 > PARAM_SLOT) throw new GpuError(`${d.entry}: too many params`);
      const u = new Uint32Array(this.#paramData, slot, params.length);
      const i = new Int32Array(this.#paramData, slot, params.length);
      const f = new Float32Array(this.#paramData, slot, params.length);
      params.forEach((v, k) => {
        const t = d.paramTypes?.[k] ?? "u";
        if (t === "f") f[k] = v;
        else if (t === "i") i[k] = v;
        else {
          if (!(v >= 0 && v <= 0xffffffff) || !Number.isInteger(v)) {
            throw new GpuError(`${d.entry}: param ${k} = ${v} is not a u32`);
          }
          u[k] = v;
        }
      });
      entries.push({ binding: 0, resource: { buffer: this.#params, offset: slot, size: PARAM_SLOT } });
    }
    [...inputs, ...d.outputs].forEach((buffer, k) =>
      entries.push({ binding: k + 1, resource: { buffer, size: Math.min(buffer.size, this.#deviceBinding) } })
    );
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.#profile
      ? this.#timedPass(`${d.shader.replace(/\.wgsl$/, "")}${d.variant ? `#${d.variant}` : ""}:${d.entry}`)
      : this.#computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y] = splitGrid(
      Math.ceil(d.invocations / wg),
      this.device.limits.maxComputeWorkgroupsPerDimension,
    );
    pass.dispatchWorkgroups(x, y);
    if (this.#profile) this.#endPass();
    this.#count++;
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.#checkAlive();
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.#endPass();
    if (!this.#encoder) {
      this.pool.collect();
      return;
    }
    if (this.#count) {
      this.device.queue.writeBuffer(this.#params, 0, this.#paramData, 0, this.#count * PARAM_SLOT);
    }
    const timings = this.#resolveTimings();
    this.device.queue.submit([this.#encoder.finish()]);
    timings?.();
    this.#encoder = null;
    this.#count = 0;
    this.pool.collect(); // buffers freed while recorded work used them, now submitted
    this.#throwPending();
  }

  /** Submits and waits until the device has finished all work; throws any error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.#throwPending();
  }

  /** Copies `bytes` bytes of a buffer back to the host after all recorded work. */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    if (this.#recording) throw new GpuError("a read while recording pipelines: the work must not read back");
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      this.copy(buffer, staging, size, offset, 0);
      this.flush();
      await staging.mapAsync(GPUMapMode.READ, 0, size);
      const out = staging.getMappedRange(0, size).slice(0, bytes);
      staging.unmap();
      this.#throwPending();
      return out;
    } finally {
      this.pool.release(staging);
    }
  }

  /**
   * Starts timing every kernel launch on the device with timestamp queries (a pass per launch, so
   * slower than a normal run: for finding where the time goes, not for benchmarks). Needs an adapter
   * with the "timestamp-query" feature; `profiling` says whether it is on.
   */
  startProfile(): void {
    if (!this.device.features.has("timestamp-query")) {
      throw new GpuError("this adapter cannot time kernels (no timestamp-query feature)");
    }
    this.flush();
    this.#profile = { query: null, labels: [], pending: [], totals: new Map() };
  }

  /** Whether the device has half-precision shaders ("shader-f16"). */
  get hasF16(): boolean {
    return this.device.features.has("shader-f16");
  }

  /** Whether `startProfile` is in effect. */
  get profiling(): boolean {
    return this.#profile !== null;
  }

  /** Stops timing; returns device milliseconds and launches per `shader:entry`, slowest first. */
  async stopProfile(): Promise<{ kernel: string; launches: number; ms: number }[]> {
    const p = this.#profile;
    if (!p) return [];
    await this.sync();
    await Promise.all(p.pending);
    this.#profile = null;
    return [...p.totals].map(([kernel, t]) => ({ kernel, launches: t.launches, ms: t.ns / 1e6 }))
      .sort((a, b) => b.ms - a.ms);
  }

  /** A new compute pass that writes the begin and end timestamps of the launch `label`. */
  #timedPass(label: string): GPUComputePassEncoder {
    const p = this.#profile!;
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    p.query ??= this.device.createQuerySet({ type: "timestamp", count: 2 * MAX_BATCH });
    const i = p.labels.push(label) - 1;
    return this.#pass = this.#encoder.beginComputePass({
      timestampWrites: {
        querySet: p.query,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    });
  }

  /**
   * Records the resolution of this batch's timestamps; returns what to call once it is submitted (which
   * reads them back and adds them to the totals), or null when nothing was timed.
   */
  #resolveTimings(): (() => void) | null {
    const p = this.#profile;
    if (!p?.query || !p.labels.length) return null;
    const { query, labels } = p;
    const bytes = labels.length * 16;
    const resolved = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#encoder!.resolveQuerySet(query, 0, 2 * labels.length, resolved, 0);
    this.#encoder!.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    p.query = null;
    p.labels = [];
    return () => {
      p.pending.push(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigUint64Array(staging.getMappedRange());
          labels.forEach((label, i) => {
            const total = p.totals.get(label) ?? { launches: 0, ns: 0 };
            total.launches++;
            total.ns += Number(t[2 * i + 1] - t[2 * i]);
            p.totals.set(label, total);
          });
          staging.destroy();
          resolved.destroy();
          query.destroy();
        }),
      );
    };
  }

  /**
   * Runs `work` without launching anything: every kernel it would launch is noted instead, and the
   * pipelines they need are returned (for `precompile`). Buffers are allocated and freed as usual;
   * `work` must not read results back. Nothing recorded before is affected.
   */
  recordPipelines(work: () => void): PipelineSpec[] {
    if (this.#recording) throw new GpuError("recordPipelines: already recording");
    this.#recording = new Map();
    try {
      work();
      return [...this.#recording.values()];
    } finally {
      this.#recording = null;
    }
  }

  /**
   * Builds the pipelines of `specs` that are not built yet, all at once with
   * `createComputePipelineAsync` (compiled in parallel where the implementation allows, without
   * blocking the thread), and caches them for the launches that follow. Resolves when all are ready;
   * a pipeline that fails to build rejects with a GpuValidationError naming it. `onBuilt(done, total)`
   * is called as they complete (first with 0).
   */
  async precompile(
    specs: readonly PipelineSpec[],
    onBuilt?: (done: number, total: number) => void,
  ): Promise<void> {
    this.#checkAlive();
    const todo = new Map<string, PipelineSpec>();
    for (const s of specs) {
      const key = pipelineKey(s);
      if (!this.#pipelines.has(key)) todo.set(key, s);
    }
    let done = 0;
    onBuilt?.(0, todo.size);
    await Promise.all([...todo].map(async ([key, spec]) => {
      try {
        this.#pipelines.set(key, await this.device.createComputePipelineAsync(this.#descriptor(spec)));
        onBuilt?.(++done, todo.size);
      } catch (e) {
        const msg = e instanceof Error
          ? e.message.split("\n").map((l) => l.trim()).filter(Boolean).join(" ")
          : e;
        throw new GpuValidationError(`${spec.shader}:${spec.entry}: the pipeline failed to build: ${msg}`);
      }
    }));
  }

  /** Number of pipelines built so far. */
  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  #pipeline(spec: PipelineSpec): GPUComputePipeline {
    const key = pipelineKey(spec);
    let p = this.#pipelines.get(key);
    if (p) return p;
    p = this.device.createComputePipeline(this.#descriptor(spec));
    this.#pipelines.set(key, p);
    return p;
  }

  #descriptor(spec: PipelineSpec): GPUComputePipelineDescriptor {
    const variant = spec.variant ? `${spec.shader}#${spec.variant}` : spec.shader;
    let module = this.#modules.get(variant);
    if (!module) {
      if (spec.variant === "f16" && !this.device.features.has("shader-f16")) {
        throw new GpuError(`${spec.entry}: this adapter has no shader-f16, so no half-precision kernels`);
      }
      module = this.device.createShaderModule({
        label: variant,
        code: shaderCode(spec.shader, spec.variant),
      });
      this.#modules.set(variant, module);
    }
    const layoutKey = `${spec.hasParams ? 1 : 0}:${spec.inputs}:${spec.outputs}`;
    let layout = this.#layouts.get(layoutKey);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      const vis = GPUShaderStage.COMPUTE;
      if (spec.hasParams) entries.push({ binding: 0, visibility: vis, buffer: { type: "uniform" } });
      for (let k = 0; k < spec.inputs + spec.outputs; k++) {
        entries.push({
          binding: k + 1,
          visibility: vis,
          buffer: { type: k < spec.inputs ? "read-only-storage" : "storage" },
        });
      }
      layout = this.device.createBindGroupLayout({ entries });
      this.#layouts.set(layoutKey, layout);
    }
    return {
      label: `${spec.shader}:${spec.entry}`,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: spec.entry, constants: spec.constants },
    };
  }

  #computePass(): GPUComputePassEncoder {
    if (this.#pass) return this.#pass;
    this.#encoder ??= this.device.createCommandEncoder();
    return this.#pass = this.#encoder.beginComputePass();
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  #checkAlive(): void {
    if (this.#lost !== null) throw new GpuDeviceLostError(`the GPU device was lost: ${this.#lost}`);
  }

  #throwPending(): void {
    this.#checkAlive();
    const e = this.#errors.shift();
    if (e) {
      this.#errors.length = 0;
      throw e;
    }
  }
}

/** Kernel timings being gathered (`Gpu.startProfile`). */
interface Profile {
  query: GPUQuerySet | null;
  labels: string[];
  pending: Promise<void>[];
  totals: Map<string, { launches: number; ns: number }>;
}

/** Bytes in MiB for messages, with the digits that tell two sizes apart (KiB below 1 MiB). */
function mib(bytes: number): string {
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  const v = bytes / 2 ** 20;
  return `${Number.isInteger(v) ? v : v.toFixed(2)} MiB`;
}

/** The cache key of a pipeline. */
function pipelineKey(s: PipelineSpec): string {
  const variant = s.variant ? `${s.shader}#${s.variant}` : s.shader;
  return `${variant}|${s.entry}|${JSON.stringify(s.constants)}|${
    s.hasParams ? 1 : 0
  }:${s.inputs}:${s.outputs}`;
}

/**
 * The WGSL source of a shader variant: every line that ends in `// NAME: CODE` becomes CODE, and the
 * `f16` variant starts with `enable f16;`.
 */
export function shaderCode(shader: ShaderName, variant?: "f16" | "vec4"): string {
  let code: string = SHADERS[shader];
  if (variant) code = code.replace(new RegExp(`^.*// ${variant}: (.*)$`, "gm"), "$1");
  if (variant === "f16") code = "enable f16;\n" + code;
  return code;
}

/** Splits `groups` workgroups into an (x, y) grid with both sides at most `maxPerDim`. */
export function splitGrid(groups: number, maxPerDim = 65535): [number, number] {
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  if (y > maxPerDim) throw new GpuLimitError(`a dispatch of ${groups} workgroups is too large`);
  return [Math.ceil(groups / y), y];
}

let current: Gpu | null = null;

/**
 * Which adapter to ask for: the browser's and Deno's `powerPreference` hints, or `software` (the
 * fallback adapter: Mesa's lavapipe under Deno, SwiftShader in Chromium).
 */
export type AdapterChoice = "high-performance" | "low-power" | "software";

/** The adapter choices, in the order `listAdapters` reports them. */
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ["high-performance", "low-power", "software"];

function webgpu(): GPU | undefined {
  return (navigator as Navigator & { gpu?: GPU }).gpu;
}

async function requestAdapter(choice: AdapterChoice): Promise<GPUAdapter | null> {
  const api = webgpu();
  if (!api) return null;
  return choice === "software"
    ? await api.requestAdapter({ forceFallbackAdapter: true })
    : await api.requestAdapter({ powerPreference: choice });
}

/** A readable name for an adapter, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
export function adapterName(adapter: GPUAdapter): string {
  const info = adapter.info;
  return info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(" ") ||
    "unknown adapter";
}

/** One adapter choice and what it gives, as `listAdapters` reports it. */
export interface AdapterInfo {
  choice: AdapterChoice;
  /** The adapter's name, or null when the choice gives none. */
  name: string | null;
  software: boolean;
  features: string[];
}

/** What each adapter choice gives on this machine. */
export async function listAdapters(): Promise<AdapterInfo[]> {
  const out: AdapterInfo[] = [];
  for (const choice of ADAPTER_CHOICES) {
    const a = await requestAdapter(choice);
    out.push({
      choice,
      name: a ? adapterName(a) : null,
      software: a?.info.isFallbackAdapter ?? false,
      features: a ? [...a.features].map(String).sort() : [],
    });
  }
  return out;
}

/**
 * Acquires an adapter (high-performance unless `adapter` says otherwise) and a device with the
 * adapter's limits, once per process. Throws `GpuUnavailableError` with a one-line remedy when there
 * is no adapter.
 */
export async function initGpu(opts: { adapter?: AdapterChoice } = {}): Promise<Gpu> {
  if (current && !current.lost) return current;
  const choice = opts.adapter ?? "high-performance";
  const adapter = await requestAdapter(choice);
  if (!adapter) {
    throw new GpuUnavailableError(
      !webgpu()
        ? "this browser or runtime has no WebGPU (navigator.gpu is missing)"
        : choice === "software"
        ? "no software WebGPU adapter found (Debian/Ubuntu: sudo apt-get install mesa-vulkan-drivers)"
        : "no WebGPU adapter found: install a GPU driver with Vulkan support, or the software one " +
          "(Debian/Ubuntu: sudo apt-get install mesa-vulkan-drivers)",
    );
  }
  const wanted: (keyof GPUSupportedLimits)[] = [
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
    "maxStorageBuffersPerShaderStage",
  ];
  const requiredLimits: Record<string, number> = {};
  for (const k of wanted) requiredLimits[k] = adapter.limits[k] as number;
  const requiredFeatures = (["shader-f16", "timestamp-query"] as GPUFeatureName[]).filter((f) =>
    adapter.features.has(f)
  );
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  current = new Gpu(device, adapterName(adapter), adapter.info.isFallbackAdapter ?? false);
  return current;
}

/** The initialised GPU; `initGpu()` must have been awaited once before. */
export function gpu(): Gpu {
  if (!current) throw new GpuError("the GPU is not initialised: await initGpu() first");
  return current;
}
