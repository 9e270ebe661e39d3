/**
 * Decoding NIfTI-1/NIfTI-2 files (`.nii` or `.nii.gz`, as bytes) into float32 volumes and uint8 label
 * maps (src/io/volumes.ts reads them from paths).
 * gzip is inflated here, chunk by chunk, so the header is checked (size limits included) before the
 * voxel buffer is allocated, and truncated or corrupt files are reported by name.
 */

import { VolumeError } from "./errors.ts";
import { gunzipChunks, isGzip } from "./gzip.ts";
import { voxelOf } from "./grid.ts";
import { type LabelOptions, labelsFromValues } from "./labels.ts";
import { detectHeaderSize, type NiftiHeader, parseNiftiHeader, type ReadLimits } from "./nifti-header.ts";
import type { Volume, VoxelArray } from "./types.ts";
import { spacingOf } from "./affine.ts";

/** A volume read from a file, with the file's name and header. */
export interface NiftiVolume<T extends VoxelArray = Float32Array> extends Volume<T> {
  /** The path it was read from. */
  file: string;
  /** The parsed header (datatype, codes, scaling, ...). */
  header: NiftiHeader;
}

/** Options for reading images. */
export interface ReadOptions {
  /** Size refusals (defaults: 2^31 voxels, 8 GiB). */
  limits?: ReadLimits;
}

/** Number of bytes a header's voxels occupy, and where they end. */
function dataEnd(h: NiftiHeader): number {
  return h.voxOffset + h.dims[0] * h.dims[1] * h.dims[2] * h.datatype.bytes;
}

/** Throws "truncated" when fewer bytes arrived than the header announces. */
function checkComplete(got: number, h: NiftiHeader, file: string): void {
  const need = dataEnd(h);
  if (got < need) {
    throw new VolumeError(
      file,
      "truncated",
      `image data truncated: ${got} bytes, the header announces ${need} (${
        h.dims.join("x")
      } ${h.datatype.name} from offset ${h.voxOffset})`,
    );
  }
}

/** Inflates a .nii.gz, checking the header as soon as it has arrived. */
async function inflateNifti(
  compressed: Uint8Array<ArrayBuffer>,
  file: string,
  limits: ReadLimits,
): Promise<{ header: NiftiHeader; bytes: Uint8Array }> {
  let head = new Uint8Array(0);
  let header: NiftiHeader | null = null;
  let out = new Uint8Array(0);
  let got = 0;
  for await (const chunk of gunzipChunks(compressed, file)) {
    if (header === null) {
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      head = joined;
      if (head.length < 4 || head.length < detectHeaderSize(head, file).size) continue;
      header = parseNiftiHeader(head, file, limits);
      out = new Uint8Array(dataEnd(header));
      got = Math.min(head.length, out.length);
      out.set(head.subarray(0, got));
    } else if (got < out.length) {
      const n = Math.min(chunk.length, out.length - got);
      out.set(chunk.subarray(0, n), got);
      got += n;
    }
    // Bytes past the announced end are read (so the gzip CRC is checked) and dropped.
  }
  if (header === null) header = parseNiftiHeader(head, file, limits); // throws: too short
  checkComplete(got, header, file);
  return { header, bytes: out };
}

/**
 * The header and the uncompressed bytes of a .nii or .nii.gz file's contents (gzip detected by
 * content); `path` names the file in messages, and a name ending in .gz must hold gzip.
 */
export async function inflateNiftiBytes(
  raw: Uint8Array<ArrayBuffer>,
  path: string,
  limits: ReadLimits = {},
): Promise<{ header: NiftiHeader; bytes: Uint8Array }> {
  if (isGzip(raw)) return await inflateNifti(raw, path, limits);
  if (path.toLowerCase().endsWith(".gz")) {
    throw new VolumeError(path, "gzip", "named .gz but not gzip-compressed (no 1f 8b magic)");
  }
  const header = parseNiftiHeader(raw, path, limits);
  checkComplete(raw.length, header, path);
  return { header, bytes: raw };
}

