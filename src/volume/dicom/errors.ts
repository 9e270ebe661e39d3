/** The error of one DICOM file or one frame; the series reader turns it into a VolumeError naming the folder. */

/** A problem with one file (corrupt, undecodable pixels, unsupported encoding). */
export class DicomFileError extends Error {
  /** `problem` is one line without the file name. */
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = "DicomFileError";
  }
}
