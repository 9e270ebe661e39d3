/**
 * Volumes by path: NIfTI images and label maps read from files and written atomically (the Deno edge
 * of src/volume/'s byte codecs).
 */
import { VolumeError } from "../volume/errors.ts";
import type { LabelOptions } from "../volume/labels.ts";
import {
  decodeLabels,
  decodeNifti,
  decodeNiftiHeader,
  type NiftiVolume,
  type ReadOptions,
} from "../volume/nifti-read.ts";
import type { NiftiHeader } from "../volume/nifti-header.ts";
import { encodeNiftiFile, type WriteOptions } from "../volume/nifti-write.ts";
import type { Volume, VoxelArray } from "../volume/types.ts";
import { FileWriteError, writeFileAtomic } from "./atomic.ts";
import { FileReadError, readFileBytes, readFileHead } from "./fs.ts";

/** The bytes of a NIfTI file, with file-system problems as VolumeErrors naming it. */
export async function readVolumeBytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await readFileBytes(path);
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    if (e.code === "is-directory") throw new VolumeError(path, "read", "is a directory, not a NIfTI file");
    throw new VolumeError(path, e.code === "not-found" ? "not-found" : "read", e.problem, { cause: e });
  }
}

/** Reads only the header of a NIfTI file (its first 64 KiB at most), e.g. to learn its voxel size. */
export async function readNiftiHeader(path: string): Promise<NiftiHeader> {
  let head: Uint8Array<ArrayBuffer>;
  try {
    head = await readFileHead(path, 65536);
  } catch {
    return (await decodeNifti(await readVolumeBytes(path), path)).header; // the same one-line errors
  }
  return await decodeNiftiHeader(head, path);
}

/** Reads a 3D image as float32 (e.g. CT in HU). Throws a one-line VolumeError for any bad input. */
export async function readNifti(path: string, opts: ReadOptions = {}): Promise<NiftiVolume<Float32Array>> {
  return await decodeNifti(await readVolumeBytes(path), path, opts);
}

/** Reads a label map into uint8 labels 0..maxLabel, remapped if asked (see `decodeLabels`). */
export async function readLabels(
  path: string,
  opts: ReadOptions & LabelOptions = {},
): Promise<NiftiVolume<Uint8Array>> {
  return await decodeLabels(await readVolumeBytes(path), path, opts);
}

/**
 * Writes a volume as NIfTI-1, atomically, gzipped when the path ends in `.gz` (see
 * `encodeNiftiFile` for the datatypes and codes).
 */
export async function writeNifti(
  path: string,
  volume: Volume<VoxelArray>,
  opts: WriteOptions = {},
): Promise<void> {
  const bytes = await encodeNiftiFile(volume, path.toLowerCase().endsWith(".gz"), opts);
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    if (!(e instanceof FileWriteError)) throw e;
    throw new VolumeError(path, "write", e.message.slice(path.length + 2), { cause: e });
  }
}
