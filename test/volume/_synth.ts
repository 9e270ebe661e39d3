/** Helpers for the volume tests: small synthetic volumes and NIfTI files in a temporary folder. */

import { scaleAffine } from "../../src/volume/affine.ts";
import { makeVolume, voxelCount } from "../../src/volume/grid.ts";
import { gzip } from "../../src/volume/gzip.ts";
import { encodeNifti, type WriteOptions } from "../../src/volume/nifti-write.ts";
import type { Affine, Vec3, Volume } from "../../src/volume/types.ts";
import { Rng } from "../../src/util/random.ts";

/** The sample CT and its labels. */
export const SAMPLE_CT = new URL("../../data/abdomen-ct-a.nii.gz", import.meta.url).pathname;
/** Labels of the sample CT. */
export const SAMPLE_LABELS = new URL("../../data/abdomen-ct-a.labels.nii.gz", import.meta.url).pathname;

/** A fresh temporary folder, removed by the returned function. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "volume-test-" });
  return { dir, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

/** A float32 volume whose voxel (i, j, k) holds f(i, j, k). */
export function volumeFrom(
  dims: Vec3,
  f: (i: number, j: number, k: number) => number,
  affine?: Affine,
): Volume {
  const data = new Float32Array(voxelCount(dims));
  let n = 0;
  for (let k = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) data[n++] = f(i, j, k);
  }
  return makeVolume(data, dims, affine ?? scaleAffine([1, 1, 1]));
}

/** Random integers in [0, n) as uint8, seeded. */
export function randomLabels(count: number, n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: count }, () => rng.int(n));
}

/** The bytes of a NIfTI-1 file for `data` on `dims` (identity-ish affine unless given). */
export function niftiBytes(
  data: ArrayLike<number>,
  dims: Vec3,
  opts: WriteOptions & { affine?: Affine } = {},
): Uint8Array<ArrayBuffer> {
  return encodeNifti(data, { dims, affine: opts.affine ?? scaleAffine([2, 2, 3], [-10, 5, 7]) }, opts);
}

/** Writes bytes to dir/name, gzipped first when `compress`; returns the path. */
export async function writeBytes(
  dir: string,
  name: string,
  bytes: Uint8Array<ArrayBuffer>,
  compress = name.endsWith(".gz"),
): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, compress ? await gzip(bytes) : bytes);
  return path;
}

/** A DataView over a byte array, for patching header fields. */
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
