/**
 * JPEG Lossless, process 14 (ITU T.81 Annex H), for one grey component: Huffman-coded differences
 * from one of the seven predictors, 2 to 16 bits per sample, with restart intervals and a point
 * transform. What DICOM calls JPEG Lossless (1.2.840.10008.1.2.4.57) and JPEG Lossless SV1 (.70).
 */

import type { DecodedFrame } from "./types.ts";

/** A Huffman table in the decoding form of T.81 F.2.2.3. */
interface Huffman {
  /** Largest code of each length 1..16 (-1 when none). */
  maxCode: Int32Array;
  /** Index into `values` of the first code of each length, minus that code. */
  offset: Int32Array;
  values: Uint8Array;
}

/** Builds the decoding table from the 16 code counts and the symbol list of a DHT segment. */
function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxCode = new Int32Array(17).fill(-1), offset = new Int32Array(17);
  let code = 0, k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    if (n > 0) {
      offset[len] = k - code;
      code += n;
      k += n;
      maxCode[len] = code - 1;
    }
    code <<= 1;
  }
  if (k !== values.length) throw new Error("JPEG Huffman table: symbol count mismatch");
  return { maxCode, offset, values };
}

/** Reads entropy-coded bits: 0xFF00 is a stuffed 0xFF; any other marker ends the data. */
class BitReader {
  #pos: number;
  #acc = 0;
  #bits = 0;
  /** Set when a marker was reached (its position is #pos). */
  marker = false;

  constructor(readonly data: Uint8Array, start: number) {
    this.#pos = start;
  }

  get position(): number {
    return this.#pos;
  }

