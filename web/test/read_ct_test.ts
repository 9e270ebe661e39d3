/**
 * The page's CT-reading step (web/src/read_ct.ts) in Deno, where File exists too: one NIfTI file is
 * read, with a name the viewer can use; several files are a DICOM series, read exactly as the core
 * reader reads the folder (non-DICOM files skipped and counted), with a NIfTI of it for the viewer;
 * no file, a lone DICOM file, several NIfTI files, a file that is not NIfTI or a broken series are
 * one-line errors naming the problem (the page shows them in #status).
 */
import assert from "node:assert/strict";
import { ROOT } from "./_browser.ts";
import { type ChosenFile, commonFolder, InputError, PICKED_SERIES, readCt, stem } from "../src/read_ct.ts";
import { VolumeError } from "../../src/volume/errors.ts";
import { readDicomSeries } from "../../src/volume/dicom/mod.ts";
import { decodeNifti } from "../../src/volume/nifti-read.ts";

const sample = await Deno.readFile(`${ROOT}data/abdomen-ct-a.nii.gz`);
const SERIES = `${ROOT}data/dicom/abdomen-ct-c`;

const one = (bytes: BlobPart, name: string): ChosenFile => ({ file: new File([bytes], name), path: name });

/** The sample series' files, as a drop of its folder gives them (paths under `folder/`, or bare names). */
async function seriesFiles(folder: string | null): Promise<ChosenFile[]> {
  const names = [...Deno.readDirSync(SERIES)].map((e) => e.name).sort();
  return await Promise.all(names.map(async (name) => ({
    file: new File([await Deno.readFile(`${SERIES}/${name}`)], name),
    path: folder ? `${folder}/${name}` : name,
  })));
}

Deno.test("one .nii.gz file: the CT in HU on its grid, and the bytes for the viewer", async () => {
  const ct = await readCt([one(sample, "abdomen.nii.gz")]);
  assert.equal(ct.format, "nifti");
  assert.deepEqual(ct.volume.dims, [122, 101, 112]);
  assert.equal(ct.name, "abdomen.nii.gz");
  assert.equal(ct.stem, "abdomen");
  assert.equal(ct.viewerName, "abdomen.nii.gz");
  assert.deepEqual(ct.viewerBytes, sample);
  assert.deepEqual(ct.notes, []);
  // a name without the extension still gets one the viewer recognises
  assert.equal((await readCt([one(sample, "scan")])).viewerName, "scan.nii.gz");
});

Deno.test("a dropped DICOM folder: the core reader's volume, the folder's name, the skipped file counted", async () => {
  const files = await seriesFiles("abdomen-ct-c");
  files.splice(3, 0, one("not DICOM at all", "abdomen-ct-c/notes/README.txt"));
  const ct = await readCt(files);
  assert.equal(ct.format, "dicom");
  if (ct.format !== "dicom") return;
  const direct = await readDicomSeries(
    await Promise.all(
      [...Deno.readDirSync(SERIES)].map(async (e) => ({
        name: e.name,
        bytes: await Deno.readFile(`${SERIES}/${e.name}`),
      })),
    ),
    { source: "abdomen-ct-c" },
  );
  assert.deepEqual(ct.volume.dims, [512, 512, 20]);
  assert.deepEqual(ct.volume.affine, direct.volume.affine);
  assert.deepEqual(ct.volume.data, direct.volume.data);
  assert.equal(ct.name, "abdomen-ct-c");
  assert.equal(ct.stem, "abdomen-ct-c");
  assert.equal(ct.info.slices.length, 20);
  assert.ok(ct.notes.includes("skipped 1 non-DICOM file"), ct.notes.join("; "));
  // the viewer gets a NIfTI of the same volume
  assert.equal(ct.viewerName, "abdomen-ct-c.nii");
  const shown = await decodeNifti(ct.viewerBytes, ct.viewerName);
  assert.deepEqual(shown.dims, ct.volume.dims);
  assert.deepEqual([...shown.affine].map((v) => Math.fround(v)), ct.volume.affine.map((v) => Math.fround(v)));
  assert.deepEqual(shown.data, ct.volume.data);

  // the same files picked at once (no folder): a generic name
  const picked = await readCt(await seriesFiles(null));
  assert.equal(picked.name, PICKED_SERIES);
  assert.equal(picked.stem, "dicom-series");
  assert.deepEqual(picked.volume.data, ct.volume.data);
});

Deno.test("two series: the one with the most slices, and a note naming both that fits the page", async () => {
  const ge = `${ROOT}data/dicom/ct-3slice-liver-seg`;
  const files = [
    ...await seriesFiles("mixed/c"),
    ...await Promise.all(
      [...Deno.readDirSync(ge)].filter((e) => e.name.endsWith(".dcm")).map(async (e) => ({
        file: new File([await Deno.readFile(`${ge}/${e.name}`)], e.name),
        path: `mixed/ge/${e.name}`,
      })),
    ),
  ];
  const ct = await readCt(files);
  assert.equal(ct.name, "mixed");
  assert.deepEqual(ct.volume.dims, [512, 512, 20]);
  const note = ct.notes.find((n) => n.startsWith("2 CT series: took "));
  assert.ok(note, ct.notes.join("; "));
  assert.match(
    note!,
    /took "CT Body 3\.0" series-1 \(20 files\).*others: .*\(3 files\); to segment another, /,
  );
  assert.doesNotMatch(ct.notes.join("\n"), /--series/);
});

Deno.test("no file, a lone DICOM file, several NIfTI files, not NIfTI, a broken series: one line each", async () => {
  const oneLine = (re: RegExp, type: new (...a: never[]) => Error = InputError) => (e: unknown) =>
    e instanceof type && re.test(e.message) && !e.message.includes("\n");
  await assert.rejects(() => readCt([]), InputError);
  const [slice] = await seriesFiles("c");
  await assert.rejects(() => readCt([slice]), oneLine(/^CT\.[\d.]+: is a single DICOM file: choose all/));
  await assert.rejects(
    () => readCt([one(sample, "a.nii.gz"), one(sample, "b.nii.gz")]),
    oneLine(/^2 files were chosen and none is DICOM/),
  );
  await assert.rejects(
    () => readCt([one("not an image ".repeat(40), "notes.txt")]),
    oneLine(/^notes\.txt: /, VolumeError),
  );
  await assert.rejects(
    () => readCt([one("a", "x/a.txt"), one("b", "x/b.txt")]),
    oneLine(/^x: no DICOM files among 2 files$/, VolumeError),
  );
  const gap = await seriesFiles("gap");
  gap.splice(5, 1);
  await assert.rejects(() => readCt(gap), oneLine(/^gap: missing slice: /, VolumeError));
});

Deno.test("the folder of a drop; download names: NAME of NAME.nii and NAME.nii.gz", () => {
  assert.equal(commonFolder(["s/a", "s/b/c"]), "s");
  assert.equal(commonFolder(["s/a", "t/b"]), null);
  assert.equal(commonFolder(["a", "b"]), null);
  assert.equal(commonFolder(["s/a", "sx/b"]), null);
  assert.equal(stem("a.nii.gz"), "a");
  assert.equal(stem("b.NII"), "b");
  assert.equal(stem("c.tar.gz"), "c.tar.gz");
  assert.equal(stem(".nii.gz"), "ct");
});
