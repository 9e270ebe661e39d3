/**
 * GPU versions of the per-voxel volume kernels (shaders/resample.wgsl, shaders/intensity.wgsl):
 * resampling by an index map, the augmentation warp and HU normalisation. Same arguments and results
 * as the CPU versions in resample.ts, augment.ts and intensity.ts, which stay the references: linear
 * sampling agrees to float32 rounding, nearest picks the same voxel (see the note on ties below).
 *
 * Volumes larger than one storage binding are done in slabs: the output is split into runs of rows
 * (resampling) or voxels (warp), and each slab uploads only the input z-slices it reads. Labels travel
 * as packed bytes. When even one output row would need more than a binding (an index map that sweeps
 * the whole input along every output row of a huge volume), the CPU version is used instead.
 *
 * Ties: the CPU computes resampling coordinates in float64. Axes whose coordinate depends on the
 * output column alone or on the row alone (every axis of an axis-aligned map, as toCanonical and
 * gridWithSpacing give) get the CPU's own decisions in a table, so they match exactly. On other axes
 * (rotations) the shader adds a row and a column value to about 1e-13 voxels; it can then differ only
 * where the exact coordinate lies on a .5 tie or an extent edge (or within ~1e-12 of one), where the
 * CPU's float64 rounding noise decides which side. The warp's field is float32, which the shader
 * handles exactly.
 */
import type { ShaderName } from "../gpu/shaders.ts";
import { type Gpu, initGpu } from "../gpu/runtime.ts";
import { type AugmentOptions, augmentPair, randomSamplingField, warpArray } from "./augment.ts";
import { invertAffine, multiplyAffine } from "./affine.ts";
import { makeVolume, voxelCount } from "./grid.ts";
import { DEFAULT_HU_WINDOW, type HuWindow } from "./intensity.ts";
import { gridWithSpacing, type Interpolation, resampleArray, resampleToGrid } from "./resample.ts";
import type { Grid, Vec3, Volume, VoxelArray } from "./types.ts";
import { Rng } from "../util/random.ts";

/** Options of the GPU volume kernels. */
export interface GpuVolumeOptions {
  /** Largest buffer one slab may use, in bytes (default 32 MiB, at most the largest storage binding). */
  maxBytes?: number;
}

/**
 * Default slab size. Every buffer of a large job (a quarter slab of output or more) is allocated at
 * this size, so the pool hands the same buffers to each slab and to later jobs: fresh memory is slow
 * to touch (the runtime zero-fills new buffers; page faults; on the software adapter GPU memory is
 * host memory), and whole-volume buffers would be fresh nearly every call, as volume sizes differ.
 * Each slab costs about one wait for the device.
 */
const SLAB_BYTES = 32 * 2 ** 20;

const SHADER = "resample.wgsl";
/** Table modes of an axis (see the shader's header). */
const GENERAL = 0, BY_COLUMN = 1, BY_ROW = 2;
/** High parts of general coordinates are multiples of 2^-20, so two of them add exactly in float32. */
const HIGH = 2 ** 20;
/** General coordinates beyond this are refused (their integer parts must add within an i32). */
const MAX_COORD = 2 ** 30;

/** Host words with integer and float views, for tables mixing both. */
class Words {
  readonly u: Uint32Array;
  readonly i: Int32Array;
  readonly f: Float32Array;
  constructor(n: number) {
    this.u = new Uint32Array(n);
    this.i = new Int32Array(this.u.buffer);
    this.f = new Float32Array(this.u.buffer);
  }
}

function checkInput(what: string, data: VoxelArray, dims: Vec3, mode: Interpolation): void {
  if (mode === "linear" && !(data instanceof Float32Array)) {
    throw new TypeError(`linear ${what} needs Float32Array voxels; use nearest for labels`);
  }
  if (data.length !== voxelCount(dims)) {
    throw new RangeError(
      `${what}: data has ${data.length} voxels, dims ${dims.join("x")} need ${voxelCount(dims)}`,
    );
  }
}

