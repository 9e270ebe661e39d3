/**
 * What a drop holds, as files with their paths: dropped files as they are, dropped folders walked
 * through their entries (recursively), so that a DICOM folder can be dropped whole. Runs on the
 * page's main thread: entries cannot be sent to a worker, the files they yield can.
 */
import type { ChosenFile } from "./read_ct.ts";

/** The part of a FileSystemEntry used here (structural, so tests can give plain objects). */
export interface Entry {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  file?(ok: (f: File) => void, fail: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (entries: Entry[]) => void, fail: (e: unknown) => void): void };
}

/** Folders nested deeper than this are refused (a link loop, or not a series). */
export const MAX_DEPTH = 32;

/** A dropped folder that cannot be walked; the message names it. */
export class DropError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DropError";
  }
}

function why(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : e instanceof DOMException ? e.name : String(e);
}

/** Every entry of a folder: readEntries answers in batches (100 in Chromium) until an empty one. */
async function children(dir: Entry, path: string): Promise<Entry[]> {
  const reader = dir.createReader!();
  const all: Entry[] = [];
  for (;;) {
    const batch = await new Promise<Entry[]>((ok, fail) => reader.readEntries(ok, fail)).catch((e) => {
      throw new DropError(`${path}: cannot list the folder: ${why(e)}`);
    });
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

/** The files under `entry` (itself if a file), with paths starting at its name, sorted by path. */
export async function entryFiles(entry: Entry, parent = "", depth = 0): Promise<ChosenFile[]> {
  const path = parent ? `${parent}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((ok, fail) => entry.file!(ok, fail)).catch((e) => {
      throw new DropError(`${path}: cannot read the file: ${why(e)}`);
    });
    return [{ file, path }];
  }
  if (!entry.isDirectory) return [];
  if (depth >= MAX_DEPTH) throw new DropError(`${path}: folders nested deeper than ${MAX_DEPTH} levels`);
  const out: ChosenFile[] = [];
  for (const child of await children(entry, path)) out.push(...await entryFiles(child, path, depth + 1));
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The files of a drop: each item's entry walked when the browser gives entries (folders included),
 * else the plain file list. Must be called during the drop event (the items empty afterwards); the
 * walking itself may finish later.
 */
export function droppedFiles(data: DataTransfer | null): Promise<ChosenFile[]> {
  if (!data) return Promise.resolve([]);
  const entries = [...data.items]
    .filter((item) => item.kind === "file")
    .map((item) => item.webkitGetAsEntry?.() as Entry | null | undefined);
  if (entries.length > 0 && entries.every((e) => e)) {
    return Promise.all(entries.map((e) => entryFiles(e!))).then((lists) => lists.flat());
  }
  return Promise.resolve([...data.files].map((file) => ({ file, path: file.name })));
}
