/**
 * Part-10 files to datasets, through dicom-parser: what the series reader needs of each file (UIDs,
 * geometry, pixel format), with the file meta's UIDs standing in for empty dataset UIDs (anonymised
 * archives have such files). Deflated datasets are inflated here with DecompressionStream, the same
 * way in Deno and in a browser.
 */

import dicomParser from "dicom-parser";
import type { Vec3 } from "../types.ts";
import {
  DEFLATED_EXPLICIT_LITTLE_ENDIAN,
  EXPLICIT_LITTLE_ENDIAN,
  IMPLICIT_LITTLE_ENDIAN,
} from "./transfer-syntax.ts";
import { inflateRaw } from "./codecs/deflate.ts";
import { DicomFileError } from "./errors.ts";

/** A dicom-parser dataset. */
export type DataSet = dicomParser.DataSet;
/** A dicom-parser element. */
export type Element = dicomParser.Element;

/** SOP Class UIDs the reader tells apart. */
export const SOP_CLASS = {
  ct: "1.2.840.10008.5.1.4.1.1.2",
  enhancedCt: "1.2.840.10008.5.1.4.1.1.2.1",
  legacyEnhancedCt: "1.2.840.10008.5.1.4.1.1.2.2",
  seg: "1.2.840.10008.5.1.4.1.1.66.4",
  rtStruct: "1.2.840.10008.5.1.4.1.1.481.3",
  dicomdir: "1.2.840.10008.1.3.10",
} as const;

/** One parsed DICOM file: its dataset and the attributes the series reader uses. */
export interface DicomFile {
  /** The name it was given (a path relative to the folder). */
  name: string;
  /** The parsed dataset (of the inflated bytes for a deflated file). */
  dataSet: DataSet;
  transferSyntaxUid: string;
  /** SOP Class UID: the dataset's, else the file meta's MediaStorageSOPClassUID. */
  sopClassUid: string;
  /** SOP Instance UID: the dataset's, else the file meta's MediaStorageSOPInstanceUID. */
  sopInstanceUid: string;
  modality: string;
  /** "" when absent or empty. */
  studyUid: string;
  /** "" when absent or empty. */
  seriesUid: string;
  frameOfReferenceUid: string;
  seriesNumber: number | undefined;
  seriesDescription: string;
  instanceNumber: number | undefined;
  rows: number;
  columns: number;
  numberOfFrames: number;
  /** ImagePositionPatient (LPS mm), when present with three numbers. */
  position: Vec3 | undefined;
  /** ImageOrientationPatient (row direction then column direction), when present with six numbers. */
  orientation: number[] | undefined;
  /** PixelSpacing: [between rows, between columns] in mm. */
  pixelSpacing: [number, number] | undefined;
  /** Whether the dataset holds Pixel Data. */
  hasPixels: boolean;
}

/** A trimmed string attribute ("" when absent); UIDs lose their trailing NUL padding. */
export function str(ds: DataSet, tag: string, index?: number): string {
  const v = ds.string(tag, index);
  return v === undefined ? "" : v.replace(/\0+$/, "").trim();
}

/** The numbers of a DS/IS attribute (decimal strings separated by backslashes); [] when absent. */
export function numbers(ds: DataSet, tag: string): number[] {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return [];
  const text = dicomParser.readFixedString(ds.byteArray, el.dataOffset, el.length).replace(/\0+$/, "").trim();
  if (text === "") return [];
  return text.split("\\").map((s) => Number(s.trim()));
}

/** An unsigned 16-bit attribute (US), or undefined. */
export function us(ds: DataSet, tag: string): number | undefined {
  const el = ds.elements[tag];
  return el && el.length >= 2 ? ds.uint16(tag) : undefined;
}

/** True when the bytes start like a Part-10 file: a 128-byte preamble then "DICM". */
export function hasPart10Prefix(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 &&
    bytes[131] === 0x4d;
}

/**
 * For a file without the Part-10 preamble, the transfer syntax its first element suggests (a raw
 * dataset starting in group 0008, as old archives write), or null when it does not look like DICOM.
 */
