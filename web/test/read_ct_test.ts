/**
 * The page's CT-reading step (web/src/read_ct.ts) in Deno, where File exists too: one NIfTI file is
 * read, with a name the viewer can use; no file, several files, or a file that is not NIfTI are
 * one-line errors naming the problem (the page shows them in #status).
 */
import assert from "node:assert/strict";
import { ROOT } from "./_browser.ts";
import { InputError, readCt, stem } from "../src/read_ct.ts";
import { VolumeError } from "../../src/volume/errors.ts";

const sample = await Deno.readFile(`${ROOT}data/abdomen-ct-a.nii.gz`);

Deno.test("one .nii.gz file: the CT in HU on its grid, and the bytes for the viewer", async () => {
  const ct = await readCt([new File([sample], "abdomen.nii.gz")]);
  assert.deepEqual(ct.volume.dims, [122, 101, 112]);
  assert.equal(ct.name, "abdomen.nii.gz");
  assert.equal(ct.viewerName, "abdomen.nii.gz");
  assert.deepEqual(ct.viewerBytes, sample);
  // a name without the extension still gets one the viewer recognises
  assert.equal((await readCt([new File([sample], "scan")])).viewerName, "scan.nii.gz");
});

Deno.test("no file, several files, a file that is not NIfTI: one line each", async () => {
  await assert.rejects(() => readCt([]), InputError);
  await assert.rejects(
    () => readCt([new File([sample], "a.nii.gz"), new File([sample], "b.nii.gz")]),
    (e: unknown) => e instanceof InputError && /2 files/.test(e.message) && !e.message.includes("\n"),
  );
  await assert.rejects(
    () => readCt([new File(["not an image ".repeat(40)], "notes.txt")]),
    (e: unknown) => e instanceof VolumeError && e.message.startsWith("notes.txt: "),
  );
});

Deno.test("download names: NAME of NAME.nii and NAME.nii.gz", () => {
  assert.equal(stem("a.nii.gz"), "a");
  assert.equal(stem("b.NII"), "b");
  assert.equal(stem("c.tar.gz"), "c.tar.gz");
  assert.equal(stem(".nii.gz"), "ct");
});
