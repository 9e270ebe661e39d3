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
 * Bytes after the end of the first gzip member (a multi-member file, or padding). Deno's
 * DecompressionStream stops there, after it has checked the first member's CRC.
 */
export class GzipTrailingDataError extends VolumeError {
  /** The message names the file. */
  constructor(file: string, options?: ErrorOptions) {
    super(
      file,
      "gzip",
      "data after the end of the gzip stream (multi-member gzip is not supported)",
      options,
    );
  }
}

/**
 * Decompresses gzip bytes chunk by chunk, so a caller can check a header before the rest arrives.
 * Throws a "gzip" VolumeError for data that is not gzip, truncated or corrupt (CRC mismatch), and
 * a GzipTrailingDataError for bytes after the first member.
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
  if (/write whole buffer/.test(message)) return new GzipTrailingDataError(file, { cause: e });
  if (/checksum|unexpected end|eof/i.test(message)) {
    return new VolumeError(file, "gzip", "truncated or corrupt gzip data (checksum mismatch)", { cause: e });
  }
  return new VolumeError(file, "gzip", `corrupt gzip data: ${message.split("\n")[0]}`, { cause: e });
}
