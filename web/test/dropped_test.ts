/**
 * Walking a dropped folder (web/src/dropped.ts) on entries shaped like the browser's: every file at
 * any depth, with its path under the dropped folder, across readEntries batches (Chromium answers
 * 100 entries at a time); a folder that cannot be listed, or one nested too deep, is a one-line error
 * naming it. The browser's own entries are exercised by page_dicom_test.ts, which drops a folder.
 */
import assert from "node:assert/strict";
import { DropError, type Entry, entryFiles, MAX_DEPTH } from "../src/dropped.ts";

function file(name: string): Entry {
  return { isFile: true, isDirectory: false, name, file: (ok) => ok(new File([name], name)) };
}

/** A folder whose reader answers in batches of `batch` entries, then an empty batch. */
function folder(name: string, children: Entry[], batch = 2): Entry {
  return {
    isFile: false,
    isDirectory: true,
    name,
    createReader() {
      let at = 0;
      return {
        readEntries(ok) {
          const part = children.slice(at, at + batch);
          at += part.length;
          queueMicrotask(() => ok(part));
        },
      };
    },
  };
}

Deno.test("every file of a dropped folder, at any depth, in batches, with its path", async () => {
  const tree = folder("series", [
    file("b.dcm"),
    file("a.dcm"),
    folder("sub", [file("c.dcm"), folder("empty", []), file("d.dcm"), file("e.dcm")]),
    file("f.dcm"),
    file("g.dcm"),
  ]);
  const files = await entryFiles(tree);
  assert.deepEqual(files.map((f) => f.path), [
    "series/a.dcm",
    "series/b.dcm",
    "series/f.dcm",
    "series/g.dcm",
    "series/sub/c.dcm",
    "series/sub/d.dcm",
    "series/sub/e.dcm",
  ]);
  assert.equal(await files[4].file.text(), "c.dcm");
  assert.deepEqual((await entryFiles(file("one.nii.gz"))).map((f) => f.path), ["one.nii.gz"]);
});

Deno.test("a folder that cannot be listed, or nested too deep: one line naming it", async () => {
  const broken: Entry = {
    isFile: false,
    isDirectory: true,
    name: "locked",
    createReader: () => ({
      readEntries: (_ok, fail) => fail(new DOMException("denied", "NotReadableError")),
    }),
  };
  await assert.rejects(
    () => entryFiles(folder("top", [broken])),
    (e: unknown) => e instanceof DropError && e.message === "top/locked: cannot list the folder: denied",
  );
  let deep = folder("x", [file("a")]);
  for (let i = 0; i < MAX_DEPTH + 1; i++) deep = folder("x", [deep]);
  await assert.rejects(
    () => entryFiles(deep),
    (e: unknown) => e instanceof DropError && /nested deeper than 32 levels$/.test(e.message),
  );
});
