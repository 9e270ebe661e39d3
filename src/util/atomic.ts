/** Writing files so that a crash never leaves half a file behind: a temporary name, then a rename. */

/**
 * Writes `data` to `path` atomically: to `path.<random>.tmp` in the same directory, then renamed over
 * `path`. On failure the temporary file is removed and the error rethrown.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