  #fill(): void {
    while (this.#bits <= 24) {
      let byte = 0;
      if (!this.marker && this.#pos < this.data.length) {
        byte = this.data[this.#pos];
        if (byte === 0xff) {
          const next = this.data[this.#pos + 1];
          if (next === 0x00) this.#pos += 2;
          else {
            this.marker = true; // leave #pos on the marker; feed zeros
            byte = 0;
          }
        } else this.#pos++;
        if (this.marker) byte = 0;
      }
      this.#acc = ((this.#acc << 8) | byte) >>> 0;
      this.#bits += 8;
    }
  }

  bit(): number {
    if (this.#bits === 0) this.#fill();
    this.#bits--;
    return (this.#acc >>> this.#bits) & 1;
  }

  bits(n: number): number {
    if (n === 0) return 0;
    if (this.#bits < n) this.#fill();
    this.#bits -= n;
    return (this.#acc >>> this.#bits) & ((1 << n) - 1);
  }

  /** Drops the buffered bits and moves past the restart marker RSTn that must come next. */
  restart(expected: number): void {
    this.#acc = 0;
    this.#bits = 0;
    this.marker = false;
    // Skip fill bytes (0xFF padding) before the marker.
    while (
      this.#pos + 1 < this.data.length && this.data[this.#pos] === 0xff && this.data[this.#pos + 1] === 0xff
    ) {
      this.#pos++;
    }
    const m = this.data[this.#pos + 1];
    if (this.data[this.#pos] !== 0xff || m !== 0xd0 + expected) {
      throw new Error(`JPEG: expected restart marker RST${expected} at byte ${this.#pos}`);
    }
    this.#pos += 2;
  }
}

/** Decodes one Huffman symbol. */
function decodeSymbol(r: BitReader, h: Huffman): number {
  let code = 0;
  for (let len = 1; len <= 16; len++) {
    code = (code << 1) | r.bit();
    if (code <= h.maxCode[len]) return h.values[code + h.offset[len]];
  }
  throw new Error("JPEG: invalid Huffman code");
}

/** Decodes one JPEG Lossless (process 14) frame with a single component. */
export function decodeJpegLossless(data: Uint8Array): DecodedFrame {
  const u16 = (p: number) => (data[p] << 8) | data[p + 1];
  if (data.length < 4 || u16(0) !== 0xffd8) throw new Error("JPEG: no start-of-image marker");
  const tables: (Huffman | undefined)[] = [];
  let width = 0, height = 0, precision = 0, componentId = -1, restartInterval = 0;
  let pos = 2;
  while (pos + 4 <= data.length) {
    if (data[pos] !== 0xff) throw new Error(`JPEG: expected a marker at byte ${pos}`);
    const marker = data[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    const length = u16(pos + 2);
    const seg = pos + 4, end = pos + 2 + length;
    if (end > data.length) throw new Error("JPEG: truncated marker segment");
    if (marker === 0xc3) {
      precision = data[seg];
      height = u16(seg + 1);
      width = u16(seg + 3);
      const components = data[seg + 5];
      if (components !== 1) {
        throw new Error(`JPEG lossless frame with ${components} components (only grey is read)`);
      }
      componentId = data[seg + 6];
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      throw new Error(`JPEG process SOF${marker - 0xc0} is not lossless process 14`);
    } else if (marker === 0xc4) {
      let p = seg;
      while (p < end) {
        const id = data[p] & 0x0f;
        const counts = data.subarray(p + 1, p + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        tables[id] = buildHuffman(counts, data.subarray(p + 17, p + 17 + total));
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      restartInterval = u16(seg);
    } else if (marker === 0xda) {
      if (width === 0) throw new Error("JPEG: scan before the frame header");
      if (data[seg] !== 1 || data[seg + 1] !== componentId) {
        throw new Error("JPEG: scan does not cover the one component");
      }
      const table = tables[data[seg + 2] >> 4];
      if (!table) throw new Error("JPEG: scan uses an undefined Huffman table");
      const predictor = data[seg + 3];
      const pointTransform = data[seg + 5] & 0x0f;
      if (predictor < 1 || predictor > 7) throw new Error(`JPEG: selection value ${predictor} is not 1..7`);
      if (precision < 2 || precision > 16) throw new Error(`JPEG: precision ${precision} is not 2..16`);
      if (height === 0) throw new Error("JPEG: frames with the height in a DNL marker are not supported");
      const samples = decodeScan(data, end, {
        width,
        height,
        precision,
        predictor,
        pointTransform,
        restartInterval,
        table,
      });
      return { width, height, samples };
    } else if (marker === 0xd9) break;
    pos = end;
  }
  throw new Error("JPEG: no scan found");
}

interface ScanParams {
  width: number;
  height: number;
  precision: number;
  predictor: number;
  pointTransform: number;
  restartInterval: number;
  table: Huffman;
}

/** The entropy-coded scan: differences decoded and added to the prediction, modulo 2^16. */
function decodeScan(data: Uint8Array, start: number, s: ScanParams): Uint16Array {
  const { width, height, predictor, pointTransform: pt, table } = s;
  const out = new Uint16Array(width * height);
  const reader = new BitReader(data, start);
  const initial = 1 << (s.precision - pt - 1);
  const interval = s.restartInterval || Infinity;
  let sinceRestart = 0, restarts = 0;
  let firstLine = true; // first line of the image or of a restart interval
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      let startOfInterval = i === 0;
      if (sinceRestart === interval) {
        reader.restart(restarts++ & 7);
        sinceRestart = 0;
        startOfInterval = true;
        firstLine = true;
      }
      sinceRestart++;
      const t = decodeSymbol(reader, table);
      let diff: number;
      if (t === 0) diff = 0;
      else if (t === 16) diff = 32768;
      else if (t > 16) throw new Error(`JPEG: difference category ${t} > 16`);
      else {
        diff = reader.bits(t);
        if (diff < 1 << (t - 1)) diff -= (1 << t) - 1;
      }
      let px: number;
      if (startOfInterval) px = initial;
      else if (firstLine) px = x === 0 ? out[i - width] : out[i - 1];
      else if (x === 0) px = out[i - width];
      else {
        const ra = out[i - 1], rb = out[i - width], rc = out[i - width - 1];
        switch (predictor) {
          case 1:
            px = ra;
            break;
          case 2:
            px = rb;
            break;
          case 3:
            px = rc;
            break;
          case 4:
            px = ra + rb - rc;
            break;
          case 5:
            px = ra + ((rb - rc) >> 1);
            break;
          case 6:
            px = rb + ((ra - rc) >> 1);
            break;
          default:
            px = (ra + rb) >> 1;
        }
      }
      out[i] = (px + diff) & 0xffff;
    }
    if (sinceRestart > 0 || y === 0) firstLine = false;
  }
  if (pt > 0) { for (let i = 0; i < out.length; i++) out[i] = (out[i] << pt) & 0xffff; }
  return out;
}
