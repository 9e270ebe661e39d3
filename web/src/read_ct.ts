/**
 * The CT-reading step of the page: the files the user chose (picker or drop) to a HU volume, and a
 * NIfTI file of it for the viewer. One NIfTI file (.nii or .nii.gz) today; a DICOM series (several
 * files) is the branch to add here.
 */
import { decodeNifti, type NiftiVolume } from "../../src/engine.ts";

/** A CT the user chose. */
export interface ChosenCt {
  /** The name the report and downloads use (the file's name). */
  name: string;
  /** The volume in HU on its own grid. */
  volume: NiftiVolume<Float32Array>;
  /** A NIfTI file of the CT for the viewer, and a name for it ending in .nii or .nii.gz. */
  viewerBytes: Uint8Array<ArrayBuffer>;
  viewerName: string;
}

/** Wrong input before any decoding: no file, or several. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** Reads the CT in `files`; throws a one-line error naming the file for anything else. */
export async function readCt(files: readonly File[]): Promise<ChosenCt> {
  if (files.length === 0) throw new InputError("no file was chosen");
  if (files.length > 1) {
    throw new InputError(
      `${files.length} files were chosen: open one .nii or .nii.gz file (DICOM series are not read yet)`,
    );
  }
  const file = files[0];
  const bytes = new Uint8Array(await file.arrayBuffer());
  const volume = await decodeNifti(bytes, file.name);
  const gz = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const viewerName = /\.nii(\.gz)?$/i.test(file.name) ? file.name : `${file.name}${gz ? ".nii.gz" : ".nii"}`;
  return { name: file.name, volume, viewerBytes: bytes, viewerName };
}

/** NAME of NAME.nii / NAME.nii.gz (the downloads are NAME.seg.nii.gz and NAME.seg.json). */
export function stem(name: string): string {
  return name.replace(/\.nii(\.gz)?$/i, "") || "ct";
}
