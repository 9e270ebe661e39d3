/** What every pixel codec returns: one frame of samples, in row order. */

/** Samples of one decoded frame (one sample per pixel; colour is refused before decoding). */
export interface DecodedFrame {
  width: number;
  height: number;
  /** width * height samples as the codestream stores them, before masking and rescaling. */
  samples: Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
}

/** The pixel format the dataset announces, which decoders check their output against. */
export interface PixelFormat {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  /** 0 unsigned, 1 two's complement. */
  pixelRepresentation: number;
}