/** The fill as the 32-bit word the shader writes: float32 bits, or the byte a Uint8Array would store. */
function fillWord(data: VoxelArray, fill: number | undefined): number {
  if (fill === undefined) return 0;
  if (data instanceof Uint8Array) return Uint8Array.of(fill)[0];
  return new Uint32Array(Float32Array.of(fill).buffer)[0];
}

/** Where the CPU samplers read along one axis: linear [floor, fraction], nearest [index, 0]; -1 outside. */
function decide(x: number, n: number, linear: boolean, fill: boolean, t: Words, at: number): void {
  if (fill && !(x >= -0.5 && x <= n - 0.5)) {
    t.i[at] = -1;
    return;
  }
  if (linear) {
    const xc = x < 0 ? 0 : x > n - 1 ? n - 1 : x;
    const x0 = Math.floor(xc);
    t.i[at] = x0;
    t.f[at + 1] = xc - x0;
  } else {
    const i = Math.floor(x + 0.5);
    t.i[at] = i < 0 ? 0 : i > n - 1 ? n - 1 : i;
  }
}

/** A general coordinate as integer, high and low parts (the shader adds two of them). */
function split(y: number, t: Words, at: number): void {
  const i = Math.floor(y), f = y - i, hi = Math.round(f * HIGH) / HIGH;
  t.i[at] = i;
  t.f[at + 1] = hi;
  t.f[at + 2] = f - hi;
}

/** First and last input index an axis decision reads (null when outside). */
function decisionSpan(t: Words, at: number, n: number, linear: boolean): [number, number] | null {
  const i = t.i[at];
  if (i < 0) return null;
  return [i, linear && i < n - 1 ? i + 1 : i];
}

/** Input indices a general coordinate within [lo, hi] can read, with a voxel to spare for rounding. */
function valueSpan(lo: number, hi: number, n: number): [number, number] {
  const clamp = (v: number) => Math.min(n - 1, Math.max(0, v));
  return [clamp(Math.floor(lo) - 1), clamp(Math.floor(hi) + 2)];
}

/** One slab: output units [u0, u1) reading input z-slices zlo..zhi. */
interface Slab {
  u0: number;
  u1: number;
  zlo: number;
  zhi: number;
}

/**
 * Splits `units` output units into slabs of at most `maxUnits`, halving a slab until the input
 * slices it reads (`zSpan`, inclusive; null when it reads none) fit in `maxBytes`. Null when a single
 * unit does not fit.
 */
function planSlabs(
  units: number,
  maxUnits: number,
  zSpan: (u0: number, u1: number) => [number, number] | null,
  sliceBytes: number,
  maxBytes: number,
): Slab[] | null {
  const slabs: Slab[] = [];
  if (maxUnits < 1) return null;
  for (let u0 = 0; u0 < units;) {
    let count = Math.min(maxUnits, units - u0);
    for (;;) {
      const [zlo, zhi] = zSpan(u0, u0 + count) ?? [0, 0];
      if (ceil4((zhi - zlo + 1) * sliceBytes) <= maxBytes) {
        slabs.push({ u0, u1: u0 + count, zlo, zhi });
        break;
      }
      if (count === 1) return null;
      count = Math.ceil(count / 2);
    }
    u0 += count;
  }
  return slabs;
}

function ceil4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** Union of two inclusive spans. */
function union(a: [number, number] | null, b: [number, number] | null): [number, number] | null {
  if (!a) return b;
  if (!b) return a;
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
}

/** The input slices zlo..zhi as a buffer-ready view (bytes padded to whole words). */
function inputSlab(data: VoxelArray, plane: number, zlo: number, zhi: number): Float32Array | Uint8Array {
  const part = data.subarray(zlo * plane, (zhi + 1) * plane);
  if (part instanceof Float32Array) return part;
  const padded = new Uint8Array(ceil4(part.length));
  padded.set(part);
  return padded;
}

