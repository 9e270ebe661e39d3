/**
 * Writing volumes as single-file NIfTI-1 (`.nii`, or `.nii.gz` gzipped with CompressionStream):
 * uint8 label maps and float32 images by default, on exactly the given grid, with sform and qform
 * both set so ITK-SNAP, Slicer and nibabel overlay the result on its image.
 */

import { datatypeByName, type DatatypeName } from "./datatypes.ts";
import { voxelCount } from "./grid.ts";
import { gzip } from "./gzip.ts";
import {
  encodeNifti1Header,
  type HeaderFields,
  NIFTI1_VOX_OFFSET,
  type NiftiHeader,
} from "./nifti-header.ts";
import type { Grid, Volume, VoxelArray } from "./types.ts";

/** Header choices for a written file; the grid comes from the volume. */
export type WriteOptions = Partial<Omit<HeaderFields, "dims" | "affine">>;

/**
 * The sform/qform codes of an input header for writing a result on its grid (a code of 0, i.e.
 * "not set", becomes 1, since the written file always sets both forms).
 */
export function xformCodesOf(header: NiftiHeader): { sformCode: number; qformCode: number } {
  return { sformCode: header.sformCode || 1, qformCode: header.qformCode || 1 };
}

/**
 * The bytes of an uncompressed single-file NIfTI-1 image (header, extension flag, voxels at 352).
 * Values are converted to `opts.datatype` (default: uint8 for Uint8Array data, else float32).
 */
export function encodeNifti(
  data: ArrayLike<number>,
  grid: Grid,
  opts: WriteOptions = {},
): Uint8Array<ArrayBuffer> {
  if (data.length !== voxelCount(grid.dims)) {
    throw new RangeError(
      `data has ${data.length} voxels, dims ${grid.dims.join("x")} need ${voxelCount(grid.dims)}`,
    );
  }
  const datatype: DatatypeName = opts.datatype ?? (data instanceof Uint8Array ? "uint8" : "float32");
  const dt = datatypeByName(datatype);
  const le = opts.littleEndian ?? true;
  const header = encodeNifti1Header({ ...opts, dims: grid.dims, affine: grid.affine, datatype });
  const bytes = new Uint8Array(NIFTI1_VOX_OFFSET + data.length * dt.bytes);
  bytes.set(header);
  const view = new DataView(bytes.buffer, NIFTI1_VOX_OFFSET);
  // Integer types round to nearest (DataView setters would truncate).
  const convert = dt.integer ? Math.round : (x: number) => x;
  for (let i = 0, o = 0; i < data.length; i++, o += dt.bytes) dt.set(view, o, convert(data[i]), le);
  return bytes;
}

/**
 * The bytes of a NIfTI-1 file of `volume`, gzipped when `gzipped` (a `.nii.gz`). Uint8Array data is
 * written as uint8 (label maps, masks), Float32Array as float32, unless `opts.datatype` says
 * otherwise. sform_code and qform_code default to 1 (scanner); pass the input's codes to keep them.
 */
export async function encodeNiftiFile(
  volume: Volume<VoxelArray>,
  gzipped: boolean,
  opts: WriteOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const raw = encodeNifti(volume.data, volume, opts);
  return gzipped ? await gzip(raw) : raw;
}
