// DICOM Segmentation out and back: dcmqi's liver SEG read onto its slices equals its NRRD mask
// exactly; our SEG round-trips on awkward grids; the written object checked field by field with
// dicom-parser and, where Debian's python3-pydicom is installed, by pydicom.
import assert from "node:assert/strict";
import dicomParser from "dicom-parser";
import {
  decodeDicomSeg,
  type DicomSeriesInfo,
  encodeDicomSeg,
  organLabels,
  readDicomSeries,
  rgbToDicomLab,
} from "../../src/volume/dicom/mod.ts";
import { seriesAffine } from "../../src/volume/dicom/seg-write.ts";
import { encodeDataset, encodePart10 } from "../../src/volume/dicom/write.ts";
import { VolumeError } from "../../src/volume/errors.ts";
import type { Vec3, Volume } from "../../src/volume/types.ts";
import { spacingOf } from "../../src/volume/affine.ts";
import { rng } from "../_helpers.ts";
import { readNrrd } from "./_nrrd.ts";
import { folderFiles, GE_DIR } from "./_files.ts";

const GE = await readDicomSeries(await folderFiles(GE_DIR), { source: GE_DIR });

Deno.test("dcmqi's liver SEG read onto its slices equals its NRRD mask exactly", async () => {
  const seg = decodeDicomSeg(await Deno.readFile(`${GE_DIR}/liver.dcm`), GE.info, "liver.dcm");
  assert.equal(seg.segments.length, 1);
  assert.equal(seg.segments[0].label, "Liver");
  assert.equal(seg.segments[0].organ, 3); // SNOMED RT T-62000
  assert.equal(seg.overlaps, 0);
  const nrrd = await readNrrd(await Deno.readFile(`${GE_DIR}/liver_seg.nrrd`));
  assert.deepEqual(nrrd.sizes, [512, 512, 3]);
  const [nx, ny, nz] = seg.volume.dims;
  let differ = 0, liver = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const ours = seg.volume.data[i + nx * (j + ny * k)];
        const theirs = nrrd.data[i + nx * (ny - 1 - j + ny * k)]; // NRRD rows run top-down (LPS)
        if (ours !== theirs) differ++;
        if (theirs) liver++;
      }
    }
  }
  assert.ok(liver > 100000, `${liver} liver voxels`);
  assert.equal(differ, 0);
  assert.deepEqual(seg.volume.affine, GE.volume.affine);
  assert.deepEqual(organLabels(seg).data.filter((v) => v !== 0 && v !== 3).length, 0);
});

/** A series description for a synthetic oblique grid (no files behind it). */
function syntheticInfo(columns: number, rows: number, slices: number): DicomSeriesInfo {
  const c = Math.cos(0.3), s = Math.sin(0.3);
  const orientation = [c, s, 0, 0, 0, -1]; // an oblique coronal-like plane
  const normal: Vec3 = [s * -1 - 0, -(c * -1), 0];
  return {
    source: "synthetic",
    seriesId: "2.25.11",
    seriesUid: "2.25.11",
    studyUid: "2.25.12",
    frameOfReferenceUid: "2.25.13",
    generated: { study: false, series: false, frameOfReference: false },
    description: "synthetic",
    rows,
    columns,
    orientation,
    pixelSpacing: [0.7, 1.3],
    sliceSpacing: 2.5,
    slices: Array.from({ length: slices }, (_, k) => ({
      file: `f${k}`,
      sopClassUid: "1.2.840.10008.5.1.4.1.1.2",
      sopInstanceUid: `2.25.${100 + k}`,
      position: [10 + 2.5 * k * normal[0], -20 + 2.5 * k * normal[1], 5 + 2.5 * k * normal[2]] as Vec3,
    })),
    transferSyntaxes: ["Explicit VR Little Endian"],
    copied: [{ tag: 0x00100010, vr: "PN", bytes: new TextEncoder().encode("Doe^Jane") }],
  };
}

/** Random organ labels on a series' grid, with some organs left out. */
function randomLabels(info: DicomSeriesInfo, seed: number, organs: number[]): Volume<Uint8Array> {
  const random = rng(seed);
  const dims: Vec3 = [info.columns, info.rows, info.slices.length];
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let i = 0; i < data.length; i++) {
    if (random() < 0.6) data[i] = organs[Math.floor(random() * organs.length)];
  }
  const affine = seriesAffine(info);
  return { dims, affine, spacing: spacingOf(affine), data };
}

