/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header with up to 15 segment offsets, then one
 * PackBits segment per byte plane, most significant plane first.
 */

import type { DecodedFrame, PixelFormat } from "./types.ts";

/** Decodes one PackBits segment into exactly `out.length` bytes; throws if it runs short or over. */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): void {
  let i = start, o = 0;
  while (o < out.length) {
    if (i >= end) throw new Error(`RLE segment ends after ${o} of ${out.length} bytes`);
    const n = (src[i++] << 24) >> 24; // signed header byte
    if (n >= 0) {
      const count = n + 1;
      if (i + count > end || o + count > out.length) throw new Error("RLE literal run overflows its segment");
      out.set(src.subarray(i, i + count), o);
      i += count;
      o += count;
    } else if (n !== -128) {
      const count = 1 - n;
      if (i >= end || o + count > out.length) throw new Error("RLE repeat run overflows its segment");
      out.fill(src[i++], o, o + count);
      o += count;
    }
  }
}

/** Decodes one RLE frame of a grey image (8, 16 or 32 bits allocated). */
export function decodeRle(bytes: Uint8Array, format: PixelFormat): DecodedFrame {
  const { rows, columns, bitsAllocated } = format;
  const planes = bitsAllocated / 8;
  if (![1, 2, 4].includes(planes)) {
    throw new Error(`RLE with ${bitsAllocated} bits allocated is not supported`);
  }
  if (bytes.length < 64) throw new Error(`RLE frame of ${bytes.length} bytes has no 64-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments = view.getUint32(0, true);
  if (segments !== planes) {
    throw new Error(
      `RLE frame has ${segments} segments, expected ${planes} for ${bitsAllocated}-bit grey pixels`,
    );
  }
  const n = rows * columns;
  const offsets = Array.from({ length: segments }, (_, s) => view.getUint32(4 + 4 * s, true));
  const plane = new Uint8Array(n);
  const values = new Uint32Array(n);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s], end = s + 1 < segments ? offsets[s + 1] : bytes.length;
    if (start < 64 || end > bytes.length || start > end) {
      throw new Error(`RLE segment ${s + 1} offset ${start} is out of range`);
    }
    unpackBits(bytes, start, end, plane);
    const shift = 8 * (segments - 1 - s);
    for (let p = 0; p < n; p++) values[p] |= plane[p] << shift;
  }
  const samples = planes === 1 ? Uint8Array.from(values) : planes === 2 ? Uint16Array.from(values) : values;
  return { width: columns, height: rows, samples };
}