/**
 * Large uploads and all read-backs go through mapped staging buffers, each mapped range by range in
 * pieces of PIECE bytes: the pieces' host copies then reuse small allocations, where large ones get
 * fresh pages (software adapter: reading back 44 MB took ~250 ms in one range or in 64 KiB pieces,
 * ~20 ms in 16 KiB pieces). Each wait for the device costs a polling interval (~11 ms), so the maps
 * of one call are awaited together; uploads under MAPPED_UPLOAD bytes go by queue.writeBuffer and
 * need no wait.
 */
const PIECE = 16 * 1024;
const MAPPED_UPLOAD = 4 * 2 ** 20;

/** New buffers (of at least `capacity` bytes) holding `inputs` (whole words each). */
async function uploadAll(g: Gpu, inputs: ArrayBufferView[], capacity: number): Promise<GPUBuffer[]> {
  const buffers = inputs.map((d) => g.alloc(Math.max(4, d.byteLength, capacity)));
  const big = inputs.flatMap((d, k) => d.byteLength >= MAPPED_UPLOAD ? [k] : []);
  const staging = big.map((k) =>
    g.pool.acquire(
      Math.max(inputs[k].byteLength, capacity),
      GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC,
    )
  );
  try {
    for (const [k, d] of inputs.entries()) {
      if (d.byteLength && d.byteLength < MAPPED_UPLOAD) g.write(buffers[k], d);
    }
    await Promise.all(staging.map((s, n) => s.mapAsync(GPUMapMode.WRITE, 0, inputs[big[n]].byteLength)));
    staging.forEach((s, n) => {
      const d = inputs[big[n]], src = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      for (let at = 0; at < src.length; at += PIECE) {
        const piece = src.subarray(at, at + PIECE);
        new Uint8Array(s.getMappedRange(at, piece.length)).set(piece);
      }
      s.unmap();
      g.copy(s, buffers[big[n]], d.byteLength);
    });
    g.flush();
    return buffers;
  } catch (e) {
    buffers.forEach((b) => g.free(b));
    throw e;
  } finally {
    for (const s of staging) {
      if (s.mapState !== "unmapped") s.unmap();
      g.pool.release(s);
    }
  }
}

