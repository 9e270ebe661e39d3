/**
 * NIfTI-1 and NIfTI-2 header parsing (with every check that can refuse a file before its voxels are
 * read) and NIfTI-1 header encoding. Field offsets follow nifti1.h and nifti2.h.
 */

import { determinant3, scaleAffine } from "./affine.ts";
import {
  datatypeByCode,
  datatypeByName,
  type DatatypeInfo,
  type DatatypeName,
  describeDatatypeCode,
} from "./datatypes.ts";
import { VolumeError } from "./errors.ts";
import { affineToQform, type Qform, qformToAffine } from "./qform.ts";
import type { Affine, Vec3 } from "./types.ts";

/** Size of a NIfTI-1 header. */
export const NIFTI1_HEADER_SIZE = 348;
/** Size of a NIfTI-2 header. */
export const NIFTI2_HEADER_SIZE = 540;
/** Where the voxels start in the files this engine writes: header plus the 4-byte extension flag. */
export const NIFTI1_VOX_OFFSET = 352;

/** A parsed, validated header. */
export interface NiftiHeader {
  /** NIfTI-1 or NIfTI-2. */
  version: 1 | 2;
  /** Byte order of the file. */
  littleEndian: boolean;
  /** 348 or 540. */
  headerSize: number;
  /** The raw dim[0..7] field. */
  dim: number[];
  /** The three spatial dimensions. */
  dims: Vec3;
  /** The voxel datatype. */
  datatype: DatatypeInfo;
  /** The raw pixdim[0..7] field. */
  pixdim: number[];
  /** Byte offset of the first voxel. */
  voxOffset: number;
  /** Raw scl_slope (0 or non-finite means no scaling). */
  sclSlope: number;
  /** Raw scl_inter. */
  sclInter: number;
  /** Raw xyzt_units. */
  xyztUnits: number;
  /** qform_code (0 means no qform). */
  qformCode: number;
  /** sform_code (0 means no sform). */
  sformCode: number;
  /** The qform fields. */
  qform: Qform;
  /** srow_x, srow_y, srow_z (12 numbers). */
  srow: number[];
  /** descrip. */
  description: string;
  /** intent_name. */
  intentName: string;
  /**
   * Voxel index -> RAS+ mm, chosen as nibabel does: sform if sform_code > 0, else qform, else
   * pixdim. Like nibabel, xyzt_units is not applied: coordinates are taken as millimetres.
   */
  affine: Affine;
  /** Which header fields the affine came from. */
  affineSource: "sform" | "qform" | "pixdim";
}

/** Refusals for images too large to read. */
export interface ReadLimits {
  /** Most voxels accepted (default 2^31). */
  maxVoxels?: number;
  /** Most bytes the raw voxels plus their float32 copy may take (default 8 GiB). */
  maxBytes?: number;
}

/** The limits used when none are given. */
export const DEFAULT_LIMITS: Required<ReadLimits> = { maxVoxels: 2 ** 31, maxBytes: 8 * 2 ** 30 };

const NIFTI2_MAGIC = [0x6e, 0x2b, 0x32, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]; // "n+2\0\r\n\032\n"

