/**
 * DICOM in and out, computing core only (bytes in, bytes out; no file system): a CT series to a
 * volume, a label map to a DICOM Segmentation, and a Segmentation back to labels.
 */

export {
  type CopiedAttribute,
  type DicomSeriesInfo,
  type ReadDicomOptions,
  readDicomSeries,
} from "./read.ts";
export { type DicomSegOptions, encodeDicomSeg, SEG_SOP_CLASS_UID } from "./seg-write.ts";
export { decodeDicomSeg, type DecodedSeg, type DecodedSegment, organLabels } from "./seg-read.ts";
export { ORGAN_CODES, rgbToDicomLab } from "./codes.ts";
export type { DicomSlice } from "./series.ts";
export { hasPart10Prefix } from "./parse.ts";
