/**
 * JPEG 2000 (OpenJPEG) and JPEG-LS (CharLS) through the cornerstonejs WebAssembly builds. The
 * .wasm bytes come in as a bytes import, so neither Deno nor a bundled page fetches or reads a file
 * at run time; each module is instantiated once, on first use, with its console output muted.
 */

import openjpegWasm from "@cornerstonejs/codec-openjpeg/decodewasm" with { type: "bytes" };
import openjpegFactory from "@cornerstonejs/codec-openjpeg/decodewasmjs";
import charlsWasm from "@cornerstonejs/codec-charls/decodewasm" with { type: "bytes" };
import charlsFactory from "@cornerstonejs/codec-charls/decodewasmjs";
import type { DecodedFrame } from "./types.ts";

/** The part of an Emscripten decoder object both libraries share. */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned?: boolean;
  };
  delete(): void;
}

type Factory = (opts: Record<string, unknown>) => Promise<Record<string, new () => WasmDecoder>>;

const modules = new Map<string, Promise<Record<string, new () => WasmDecoder>>>();

/** The instantiated module (created once). */
function instance(name: string, factory: Factory, wasm: Uint8Array) {
  let m = modules.get(name);
  if (!m) {
    const mute = () => {};
    m = factory({ wasmBinary: wasm, print: mute, printErr: mute });
    modules.set(name, m);
  }
  return m;
}

/** An Emscripten exception (often a bare number) as one line. */
function why(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : typeof e === "string" ? e : "invalid codestream";
}

/** Runs one decoder over one frame; `signed` says how to read 16-bit output when the codestream does not. */
async function run(
  name: string,
  factory: Factory,
  wasm: Uint8Array,
  className: string,
  bytes: Uint8Array,
  signed: boolean,
): Promise<DecodedFrame> {
  const mod = await instance(name, factory, wasm);
  const decoder = new mod[className]();
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    try {
      decoder.decode();
    } catch (e) {
      throw new Error(`${name} decoding failed: ${why(e)}`);
    }
    const info = decoder.getFrameInfo();
    // OpenJPEG reports a codestream it cannot parse as an empty image rather than an exception.
    if (info.componentCount < 1 || info.width < 1 || info.height < 1) {
      throw new Error(`${name} decoding failed: no image in the codestream`);
    }
    if (info.componentCount !== 1) {
      throw new Error(`${name} frame has ${info.componentCount} components, not 1`);
    }
    const out = decoder.getDecodedBuffer().slice(); // copy out of the WASM heap before delete()
    const isSigned = info.isSigned ?? signed;
    const n = info.width * info.height;
    let samples: DecodedFrame["samples"];
    if (info.bitsPerSample <= 8) {
      samples = isSigned ? new Int8Array(out.buffer, 0, n) : new Uint8Array(out.buffer, 0, n);
    } else if (info.bitsPerSample <= 16) {
      samples = isSigned ? new Int16Array(out.buffer, 0, n) : new Uint16Array(out.buffer, 0, n);
    } else throw new Error(`${name} frame has ${info.bitsPerSample} bits per sample`);
    return { width: info.width, height: info.height, samples };
  } finally {
    decoder.delete();
  }
}

/** Decodes one JPEG 2000 codestream (or JP2 file) holding one grey frame. */
export function decodeJpeg2000(bytes: Uint8Array, signed: boolean): Promise<DecodedFrame> {
  return run("JPEG 2000", openjpegFactory as unknown as Factory, openjpegWasm, "J2KDecoder", bytes, signed);
}

/** Decodes one JPEG-LS frame (lossless or near-lossless) holding one grey frame. */
export function decodeJpegLs(bytes: Uint8Array, signed: boolean): Promise<DecodedFrame> {
  return run("JPEG-LS", charlsFactory as unknown as Factory, charlsWasm, "JpegLSDecoder", bytes, signed);
}
