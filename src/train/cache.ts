/**
 * The training cache: each case preprocessed once onto each stage's grid (normalised image, labels,
 * and the body mask C1 for stage 1) and, for stage 2, its candidate region C2 from a given stage-1
 * model, each in one file on disk. An entry's key is a hash of what it is made from: the contents of
 * the case's image and label files (SHA-256), the label remap, the stage's voxel size and HU window
 * (and, for C2, the stage-1 model's weights and the margin), and {@link CACHE_VERSION}. So a changed
 * file, remap or preset is prepared again, and nothing else is. Content hashes are remembered per
 * path with the file's size and modification time, so a run over a prepared cache reads no CT.
 *
 * Entries are safetensors files (F32 and U8 tensors; numpy and PyTorch read them) written atomically,
 * so machines preparing shards of the cases can share one cache folder.
 */
import { createHash } from "node:crypto";
import { candidateC1, candidateC2, labelsOnGrid, stageGridHu } from "../cascade/prepare.ts";
import { normalizeHu } from "../volume/intensity.ts";
import { predictInside } from "../cascade/infer.ts";
import type { Stage1 } from "../cascade/pipeline.ts";
import type { StageSpec } from "../cascade/stage.ts";
import { makeVolume } from "../volume/grid.ts";
import type { LabelRemap } from "../volume/labels.ts";
import type { Vec3 } from "../volume/types.ts";
import { readCase, type TrainingCase } from "../io/dataset.ts";
import { FileWriteError, writeFileAtomic } from "../io/atomic.ts";
import { encodeSafetensors } from "../nn/safetensors.ts";
import {
  absolutePath,
  fileStamp,
  hashFile,
  isFile,
  makeDir,
  readFileBytes,
  readFileHead,
  readTextIfExists,
} from "../io/fs.ts";

/** Bump when preprocessing changes what an entry holds: every entry is then prepared again. */
export const CACHE_VERSION = 1;

