// End to end on the DICOM sample series (TotalSegmentator's test data; no organ labels exist for it,
// so only the geometry and the references are checked, not the organs): deno task segment with the
// shipped demo model writes a NIfTI on the reference volume's grid and a SEG whose frames reference
// the right slices; -o X.dcm writes the SEG alone; refusals are one line and write nothing.
import assert from "node:assert/strict";
import dicomParser from "dicom-parser";
import { canSpawn, runCli } from "../_cli.ts";
import { readLabels, readNifti } from "../../src/io/volumes.ts";
import { maxAbsDifference } from "../../src/volume/affine.ts";
import { decodeDicomSeg, organLabels, readDicomSeries } from "../../src/volume/dicom/mod.ts";
import { isDicomFolder } from "../../src/io/dicom-files.ts";
import { copyFolder, folderFiles, SAMPLE_C, SAMPLE_C_REFERENCE, sampleNames } from "./_files.ts";

const items = (ds: dicomParser.DataSet, tag: string) => ds.elements[tag].items!.map((i) => i.dataSet!);

Deno.test({
  name: "deno task segment on the DICOM sample: NIfTI on the reference grid, SEG frames on the right slices",
  ignore: !canSpawn,
  async fn() {
    const dir = await Deno.makeTempDir();
    const nifti = `${dir}/c.seg.nii.gz`, seg = `${dir}/c.seg.dcm`, json = `${dir}/c.json`;
    const r = await runCli("segment.ts", [
      SAMPLE_C,
      "-o",
      nifti,
      "--dicom-seg",
      seg,
      "--json",
      json,
      "--progress",
      "off",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no SeriesInstanceUID: generated one/);
    assert.match(r.stdout, /DICOM SEG: /);
    const labels = await readLabels(nifti);
    const ref = await readNifti(SAMPLE_C_REFERENCE);
    assert.deepEqual(labels.dims, ref.dims);
    assert.ok(maxAbsDifference(labels.affine, ref.affine) < 1e-3, `${labels.affine} vs ${ref.affine}`);
    assert.equal(JSON.parse(await Deno.readTextFile(json)).dicomSeg, seg);

    // The SEG holds the same labels as the NIfTI, and each frame points at the slice it lies on.
    const { info } = await readDicomSeries(await folderFiles(SAMPLE_C), { source: SAMPLE_C });
    const bytes = await Deno.readFile(seg);
    assert.deepEqual(organLabels(decodeDicomSeg(bytes, info)).data, labels.data);
    const ds = dicomParser.parseDicom(bytes);
    const frames = items(ds, "x52009230");
    assert.ok(frames.length > 0);
    for (const f of frames) {
      const sop = items(items(f, "x00089124")[0], "x00082112")[0].string("x00081155");
      const slice = info.slices.find((s) => s.sopInstanceUid === sop);
      assert.ok(slice, `frame references ${sop}, not a slice of the series`);
      assert.equal(`CT.${sop}`, slice.file); // the sample's files are named by their instance UIDs
      const ipp = items(f, "x00209113")[0].string("x00200032")!.split("\\").map(Number);
      assert.deepEqual(ipp, slice.position);
    }
    assert.equal(ds.string("x00200052"), "1.3.12.2.1107.5.1.4.60064.30000022120807274275100000041");
    assert.equal(items(ds, "x00081115")[0].elements.x0008114a.items!.length, 20);
  },
});

Deno.test({
  name: "deno task segment -o X.dcm writes the SEG alone; DICOM refusals are one line and write nothing",
  ignore: !canSpawn,
  async fn() {
    const dir = await Deno.makeTempDir();
    const r = await runCli("segment.ts", [
      SAMPLE_C,
      "-o",
      `${dir}/c.dcm`,
      "--stage1-only",
      "--progress",
      "off",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["c.dcm"]);
    assert.equal(dicomParser.parseDicom(await Deno.readFile(`${dir}/c.dcm`)).string("x00080060"), "SEG");

    const out = await Deno.makeTempDir();
    const check = async (args: string[], pattern: RegExp) => {
      const r = await runCli("segment.ts", [...args, "--progress", "off"]);
      assert.equal(r.code, 1, r.stdout);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], pattern);
      assert.deepEqual([...Deno.readDirSync(out)], []);
    };
    const names = await sampleNames();
    const gap = await copyFolder(SAMPLE_C, (n) => n !== names[5]);
    await check(
      [gap, "-o", `${out}/x.dcm`],
      new RegExp(`^error: ${gap}: missing slice: 4\\.000 mm between `),
    );
    await check(
      [SAMPLE_C, "--series", "1.2.3", "-o", `${out}/x.nii.gz`],
      /^error: data\/dicom\/abdomen-ct-c: no series 1\.2\.3/,
    );
    await check(
      ["data/abdomen-ct-a.nii.gz", "-o", `${out}/x.dcm`],
      /^error: .*x\.dcm: a DICOM Segmentation needs a DICOM series as input$/,
    );
    await check([SAMPLE_C, "-o", `${out}/x.png`], /the output must end in \.nii, \.nii\.gz or \.dcm/);
  },
});

