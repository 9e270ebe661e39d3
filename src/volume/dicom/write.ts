/**
 * A small DICOM Part-10 writer: explicit VR little endian, the file meta group with its group
 * length, sequences and items of defined or undefined length, values padded to even length (UI with
 * NUL, other text with spaces, binary with zero).
 */

import { EXPLICIT_LITTLE_ENDIAN } from "./transfer-syntax.ts";

/** A value: text (several values joined with a backslash), raw bytes, numbers, or sequence items. */
export type DicomValue = string | Uint8Array | number[] | DicomItem[];

/** One attribute: tag as group << 16 | element, its VR, its value. */
export interface DicomAttribute {
  tag: number;
  vr: string;
  value: DicomValue;
}

/** A dataset or a sequence item: attributes in any order (the writer sorts them by tag). */
export type DicomItem = DicomAttribute[];

/** Options of {@link encodePart10}. */
export interface Part10Options {
  /** Sequences and items with explicit lengths ("defined") or delimiters ("undefined", the default). */
  sequenceLength?: "defined" | "undefined";
}

/** The UID that names this writer in the file meta (a fixed `2.25.` UID). */
export const IMPLEMENTATION_CLASS_UID = "2.25.55636787729092245865223878083177947693";
/** The writer's name in the file meta (at most 16 characters). */
export const IMPLEMENTATION_VERSION_NAME = "DENO_UNET_SEG_1";

const TEXT_VRS = new Set([
  "AE",
  "AS",
  "CS",
  "DA",
  "DS",
  "DT",
  "IS",
  "LO",
  "LT",
  "PN",
  "SH",
  "ST",
  "TM",
  "UC",
  "UI",
  "UR",
  "UT",
]);
const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]);
const NUMBER_SIZES: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 4 };

/** A problem building a DICOM object (a value too long, a wrong type): a programming error. */
export class DicomWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DicomWriteError";
  }
}

/** "(0008,0016)". */
export function tagName(tag: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  return `(${hex(tag >>> 16)},${hex(tag & 0xffff)})`;
}

/** A growable little-endian byte buffer. */
class ByteWriter {
  #buf = new Uint8Array(1024);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u16(v: number): void {
    this.#reserve(2);
    this.#view.setUint16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.length, v >>> 0, true);
    this.length += 4;
  }
  bytes(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }
  setU32(at: number, v: number): void {
    this.#view.setUint32(at, v >>> 0, true);
  }
  result(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

/** The value bytes of a non-sequence attribute, padded to even length. */
function valueBytes(a: DicomAttribute): Uint8Array {
  const { vr, value } = a;
  let bytes: Uint8Array;
  if (TEXT_VRS.has(vr)) {
    if (typeof value === "string") {
      bytes = new Uint8Array(value.length);
      for (let i = 0; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c > 0xff) {
          throw new DicomWriteError(`${tagName(a.tag)}: character U+${c.toString(16)} outside Latin-1`);
        }
        bytes[i] = c;
      }
    } else if (value instanceof Uint8Array) bytes = value;
    else throw new DicomWriteError(`${tagName(a.tag)} ${vr}: expected text`);
    if (bytes.length % 2 === 1) {
      const padded = new Uint8Array(bytes.length + 1);
      padded.set(bytes);
      padded[bytes.length] = vr === "UI" ? 0 : 0x20;
      bytes = padded;
    }
  } else if (vr in NUMBER_SIZES) {
    if (!Array.isArray(value) || value.some((v) => typeof v !== "number")) {
      throw new DicomWriteError(`${tagName(a.tag)} ${vr}: expected numbers`);
    }
    const nums = value as number[];
    const size = NUMBER_SIZES[vr];
    bytes = new Uint8Array(nums.length * size);
    const view = new DataView(bytes.buffer);
    nums.forEach((v, i) => {
      const o = i * size;
      if (vr === "US") view.setUint16(o, v, true);
      else if (vr === "SS") view.setInt16(o, v, true);
      else if (vr === "UL") view.setUint32(o, v, true);
      else if (vr === "SL") view.setInt32(o, v, true);
      else if (vr === "FL") view.setFloat32(o, v, true);
      else if (vr === "FD") view.setFloat64(o, v, true);
      else {
        view.setUint16(o, v >>> 16, true);
        view.setUint16(o + 2, v & 0xffff, true);
      }
    });
  } else if (vr === "OB" || vr === "OW" || vr === "UN") {
    if (!(value instanceof Uint8Array)) throw new DicomWriteError(`${tagName(a.tag)} ${vr}: expected bytes`);
    bytes = value;
    if (bytes.length % 2 === 1) {
      const padded = new Uint8Array(bytes.length + 1);
      padded.set(bytes);
      bytes = padded;
    }
  } else throw new DicomWriteError(`${tagName(a.tag)}: VR ${vr} is not supported by the writer`);
  if (!LONG_VRS.has(vr) && bytes.length > 0xfffe) {
    throw new DicomWriteError(`${tagName(a.tag)} ${vr}: value of ${bytes.length} bytes is too long`);
  }
  return bytes;
}

