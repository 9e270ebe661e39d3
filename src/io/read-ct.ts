/**
 * One way in for a CT, whatever its format: a NIfTI file, or a folder holding a DICOM series.
 * Commands call {@link readCt} and get the same volume either way (x fastest, affine voxel -> RAS).
 */

import { basename } from "node:path";
import type { DicomSeriesInfo } from "../volume/dicom/mod.ts";
import { VolumeError } from "../volume/errors.ts";
import { readNifti } from "./volumes.ts";
import type { NiftiVolume } from "../volume/nifti-read.ts";
import type { Volume } from "../volume/types.ts";
import { isDicomFile, listFiles, readDicomFolder } from "./dicom-files.ts";

/** A CT as read from disk. */
export type CtInput =
  | { format: "nifti"; path: string; volume: NiftiVolume<Float32Array>; notes: string[] }
  | { format: "dicom"; path: string; volume: Volume<Float32Array>; info: DicomSeriesInfo; notes: string[] };

/** Options of {@link readCt}. */
export interface ReadCtOptions {
  /** For a DICOM folder with several series: the SeriesInstanceUID (or `series-N`) to read. */
  series?: string;
}

/**
 * Reads a CT: a folder is read as a DICOM series, anything else as NIfTI. A single DICOM file is
 * refused with a pointer to its folder, a folder that holds NIfTI files as a folder of CTs, and
 * `series` with a NIfTI file.
 */
export async function readCt(path: string, opts: ReadCtOptions = {}): Promise<CtInput> {
  const stat = await Deno.stat(path).catch(() => null);
  if (stat?.isDirectory) {
    const nifti = (await listFiles(path)).filter((n) => /\.nii(\.gz)?$/i.test(n));
    if (nifti.length) {
      throw new VolumeError(
        path,
        "dicom",
        `holds ${nifti.length} NIfTI file(s), so it is a folder of CTs, not one DICOM series: give one ` +
          "file, or segment them all into a folder with -o OUT_DIR",
      );
    }
    const { volume, info, notes } = await readDicomFolder(path, { series: opts.series });
    return { format: "dicom", path, volume, info, notes };
  }
  if (opts.series !== undefined) {
    throw new VolumeError(path, "dicom", "a series can be chosen only in a DICOM folder, and this is a file");
  }
  if (stat?.isFile && await isDicomFile(path)) {
    throw new VolumeError(
      path,
      "dicom",
      "is a single DICOM file: give the folder that holds the whole series",
    );
  }
  return { format: "nifti", path, volume: await readNifti(path), notes: [] };
}

/** A name for outputs derived from an input: NAME of NAME.nii(.gz), or the folder's name. */
export function inputStem(path: string): string {
  return basename(path.replace(/\/+$/, "")).replace(/\.nii(\.gz)?$/i, "") || "ct";
}
