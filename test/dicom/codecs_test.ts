// Every transfer syntax against the uncompressed original (files made once with DCMTK, see
// test/data/dicom/README.md), and the two decoders written here on awkward synthetic images: the
// JPEG lossless decoder for every predictor, precisions 2..16, restart intervals and the 16-bit
// wrap-around difference; the RLE decoder for 8, 16 and 32 bits and odd sizes.
import assert from "node:assert/strict";
import { parseDicomFile } from "../../src/volume/dicom/parse.ts";
import { decodeFrame, pixelFormat, rescaleOf, writeSlice } from "../../src/volume/dicom/pixels.ts";
import { decodeJpegLossless } from "../../src/volume/dicom/codecs/jpeg-lossless.ts";
import { decodeRle } from "../../src/volume/dicom/codecs/rle.ts";
import { transferSyntax } from "../../src/volume/dicom/transfer-syntax.ts";
import { rng } from "../_helpers.ts";
import { difference, GE_DIR, SYNTAX_DIR } from "./_files.ts";

/** A file's slice in HU and its transfer syntax. */
async function sliceHu(path: string): Promise<{ hu: Float32Array; syntax: string }> {
  const f = (await parseDicomFile(path, await Deno.readFile(path)))!;
  const format = pixelFormat(f);
  const hu = new Float32Array(f.rows * f.columns);
  writeSlice(await decodeFrame(f, format), format, rescaleOf(f), hu, 0);
  return { hu, syntax: transferSyntax(f.transferSyntaxUid).name };
}

const CASES: [string, string][] = [
  ["rle.dcm", "RLE Lossless"],
  ["jpegll-sv1.dcm", "JPEG Lossless (process 14, selection value 1)"],
  ...[2, 3, 4, 5, 6, 7].map((sv): [string, string] => [`jpegll-sv${sv}.dcm`, "JPEG Lossless (process 14)"]),
  ["jpegls.dcm", "JPEG-LS Lossless"],
  ["deflated.dcm", "Deflated Explicit VR Little Endian"],
  ["explicit-be.dcm", "Explicit VR Big Endian"],
];

Deno.test("every transfer syntax decodes to exactly the original slice's HU", async () => {
  const original = await sliceHu(`${GE_DIR}/ct-3slice_01.dcm`);
  assert.equal(original.syntax, "Implicit VR Little Endian");
  assert.ok(original.hu.some((v) => v > 500) && original.hu.some((v) => v < -1000), "a real CT slice");
  for (const [file, syntax] of CASES) {
    const got = await sliceHu(`${SYNTAX_DIR}/${file}`);
    assert.equal(got.syntax, syntax, file);
    assert.deepEqual(difference(got.hu, original.hu), { max: 0, count: 0 }, file);
  }
});