/** Writes attributes in ascending tag order. */
function writeItem(w: ByteWriter, item: DicomItem, defined: boolean): void {
  const sorted = [...item].sort((a, b) => a.tag - b.tag);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].tag === sorted[i - 1].tag) {
      throw new DicomWriteError(`${tagName(sorted[i].tag)} appears twice`);
    }
  }
  for (const a of sorted) writeAttribute(w, a, defined);
}

/** Writes one attribute (explicit VR little endian). */
function writeAttribute(w: ByteWriter, a: DicomAttribute, defined: boolean): void {
  if (a.vr.length !== 2) throw new DicomWriteError(`${tagName(a.tag)}: bad VR "${a.vr}"`);
  w.u16(a.tag >>> 16);
  w.u16(a.tag & 0xffff);
  w.u16(a.vr.charCodeAt(0) | (a.vr.charCodeAt(1) << 8));
  if (a.vr === "SQ") {
    if (!Array.isArray(a.value) || a.value.some((v) => !Array.isArray(v))) {
      throw new DicomWriteError(`${tagName(a.tag)} SQ: expected items`);
    }
    w.u16(0);
    const lengthAt = w.length;
    w.u32(0xffffffff);
    const start = w.length;
    for (const item of a.value as DicomItem[]) {
      w.u16(0xfffe);
      w.u16(0xe000);
      const itemLengthAt = w.length;
      w.u32(0xffffffff);
      const itemStart = w.length;
      writeItem(w, item, defined);
      if (defined) w.setU32(itemLengthAt, w.length - itemStart);
      else {
        w.u16(0xfffe);
        w.u16(0xe00d);
        w.u32(0);
      }
    }
    if (defined) w.setU32(lengthAt, w.length - start);
    else {
      w.u16(0xfffe);
      w.u16(0xe0dd);
      w.u32(0);
    }
    return;
  }
  const bytes = valueBytes(a);
  if (LONG_VRS.has(a.vr)) {
    w.u16(0);
    w.u32(bytes.length);
  } else w.u16(bytes.length);
  w.bytes(bytes);
}

/** Encodes a dataset alone (explicit VR little endian, no preamble or file meta). */
export function encodeDataset(item: DicomItem, opts: Part10Options = {}): Uint8Array {
  const w = new ByteWriter();
  writeItem(w, item, opts.sequenceLength === "defined");
  return w.result();
}

/**
 * Encodes a Part-10 file: 128-byte preamble, "DICM", the file meta group (with its group length)
 * for `sopClassUid`/`sopInstanceUid`, then the dataset in explicit VR little endian.
 */
export function encodePart10(
  sopClassUid: string,
  sopInstanceUid: string,
  dataset: DicomItem,
  opts: Part10Options = {},
): Uint8Array {
  const meta = encodeDataset([
    { tag: 0x00020001, vr: "OB", value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: "UI", value: sopClassUid },
    { tag: 0x00020003, vr: "UI", value: sopInstanceUid },
    { tag: 0x00020010, vr: "UI", value: EXPLICIT_LITTLE_ENDIAN },
    { tag: 0x00020012, vr: "UI", value: IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: "SH", value: IMPLEMENTATION_VERSION_NAME },
  ]);
  const groupLength = encodeDataset([{ tag: 0x00020000, vr: "UL", value: [meta.length] }]);
  if (dataset.some((a) => a.tag >>> 16 === 0x0002)) {
    throw new DicomWriteError("file meta attributes in the dataset");
  }
  const body = encodeDataset(dataset, opts);
  const out = new Uint8Array(132 + groupLength.length + meta.length + body.length);
  out.set([0x44, 0x49, 0x43, 0x4d], 128);
  out.set(groupLength, 132);
  out.set(meta, 132 + groupLength.length);
  out.set(body, 132 + groupLength.length + meta.length);
  return out;
}