/** Copies the first `into.length` bytes of a buffer into `into`, after all recorded work. */
async function download(g: Gpu, buffer: GPUBuffer, into: Uint8Array, capacity: number): Promise<void> {
  const bytes = into.length, size = ceil4(bytes);
  const staging = g.pool.acquire(Math.max(size, capacity), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  try {
    g.copy(buffer, staging, size);
    g.flush();
    // sync() surfaces the device's errors; it resolves with the map, in the same wait.
    await Promise.all([staging.mapAsync(GPUMapMode.READ, 0, size), g.sync()]);
    for (let at = 0; at < bytes; at += PIECE) {
      const len = Math.min(PIECE, bytes - at);
      into.set(new Uint8Array(staging.getMappedRange(at, ceil4(len)), 0, len), at);
    }
  } finally {
    if (staging.mapState !== "unmapped") staging.unmap();
    g.pool.release(staging);
  }
}

/** Bytes of `out` from voxel `at` on, `count` voxels. */
function bytesOf(out: VoxelArray, at: number, count: number): Uint8Array {
  const size = out.BYTES_PER_ELEMENT;
  return new Uint8Array(out.buffer, out.byteOffset + at * size, count * size);
}

/** One kernel launch of a slab: its inputs are indices into the slab's uploads; output read into `into`. */
interface Launch {
  shader?: ShaderName;
  entry: string;
  params: number[];
  paramTypes?: string;
  inputs: number[];
  into: Uint8Array;
  invocations: number;
  constants?: Record<string, number>;
}

/**
 * Uploads a slab's inputs, runs its kernels and reads their outputs back (one wait each way). Every
 * buffer has at least `capacity` bytes (see capacityFor).
 */
async function runSlab(uploads: ArrayBufferView[], launches: Launch[], capacity: number): Promise<void> {
  const g = await initGpu();
  const buffers = await uploadAll(g, uploads, capacity);
  const outs: GPUBuffer[] = [];
  try {
    for (const l of launches) {
      const out = g.alloc(Math.max(4, ceil4(l.into.length), capacity));
      outs.push(out);
      g.run({
        shader: l.shader ?? SHADER,
        entry: l.entry,
        params: l.params,
        paramTypes: l.paramTypes,
        inputs: l.inputs.map((k) => buffers[k]),
        outputs: [out],
        invocations: l.invocations,
        constants: l.constants,
      });
    }
    await Promise.all(launches.map((l, k) => download(g, outs[k], l.into, capacity)));
  } finally {
    for (const b of [...buffers, ...outs]) g.free(b);
  }
}

/** The kernel for a voxel array and mode, and its bytes per voxel. */
function kernel(prefix: string, data: VoxelArray, mode: Interpolation): { entry: string; bytes: number } {
  if (mode === "linear") return { entry: `${prefix}_linear`, bytes: 4 };
  if (data instanceof Uint8Array) return { entry: `${prefix}_nearest8`, bytes: 1 };
  return { entry: `${prefix}_nearest`, bytes: 4 };
}

/** Size of every buffer of a job's slabs: the slab size for large jobs (see SLAB_BYTES), else exact (0). */
function capacityFor(slabCount: number, outBytes: number, maxBytes: number): number {
  return slabCount > 1 || outBytes >= maxBytes / 4 ? maxBytes : 0;
}

async function maxBytesOf(opts: GpuVolumeOptions): Promise<number> {
  return Math.min((await initGpu()).maxBinding, opts.maxBytes ?? SLAB_BYTES);
}

/**
 * GPU version of {@link resampleArray}: output voxel p = (i, j, k) takes the input sampled at the
 * continuous index M p (`indexMap`: M's 3x4 rows, row-major). Linear mode needs Float32Array input;
 * `fill` is used outside the input's extent (default: edge replication). Returns a new host array.
 */
export async function resampleArrayGpu<T extends VoxelArray>(
  src: T,
  srcDims: Vec3,
  dstDims: Vec3,
  indexMap: number[],
  mode: Interpolation,
  fill?: number,
  opts: GpuVolumeOptions = {},
): Promise<T> {
  checkInput("resampling", src, srcDims, mode);
  if (indexMap.length < 12 || indexMap.slice(0, 12).some((v) => !Number.isFinite(v))) {
    throw new RangeError(`resampling needs a finite 3x4 index map, got [${indexMap.join(", ")}]`);
  }
  const maxBytes = await maxBytesOf(opts);
  const cpu = () => resampleArray(src, srcDims, dstDims, indexMap, mode, fill);
  const m = indexMap, linear = mode === "linear", hasFill = fill !== undefined;
  const [nx, ny, nz] = dstDims;
  const rows = ny * nz;
  // Column table: 3 axes x nx columns x 3 words; row table: rows x 3 axes x 3 words.
  const col = new Words(9 * nx), row = new Words(9 * rows);
  const modes: number[] = [];
  // For the input z-slices a slab reads: the z decisions' span over all columns, or the range of the
  // general z column values.
  let colSpanZ: [number, number] | null = null;
  let colMinZ = Infinity, colMaxZ = -Infinity;
  for (let a = 0; a < 3; a++) {
    const [c0, c1, c2, c3] = m.slice(4 * a, 4 * a + 4);
    const n = srcDims[a];
    const axisMode = c1 === 0 && c2 === 0 ? BY_COLUMN : c0 === 0 ? BY_ROW : GENERAL;
    modes.push(axisMode);
    if (axisMode === BY_COLUMN) {
      // The CPU's row start is c3 for every row, then it adds c0 once per column.
      let x = c1 * 0 + c2 * 0 + c3;
      for (let i = 0; i < nx; i++, x += c0) {
        decide(x, n, linear, hasFill, col, 3 * (a * nx + i));
        if (a === 2) colSpanZ = union(colSpanZ, decisionSpan(col, 3 * (a * nx + i), n, linear));
      }
    } else if (axisMode === BY_ROW) {
      for (let k = 0, r = 0; k < nz; k++) {
        for (let j = 0; j < ny; j++, r++) {
          decide(c1 * j + c2 * k + c3, n, linear, hasFill, row, 3 * (3 * r + a));
        }
      }
    } else {
      for (let i = 0; i < nx; i++) {
        const y = i * c0;
        if (!(Math.abs(y) < MAX_COORD)) return cpu();
        split(y, col, 3 * (a * nx + i));
        if (a === 2) {
          colMinZ = Math.min(colMinZ, y);
          colMaxZ = Math.max(colMaxZ, y);
        }
      }
      for (let k = 0, r = 0; k < nz; k++) {
        for (let j = 0; j < ny; j++, r++) {
          const y = c1 * j + c2 * k + c3;
          if (!(Math.abs(y) < MAX_COORD)) return cpu();
          split(y, row, 3 * (3 * r + a));
        }
      }
    }
  }
  const srcNz = srcDims[2];
  // Input z-slices rows r0..r1 - 1 read.
  const zSpan = (r0: number, r1: number): [number, number] | null => {
    if (modes[2] === BY_COLUMN) return colSpanZ;
    let span: [number, number] | null = null;
    let lo = Infinity, hi = -Infinity;
    for (let r = r0; r < r1; r++) {
      const at = 3 * (3 * r + 2);
      if (modes[2] === BY_ROW) span = union(span, decisionSpan(row, at, srcNz, linear));
      else {
        const y = row.i[at] + row.f[at + 1] + row.f[at + 2];
        lo = Math.min(lo, y);
        hi = Math.max(hi, y);
      }
    }
    return modes[2] === BY_ROW ? span : valueSpan(lo + colMinZ, hi + colMaxZ, srcNz);
  };
  const k = kernel("resample", src, mode);
  const plane = srcDims[0] * srcDims[1];
  const slabs = 36 * nx <= maxBytes
    ? planSlabs(rows, Math.floor(maxBytes / Math.max(nx * k.bytes, 36)), zSpan, plane * k.bytes, maxBytes)
    : null;
  if (!slabs) return cpu();
  const out = new (src.constructor as { new (n: number): T })(voxelCount(dstDims));
  const constants = { MODE_X: modes[0], MODE_Y: modes[1], MODE_Z: modes[2], FILL: hasFill ? 1 : 0 };
  for (const s of slabs) {
    const n = (s.u1 - s.u0) * nx;
    // Packed bytes: one invocation per output word; otherwise one per run of 4 columns of a row.
    const invocations = k.bytes === 1 ? Math.ceil(n / 4) : Math.ceil(nx / 4) * (s.u1 - s.u0);
    const params = [n, nx, ...srcDims, s.zlo, s.zhi - s.zlo + 1, fillWord(src, fill)];
    const tables = [inputSlab(src, plane, s.zlo, s.zhi), col.u, row.u.subarray(9 * s.u0, 9 * s.u1)];
    const into = bytesOf(out, s.u0 * nx, n);
    const launch = { entry: k.entry, params, inputs: [0, 1, 2], into, invocations, constants };
    await runSlab(tables, [launch], capacityFor(slabs.length, out.byteLength, maxBytes));
  }
  return out;
}

/**
 * GPU version of {@link warpArray}: output voxel n = the input (`dims`) sampled at field[3n..3n+2].
 * Linear mode needs Float32Array input; `fill` is used outside the input's extent (default: edge
 * replication). Returns a new host array of field.length / 3 voxels.
 */
export async function warpArrayGpu<T extends VoxelArray>(
  data: T,
  dims: Vec3,
  field: Float32Array,
  mode: Interpolation,
  fill?: number,
  opts: GpuVolumeOptions = {},
): Promise<T> {
  return (await warpArraysGpu([data], dims, field, [mode], fill, opts))[0] as T;
}

/** Warps several arrays on one grid by one field, uploading the field once per slab. */
async function warpArraysGpu(
  arrays: VoxelArray[],
  dims: Vec3,
  field: Float32Array,
  modes: Interpolation[],
  fill: number | undefined,
  opts: GpuVolumeOptions,
): Promise<VoxelArray[]> {
  arrays.forEach((data, k) => checkInput("warping", data, dims, modes[k]));
  if (field.length % 3) {
    throw new RangeError(`a sampling field holds 3 numbers per voxel, got ${field.length}`);
  }
  const maxBytes = await maxBytesOf(opts);
  const count = field.length / 3, nz = dims[2];
  // Input z-slices voxels v0..v1 - 1 read (linear's reach covers nearest's): the spans of the
  // smallest and largest z, NaN skipped.
  const t = new Words(2);
  const span = (z: number): [number, number] => {
    decide(z, nz, true, false, t, 0);
    return decisionSpan(t, 0, nz, true)!;
  };
  const zSpan = (v0: number, v1: number): [number, number] | null => {
    let lo = Infinity, hi = -Infinity;
    for (let v = v0; v < v1; v++) {
      const z = field[3 * v + 2];
      if (z < lo) lo = z;
      if (z > hi) hi = z;
    }
    return lo <= hi ? [span(lo)[0], span(hi)[1]] : null;
  };
  const kernels = arrays.map((data, k) => kernel("warp", data, modes[k]));
  const plane = dims[0] * dims[1], bytes = Math.max(...kernels.map((k) => k.bytes));
  const slabs = planSlabs(count, Math.floor(maxBytes / 12), zSpan, plane * bytes, maxBytes);
  if (!slabs) return arrays.map((data, k) => warpArray(data, dims, field, modes[k], fill));
  const outs = arrays.map((data) => new (data.constructor as { new (n: number): VoxelArray })(count));
  const constants = { FILL: fill === undefined ? 0 : 1 };
  for (const s of slabs) {
    const n = s.u1 - s.u0;
    const uploads = [
      field.subarray(3 * s.u0, 3 * s.u1),
      ...arrays.map((d) => inputSlab(d, plane, s.zlo, s.zhi)),
    ];
    await runSlab(
      uploads,
      arrays.map((data, k) => ({
        entry: kernels[k].entry,
        params: [n, 1, ...dims, s.zlo, s.zhi - s.zlo + 1, fillWord(data, fill)],
        inputs: [k + 1, 0],
        into: bytesOf(outs[k], s.u0, n),
        invocations: kernels[k].bytes === 1 ? Math.ceil(n / 4) : n,
        constants,
      })),
      capacityFor(slabs.length, outs.reduce((b, o) => b + o.byteLength, 0), maxBytes),
    );
  }
  return outs;
}

/**
 * GPU version of {@link normalizeHu}: clips HU to the window and maps it linearly onto [-1, 1]
 * (NaN stays NaN). Returns a new host array.
 */
export async function normalizeHuGpu(
  data: Float32Array,
  window: HuWindow = DEFAULT_HU_WINDOW,
  opts: GpuVolumeOptions = {},
): Promise<Float32Array> {
  if (!(window.max > window.min)) throw new RangeError(`empty HU window [${window.min}, ${window.max}]`);
  const chunk = Math.floor((await maxBytesOf(opts)) / 4);
  const centre = (window.max + window.min) / 2, half = (window.max - window.min) / 2;
  const out = new Float32Array(data.length);
  for (let at = 0; at < data.length; at += chunk) {
    const part = data.subarray(at, at + chunk);
    await runSlab([part], [{
      shader: "intensity.wgsl",
      entry: "normalize_hu",
      params: [part.length, window.min, window.max, centre, half],
      paramTypes: "uffff",
      inputs: [0],
      into: bytesOf(out, at, part.length),
      invocations: part.length,
    }], capacityFor(Math.ceil(data.length / chunk), data.byteLength, 4 * chunk));
  }
  return out;
}

/** GPU version of resampleToGrid: resamples a volume onto `grid` (exact dims and affine of the result). */
export async function resampleToGridGpu<T extends VoxelArray>(
  volume: Volume<T>,
  grid: Grid,
  mode: Interpolation,
  fill?: number,
  opts: GpuVolumeOptions = {},
): Promise<Volume<T>> {
  // Output index -> world -> input index, as resampleToGrid.
  const indexMap = multiplyAffine(invertAffine(volume.affine), grid.affine).slice(0, 12);
  const data = await resampleArrayGpu(volume.data, volume.dims, grid.dims, indexMap, mode, fill, opts);
  return makeVolume(data, grid.dims, grid.affine);
}

/** GPU version of resampleToSpacing: voxel size `spacing` (mm), keeping the origin voxel centre. */
export function resampleToSpacingGpu<T extends VoxelArray>(
  volume: Volume<T>,
  spacing: Vec3,
  mode: Interpolation,
  fill?: number,
  opts: GpuVolumeOptions = {},
): Promise<Volume<T>> {
  return resampleToGridGpu(volume, gridWithSpacing(volume, spacing), mode, fill, opts);
}

/**
 * GPU version of augmentPair: one random field drawn from `seed` warps the image (trilinear) and its
 * labels (nearest), edge replication outside. Same seed, same result as the CPU version.
 */
export async function augmentPairGpu(
  image: Volume<Float32Array>,
  labels: Volume<Uint8Array>,
  seed: number,
  opts: AugmentOptions = {},
): Promise<{ image: Volume<Float32Array>; labels: Volume<Uint8Array> }> {
  if (image.dims.some((n, i) => n !== labels.dims[i])) {
    throw new RangeError(`image ${image.dims.join("x")} and labels ${labels.dims.join("x")} differ`);
  }
  const field = randomSamplingField(image.dims, image.spacing, new Rng(seed), opts);
  const [img, lab] = await warpArraysGpu(
    [image.data, labels.data],
    image.dims,
    field,
    ["linear", "nearest"],
    undefined,
    {},
  );
  return {
    image: makeVolume(img as Float32Array, image.dims, image.affine),
    labels: makeVolume(lab as Uint8Array, labels.dims, labels.affine),
  };
}

let forced: boolean | undefined;

/**
 * Whether callers should run these kernels on the GPU: yes on a hardware adapter; no on a software
 * one (lavapipe), whose "GPU" is the same CPU cores, so that transfers and the first touch of fresh
 * buffers cost about what the kernels save (measured on 2 cores: the sample CT from 3 mm to 1.5 mm,
 * 11M voxels, took ~0.5 s on the CPU, ~0.4 s on the GPU with pooled buffers, ~1 s on a first call;
 * a 64^3 training patch warped in ~16 ms on the CPU, ~40 ms on the GPU).
 */
export async function volumeKernelsOnGpu(): Promise<boolean> {
  return forced ?? !(await initGpu()).isFallback;
}

/** Overrides {@link volumeKernelsOnGpu} (undefined: back to the adapter's kind); for tests and benchmarks. */
export function forceVolumeKernelsOnGpu(on: boolean | undefined): void {
  forced = on;
}

/** resampleToGrid, on the GPU where {@link volumeKernelsOnGpu} says so. */
export async function resampleToGridAuto<T extends VoxelArray>(
  volume: Volume<T>,
  grid: Grid,
  mode: Interpolation,
  fill?: number,
): Promise<Volume<T>> {
  return await volumeKernelsOnGpu()
    ? resampleToGridGpu(volume, grid, mode, fill)
    : resampleToGrid(volume, grid, mode, fill);
}

/** resampleToSpacing, on the GPU where {@link volumeKernelsOnGpu} says so. */
export function resampleToSpacingAuto<T extends VoxelArray>(
  volume: Volume<T>,
  spacing: Vec3,
  mode: Interpolation,
  fill?: number,
): Promise<Volume<T>> {
  return resampleToGridAuto(volume, gridWithSpacing(volume, spacing), mode, fill);
}

/** augmentPair, on the GPU where {@link volumeKernelsOnGpu} says so. */
export async function augmentPairAuto(
  image: Volume<Float32Array>,
  labels: Volume<Uint8Array>,
  seed: number,
  opts: AugmentOptions = {},
): Promise<{ image: Volume<Float32Array>; labels: Volume<Uint8Array> }> {
  return await volumeKernelsOnGpu()
    ? augmentPairGpu(image, labels, seed, opts)
    : augmentPair(image, labels, seed, opts);
}
