/**
 * Pixel data to Hounsfield units: native (little or big endian) and encapsulated frames, each
 * transfer syntax's decoder, the stored bits masked and sign-extended as BitsStored and
 * PixelRepresentation say, then RescaleSlope and RescaleIntercept.
 */

import dicomParser from "dicom-parser";
import { numbers, str, us } from "./parse.ts";
import type { DataSet, DicomFile } from "./parse.ts";
import { describeTransferSyntax, transferSyntax } from "./transfer-syntax.ts";
import type { DecodedFrame, PixelFormat } from "./codecs/types.ts";
import { decodeRle } from "./codecs/rle.ts";
import { decodeJpegLossless } from "./codecs/jpeg-lossless.ts";
import { decodeJpeg2000, decodeJpegLs } from "./codecs/wasm.ts";
import { DicomFileError } from "./errors.ts";

/** The pixel format of a file, checked: one grey sample per pixel, 8, 16 or 32 bits allocated. */
export function pixelFormat(f: DicomFile): PixelFormat {
  const ds = f.dataSet;
  const samples = us(ds, "x00280002") ?? 1;
  if (samples !== 1) throw new DicomFileError(f.name, `${samples} samples per pixel (colour); a CT has 1`);
  const bitsAllocated = us(ds, "x00280100") ?? 0;
  if (![8, 16, 32].includes(bitsAllocated)) {
    throw new DicomFileError(f.name, `BitsAllocated ${bitsAllocated} is not supported (8, 16 or 32)`);
  }
  const bitsStored = us(ds, "x00280101") ?? bitsAllocated;
  if (bitsStored < 1 || bitsStored > bitsAllocated) {
    throw new DicomFileError(f.name, `BitsStored ${bitsStored} does not fit BitsAllocated ${bitsAllocated}`);
  }
  return {
    rows: f.rows,
    columns: f.columns,
    bitsAllocated,
    bitsStored,
    pixelRepresentation: us(ds, "x00280103") ?? 0,
  };
}

/** The fragments' bytes of one frame of encapsulated pixel data (single-frame files: all fragments). */
function encapsulatedFrame(ds: DataSet, file: string): Uint8Array {
  const el = ds.elements.x7fe00010;
  const fragments = el.fragments ?? [];
  if (fragments.length === 0) throw new DicomFileError(file, "encapsulated pixel data without fragments");
  if (fragments.length === 1) {
    const f = fragments[0];
    return ds.byteArray.subarray(f.position, f.position + f.length);
  }
  return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length) as Uint8Array;
}

/** The stored values of native (uncompressed) pixel data. */
function nativeFrame(ds: DataSet, format: PixelFormat, littleEndian: boolean, file: string): DecodedFrame {
  const el = ds.elements.x7fe00010;
  const n = format.rows * format.columns;
  const bytesPer = format.bitsAllocated / 8;
  if (el.length < n * bytesPer) {
    throw new DicomFileError(
      file,
      `pixel data has ${el.length} bytes, ${format.columns}x${format.rows} needs ${n * bytesPer}`,
    );
  }
  const raw = ds.byteArray.slice(el.dataOffset, el.dataOffset + n * bytesPer);
  if (!littleEndian && bytesPer > 1) {
    for (let i = 0; i < raw.length; i += bytesPer) raw.subarray(i, i + bytesPer).reverse();
  }
  const samples = bytesPer === 1
    ? raw
    : bytesPer === 2
    ? new Uint16Array(raw.buffer)
    : new Uint32Array(raw.buffer);
  return { width: format.columns, height: format.rows, samples };
}

/** Decodes frame 0 of a file into stored sample values. */
export async function decodeFrame(f: DicomFile, format: PixelFormat): Promise<DecodedFrame> {
  const ts = transferSyntax(f.transferSyntaxUid);
  const ds = f.dataSet;
  const el = ds.elements.x7fe00010;
  if (!el) throw new DicomFileError(f.name, "no pixel data");
  if (ts.pixels === "unsupported") {
    throw new DicomFileError(
      f.name,
      `unsupported transfer syntax: ${describeTransferSyntax(f.transferSyntaxUid)}`,
    );
  }
  let frame: DecodedFrame;
  try {
    if (ts.pixels === "native" || ts.pixels === "deflated") {
      if (el.encapsulatedPixelData) {
        throw new Error("encapsulated pixel data in an uncompressed transfer syntax");
      }
      frame = nativeFrame(ds, format, ts.littleEndian, f.name);
    } else {
      if (!el.encapsulatedPixelData) throw new Error(`${ts.name} pixel data is not encapsulated`);
      const bytes = encapsulatedFrame(ds, f.name);
      const signed = format.pixelRepresentation === 1;
      if (ts.pixels === "rle") frame = decodeRle(bytes, format);
      else if (ts.pixels === "jpeg-lossless") frame = decodeJpegLossless(bytes);
      else if (ts.pixels === "jpeg-ls") frame = await decodeJpegLs(bytes, signed);
      else frame = await decodeJpeg2000(bytes, signed);
    }
  } catch (e) {
    if (e instanceof DicomFileError) throw e;
    throw new DicomFileError(f.name, (e instanceof Error ? e.message : String(e)).split("\n")[0]);
  }
  if (frame.width !== format.columns || frame.height !== format.rows) {
    throw new DicomFileError(
      f.name,
      `decoded ${frame.width}x${frame.height} pixels, the header says ${format.columns}x${format.rows}`,
    );
  }
  return frame;
}

/** RescaleSlope and RescaleIntercept (1 and 0 when absent). */
export function rescaleOf(f: DicomFile): { slope: number; intercept: number } {
  const slope = numbers(f.dataSet, "x00281053")[0];
  const intercept = numbers(f.dataSet, "x00281052")[0];
  const s = slope === undefined ? 1 : slope, b = intercept === undefined ? 0 : intercept;
  if (!Number.isFinite(s) || !Number.isFinite(b) || s === 0) {
    throw new DicomFileError(
      f.name,
      `bad RescaleSlope/RescaleIntercept "${str(f.dataSet, "x00281053")}"/"${str(f.dataSet, "x00281052")}"`,
    );
  }
  return { slope: s, intercept: b };
}

/**
 * Writes one slice into `out` (a volume x fastest) at slice `k`, rows flipped (the volume's j runs
 * from the last image row to the first, as dcm2niix stores it), as HU.
 */
export function writeSlice(
  frame: DecodedFrame,
  format: PixelFormat,
  rescale: { slope: number; intercept: number },
  out: Float32Array,
  k: number,
): void {
  const { columns: nx, rows: ny, bitsStored } = format;
  const signed = format.pixelRepresentation === 1;
  const src = frame.samples;
  const base = k * nx * ny;
  const { slope, intercept } = rescale;
  const mask = bitsStored >= 32 ? -1 : 2 ** bitsStored - 1;
  const half = 2 ** (bitsStored - 1);
  const full = 2 ** bitsStored;
  for (let r = 0; r < ny; r++) {
    const row = base + (ny - 1 - r) * nx;
    for (let c = 0, p = r * nx; c < nx; c++, p++) {
      // Mask to the stored bits (as unsigned), then sign-extend for two's complement data.
      let v = bitsStored >= 32 ? src[p] >>> 0 : src[p] & mask;
      if (signed && v >= half) v -= full;
      out[row + c] = v * slope + intercept;
    }
  }
}
