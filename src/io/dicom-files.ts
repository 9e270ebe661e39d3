/**
 * The Deno edge of DICOM: lists a folder recursively, reads its files and hands the bytes to the
 * core reader (src/volume/dicom/). File-system problems become VolumeErrors naming the folder.
 */

import { VolumeError } from "../volume/errors.ts";
import { type DicomSeriesInfo, hasPart10Prefix, readDicomSeries } from "../volume/dicom/mod.ts";
import type { Volume } from "../volume/types.ts";
import { firstLine, readFileHead } from "./fs.ts";

/** Paths of every file under `dir` (recursively, symbolic links followed), relative to it, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string, depth: number) => {
    if (depth > 32) throw new VolumeError(dir, "read", `folders nested deeper than 32 levels at ${rel}`);
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(rel === "" ? dir : `${dir}/${rel}`)) entries.push(e);
    for (const e of entries) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      let isDir = e.isDirectory, isFile = e.isFile;
      if (e.isSymlink) {
        const info = await Deno.stat(`${dir}/${path}`).catch(() => null);
        isDir = info?.isDirectory ?? false;
        isFile = info?.isFile ?? false;
      }
      if (isDir) await walk(path, depth + 1);
      else if (isFile) out.push(path);
    }
  };
  try {
    await walk("", 0);
  } catch (e) {
    if (e instanceof VolumeError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new VolumeError(dir, "not-found", "folder not found", { cause: e });
    }
    throw new VolumeError(dir, "read", `cannot list: ${firstLine(e)}`, { cause: e });
  }
  return out.sort();
}

/** Options of {@link readDicomFolder}. */
export interface DicomFolderOptions {
  /** SeriesInstanceUID (or `series-N`) to read when the folder holds several series. */
  series?: string;
}

/** Reads the CT series of a folder (see readDicomSeries): volume in HU, the series' info, notes. */
export async function readDicomFolder(
  dir: string,
  opts: DicomFolderOptions = {},
): Promise<{ volume: Volume<Float32Array>; info: DicomSeriesInfo; notes: string[] }> {
  const names = await listFiles(dir);
  const files: { name: string; bytes: Uint8Array }[] = [];
  for (const name of names) {
    try {
      files.push({ name, bytes: await Deno.readFile(`${dir}/${name}`) });
    } catch (e) {
      throw new VolumeError(dir, "read", `cannot read ${name}: ${firstLine(e)}`, { cause: e });
    }
  }
  return await readDicomSeries(files, { series: opts.series, source: dir });
}

/** True when `path` is a file that starts like a Part-10 DICOM file. */
export async function isDicomFile(path: string): Promise<boolean> {
  try {
    return hasPart10Prefix(await readFileHead(path, 132));
  } catch {
    return false;
  }
}

/**
 * True when `path` is a folder of DICOM: at least one Part-10 DICOM file at any depth, and no NIfTI
 * file (a folder that holds both is a folder of CTs, not one series).
 */
export async function isDicomFolder(path: string): Promise<boolean> {
  const info = await Deno.stat(path).catch(() => null);
  if (!info?.isDirectory) return false;
  const names = await listFiles(path).catch(() => []);
  // a folder that also holds NIfTI files is a folder of CTs, not one DICOM series
  if (names.some((n) => /\.nii(\.gz)?$/i.test(n))) return false;
  for (const name of names) if (await isDicomFile(`${path}/${name}`)) return true;
  return false;
}

/**
 * Whether a folder is one DICOM series for a batch: one of the regular files directly in it (not in
 * sub-folders, which may be series of their own) is a DICOM file.
 */
export async function holdsDicomFiles(dir: string): Promise<boolean> {
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || e.name.startsWith(".")) continue;
      if (await isDicomFile(`${dir}/${e.name}`)) return true;
    }
  } catch {
    return false;
  }
  return false;
}
