// The DICOM series reader against an independent decoding of the sample series (voxels exact, affine
// to 1e-3 mm), on the GE slices, with shuffled files, with two series in one folder.
import assert from "node:assert/strict";
import { readDicomSeries } from "../../src/volume/dicom/mod.ts";
import { readNifti } from "../../src/io/volumes.ts";
import { maxAbsDifference } from "../../src/volume/affine.ts";
import { axisCodes } from "../../src/volume/orientation.ts";
import { rng } from "../_helpers.ts";
import { readNrrd } from "./_nrrd.ts";
import { difference, folderFiles, GE_DIR, SAMPLE_C, SAMPLE_C_REFERENCE } from "./_files.ts";

Deno.test("the JPEG 2000 sample series reads exactly as the reference volume (voxels, grid, affine)", async () => {
  const files = await folderFiles(SAMPLE_C);
  const t0 = performance.now();
  const { volume, info, notes } = await readDicomSeries(files, { source: SAMPLE_C });
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `read 20 slices of 512x512 JPEG 2000 in ${seconds.toFixed(2)} s (${(20 / seconds).toFixed(1)} slices/s)`,
  );
  const ref = await readNifti(SAMPLE_C_REFERENCE);
  assert.deepEqual(volume.dims, ref.dims);
  assert.ok(maxAbsDifference(volume.affine, ref.affine) < 1e-3, `affine ${volume.affine} vs ${ref.affine}`);
  assert.equal(axisCodes(volume.affine), "LAS");
  assert.deepEqual(difference(volume.data, ref.data), { max: 0, count: 0 });
  assert.deepEqual(volume.spacing.map((s) => +s.toFixed(7)), [0.9765625, 0.9765625, 2]);
  // The anonymised files have no dataset UIDs: the media storage UIDs identify the slices.
  assert.equal(info.slices.length, 20);
  for (const s of info.slices) {
    assert.equal(s.sopClassUid, "1.2.840.10008.5.1.4.1.1.2");
    assert.equal(`CT.${s.sopInstanceUid}`, s.file);
  }
  assert.deepEqual(info.generated, { study: true, series: true, frameOfReference: false });
  assert.equal(info.frameOfReferenceUid, "1.3.12.2.1107.5.1.4.60064.30000022120807274275100000041");
  assert.match(info.studyUid, /^2\.25\.\d+$/);
  assert.ok(
    notes.some((n) => /no StudyInstanceUID/.test(n)) && notes.some((n) => /no SeriesInstanceUID/.test(n)),
  );
  // Slices ascend along the normal: the first file is the lowest slice.
  assert.ok(info.slices.every((s, k) => k === 0 || s.position[2] > info.slices[k - 1].position[2]));
  assert.ok(seconds < 10, `reading took ${seconds} s`);
});

Deno.test("the GE slices: implicit VR, sorted by position, grid as dcmqi's NRRD of them", async () => {
  const { volume, info, notes } = await readDicomSeries(await folderFiles(GE_DIR), { source: GE_DIR });
  assert.deepEqual(volume.dims, [512, 512, 3]);
  // LICENSE and the NRRD are not DICOM; liver.dcm is a series of its own, not a CT one.
  assert.deepEqual(notes, ["skipped 2 non-DICOM files", "ignored what is not a CT image: 1 SEG file"]);
  assert.deepEqual(info.slices.map((s) => s.file), [
    "ct-3slice_03.dcm",
    "ct-3slice_02.dcm",
    "ct-3slice_01.dcm",
  ]);
  // The NRRD (LPS, rows top-down) says where voxel (0,0,0) is: our j runs bottom-up, x and y negated.
  const nrrd = await readNrrd(await Deno.readFile(`${GE_DIR}/liver_seg.nrrd`));
  const origin = nrrd.fields["space origin"].replace(/[()]/g, "").split(",").map(Number);
  const d = 0.810547;
  const expected = [-d, 0, 0, -origin[0], 0, d, 0, -(origin[1] + 511 * d), 0, 0, 1, origin[2], 0, 0, 0, 1];
  assert.ok(maxAbsDifference(volume.affine, expected) < 1e-3, `${volume.affine}`);
  // Padding pixels (-2000 stored, slope 1, intercept -1024) come out as -3024 HU in the corners.
  assert.equal(volume.data[0], -3024);
  assert.equal(info.studyUid, "1.2.392.200103.20080913.113635.0.2009.6.22.21.43.10.22941.1");
  assert.deepEqual(info.generated, { study: false, series: false, frameOfReference: false });
});

Deno.test("the order of the files does not matter", async () => {
  const files = await folderFiles(SAMPLE_C);
  const a = await readDicomSeries(files, { source: SAMPLE_C });
  const random = rng(7);
  const shuffled = files.map((f) => ({ f, r: random() })).sort((x, y) => x.r - y.r).map((x) => x.f);
  assert.notDeepEqual(shuffled.map((f) => f.name), files.map((f) => f.name));
  const b = await readDicomSeries(shuffled, { source: SAMPLE_C });
  assert.deepEqual(b.volume.affine, a.volume.affine);
  assert.deepEqual(b.info.slices, a.info.slices);
  assert.deepEqual(difference(b.volume.data, a.volume.data).count, 0);
});

Deno.test("two series in one folder: the larger by default (with a note), or the one named", async () => {
  const files = [...await folderFiles(SAMPLE_C), ...await folderFiles(GE_DIR)];
  const big = await readDicomSeries(files, { source: "both" });
  assert.equal(big.volume.dims[2], 20);
  const note = big.notes.find((n) => n.startsWith("2 CT series"));
  assert.ok(note, big.notes.join("; "));
  assert.match(
    note!,
    /took "CT Body 3\.0" series-1 \(20 files\).*1\.2\.392\.200103\.20080913\.113635\.1\.2009\.6\.22\.21\.43\.10\.23430\.1 \(3 files\).*--series/,
  );
  const ge = await readDicomSeries(files, {
    source: "both",
    series: "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1",
  });
  assert.deepEqual(ge.volume.dims, [512, 512, 3]);
  const unnamed = await readDicomSeries(files, { source: "both", series: "series-1" });
  assert.equal(unnamed.volume.dims[2], 20);
  await assert.rejects(
    () => readDicomSeries(files, { source: "both", series: "1.2.3" }),
    /^VolumeError: both: no series 1\.2\.3; the CT series here: "CT Body 3\.0" series-1 \(20 files\), /,
  );
  // The SEG is a series of its own, but not a CT one.
  await assert.rejects(
    () =>
      readDicomSeries(files, { source: "both", series: "1.2.276.0.7230010.3.1.3.0.42154.1458337731.665795" }),
    /both: series 1\.2\.276\.0\.7230010\.3\.1\.3\.0\.42154\.1458337731\.665795 holds no CT image \(1 SEG file\)/,
  );
});