Deno.test("our SEG round-trips on awkward oblique grids, with defined and undefined sequence lengths", () => {
  for (const [columns, rows, slices] of [[7, 5, 4], [1, 3, 2], [13, 11, 3]]) {
    const info = syntheticInfo(columns, rows, slices);
    for (const sequenceLength of ["defined", "undefined"] as const) {
      const labels = randomLabels(info, columns * rows, [2, 3, 7]);
      labels.data[labels.data.length - 1] = 3; // the last voxel: bits that end mid-byte
      const bytes = encodeDicomSeg(labels, info, { sequenceLength });
      const seg = decodeDicomSeg(bytes, info);
      assert.deepEqual(seg.segments.map((s) => [s.number, s.organ, s.label]), [
        [1, 2, "portal vein"],
        [2, 3, "liver"],
        [3, 7, "pancreas"],
      ]);
      assert.deepEqual(organLabels(seg).data, labels.data, `${columns}x${rows}x${slices} ${sequenceLength}`);
      assert.deepEqual(seg.volume.affine, labels.affine);
    }
  }
});

Deno.test("the SEG writer refuses labels on another grid, an empty segmentation and unknown labels", () => {
  const info = syntheticInfo(4, 3, 2);
  const labels = randomLabels(info, 1, [1]);
  assert.throws(
    () => encodeDicomSeg({ ...labels, dims: [3, 4, 2] }, info),
    (e) => e instanceof VolumeError && /label map 3x4x2 is not on the series' grid 4x3x2/.test(e.message),
  );
  const shifted = labels.affine.slice();
  shifted[3] += 0.5;
  assert.throws(
    () => encodeDicomSeg({ ...labels, affine: shifted }, info),
    /affine differs from the series' by 0\.5000 mm/,
  );
  assert.throws(
    () => encodeDicomSeg({ ...labels, data: new Uint8Array(24) }, info),
    /synthetic: no organ in the segmentation/,
  );
  const nine = labels.data.slice();
  nine[5] = 9;
  assert.throws(() => encodeDicomSeg({ ...labels, data: nine }, info), /label 9 has no organ code/);
  // A SEG of another grid is refused when read back.
  const bytes = encodeDicomSeg(labels, info);
  assert.throws(
    () => decodeDicomSeg(bytes, syntheticInfo(5, 3, 2), "x.dcm"),
    /^VolumeError: x\.dcm: SEG frames are 4x3, the series' slices 5x3/,
  );
  const moved = syntheticInfo(4, 3, 2);
  moved.slices = moved.slices.map((s, k) => ({
    ...s,
    sopInstanceUid: `2.25.9${k}`,
    position: [s.position[0], s.position[1], s.position[2] + 50],
  }));
  const renamed = syntheticInfo(4, 3, 2);
  renamed.slices = renamed.slices.map((s, k) => ({
    ...s,
    position: [s.position[0], s.position[1], s.position[2] + k],
  }));
  assert.throws(() => decodeDicomSeg(bytes, renamed), /frame 2 references f1 but lies 1\.000 mm from it/);
  assert.throws(() => decodeDicomSeg(bytes, moved), /frame 1 matches no slice of the series/);
});

/** The items of a sequence in a dicom-parser dataset. */
const items = (ds: dicomParser.DataSet, tag: string) => ds.elements[tag].items!.map((i) => i.dataSet!);