Deno.test({
  name: "deno task info on a DICOM folder",
  ignore: !canSpawn,
  async fn() {
    const r = await runCli("info.ts", [SAMPLE_C], { permissions: ["--allow-read", "--allow-env"] });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /format\s+DICOM series, 20 slices, JPEG 2000 Lossless/);
    assert.match(r.stdout, /dimensions\s+512 x 512 x 20/);
    assert.match(r.stdout, /orientation\s+LAS/);
    assert.ok(await isDicomFolder(SAMPLE_C));
    assert.ok(!(await isDicomFolder("models")));
    assert.ok(!(await isDicomFolder(`${SAMPLE_C}/${(await sampleNames())[0]}`)));
    // a folder that holds NIfTI files (and, deeper, a DICOM series) is a folder of CTs
    assert.ok(!(await isDicomFolder("data")));
    const data = await runCli("info.ts", ["data"], { permissions: ["--allow-read", "--allow-env"] });
    assert.equal(data.code, 1);
    assert.match(data.stderr.trim(), /^error: data: holds \d+ NIfTI file\(s\), so it is a folder of CTs/);
  },
});

Deno.test({
  name: "a folder of DICOM series folders segments as a batch, one case per series folder",
  ignore: !canSpawn,
  async fn() {
    const root = await Deno.makeTempDir(), out = await Deno.makeTempDir();
    for (const name of ["patient-a", "patient-b"]) {
      await Deno.mkdir(`${root}/${name}`);
      for (const f of await sampleNames()) await Deno.copyFile(`${SAMPLE_C}/${f}`, `${root}/${name}/${f}`);
    }
    await Deno.writeTextFile(`${root}/patient-a/notes.txt`, "not a DICOM file");
    const r = await runCli("segment.ts", [root, "-o", out, "--stage1-only", "--progress", "off"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cases: 2;/);
    // the reader's notes reach the batch's output as the case's warnings
    assert.match(r.stdout, /warning: skipped 1 non-DICOM file/);
    const a = await readLabels(`${out}/patient-a.seg.nii.gz`),
      b = await readLabels(`${out}/patient-b.seg.nii.gz`);
    assert.deepEqual(a.dims, [512, 512, 20]);
    assert.deepEqual(a.data, b.data, "the same series gives the same labels");
    // one series folder with -o naming a folder is a batch of one
    const one = await Deno.makeTempDir();
    const r1 = await runCli("segment.ts", [
      `${root}/patient-a`,
      "-o",
      `${one}/`,
      "--stage1-only",
      "--progress",
      "off",
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual((await readLabels(`${one}/patient-a.seg.nii.gz`)).data, a.data);
  },
});
