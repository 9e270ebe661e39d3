/** Test helpers for DICOM: the sample folders, copies in temporary folders, in-place edits of attributes. */

import dicomParser from "dicom-parser";

/** The 20-slice JPEG 2000 series (TotalSegmentator's test data, Apache-2.0). */
export const SAMPLE_C = "data/dicom/abdomen-ct-c";
/** Its reference HU volume, decoded independently. */
export const SAMPLE_C_REFERENCE = "data/dicom/abdomen-ct-c.hu-reference.nii.gz";
/** Three GE slices, dcmqi's liver SEG on them and the same mask as NRRD (dcmqi, BSD-3). */
export const GE_DIR = "data/dicom/ct-3slice-liver-seg";
/** The GE slice in other transfer syntaxes (made once with DCMTK, see its README). */
export const SYNTAX_DIR = "test/data/dicom";

/** The DICOM files of a folder (names sorted), as readDicomSeries takes them. */
export async function folderFiles(dir: string, filter = (_: string) => true) {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile && filter(e.name)) names.push(e.name);
  names.sort();
  return await Promise.all(
    names.map(async (name) => ({ name, bytes: await Deno.readFile(`${dir}/${name}`) })),
  );
}

/** A temporary folder with copies of `files` from `dir` (all of them by default). */
export async function copyFolder(dir: string, keep = (_: string) => true): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "dicom-test-" });
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && keep(e.name)) await Deno.copyFile(`${dir}/${e.name}`, `${tmp}/${e.name}`);
  }
  return tmp;
}

/** The names of the DICOM files of the sample series, sorted. */
export async function sampleNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(SAMPLE_C)) if (e.name.startsWith("CT.")) names.push(e.name);
  return names.sort();
}

/** Where an attribute's value lies in a file (tag as "x00200032"); the file meta included. */
export function findValue(bytes: Uint8Array, tag: string): { offset: number; length: number } {
  const ds = dicomParser.parseDicom(bytes);
  const el = ds.elements[tag];
  if (!el) throw new Error(`no ${tag}`);
  return { offset: el.dataOffset, length: el.length };
}

/**
 * Overwrites a text attribute in place with `value`, space-padded (NUL for UIDs) to the old length,
 * so the file's structure is unchanged; the new value must not be longer.
 */
export function setText(bytes: Uint8Array, tag: string, value: string, pad = " "): Uint8Array {
  const { offset, length } = findValue(bytes, tag);
  if (value.length > length) throw new Error(`${tag}: "${value}" is longer than ${length} bytes`);
  const text = value.padEnd(length, pad);
  for (let i = 0; i < length; i++) bytes[offset + i] = text.charCodeAt(i);
  return bytes;
}

/** Overwrites a US attribute in place. */
export function setUs(bytes: Uint8Array, tag: string, value: number): Uint8Array {
  const { offset } = findValue(bytes, tag);
  new DataView(bytes.buffer, bytes.byteOffset).setUint16(offset, value, true);
  return bytes;
}

/** Reads, edits and writes back one file. */
export async function editFile(path: string, edit: (bytes: Uint8Array) => void): Promise<void> {
  const bytes = await Deno.readFile(path);
  edit(bytes);
  await Deno.writeFile(path, bytes);
}

/** Max |a - b| over two arrays of the same length, and how many elements differ. */
export function difference(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; count: number } {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length}`);
  let max = 0, count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0 || Number.isNaN(d)) count++;
    if (!(d <= max)) max = d;
  }
  return { max, count };
}