Deno.test("the written SEG, field by field through dicom-parser", () => {
  const labels = randomLabels(GE.info, 2, [3, 4]);
  // Slice 1 (k = 1) holds no spleen: its frame must be left out.
  for (let i = 512 * 512; i < 2 * 512 * 512; i++) if (labels.data[i] === 4) labels.data[i] = 0;
  const bytes = encodeDicomSeg(labels, GE.info, { date: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) });
  const ds = dicomParser.parseDicom(bytes);
  // File meta: group length covers exactly the meta elements after it.
  const groupLength = ds.uint32("x00020000")!;
  const metaEnd = Math.max(
    ...Object.values(ds.elements).filter((e) => e.tag.startsWith("x0002")).map((e) =>
      e.dataOffset + e.length
    ),
  );
  assert.equal(132 + 12 + groupLength, metaEnd);
  assert.equal(ds.string("x00020010"), "1.2.840.10008.1.2.1");
  assert.equal(ds.string("x00020002"), "1.2.840.10008.5.1.4.1.1.66.4");
  assert.equal(ds.string("x00020003"), ds.string("x00080018"));
  assert.equal(ds.string("x00080016"), "1.2.840.10008.5.1.4.1.1.66.4");
  assert.equal(ds.string("x00080060"), "SEG");
  assert.equal(ds.string("x00620001"), "BINARY");
  assert.equal(ds.string("x00080023"), "20260102");
  assert.equal(ds.string("x00080033"), "030405");
  // Patient and study copied from the source; frame of reference shared; a new series.
  assert.equal(ds.string("x00100010"), "JANCT000");
  assert.equal(ds.string("x00100020"), "99000");
  assert.equal(ds.string("x0020000d"), GE.info.studyUid);
  assert.equal(ds.string("x00200052"), GE.info.frameOfReferenceUid);
  assert.notEqual(ds.string("x0020000e"), GE.info.seriesUid);
  assert.match(ds.string("x0020000e")!, /^2\.25\.\d+$/);
  // The source series and every one of its instances.
  const refSeries = items(ds, "x00081115");
  assert.equal(refSeries.length, 1);
  assert.equal(refSeries[0].string("x0020000e"), GE.info.seriesUid);
  assert.deepEqual(
    items(refSeries[0], "x0008114a").map((i) => i.string("x00081155")),
    GE.info.slices.map((s) => s.sopInstanceUid),
  );
  // Segments: liver then spleen, SNOMED CT codes, CIELab colours.
  const segments = items(ds, "x00620002");
  assert.deepEqual(
    segments.map((s) => [s.uint16("x00620004"), s.string("x00620005"), s.string("x00620008")]),
    [
      [1, "liver", "AUTOMATIC"],
      [2, "spleen", "AUTOMATIC"],
    ],
  );
  const type = (s: dicomParser.DataSet) => items(s, "x0062000f")[0];
  assert.deepEqual(segments.map((s) => [type(s).string("x00080100"), type(s).string("x00080102")]), [
    ["10200004", "SCT"],
    ["78961009", "SCT"],
  ]);
  assert.equal(items(segments[0], "x00620003")[0].string("x00080100"), "123037004");
  assert.equal(segments[0].uint16("x0062000d", 2) !== undefined, true);
  // Frames: liver on 3 slices, spleen on 2 (slice k = 1 left out), in segment then slice order.
  assert.equal(ds.intString("x00280008"), 5);
  const frames = items(ds, "x52009230");
  const expected = [[1, 0], [1, 1], [1, 2], [2, 0], [2, 2]];
  assert.equal(frames.length, 5);
  frames.forEach((f, n) => {
    const [segment, k] = expected[n];
    const slice = GE.info.slices[k];
    assert.deepEqual([0, 1].map((i) => items(f, "x00209111")[0].uint32("x00209157", i)), [segment, k + 1]);
    assert.equal(items(f, "x0062000a")[0].uint16("x0062000b"), segment);
    const source = items(items(f, "x00089124")[0], "x00082112")[0];
    assert.equal(source.string("x00081150"), "1.2.840.10008.5.1.4.1.1.2");
    assert.equal(source.string("x00081155"), slice.sopInstanceUid);
    assert.equal(items(source, "x0040a170")[0].string("x00080100"), "121322");
    const ipp = items(f, "x00209113")[0].string("x00200032")!.split("\\").map(Number);
    assert.deepEqual(ipp, slice.position);
  });
  const shared = items(ds, "x52009229")[0];
  assert.deepEqual(
    items(shared, "x00209116")[0].string("x00200037")!.split("\\").map(Number),
    GE.info.orientation,
  );
  assert.equal(items(shared, "x00289110")[0].string("x00280030"), "0.810547\\0.810547");
  // Pixels: 1 bit, packed, even length.
  assert.deepEqual(["x00280100", "x00280101", "x00280102", "x00280103"].map((t) => ds.uint16(t)), [
    1,
    1,
    0,
    0,
  ]);
  const pixels = ds.elements.x7fe00010;
  assert.equal(pixels.length, Math.ceil(5 * 512 * 512 / 8));
  // Dimension index pointers: segment number, then plane position.
  const dims = items(ds, "x00209222");
  assert.deepEqual(dims.map((d) => d.attributeTag("x00209165")), ["x0062000b", "x00200032"]);
});

Deno.test("colours: sRGB to DICOM CIELab as dcmqi writes Slicer's liver colour", () => {
  const lab = rgbToDicomLab([221, 130, 101]); // dcmqi's liver.dcm: 41661\41167\40792
  [41661, 41167, 40792].forEach((v, i) => assert.ok(Math.abs(lab[i] - v) <= 4, `${lab} vs dcmqi`));
  [65535, 32896, 32896].forEach((v, i) => assert.ok(Math.abs(rgbToDicomLab([255, 255, 255])[i] - v) <= 2));
});