/**
 * The header alone from the first bytes of a .nii or .nii.gz file (a few kilobytes suffice: gzip is
 * inflated only until the header has arrived, and a truncated stream after that is not an error).
 */
export async function decodeNiftiHeader(
  head: Uint8Array<ArrayBuffer>,
  path: string,
  limits: ReadLimits = {},
): Promise<NiftiHeader> {
  if (!isGzip(head)) return parseNiftiHeader(head, path, limits);
  let bytes = new Uint8Array(0);
  try {
    for await (const chunk of gunzipChunks(head, path)) {
      const joined = new Uint8Array(bytes.length + chunk.length);
      joined.set(bytes);
      joined.set(chunk, bytes.length);
      bytes = joined;
      if (bytes.length >= 4 && bytes.length >= detectHeaderSize(bytes, path).size) break;
    }
  } catch (e) {
    // the stream was cut on purpose: only a header that never arrived is a problem
    if (!(e instanceof VolumeError && e.code === "gzip") || bytes.length < 4) throw e;
  }
  return parseNiftiHeader(bytes, path, limits);
}

/**
 * Decodes the voxels after a header into float32, applying scl_slope/scl_inter (a slope of 0 or a
 * non-finite slope means no scaling, as in nibabel).
 */
export function decodeVoxels(bytes: Uint8Array, header: NiftiHeader): Float32Array {
  const n = header.dims[0] * header.dims[1] * header.dims[2];
  const dt = header.datatype;
  const le = header.littleEndian;
  const view = new DataView(bytes.buffer, bytes.byteOffset + header.voxOffset, n * dt.bytes);
  const out = new Float32Array(n);
  const scaled = header.sclSlope !== 0 && Number.isFinite(header.sclSlope);
  const slope = scaled ? header.sclSlope : 1;
  const inter = scaled && Number.isFinite(header.sclInter) ? header.sclInter : 0;
  const get = dt.get;
  for (let i = 0, o = 0; i < n; i++, o += dt.bytes) out[i] = get(view, o, le) * slope + inter;
  return out;
}

/** Throws "non-finite" when any voxel is NaN or infinite, with the count and the first voxel. */
export function checkFinite(data: Float32Array, volume: { dims: Volume["dims"] }, file: string): void {
  let count = 0, first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count > 0) {
    throw new VolumeError(
      file,
      "non-finite",
      `${count} NaN/Inf voxel${count > 1 ? "s" : ""}, the first at voxel (${
        voxelOf(first, volume.dims).join(",")
      })`,
    );
  }
}

/**
 * Decodes a NIfTI file's bytes into a float32 image (e.g. CT in HU); `path` names the file in
 * messages. Throws a one-line VolumeError for any bad input.
 */
export async function decodeNifti(
  raw: Uint8Array<ArrayBuffer>,
  path: string,
  opts: ReadOptions = {},
): Promise<NiftiVolume<Float32Array>> {
  const { header, bytes } = await inflateNiftiBytes(raw, path, opts.limits);
  const data = decodeVoxels(bytes, header);
  checkFinite(data, header, path);
  const affine = header.affine.slice();
  return { file: path, header, dims: [...header.dims], affine, spacing: spacingOf(affine), data };
}

/**
 * Decodes a label map's bytes into uint8 labels 0..maxLabel, remapping ids if `remap` is given
 * (unlisted ids become 0). Non-integer values and labels outside the range are "labels" VolumeErrors.
 */
export async function decodeLabels(
  raw: Uint8Array<ArrayBuffer>,
  path: string,
  opts: ReadOptions & LabelOptions = {},
): Promise<NiftiVolume<Uint8Array>> {
  const values = await decodeNifti(raw, path, opts);
  return { ...values, data: labelsFromValues(values.data, values.dims, path, opts) };
}