/** A C string field: bytes up to the first NUL, as Latin-1. */
function cString(bytes: Uint8Array, start: number, length: number): string {
  let s = "";
  for (let i = start; i < start + length && bytes[i] !== 0; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** Printable form of raw magic bytes for a message. */
function showBytes(bytes: Uint8Array): string {
  return JSON.stringify(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

/** Format a byte count for a message. */
export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * The header size a file declares (348 or 540) and its byte order, from the first 4 bytes.
 * Throws a "header" VolumeError for anything else.
 */
export function detectHeaderSize(bytes: Uint8Array, file: string): { size: number; littleEndian: boolean } {
  if (bytes.length < 4) {
    throw new VolumeError(file, "truncated", `truncated header: ${bytes.length} bytes, NIfTI-1 needs 348`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  for (const littleEndian of [true, false]) {
    const size = view.getInt32(0, littleEndian);
    if (size === NIFTI1_HEADER_SIZE || size === NIFTI2_HEADER_SIZE) return { size, littleEndian };
  }
  const size = view.getInt32(0, true);
  throw new VolumeError(
    file,
    "header",
    `header size field is ${size}, expected 348 (NIfTI-1) or 540 (NIfTI-2): not a NIfTI file`,
  );
}

/** Checks that a grid of this size can be read within the limits; throws "too-large" otherwise. */
export function checkSize(file: string, dims: Vec3, bytesPerVoxel: number, limits: ReadLimits = {}): void {
  const { maxVoxels, maxBytes } = { ...DEFAULT_LIMITS, ...limits };
  const n = dims[0] * dims[1] * dims[2];
  if (n > maxVoxels) {
    throw new VolumeError(
      file,
      "too-large",
      `dimensions ${dims.join("x")} = ${n} voxels exceed the limit of ${maxVoxels} voxels`,
    );
  }
  const need = n * (bytesPerVoxel + 4);
  if (need > maxBytes) {
    throw new VolumeError(
      file,
      "too-large",
      `dimensions ${dims.join("x")} = ${n} voxels need ${formatBytes(need)} to read, more than the ${
        formatBytes(maxBytes)
      } budget`,
    );
  }
}

/**
 * Parses and validates a NIfTI-1 or NIfTI-2 header from the start of an (uncompressed) file.
 * Refuses, with a one-line VolumeError naming `file`: wrong header size or magic, .hdr/.img pairs,
 * non-3D images (4D with one volume is accepted), zero or negative dimensions, unsupported datatypes,
 * images larger than `limits`, and singular or non-finite affines.
 */
export function parseNiftiHeader(bytes: Uint8Array, file: string, limits: ReadLimits = {}): NiftiHeader {
  const { size, littleEndian: le } = detectHeaderSize(bytes, file);
  const version = size === NIFTI1_HEADER_SIZE ? 1 : 2;
  if (bytes.length < size) {
    throw new VolumeError(
      file,
      "truncated",
      `truncated header: ${bytes.length} bytes, NIfTI-${version} needs ${size}`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, size);

  let dim: number[], pixdim: number[], datatypeCode: number, voxOffset: number;
  let sclSlope: number, sclInter: number, xyztUnits: number, qformCode: number, sformCode: number;
  let quatern: Vec3, qoffset: Vec3, srow: number[], description: string, intentName: string;
  if (version === 1) {
    const magic = bytes.subarray(344, 348);
    if (magic[0] === 0x6e && magic[1] === 0x69 && magic[2] === 0x31 && magic[3] === 0) {
      throw new VolumeError(
        file,
        "header",
        'magic "ni1" marks a separate .hdr/.img pair, only single-file .nii is supported',
      );
    }
    if (!(magic[0] === 0x6e && magic[1] === 0x2b && magic[2] === 0x31 && magic[3] === 0)) {
      throw new VolumeError(
        file,
        "header",
        `bad magic ${showBytes(magic)}, expected "n+1" (not a NIfTI-1 file, perhaps Analyze 7.5)`,
      );
    }
    const f32 = (o: number) => v.getFloat32(o, le);
    dim = Array.from({ length: 8 }, (_, i) => v.getInt16(40 + 2 * i, le));
    datatypeCode = v.getInt16(70, le);
    pixdim = Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i));
    voxOffset = f32(108);
    sclSlope = f32(112);
    sclInter = f32(116);
    xyztUnits = bytes[123];
    description = cString(bytes, 148, 80);
    qformCode = v.getInt16(252, le);
    sformCode = v.getInt16(254, le);
    quatern = [f32(256), f32(260), f32(264)];
    qoffset = [f32(268), f32(272), f32(276)];
    srow = Array.from({ length: 12 }, (_, i) => f32(280 + 4 * i));
    intentName = cString(bytes, 328, 16);
  } else {
    const magic = bytes.subarray(4, 12);
    if (!NIFTI2_MAGIC.every((b, i) => magic[i] === b)) {
      throw new VolumeError(file, "header", `bad magic ${showBytes(magic.subarray(0, 3))}, expected "n+2"`);
    }
    const f64 = (o: number) => v.getFloat64(o, le);
    const i64 = (o: number) => Number(v.getBigInt64(o, le));
    datatypeCode = v.getInt16(12, le);
    dim = Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i));
    pixdim = Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i));
    voxOffset = i64(168);
    sclSlope = f64(176);
    sclInter = f64(184);
    description = cString(bytes, 240, 80);
    qformCode = v.getInt32(344, le);
    sformCode = v.getInt32(348, le);
    quatern = [f64(352), f64(360), f64(368)];
    qoffset = [f64(376), f64(384), f64(392)];
    srow = Array.from({ length: 12 }, (_, i) => f64(400 + 8 * i));
    xyztUnits = v.getInt32(500, le);
    intentName = cString(bytes, 508, 16);
  }

  const ndim = dim[0];
  if (!(ndim >= 1 && ndim <= 7)) throw new VolumeError(file, "dims", `dim[0]=${ndim} is not in 1..7`);
  for (let i = 1; i <= ndim; i++) {
    if (!(dim[i] > 0)) throw new VolumeError(file, "dims", `dimension dim[${i}]=${dim[i]} is not positive`);
  }
  for (let i = 4; i <= ndim; i++) {
    if (dim[i] !== 1) {
      const what = i === 4 ? `4D image with ${dim[4]} volumes (dim[4]=${dim[4]})` : `dim[${i}]=${dim[i]}`;
      throw new VolumeError(file, "dims", `${what} is not supported: only 3D images (or 4D with one volume)`);
    }
  }
  // Dimensions past dim[0] are 1: a 2D image is a one-slice volume.
  const dims: Vec3 = [dim[1], ndim >= 2 ? dim[2] : 1, ndim >= 3 ? dim[3] : 1];

  const datatype = datatypeByCode(datatypeCode);
  if (datatype === undefined) {
    throw new VolumeError(file, "datatype", `unsupported datatype ${describeDatatypeCode(datatypeCode)}`);
  }
  checkSize(file, dims, datatype.bytes, limits);

  if (!(Number.isInteger(voxOffset) && voxOffset >= size)) {
    throw new VolumeError(file, "header", `vox_offset ${voxOffset} lies inside the ${size}-byte header`);
  }

  const qform: Qform = {
    quatern,
    offset: qoffset,
    pixdim: [pixdim[1], pixdim[2], pixdim[3]],
    qfac: pixdim[0],
  };
  let affine: Affine, affineSource: NiftiHeader["affineSource"];
  if (sformCode > 0) {
    affine = [...srow, 0, 0, 0, 1];
    affineSource = "sform";
  } else if (qformCode > 0) {
    affine = qformToAffine(qform);
    affineSource = "qform";
  } else {
    // NIfTI "method 1": voxel sizes only, origin at the first voxel.
    affine = scaleAffine([pixdim[1], pixdim[2], pixdim[3]]);
    affineSource = "pixdim";
  }
  const det = determinant3(affine);
  if (!affine.every(Number.isFinite) || !(Math.abs(det) > 1e-12)) {
    throw new VolumeError(
      file,
      "header",
      `the ${affineSource} affine is singular or not finite (${
        affine.slice(0, 12).map((x) => +x.toPrecision(4)).join(" ")
      })`,
    );
  }

  return {
    version,
    littleEndian: le,
    headerSize: size,
    dim,
    dims,
    datatype,
    pixdim,
    voxOffset,
    sclSlope,
    sclInter,
    xyztUnits,
    qformCode,
    sformCode,
    qform,
    srow,
    description,
    intentName,
    affine,
    affineSource,
  };
}

/** The fields a written NIfTI-1 header is made from. */
export interface HeaderFields {
  /** Voxel counts. */
  dims: Vec3;
  /** Voxel index -> RAS+ mm; stored in the sform exactly (as float32) and as the nearest qform. */
  affine: Affine;
  /** Voxel datatype. */
  datatype: DatatypeName;
  /** Byte order (default little-endian). */
  littleEndian?: boolean;
  /** sform_code (default 1, scanner). */
  sformCode?: number;
  /** qform_code (default 1, scanner). */
  qformCode?: number;
  /** scl_slope (default 1). */
  sclSlope?: number;
  /** scl_inter (default 0). */
  sclInter?: number;
  /** descrip, at most 79 characters kept. */
  description?: string;
  /** intent_name, at most 15 characters kept (e.g. "label"). */
  intentName?: string;
}

/**
 * Encodes a single-file NIfTI-1 header plus the 4-byte extension flag (352 bytes; voxels follow at
 * vox_offset 352). pixdim[1..3] are the affine's column lengths and pixdim[0] the qform's qfac, so
 * readers that use either sform or qform see the same grid.
 */
export function encodeNifti1Header(f: HeaderFields): Uint8Array {
  if (!f.affine.every(Number.isFinite) || !(Math.abs(determinant3(f.affine)) > 1e-12)) {
    throw new RangeError(`cannot write a singular or non-finite affine: ${f.affine.slice(0, 12).join(" ")}`);
  }
  const bytes = new Uint8Array(NIFTI1_VOX_OFFSET);
  const v = new DataView(bytes.buffer);
  const le = f.littleEndian ?? true;
  const dt = datatypeByName(f.datatype);
  const q = affineToQform(f.affine);
  const putString = (offset: number, max: number, s: string) => {
    for (let i = 0; i < Math.min(s.length, max - 1); i++) bytes[offset + i] = s.charCodeAt(i) & 0xff;
  };
  v.setInt32(0, NIFTI1_HEADER_SIZE, le);
  bytes[38] = 0x72; // regular = 'r', as nibabel writes
  const dim = [3, f.dims[0], f.dims[1], f.dims[2], 1, 1, 1, 1];
  dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, dt.code, le);
  v.setInt16(72, dt.bytes * 8, le);
  const pixdim = [q.qfac, q.pixdim[0], q.pixdim[1], q.pixdim[2], 1, 1, 1, 1];
  pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, NIFTI1_VOX_OFFSET, le);
  v.setFloat32(112, f.sclSlope ?? 1, le);
  v.setFloat32(116, f.sclInter ?? 0, le);
  bytes[123] = 2; // xyzt_units: mm
  putString(148, 80, f.description ?? "");
  v.setInt16(252, f.qformCode ?? 1, le);
  v.setInt16(254, f.sformCode ?? 1, le);
  q.quatern.forEach((x, i) => v.setFloat32(256 + 4 * i, x, le));
  q.offset.forEach((x, i) => v.setFloat32(268 + 4 * i, x, le));
  for (let i = 0; i < 12; i++) v.setFloat32(280 + 4 * i, f.affine[i], le);
  putString(328, 16, f.intentName ?? "");
  bytes.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"
  return bytes;
}
