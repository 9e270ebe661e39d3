// Each refusal of the DICOM reader, made by editing copies of the sample files in a temporary
// folder: one line that names the folder and the problem.
import assert from "node:assert/strict";
import dicomParser from "dicom-parser";
import { readDicomFolder } from "../../src/io/dicom-files.ts";
import { VolumeError } from "../../src/volume/errors.ts";
import { encodePart10 } from "../../src/volume/dicom/write.ts";
import { copyFolder, editFile, GE_DIR, SAMPLE_C, sampleNames, setText, setUs } from "./_files.ts";

/** Reading `dir` fails with a one-line "dicom" VolumeError naming it and matching `problem`. */
async function refused(dir: string, problem: RegExp): Promise<void> {
  await assert.rejects(() => readDicomFolder(dir), (e: unknown) => {
    assert.ok(e instanceof VolumeError, String(e));
    assert.equal(e.file, dir);
    assert.ok(!e.message.includes("\n"), e.message);
    assert.ok(e.message.startsWith(`${dir}: `), e.message);
    assert.match(e.problem, problem);
    return true;
  });
}

/** The z of ImagePositionPatient of a file. */
async function z(path: string): Promise<number> {
  const ds = dicomParser.parseDicom(await Deno.readFile(path));
  return Number(ds.string("x00200032")!.split("\\")[2]);
}

Deno.test("no DICOM at all, or no files", async () => {
  const dir = await Deno.makeTempDir();
  await refused(dir, /^no files at all/);
  await Deno.writeTextFile(`${dir}/notes.txt`, "not DICOM");
  await Deno.writeFile(`${dir}/empty.dcm`, new Uint8Array(0));
  await refused(dir, /^no DICOM files among 2 files$/);
  await assert.rejects(() => readDicomFolder(`${dir}/missing`), /missing: folder not found/);
});

Deno.test("no CT image: only a SEG, or only an RTSTRUCT", async () => {
  const seg = await copyFolder(GE_DIR, (n) => n === "liver.dcm");
  await refused(seg, /^no CT image series \(found 1 SEG file\)$/);
  const rt = await Deno.makeTempDir();
  const rtClass = "1.2.840.10008.5.1.4.1.1.481.3";
  await Deno.writeFile(
    `${rt}/rt.dcm`,
    encodePart10(rtClass, "2.25.1", [
      { tag: 0x00080016, vr: "UI", value: rtClass },
      { tag: 0x00080018, vr: "UI", value: "2.25.1" },
      { tag: 0x00080060, vr: "CS", value: "RTSTRUCT" },
    ]),
  );
  await refused(rt, /^no CT image series \(found 1 RTSTRUCT file\)$/);
});

Deno.test("a missing slice", async () => {
  const names = await sampleNames();
  const dir = await copyFolder(SAMPLE_C, (n) => n !== names[7]);
  await refused(dir, /^missing slice: 4\.000 mm between CT\.\S+ and CT\.\S+, 2\.000 mm elsewhere$/);
});

Deno.test("a duplicated slice position; the same instance twice is read once", async () => {
  const names = await sampleNames();
  const dir = await copyFolder(SAMPLE_C);
  // The same file under another name: one instance, read once with a note.
  await Deno.copyFile(`${dir}/${names[3]}`, `${dir}/copy-of-slice`);
  const { volume, notes } = await readDicomFolder(dir);
  assert.equal(volume.dims[2], 20);
  assert.ok(notes.some((n) => /repeats .* \(same SOP instance\): read once/.test(n)), notes.join("; "));
  await Deno.remove(`${dir}/copy-of-slice`);
  // Another instance at the position of its neighbour.
  const target = await z(`${dir}/${names[4]}`);
  await editFile(
    `${dir}/${names[5]}`,
    (b) => setText(b, "x00200032", `-249.51171875\\-437.51171875\\${target}`),
  );
  await refused(dir, /^duplicated slice position -?\d+\.\d+ mm along the normal: CT\.\S+ and CT\.\S+$/);
});