/** Writes bits MSB first, stuffing a zero byte after every 0xFF, as a JPEG encoder does. */
class BitWriter {
  bytes: number[] = [];
  #acc = 0;
  #n = 0;
  put(value: number, bits: number): void {
    for (let b = bits - 1; b >= 0; b--) {
      this.#acc = (this.#acc << 1) | ((value >> b) & 1);
      if (++this.#n === 8) this.#flushByte();
    }
  }
  #flushByte(): void {
    this.bytes.push(this.#acc);
    if (this.#acc === 0xff) this.bytes.push(0);
    this.#acc = 0;
    this.#n = 0;
  }
  /** Pads the last byte with ones. */
  align(): void {
    while (this.#n !== 0) this.put(1, 1);
  }
}

/** The prediction of T.81 H.1.2.1 (mirrors the decoder's rules, restart intervals included). */
function predict(
  out: number[],
  i: number,
  x: number,
  width: number,
  sv: number,
  start: boolean,
  first: boolean,
  p: number,
) {
  if (start) return 1 << (p - 1);
  if (first) return x === 0 ? out[i - width] : out[i - 1];
  if (x === 0) return out[i - width];
  const a = out[i - 1], b = out[i - width], c = out[i - width - 1];
  return [0, a, b, c, a + b - c, a + ((b - c) >> 1), b + ((a - c) >> 1), (a + b) >> 1][sv];
}

/** A minimal JPEG lossless encoder (one component, one Huffman table of 5-bit codes for categories 0..16). */
function encodeJpegLossless(
  img: number[],
  width: number,
  height: number,
  p: number,
  sv: number,
  interval = 0,
): Uint8Array {
  const w = new BitWriter();
  let since = 0, restarts = 0, first = true;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      let start = i === 0;
      if (interval && since === interval) {
        w.align();
        w.bytes.push(0xff, 0xd0 + (restarts++ & 7));
        since = 0;
        start = true;
        first = true;
      }
      since++;
      const px = predict(img, i, x, width, sv, start, first, p);
      let diff = (((img[i] - px) % 65536) + 65536) % 65536;
      if (diff > 32768) diff -= 65536;
      const t = diff === 0 ? 0 : diff === 32768 ? 16 : Math.floor(Math.log2(Math.abs(diff))) + 1;
      w.put(t, 5);
      if (t > 0 && t < 16) w.put(diff >= 0 ? diff : diff + (1 << t) - 1, t);
    }
    first = false;
  }
  w.align();
  const counts = new Array(16).fill(0);
  counts[4] = 17; // 17 codes of length 5: category t has code t
  const header = [
    0xff,
    0xd8,
    0xff,
    0xc3,
    0,
    11,
    p,
    height >> 8,
    height & 255,
    width >> 8,
    width & 255,
    1,
    1,
    0x11,
    0,
    0xff,
    0xc4,
    0,
    2 + 1 + 16 + 17,
    0x00,
    ...counts,
    ...Array.from({ length: 17 }, (_, t) => t),
    ...(interval ? [0xff, 0xdd, 0, 4, interval >> 8, interval & 255] : []),
    0xff,
    0xda,
    0,
    8,
    1,
    1,
    0x00,
    sv,
    0,
    0,
  ];
  return new Uint8Array([...header, ...w.bytes, 0xff, 0xd9]);
}

Deno.test("JPEG lossless: every predictor, precisions 2..16, odd sizes, restart intervals, the 32768 difference", () => {
  const random = rng(3);
  for (const [width, height] of [[1, 1], [7, 5], [13, 2], [3, 17]]) {
    for (const p of [2, 8, 12, 16]) {
      for (let sv = 1; sv <= 7; sv++) {
        for (const interval of [0, width, 2 * width + 1]) {
          const img = Array.from({ length: width * height }, () => Math.floor(random() * (1 << p)));
          if (p === 16 && img.length > 1) {
            img[0] = 0;
            img[1] = 32768; // predictor 1 on the first line: difference 32768, category 16
          }
          const frame = decodeJpegLossless(encodeJpegLossless(img, width, height, p, sv, interval));
          assert.equal(frame.width, width);
          assert.equal(frame.height, height);
          assert.deepEqual([...frame.samples], img, `${width}x${height} P=${p} SV=${sv} restart=${interval}`);
        }
      }
    }
  }
});

Deno.test("JPEG lossless refuses what it cannot read, naming the problem", () => {
  const ok = encodeJpegLossless([1, 2, 3, 4], 2, 2, 8, 1);
  assert.throws(() => decodeJpegLossless(ok.slice(2)), /no start-of-image/);
  const baseline = ok.slice();
  baseline[3] = 0xc0; // SOF0: a lossy baseline frame
  assert.throws(() => decodeJpegLossless(baseline), /SOF0 is not lossless process 14/);
  const badPredictor = ok.slice();
  badPredictor[badPredictor.indexOf(0xda) + 6] = 0; // Ss = 0
  assert.throws(() => decodeJpegLossless(badPredictor), /selection value 0/);
  const restart = encodeJpegLossless([1, 2, 3, 4], 2, 2, 8, 1, 2);
  const wrong = restart.slice();
  wrong[wrong.lastIndexOf(0xd0)] = 0xd3;
  assert.throws(() => decodeJpegLossless(wrong), /expected restart marker RST0/);
});

/** PackBits: alternating literal and repeat runs, so both kinds are exercised. */
function packBits(src: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0, literal = true;
  while (i < src.length) {
    if (literal) {
      const n = Math.min(3, src.length - i);
      out.push(n - 1, ...src.subarray(i, i + n));
      i += n;
    } else {
      let n = 1;
      while (i + n < src.length && src[i + n] === src[i] && n < 128) n++;
      out.push(n === 1 ? 0 : (1 - n) & 0xff, src[i]);
      if (n > 1) out.push(0x80); // a no-op header between runs
      i += n;
    }
    literal = !literal;
  }
  return out;
}

/** An RLE frame: header with one segment per byte plane, most significant first. */
function encodeRle(values: number[], bytes: number): Uint8Array {
  const segments = Array.from({ length: bytes }, (_, s) => {
    const shift = 8 * (bytes - 1 - s);
    const seg = packBits(Uint8Array.from(values, (v) => (v >>> shift) & 0xff));
    return seg.length % 2 ? [...seg, 0x80] : seg;
  });
  const header = new Uint8Array(64);
  const view = new DataView(header.buffer);
  view.setUint32(0, bytes, true);
  let offset = 64;
  segments.forEach((s, i) => {
    view.setUint32(4 + 4 * i, offset, true);
    offset += s.length;
  });
  return new Uint8Array([...header, ...segments.flat()]);
}

Deno.test("RLE: 8, 16 and 32 bits, odd sizes, literal and repeated runs, bad segments refused", () => {
  const random = rng(5);
  for (const [columns, rows] of [[1, 1], [7, 5], [200, 3]]) {
    for (const bits of [8, 16, 32]) {
      const max = 2 ** bits;
      const values = Array.from(
        { length: rows * columns },
        (_, i) => i % 9 < 4 ? 77 : Math.floor(random() * max),
      );
      const format = { rows, columns, bitsAllocated: bits, bitsStored: bits, pixelRepresentation: 0 };
      const frame = decodeRle(encodeRle(values, bits / 8), format);
      assert.deepEqual([...frame.samples], values, `${columns}x${rows} ${bits} bits`);
    }
  }
  const format = { rows: 2, columns: 2, bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 0 };
  const good = encodeRle([1, 2, 3, 4], 2);
  assert.throws(() => decodeRle(good.slice(0, 40), format), /no 64-byte header/);
  assert.throws(() => decodeRle(encodeRle([1, 2, 3, 4], 1), format), /1 segments, expected 2/);
  assert.throws(() => decodeRle(good.slice(0, good.length - 3), format), /RLE segment|overflows/);
});