function rawDatasetSyntax(bytes: Uint8Array): string | null {
  if (bytes.length < 16 || bytes[0] !== 0x08 || bytes[1] !== 0x00) return null;
  const upper = (b: number) => b >= 0x41 && b <= 0x5a;
  return upper(bytes[4]) && upper(bytes[5]) ? EXPLICIT_LITTLE_ENDIAN : IMPLICIT_LITTLE_ENDIAN;
}

/** dicom-parser throws strings and {exception} objects; this makes one line of any of them. */
export function parserMessage(e: unknown): string {
  const inner = (e && typeof e === "object" && "exception" in e)
    ? (e as { exception: unknown }).exception
    : e;
  const text = inner instanceof Error ? inner.message : String(inner);
  return text.replace(/^dicomParser\.\w+: /, "").split("\n")[0];
}

/** Parses a Part-10 file (or a raw dataset); null for bytes that are not DICOM at all. */
export async function parseDicomFile(name: string, bytes: Uint8Array): Promise<DicomFile | null> {
  let ds: DataSet;
  let meta: DataSet | null = null;
  try {
    if (hasPart10Prefix(bytes)) {
      meta = dicomParser.readPart10Header(bytes);
      const ts = str(meta, "x00020010");
      if (ts === DEFLATED_EXPLICIT_LITTLE_ENDIAN) {
        const start = (meta as unknown as { position: number }).position;
        const inflated = await inflateRaw(bytes.subarray(start), name);
        ds = dicomParser.parseDicom(inflated, { TransferSyntaxUID: EXPLICIT_LITTLE_ENDIAN });
      } else {
        ds = dicomParser.parseDicom(bytes);
      }
    } else {
      const ts = rawDatasetSyntax(bytes);
      if (ts === null) return null;
      ds = dicomParser.parseDicom(bytes, { TransferSyntaxUID: ts });
    }
  } catch (e) {
    if (e instanceof DicomFileError) throw e;
    // A preamble and DICM prefix make it DICOM; a raw guess that fails to parse was not.
    if (!hasPart10Prefix(bytes)) return null;
    throw new DicomFileError(name, `corrupt DICOM file: ${parserMessage(e)}`);
  }
  const m = meta ?? ds;
  const transferSyntaxUid = str(m, "x00020010") || IMPLICIT_LITTLE_ENDIAN;
  const position = numbers(ds, "x00200032");
  const orientation = numbers(ds, "x00200037");
  const spacing = numbers(ds, "x00280030");
  const finite = (a: number[], n: number) => a.length >= n && a.slice(0, n).every(Number.isFinite);
  const seriesNumber = numbers(ds, "x00200011")[0];
  const instanceNumber = numbers(ds, "x00200013")[0];
  return {
    name,
    dataSet: ds,
    transferSyntaxUid,
    sopClassUid: str(ds, "x00080016") || str(m, "x00020002"),
    sopInstanceUid: str(ds, "x00080018") || str(m, "x00020003"),
    modality: str(ds, "x00080060").toUpperCase(),
    studyUid: str(ds, "x0020000d"),
    seriesUid: str(ds, "x0020000e"),
    frameOfReferenceUid: str(ds, "x00200052"),
    seriesNumber: Number.isFinite(seriesNumber) ? seriesNumber : undefined,
    seriesDescription: str(ds, "x0008103e"),
    instanceNumber: Number.isFinite(instanceNumber) ? instanceNumber : undefined,
    rows: us(ds, "x00280010") ?? 0,
    columns: us(ds, "x00280011") ?? 0,
    numberOfFrames: Math.max(1, numbers(ds, "x00280008")[0] || 1),
    position: finite(position, 3) ? [position[0], position[1], position[2]] : undefined,
    orientation: finite(orientation, 6) ? orientation.slice(0, 6) : undefined,
    pixelSpacing: finite(spacing, 2) ? [spacing[0], spacing[1]] : undefined,
    hasPixels: ds.elements.x7fe00010 !== undefined,
  };
}