Deno.test("gantry tilt, and slice orientations that are not orthogonal", async () => {
  const names = await sampleNames();
  const tilted = await copyFolder(SAMPLE_C);
  for (const name of names) {
    const zz = await z(`${tilted}/${name}`);
    const y = -437.51171875 + 0.3 * (zz + 804.5); // 0.3 mm per mm along z: 16.7 degrees
    await editFile(`${tilted}/${name}`, (b) => setText(b, "x00200032", `-249.51171875\\${y}\\${zz}`));
  }
  await refused(
    tilted,
    /^gantry tilt or sheared slices: CT\.\S+ lies \d+\.\d+ mm off the slice normal \(16\.7 degrees\)/,
  );
  const skew = await copyFolder(SAMPLE_C);
  for (const name of names) {
    await editFile(`${skew}/${name}`, (b) => setText(b, "x00200037", "1\\0\\0\\1\\0\\0"));
  }
  await refused(skew, /ImageOrientationPatient \[1, 0, 0, 1, 0, 0\] is not two orthogonal unit vectors/);
});

Deno.test("mixed image sizes or orientations in one series", async () => {
  const sizes = await copyFolder(GE_DIR);
  await editFile(`${sizes}/ct-3slice_02.dcm`, (b) => setUs(b, "x00280010", 256));
  await refused(
    sizes,
    /^mixed image sizes in one series: ct-3slice_0\d\.dcm is 512x512, ct-3slice_0\d\.dcm is 512x256$/,
  );
  const orientations = await copyFolder(GE_DIR);
  await editFile(
    `${orientations}/ct-3slice_02.dcm`,
    (b) => setText(b, "x00200037", "0.000000\\1.000000\\0.000000\\1.000000\\0.000000\\0.000000"),
  );
  await refused(orientations, /^mixed orientations in one series: /);
});

Deno.test("enhanced multi-frame CT is refused by name", async () => {
  const dir = await Deno.makeTempDir();
  const enhanced = "1.2.840.10008.5.1.4.1.1.2.1";
  await Deno.writeFile(
    `${dir}/enhanced.dcm`,
    encodePart10(enhanced, "2.25.2", [
      { tag: 0x00080016, vr: "UI", value: enhanced },
      { tag: 0x00080018, vr: "UI", value: "2.25.2" },
      { tag: 0x00080060, vr: "CS", value: "CT" },
      { tag: 0x00280008, vr: "IS", value: "2" },
      { tag: 0x00280010, vr: "US", value: [2] },
      { tag: 0x00280011, vr: "US", value: [2] },
      { tag: 0x00280100, vr: "US", value: [16] },
      { tag: 0x7fe00010, vr: "OW", value: new Uint8Array(16) },
    ]),
  );
  await refused(dir, /^enhanced\.dcm: enhanced multi-frame CT \(2 frames in one file\) is not supported/);
});

Deno.test("an unsupported transfer syntax is named; corrupt pixel data and truncated files name the file", async () => {
  const names = await sampleNames();
  const lossy = await copyFolder(SAMPLE_C);
  await editFile(`${lossy}/${names[2]}`, (b) => setText(b, "x00020010", "1.2.840.10008.1.2.4.50", "\0"));
  await refused(
    lossy,
    new RegExp(
      `^${
        names[2].replaceAll(".", "\\.")
      }: unsupported transfer syntax: JPEG Baseline \\(lossy 8-bit\\) \\(1\\.2\\.840\\.10008\\.1\\.2\\.4\\.50\\)$`,
    ),
  );
  const corrupt = await copyFolder(SAMPLE_C);
  await editFile(`${corrupt}/${names[2]}`, (b) => {
    const ds = dicomParser.parseDicom(b);
    const frag = ds.elements.x7fe00010.fragments!.find((f) => f.length > 0)!;
    b.fill(0x55, frag.position, frag.position + 200); // the codestream's header
  });
  await refused(corrupt, /^CT\.\S+: JPEG 2000 decoding failed/);
  const truncated = await copyFolder(SAMPLE_C);
  const bytes = await Deno.readFile(`${truncated}/${names[2]}`);
  await Deno.writeFile(`${truncated}/${names[2]}`, bytes.subarray(0, 1000));
  await refused(truncated, /^CT\.\S+: corrupt DICOM file: /);
});