/** A cache entry that cannot be read; the message names the file and says to delete it. */
export class CacheError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem} (delete it, and it will be prepared again)`);
    this.name = "CacheError";
  }
}

/** What a grid entry is made from, besides the case: a stage's voxel size and window, and C1 or not. */
export interface GridSpec {
  spacing: Vec3;
  hu: StageSpec["hu"];
  /** Also compute the body mask C1 (stage 1's candidate region). */
  c1: boolean;
}

/** The grid of a stage (with C1 for stage 1). */
export function gridSpecOf(spec: StageSpec): GridSpec {
  return { spacing: spec.spacing, hu: spec.hu, c1: spec.stage === 1 };
}

/** The geometry and class counts of an entry, from its header alone. */
export interface EntryInfo {
  id: string;
  dims: Vec3;
  spacing: Vec3;
  affine: number[];
  /** Voxels of each label inside the entry's candidate region (C1 or C2), by label. */
  counts: Record<string, number>;
}

/** A case on a stage grid. */
export interface GridEntry extends EntryInfo {
  /** Normalised intensities on the grid. */
  image: Float32Array;
  labels: Uint8Array;
  /** C1, when the grid spec asked for it. */
  c1: Uint8Array | null;
}

type Arrays = Record<string, Float32Array | Uint8Array>;

/** An entry as safetensors bytes: F32 tensors first (4-byte aligned), then U8. */
export function encodeEntry(arrays: Arrays, meta: Record<string, string>): Uint8Array<ArrayBuffer> {
  return encodeSafetensors(
    new Map(Object.entries(arrays).map(([k, a]) => [k, { shape: [a.length], data: a }])),
    meta,
  );
}

type Header = Record<string, unknown> & { __metadata__?: Record<string, string> };
type TensorInfo = { dtype?: string; shape?: number[]; data_offsets?: [number, number] };

/** The header of an entry's first bytes; null when more bytes are needed (`need` says how many). */
function parseHeader(
  bytes: Uint8Array,
  file: string,
): { header: Header; dataStart: number } | { need: number } {
  if (bytes.length < 8) throw new CacheError(file, "not a cache entry (too short)");
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (!(n > 0 && n < 1 << 24)) throw new CacheError(file, "not a cache entry (bad header length)");
  if (bytes.length < 8 + n) return { need: 8 + n };
  try {
    return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), dataStart: 8 + n };
  } catch {
    throw new CacheError(file, "not a cache entry (header is not JSON)");
  }
}

/** Reads an entry's arrays (views on `bytes`, no copies) and metadata, checking every range. */
export function decodeEntry(
  bytes: Uint8Array,
  file: string,
): { arrays: Arrays; meta: Record<string, string> } {
  const parsed = parseHeader(bytes, file);
  if ("need" in parsed) throw new CacheError(file, "truncated header");
  const { header, dataStart } = parsed;
  const arrays: Arrays = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const t = entry as TensorInfo;
    const [b, e] = t.data_offsets ?? [NaN, NaN];
    const size = t.dtype === "F32" ? 4 : t.dtype === "U8" ? 1 : NaN;
    const length = t.shape?.[0] ?? NaN;
    if (!(b >= 0 && e >= b && dataStart + e <= bytes.length && (e - b) === size * length)) {
      throw new CacheError(file, `tensor ${name} is damaged or truncated`);
    }
    const at = bytes.byteOffset + dataStart + b;
    if (size === 4 && at % 4 !== 0) throw new CacheError(file, `tensor ${name} is misaligned`);
    arrays[name] = size === 4
      ? new Float32Array(bytes.buffer, at, length)
      : new Uint8Array(bytes.buffer, at, length);
  }
  return { arrays, meta: header.__metadata__ ?? {} };
}

function infoOf(meta: Record<string, string>, file: string): EntryInfo {
  try {
    if (Number(meta.version) !== CACHE_VERSION) throw new Error();
    return {
      id: meta.id,
      dims: JSON.parse(meta.dims),
      spacing: JSON.parse(meta.spacing),
      affine: JSON.parse(meta.affine),
      counts: JSON.parse(meta.counts ?? "{}"),
    };
  } catch {
    throw new CacheError(file, "not an entry of this version of the cache");
  }
}

/** Voxels of each label inside a candidate region. */
function countInside(labels: Uint8Array, candidate: Uint8Array): Record<string, number> {
  const counts = new Float64Array(256);
  for (let i = 0; i < labels.length; i++) if (candidate[i]) counts[labels[i]]++;
  const out: Record<string, number> = {};
  counts.forEach((n, label) => n > 0 && (out[label] = n));
  return out;
}

/** `sha256(JSON of parts)` in hex, 32 digits (128 bits). */
function keyOf(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);
}

/** A case id as a file-name prefix. */
function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 80);
}

/** The cache folder and what it holds. */
export class TrainingCache {
  /** Seconds spent hashing files whose contents were not known (for reports). */
  hashSeconds = 0;

  private constructor(readonly dir: string) {}

  /** Opens (creating) a cache folder; a FileWriteError naming it when it cannot be created. */
  static async open(dir: string): Promise<TrainingCache> {
    try {
      for (const sub of ["sources", "grid", "c2"]) await makeDir(`${dir}/${sub}`);
    } catch (e) {
      const problem = e instanceof Error ? e.message.split("\n")[0] : String(e);
      throw new FileWriteError(dir, `${problem} (choose another cache folder with --cache DIR)`, {
        cause: e,
      });
    }
    return new TrainingCache(dir);
  }

  /** SHA-256 of a file's contents, remembered by (absolute) path, size and modification time. */
  async contentHash(file: string): Promise<string> {
    const path = absolutePath(file);
    const stamp = await fileStamp(path);
    const memo = `${this.dir}/sources/${keyOf(path)}.json`;
    const known = await readTextIfExists(memo);
    if (known !== null) {
      try {
        const m = JSON.parse(known);
        if (m.path === path && m.size === stamp.size && m.mtimeMs === stamp.mtimeMs) return m.sha256;
      } catch {
        // a damaged memo is rewritten below
      }
    }
    const t0 = performance.now();
    const sha256 = await hashFile(path);
    this.hashSeconds += (performance.now() - t0) / 1000;
    await writeFileAtomic(memo, JSON.stringify({ path, ...stamp, sha256 }) + "\n");
    return sha256;
  }

  /** The file of a grid entry of a case. */
  async gridFile(c: TrainingCase, g: GridSpec, remap?: LabelRemap): Promise<string> {
    const key = keyOf({
      version: CACHE_VERSION,
      kind: "grid",
      image: await this.contentHash(c.image),
      labels: await this.contentHash(c.labels),
      remap: remap ? [...remap.entries()].sort((a, b) => a[0] - b[0]) : null,
      spacing: g.spacing,
      hu: g.hu,
      c1: g.c1,
    });
    return `${this.dir}/grid/${safeId(c.id)}.${key}.safetensors`;
  }

  /** The file of a C2 entry: from the stage-2 grid entry, the stage-1 model's grid entry and weights. */
  c2File(id: string, grid2File: string, grid1File: string, modelHash: string, marginMm: number): string {
    // the grid entries by their names (their content keys), not their paths: the same cache reached
    // through another spelling of its folder (./cache, a mount point) keeps its C2 entries
    const [grid2, grid1] = [grid2File, grid1File].map((f) => f.slice(f.lastIndexOf("/") + 1));
    const key = keyOf({ version: CACHE_VERSION, kind: "c2", grid2, grid1, modelHash, marginMm });
    return `${this.dir}/c2/${safeId(id)}.${key}.safetensors`;
  }

  /**
   * Makes sure a case has an entry for each grid spec, reading the case (once) only when one is
   * missing. Returns the entries' files, and whether anything was prepared.
   */
  async ensureGrids(
    c: TrainingCase,
    grids: GridSpec[],
    opts: { remap?: LabelRemap } = {},
  ): Promise<{ files: string[]; prepared: boolean }> {
    const files = await Promise.all(grids.map((g) => this.gridFile(c, g, opts.remap)));
    const missing = [];
    for (let i = 0; i < grids.length; i++) if (!(await isFile(files[i]))) missing.push(i);
    if (!missing.length) return { files, prepared: false };
    const { image, labels } = await readCase(c, { remap: opts.remap });
    for (const i of missing) {
      const g = grids[i];
      // as stageGridHu and stageVolume do for a stage with this spacing and window
      const hu = await stageGridHu(image, { spacing: g.spacing } as StageSpec);
      const lab = await labelsOnGrid(labels, hu);
      const normalised = normalizeHu(hu.data, g.hu);
      const c1 = g.c1 ? candidateC1(hu) : null;
      const arrays: Arrays = { image: normalised, labels: lab };
      if (c1) arrays.c1 = c1;
      const meta = {
        format: "segmentation training cache",
        version: String(CACHE_VERSION),
        id: c.id,
        image: c.image,
        labels: c.labels,
        dims: JSON.stringify(hu.dims),
        spacing: JSON.stringify(hu.spacing),
        affine: JSON.stringify(hu.affine),
        counts: JSON.stringify(c1 ? countInside(lab, c1) : {}),
      };
      await writeFileAtomic(files[i], encodeEntry(arrays, meta));
    }
    return { files, prepared: true };
  }

  /** An entry's geometry and counts, reading only its header. */
  async info(file: string): Promise<EntryInfo> {
    let head = await readFileHead(file, 4096);
    let parsed = parseHeader(head, file);
    if ("need" in parsed) {
      head = await readFileHead(file, parsed.need);
      parsed = parseHeader(head, file);
      if ("need" in parsed) throw new CacheError(file, "truncated header");
    }
    return infoOf(parsed.header.__metadata__ ?? {}, file);
  }

  /** A grid entry, whole. */
  async loadGrid(file: string): Promise<GridEntry> {
    const { arrays, meta } = decodeEntry(await readFileBytes(file), file);
    const info = infoOf(meta, file);
    const n = info.dims[0] * info.dims[1] * info.dims[2];
    const { image, labels, c1 } = arrays;
    if (
      !(image instanceof Float32Array) || image.length !== n || !(labels instanceof Uint8Array) ||
      labels.length !== n
    ) {
      throw new CacheError(file, "the image or labels do not match the entry's dimensions");
    }
    return { ...info, image, labels, c1: c1 instanceof Uint8Array && c1.length === n ? c1 : null };
  }

  /** A C2 entry: the candidate region and the label counts inside it. */
  async loadC2(file: string, voxels: number): Promise<{ c2: Uint8Array; counts: Record<string, number> }> {
    const { arrays, meta } = decodeEntry(await readFileBytes(file), file);
    const info = infoOf(meta, file);
    if (!(arrays.c2 instanceof Uint8Array) || arrays.c2.length !== voxels) {
      throw new CacheError(file, "the candidate region does not match the stage-2 grid");
    }
    return { c2: arrays.c2, counts: info.counts };
  }

  /**
   * Makes sure a case has its C2 entry for a stage-1 model: the model's prediction on the case's
   * stage-1 grid entry, carried onto the stage-2 grid and dilated by the margin, as at inference.
   */
  async ensureC2(
    c: TrainingCase,
    spec2: StageSpec,
    stage1: Stage1 & { hash: string },
    opts: { remap?: LabelRemap } = {},
  ): Promise<{ grid2: string; c2: string; prepared: boolean }> {
    const { files: [grid1, grid2], prepared } = await this.ensureGrids(
      c,
      [gridSpecOf(stage1.spec), gridSpecOf(spec2)],
      opts,
    );
    const margin = spec2.c2MarginMm ?? 0;
    const file = this.c2File(c.id, grid2, grid1, stage1.hash, margin);
    if (await isFile(file)) return { grid2, c2: file, prepared };
    const g1 = await this.loadGrid(grid1);
    const s1 = await predictInside(stage1.model, stage1.spec, g1.image, g1.dims, g1.c1!);
    const g2 = await this.loadGrid(grid2);
    const c2 = candidateC2(makeVolume(s1, g1.dims, g1.affine), g2, margin);
    const meta = {
      format: "segmentation training cache",
      version: String(CACHE_VERSION),
      id: c.id,
      dims: JSON.stringify(g2.dims),
      spacing: JSON.stringify(g2.spacing),
      affine: JSON.stringify(g2.affine),
      counts: JSON.stringify(countInside(g2.labels, c2)),
    };
    await writeFileAtomic(file, encodeEntry({ c2 }, meta));
    return { grid2, c2: file, prepared: true };
  }
}
