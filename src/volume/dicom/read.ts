/**
 * `readDicomSeries`: the bytes of a folder's files to one CT volume in HU, laid out exactly as a
 * NIfTI volume (x fastest, affine voxel -> RAS mm as dcm2niix gives it), with what a DICOM
 * Segmentation of it needs to reference the source (UIDs per slice, patient and study attributes).
 */

import { spacingOf } from "../affine.ts";
import { VolumeError } from "../errors.ts";
import { checkFinite } from "../nifti-read.ts";
import type { Vec3, Volume } from "../types.ts";
import { DicomFileError } from "./errors.ts";
import { type DicomFile, parseDicomFile } from "./parse.ts";
import { decodeFrame, pixelFormat, rescaleOf, writeSlice } from "./pixels.ts";
import { chooseSeries, type DicomSlice, groupSeries, SeriesError, seriesGeometry } from "./series.ts";
import { transferSyntax } from "./transfer-syntax.ts";
import { generateUid } from "./uid.ts";

/** A patient or study attribute copied verbatim from the source into derived objects. */
export interface CopiedAttribute {
  /** group << 16 | element. */
  tag: number;
  vr: string;
  /** The value's bytes as stored (character set per SpecificCharacterSet), without padding removed. */
  bytes: Uint8Array;
}

/** What a DICOM series was, beyond its voxels: enough to write a Segmentation that references it. */
export interface DicomSeriesInfo {
  /** The folder (or other name) it was read from. */
  source: string;
  /** The SeriesInstanceUID, or `series-N` for a series found without one. */
  seriesId: string;
  /** The source's SeriesInstanceUID, or one generated here when the files have none. */
  seriesUid: string;
  /** The source's StudyInstanceUID, or one generated here when the files have none. */
  studyUid: string;
  /** The source's FrameOfReferenceUID, or one generated here when the files have none. */
  frameOfReferenceUid: string;
  /** Which of the UIDs above were generated. */
  generated: { study: boolean; series: boolean; frameOfReference: boolean };
  description: string;
  rows: number;
  columns: number;
  /** ImageOrientationPatient of the slices. */
  orientation: number[];
  /** [between rows, between columns] mm. */
  pixelSpacing: [number, number];
  /** Distance between slice centres, mm. */
  sliceSpacing: number;
  /** The slices in volume order (k = 0 first): ascending along the normal row x column. */
  slices: DicomSlice[];
  /** Transfer syntax names met in the slices. */
  transferSyntaxes: string[];
  /** Patient and study attributes of the first slice, to copy into a Segmentation. */
  copied: CopiedAttribute[];
}

/** Options of {@link readDicomSeries}. */
export interface ReadDicomOptions {
  /** SeriesInstanceUID (or `series-N`) of the series to read, when the files hold several. */
  series?: string;
  /** The folder's name, used in every message. */
  source: string;
}

/** Patient and study attributes copied into derived objects, with their VRs (implicit files do not say). */
export const COPIED_TAGS: readonly [number, string][] = [
  [0x00080005, "CS"], // SpecificCharacterSet
  [0x00080020, "DA"], // StudyDate
  [0x00080030, "TM"], // StudyTime
  [0x00080050, "SH"], // AccessionNumber
  [0x00080090, "PN"], // ReferringPhysicianName
  [0x00081030, "LO"], // StudyDescription
  [0x00100010, "PN"], // PatientName
  [0x00100020, "LO"], // PatientID
  [0x00100021, "LO"], // IssuerOfPatientID
  [0x00100030, "DA"], // PatientBirthDate
  [0x00100040, "CS"], // PatientSex
  [0x00101010, "AS"], // PatientAge
  [0x00101020, "DS"], // PatientSize
  [0x00101030, "DS"], // PatientWeight
  [0x00200010, "SH"], // StudyID
];