Deno.test("the Part-10 writer: padding, value lengths, tag order, duplicates", () => {
  const ds = encodeDataset([
    { tag: 0x00100010, vr: "PN", value: "Odd" },
    { tag: 0x00080018, vr: "UI", value: "1.2.3" },
    { tag: 0x00091001, vr: "OB", value: new Uint8Array([7]) },
  ]);
  // Sorted by tag; UI padded with NUL, PN with a space, OB with zero.
  assert.deepEqual([...ds.subarray(0, 8)], [0x08, 0, 0x18, 0, 0x55, 0x49, 6, 0]);
  assert.equal(new TextDecoder().decode(ds.subarray(8, 14)), "1.2.3\0");
  assert.deepEqual([...ds.subarray(14, 26)], [0x09, 0, 0x01, 0x10, 0x4f, 0x42, 0, 0, 2, 0, 0, 0]);
  assert.deepEqual([...ds.subarray(26, 28)], [7, 0]);
  assert.equal(new TextDecoder().decode(ds.subarray(36, 40)), "Odd ");
  assert.throws(() => encodeDataset([{ tag: 0x00100010, vr: "LO", value: "x".repeat(70000) }]), /too long/);
  assert.throws(
    () => encodeDataset([{ tag: 1, vr: "US", value: [1] }, { tag: 1, vr: "US", value: [2] }]),
    /appears twice/,
  );
  assert.throws(() => encodeDataset([{ tag: 1, vr: "LO", value: "é€" }]), /outside Latin-1/);
  assert.throws(() => encodePart10("1.2", "1.3", [{ tag: 0x00020010, vr: "UI", value: "1" }]), /file meta/);
});

/** Debian's pydicom (python3-pydicom, python3-numpy), if installed: its reading of a file as JSON. */
async function pydicom(path: string): Promise<Record<string, unknown> | string> {
  const script = `
import json, sys
try:
    import pydicom, numpy
except ImportError as e:
    print(json.dumps({"skip": str(e)})); sys.exit(0)
ds = pydicom.dcmread(sys.argv[1])
px = ds.pixel_array
if px.ndim == 2: px = px[None]
frames = []
for f in ds.PerFrameFunctionalGroupsSequence:
    src = f.DerivationImageSequence[0].SourceImageSequence[0]
    frames.append([int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber), src.ReferencedSOPInstanceUID,
                   [float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient]])
print(json.dumps({
  "version": pydicom.__version__,
  "sopClass": ds.SOPClassUID, "modality": ds.Modality, "study": ds.StudyInstanceUID,
  "frameOfReference": ds.FrameOfReferenceUID, "patient": str(ds.PatientName),
  "segments": [[int(s.SegmentNumber), s.SegmentLabel, s.SegmentedPropertyTypeCodeSequence[0].CodeValue] for s in ds.SegmentSequence],
  "frames": frames, "shape": list(px.shape), "sums": [int(v) for v in px.reshape(px.shape[0], -1).sum(axis=1)],
  "referenced": [i.ReferencedSOPInstanceUID for i in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence],
}))
`;
  let out;
  try {
    out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", script, path],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    return `no /usr/bin/python3 (${(e as Error).name})`;
  }
  const text = new TextDecoder();
  if (out.code !== 0) throw new Error(`pydicom failed: ${text.decode(out.stderr)}`);
  const json = JSON.parse(text.decode(out.stdout));
  return json.skip
    ? `pydicom or numpy not installed (${json.skip}); apt-get install python3-pydicom python3-numpy`
    : json;
}

/** Whether Debian's pydicom is there (./run test installs it); without it the test is ignored, not passed. */
const HAS_PYDICOM = Deno.permissions.querySync({ name: "run" }).state === "granted" &&
  new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import pydicom, numpy"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().code === 0;

Deno.test({
  name: "pydicom reads our SEG: segments, frames, source references and pixels",
  ignore: !HAS_PYDICOM,
  async fn() {
    const labels = randomLabels(GE.info, 4, [1, 6]);
    const bytes = encodeDicomSeg(labels, GE.info);
    const path = await Deno.makeTempFile({ suffix: ".dcm" });
    await Deno.writeFile(path, bytes);
    const r = await pydicom(path);
    if (typeof r === "string") {
      console.log(`skipped: ${r}`);
      return;
    }
    console.log(`pydicom ${r.version}`);
    assert.equal(r.sopClass, "1.2.840.10008.5.1.4.1.1.66.4");
    assert.equal(r.modality, "SEG");
    assert.equal(r.study, GE.info.studyUid);
    assert.equal(r.frameOfReference, GE.info.frameOfReferenceUid);
    assert.equal(r.patient, "JANCT000");
    assert.deepEqual(r.segments, [[1, "artery", "15825003"], [2, "gallbladder", "28231008"]]);
    assert.deepEqual(r.referenced, GE.info.slices.map((s) => s.sopInstanceUid));
    assert.deepEqual(r.shape, [6, 512, 512]);
    const frames = r.frames as [number, string, number[]][];
    const sums = r.sums as number[];
    frames.forEach(([segment, sop, position], n) => {
      const k = n % 3;
      assert.equal(segment, n < 3 ? 1 : 2);
      assert.equal(sop, GE.info.slices[k].sopInstanceUid);
      assert.deepEqual(position, GE.info.slices[k].position);
      const label = segment === 1 ? 1 : 6;
      const count = labels.data.subarray(k * 512 * 512, (k + 1) * 512 * 512).filter((v) =>
        v === label
      ).length;
      assert.equal(sums[n], count, `frame ${n + 1}`);
    });
  },
});
