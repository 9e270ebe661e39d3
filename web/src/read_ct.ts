/**
 * The CT-reading step of the page: the files the user chose (picker or drop) to a HU volume, and a
 * NIfTI file of it for the viewer. One file is a NIfTI image (.nii or .nii.gz); several files (all
 * the files of a series, or a dropped folder) are a DICOM series, read as `deno task segment DIR`
 * reads a folder: non-DICOM files skipped and counted, the series with the most slices taken when
 * there are several, and the notes saying so.
 */
import {
  decodeNifti,
  type DicomSeriesInfo,
  encodeNiftiFile,
  hasPart10Prefix,
  type NiftiVolume,
  readDicomSeries,
  type Volume,
} from "../../src/engine.ts";

/** One chosen file and its path: relative to the dropped folder (`folder/a/b.dcm`), or its name. */
export interface ChosenFile {
  file: File;
  path: string;
}

/** A CT the user chose. */
export type ChosenCt =
  & {
    /** The name the report and messages use: the NIfTI file's name, or the series' folder. */
    name: string;
    /** NAME for the downloads NAME.seg.nii.gz, NAME.seg.json (and NAME.seg.dcm). */
    stem: string;
    /** A NIfTI file of the CT for the viewer, and a name for it ending in .nii or .nii.gz. */
    viewerBytes: Uint8Array<ArrayBuffer>;
    viewerName: string;
    /** What the reader said about the input (files skipped, the series chosen), one line each. */
    notes: string[];
  }
  & (
    | { format: "nifti"; volume: NiftiVolume<Float32Array> }
    /** `info` is what a DICOM Segmentation of it references. */
    | { format: "dicom"; volume: Volume<Float32Array>; info: DicomSeriesInfo }
  );

/** Wrong input before any decoding: no file, several NIfTI files, a lone DICOM file. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** The name given to a series picked as loose files (no folder to name it after). */
export const PICKED_SERIES = "the chosen DICOM files";

/** The folder that holds every path, when they all start with the same one; else null. */
export function commonFolder(paths: readonly string[]): string | null {
  const first = paths[0]?.split("/") ?? [];
  if (first.length < 2) return null;
  return paths.every((p) => p.startsWith(`${first[0]}/`)) ? first[0] : null;
}

/** Reads the CT in `files`; throws a one-line error naming the file or folder for anything else. */
export async function readCt(files: readonly ChosenFile[]): Promise<ChosenCt> {
  if (files.length === 0) throw new InputError("no file was chosen");
  if (files.length === 1) {
    const { file } = files[0];
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (hasPart10Prefix(bytes)) {
      throw new InputError(
        `${file.name}: is a single DICOM file: choose all the files of its series at once, or drop its folder`,
      );
    }
    return await readNiftiFile(file.name, bytes);
  }
  const folder = commonFolder(files.map((f) => f.path));
  const source = folder ?? PICKED_SERIES;
  const named = await Promise.all(
    files.map(async ({ file, path }) => ({
      // the path inside the folder, as the CLI names the files of a folder
      name: folder ? path.slice(folder.length + 1) : path,
      bytes: new Uint8Array(await file.arrayBuffer()),
    })),
  );
  if (!named.some((f) => hasPart10Prefix(f.bytes)) && named.some((f) => /\.nii(\.gz)?$/i.test(f.name))) {
    throw new InputError(
      `${files.length} files were chosen and none is DICOM: open one .nii or .nii.gz file at a time`,
    );
  }
  const read = await readDicomSeries(named, { source });
  const { volume, info } = read;
  // the page has no --series option: another series is chosen by choosing its files alone
  const notes = read.notes.map((n) =>
    n.replace(/; choose one with --series$/, "; to segment another, choose or drop its files alone")
  );
  const viewerBytes = await encodeNiftiFile(volume, false);
  return {
    format: "dicom",
    name: source,
    stem: folder ?? "dicom-series",
    volume,
    info,
    notes,
    viewerBytes,
    viewerName: `${folder ?? "dicom-series"}.nii`,
  };
}

async function readNiftiFile(name: string, bytes: Uint8Array<ArrayBuffer>): Promise<ChosenCt> {
  const volume = await decodeNifti(bytes, name);
  const gz = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const viewerName = /\.nii(\.gz)?$/i.test(name) ? name : `${name}${gz ? ".nii.gz" : ".nii"}`;
  return { format: "nifti", name, stem: stem(name), volume, viewerBytes: bytes, viewerName, notes: [] };
}

/** NAME of NAME.nii / NAME.nii.gz (the downloads are NAME.seg.nii.gz and NAME.seg.json). */
export function stem(name: string): string {
  return name.replace(/\.nii(\.gz)?$/i, "") || "ct";
}
