/**
 * gzip through the Web streams built into Deno (CompressionStream / DecompressionStream), with the
 * stream's errors turned into VolumeErrors that name the file.
 */

import { VolumeError } from "./errors.ts";

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** gzip-compresses bytes. */
export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Decompresses gzip bytes chunk by chunk, so a caller can check a header before the rest arrives.
 * Throws a "gzip" VolumeError for data that is not gzip, truncated or corrupt (CRC mismatch), or
 * has bytes after the first gzip member: Deno's DecompressionStream rejects those and drops the
 * output of the chunk that held them, so multi-member files cannot be read.
 */
export async function* gunzipChunks(
  compressed: Uint8Array<ArrayBuffer>,
  file: string,
): AsyncGenerator<Uint8Array> {
  if (!isGzip(compressed)) throw new VolumeError(file, "gzip", "not gzip-compressed (no 1f 8b magic)");
  const stream = new Blob([compressed]).stream().pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader();
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (e) {
        throw gzipError(e, file);
      }
      if (result.done) return;
      yield result.value;
    }
  } finally {
    reader.releaseLock();
    await stream.cancel().catch(() => {});
  }
}

/** Maps a DecompressionStream error to a one-line VolumeError. */
function gzipError(e: unknown, file: string): VolumeError {
  const message = e instanceof Error ? e.message : String(e);
  if (/write whole buffer/.test(message)) {
    const problem = "data after the end of the gzip stream (multi-member gzip or padding is not supported)";
    return new VolumeError(file, "gzip", problem, { cause: e });
  }
  if (/checksum|unexpected end|eof/i.test(message)) {
    return new VolumeError(file, "gzip", "truncated or corrupt gzip data (checksum mismatch)", { cause: e });
  }
  return new VolumeError(file, "gzip", `corrupt gzip data: ${message.split("\n")[0]}`, { cause: e });
}