/** The copied attributes present in a file's dataset. */
function copiedAttributes(f: DicomFile): CopiedAttribute[] {
  const out: CopiedAttribute[] = [];
  for (const [tag, vr] of COPIED_TAGS) {
    const el = f.dataSet.elements[`x${tag.toString(16).padStart(8, "0")}`];
    if (!el) continue;
    out.push({ tag, vr, bytes: f.dataSet.byteArray.slice(el.dataOffset, el.dataOffset + el.length) });
  }
  return out;
}

/**
 * Reads the CT series among `files` into a float32 HU volume. Non-DICOM files are skipped (and
 * counted in the notes); any problem with the series is a one-line "dicom" VolumeError naming
 * `opts.source`.
 */
export async function readDicomSeries(
  files: { name: string; bytes: Uint8Array }[],
  opts: ReadDicomOptions,
): Promise<{ volume: Volume<Float32Array>; info: DicomSeriesInfo; notes: string[] }> {
  const source = opts.source;
  const fail = (problem: string, cause?: unknown): never => {
    throw new VolumeError(source, "dicom", problem, cause === undefined ? undefined : { cause });
  };
  const notes: string[] = [];
  const parsed: DicomFile[] = [];
  let skipped = 0;
  try {
    for (const f of files) {
      const d = await parseDicomFile(f.name, f.bytes);
      if (d) parsed.push(d);
      else skipped++;
    }
  } catch (e) {
    if (e instanceof DicomFileError) fail(e.message, e);
    throw e;
  }
  if (parsed.length === 0) {
    fail(
      files.length === 0
        ? "no files at all, so no DICOM series"
        : `no DICOM files among ${files.length} files`,
    );
  }
  if (skipped > 0) notes.push(`skipped ${skipped} non-DICOM file${skipped === 1 ? "" : "s"}`);

  let geometry, seriesId;
  try {
    const chosen = chooseSeries(groupSeries(parsed), opts.series);
    notes.push(...chosen.notes);
    seriesId = chosen.group.id;
    geometry = seriesGeometry(chosen.group);
    notes.push(...geometry.notes);
  } catch (e) {
    if (e instanceof SeriesError) fail(e.message, e);
    throw e;
  }
  const { rows, columns, files: sorted } = geometry;
  const dims: Vec3 = [columns, rows, sorted.length];
  const data = new Float32Array(columns * rows * sorted.length);
  try {
    for (let k = 0; k < sorted.length; k++) {
      const f = sorted[k];
      const format = pixelFormat(f);
      writeSlice(await decodeFrame(f, format), format, rescaleOf(f), data, k);
    }
  } catch (e) {
    if (e instanceof DicomFileError) fail(e.message, e);
    throw e;
  }
  checkFinite(data, { dims }, source);

  const first = sorted[0];
  const uid = (own: string, what: string): [string, boolean] => {
    if (own !== "") return [own, false];
    notes.push(`the files have no ${what}: generated one for derived objects`);
    return [generateUid(), true];
  };
  const [studyUid, study] = uid(first.studyUid, "StudyInstanceUID");
  const [seriesUid, series] = uid(first.seriesUid, "SeriesInstanceUID");
  const [frameOfReferenceUid, frameOfReference] = uid(first.frameOfReferenceUid, "FrameOfReferenceUID");
  const info: DicomSeriesInfo = {
    source,
    seriesId,
    seriesUid,
    studyUid,
    frameOfReferenceUid,
    generated: { study, series, frameOfReference },
    description: first.seriesDescription,
    rows,
    columns,
    orientation: geometry.orientation,
    pixelSpacing: geometry.pixelSpacing,
    sliceSpacing: geometry.sliceSpacing,
    slices: sorted.map((f) => ({
      file: f.name,
      sopClassUid: f.sopClassUid,
      sopInstanceUid: f.sopInstanceUid,
      position: f.position!,
    })),
    transferSyntaxes: [...new Set(sorted.map((f) => transferSyntax(f.transferSyntaxUid).name))],
    copied: copiedAttributes(first),
  };
  const affine = geometry.affine;
  return { volume: { dims, affine, spacing: spacingOf(affine), data }, info, notes };
}
