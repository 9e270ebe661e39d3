/** Writing files so that a crash never leaves half a file behind: a temporary name, then a rename. */
import { fileURLToPath } from "node:url";

/** A file could not be written; the message names the file. */
export class FileWriteError extends Error {
  constructor(readonly file: string, problem: string, options?: ErrorOptions) {
    super(`${file}: cannot write: ${problem}`, options);
    this.name = "FileWriteError";
  }
}

/**
 * Writes `data` to `path` atomically: to a hidden temporary file in the same directory, flushed to
 * the disk, then renamed over `path`. On failure the temporary file is removed and a FileWriteError thrown.
 */
export async function writeFileAtomic(target: string | URL, data: Uint8Array | string): Promise<void> {
  const path = target instanceof URL ? fileURLToPath(target) : target;
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const tmp = `${dir}.${path.slice(slash + 1)}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      // on the disk before the rename makes it visible: a crash (or a shard on shared storage) never
      // finds a complete name with incomplete contents
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new FileWriteError(path, e instanceof Error ? e.message.split("\n")[0] : String(e), { cause: e });
  }
}
