/**
 * File-system access for the Deno edge. The computing core (everything under src/ but src/io/ and
 * src/train/) takes bytes and returns bytes, so it runs unchanged in a browser; this module and its
 * neighbours in src/io/ are the only places that read paths, list folders or write files.
 */

import { resolve } from "node:path";
import { createHash } from "node:crypto";

/** Why a file could not be read. */
export type ReadProblem = "not-found" | "is-directory" | "read";

/** A file could not be read; `problem` is one line without the path. */
export class FileReadError extends Error {
  constructor(
    readonly file: string,
    readonly code: ReadProblem,
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${problem}`, options);
    this.name = "FileReadError";
  }
}

/** First line of an error's message. */
export function firstLine(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}

/** A file-system error of `path` as a FileReadError ("not-found", or "read" with the first line). */
function readError(path: string, e: unknown): FileReadError {
  if (e instanceof FileReadError) return e;
  if (e instanceof Deno.errors.NotFound) {
    return new FileReadError(path, "not-found", "file not found", { cause: e });
  }
  return new FileReadError(path, "read", `cannot read: ${firstLine(e)}`, { cause: e });
}

/** The whole file; a FileReadError ("not-found", "is-directory" or "read") otherwise. */
export async function readFileBytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) throw new FileReadError(path, "is-directory", "is a directory");
    return await Deno.readFile(path);
  } catch (e) {
    throw readError(path, e);
  }
}

/** The whole file as UTF-8 text; errors as {@link readFileBytes}. */
export async function readTextFile(path: string): Promise<string> {
  return new TextDecoder().decode(await readFileBytes(path));
}

/** The file as text, or null when it does not exist. */
export async function readTextIfExists(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** The path made absolute (against the current folder), so that two spellings of a file agree. */
export function absolutePath(path: string): string {
  return resolve(path);
}

/** True when something exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** True when `path` is a regular file (or a link to one). */
export async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((i) => i.isFile, () => false);
}

/** True when `path` is a folder (or a link to one). */
export async function isDirectory(path: string): Promise<boolean> {
  return await Deno.stat(path).then((i) => i.isDirectory, () => false);
}

/** Creates a folder and its parents (nothing when it exists). */
export async function makeDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
}

/** Entries of a folder: names with whether each is a folder; a FileReadError when it cannot be listed. */
export async function listDir(dir: string): Promise<{ name: string; isDirectory: boolean }[]> {
  const out: { name: string; isDirectory: boolean }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      let isDir = e.isDirectory;
      if (e.isSymlink) isDir = await isDirectory(`${dir}/${e.name}`);
      out.push({ name: e.name, isDirectory: isDir });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new FileReadError(dir, "not-found", "folder not found", { cause: e });
    }
    throw new FileReadError(dir, "read", `cannot list: ${firstLine(e)}`, { cause: e });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Size and modification time of a file; a FileReadError when it cannot be seen. */
export async function fileStamp(path: string): Promise<{ size: number; mtimeMs: number }> {
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) throw new FileReadError(path, "is-directory", "is a directory");
    return { size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 };
  } catch (e) {
    throw readError(path, e);
  }
}

/** SHA-256 of a file's contents (hex), read in chunks so that memory stays small. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  let file: Deno.FsFile | null = null;
  try {
    file = await Deno.open(path, { read: true });
    const buf = new Uint8Array(1 << 20);
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      hash.update(buf.subarray(0, n));
    }
  } catch (e) {
    throw readError(path, e);
  } finally {
    file?.close();
  }
  return hash.digest("hex");
}

/** The first `length` bytes of a file (fewer when it is shorter). */
export async function readFileHead(path: string, length: number): Promise<Uint8Array<ArrayBuffer>> {
  let file: Deno.FsFile | null = null;
  try {
    file = await Deno.open(path, { read: true });
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = await file.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    return buf.slice(0, got);
  } catch (e) {
    throw readError(path, e);
  } finally {
    file?.close();
  }
}
