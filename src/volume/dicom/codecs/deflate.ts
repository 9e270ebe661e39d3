/** Deflated Explicit VR Little Endian: the dataset after the file meta is a raw deflate stream. */

import { DicomFileError } from "../errors.ts";

/** Inflates raw deflate bytes (no zlib or gzip header) with the Web streams' DecompressionStream. */
export async function inflateRaw(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("deflate-raw"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new DicomFileError(file, `corrupt deflated dataset: ${why}`);
  }
}
