import assert from "node:assert/strict";
import * as niftiReader from "nifti-reader-js";
import { multiplyAffine, scaleAffine } from "../../src/volume/affine.ts";
import { datatypeByName, type DatatypeName } from "../../src/volume/datatypes.ts";
import { VolumeError } from "../../src/volume/errors.ts";
import { gzip } from "../../src/volume/gzip.ts";
import { parseNiftiHeader } from "../../src/volume/nifti-header.ts";
import { readLabels, readNifti } from "../../src/io/volumes.ts";
import { encodeNifti, xformCodesOf } from "../../src/volume/nifti-write.ts";
import { writeNifti } from "../../src/io/volumes.ts";
import { axisCodes } from "../../src/volume/orientation.ts";
import { qformToAffine } from "../../src/volume/qform.ts";
import type { Affine, Vec3 } from "../../src/volume/types.ts";
import { niftiBytes, SAMPLE_CT, SAMPLE_LABELS, tempDir, view, writeBytes } from "./_synth.ts";

/** Asserts two affines agree within `tol`. */
function assertAffineClose(actual: Affine, expected: Affine, tol: number) {
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `entry ${i}: ${v} vs ${expected[i]}`));
}

/** True when two arrays hold the same values. */
function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(a[i] !== a[i] && b[i] !== b[i])) return false;
  return true;
}

/** An oblique left-handed (LAS-like) affine: 30 degrees about z, spacing 0.8 x 0.8 x 2.5, x flipped. */
const OBLIQUE: Affine = (() => {
  const c = Math.cos(Math.PI / 6), s = Math.sin(Math.PI / 6);
  const rot = [c, -s, 0, 0, s, c, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  return multiplyAffine(rot, [-0.8, 0, 0, 120.5, 0, 0.8, 0, 95.25, 0, 0, 2.5, -300, 0, 0, 0, 1]);
})();

Deno.test("sample CT: grid, orientation, datatype, intensity range and label counts", async () => {
  const ct = await readNifti(SAMPLE_CT);
  assert.deepEqual(ct.dims, [122, 101, 112]);
  assert.deepEqual(ct.spacing, [3, 3, 3]);
  assert.equal(ct.header.affineSource, "sform");
  assert.equal(ct.header.datatype.name, "int16");
  assert.equal(axisCodes(ct.affine), "RAS");
  assert.deepEqual(ct.affine.slice(0, 4), [3, 0, 0, -177.95632934570312]);
  let min = Infinity, max = -Infinity;
  for (const v of ct.data) [min, max] = [Math.min(min, v), Math.max(max, v)];
  assert.deepEqual([min, max], [-1207, 3382]);

  const labels = await readLabels(SAMPLE_LABELS);
  const counts = new Array(8).fill(0);
  for (const v of labels.data) counts[v]++;
  assert.deepEqual(counts, [1318929, 1839, 1086, 41692, 9668, 4836, 1319, 695]);
  assert.deepEqual(labels.affine, ct.affine);
});

Deno.test("sample CT round trip: read -> write -> read gives identical voxels and affine", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const ct = await readNifti(SAMPLE_CT);
    await writeNifti(`${dir}/ct.nii.gz`, ct, xformCodesOf(ct.header));
    const back = await readNifti(`${dir}/ct.nii.gz`);
    assert.deepEqual(back.dims, ct.dims);
    assert.deepEqual(back.affine, ct.affine);
    assert.deepEqual([back.header.sformCode, back.header.qformCode], [2, 1]);
    assert.ok(sameValues(back.data, ct.data), "voxels differ");

    const labels = await readLabels(SAMPLE_LABELS);
    await writeNifti(`${dir}/labels.nii.gz`, labels);
    const labelsBack = await readLabels(`${dir}/labels.nii.gz`);
    assert.equal(labelsBack.header.datatype.name, "uint8");
    assert.deepEqual(labelsBack.affine, labels.affine);
    assert.ok(sameValues(labelsBack.data, labels.data), "labels differ");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["ct.nii.gz", "labels.nii.gz"]);
  } finally {
    await cleanup();
  }
});

Deno.test("every supported datatype reads back in both byte orders", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const dims: Vec3 = [3, 2, 2];
    const samples: Record<DatatypeName, number[]> = {
      uint8: [0, 1, 7, 255],
      int8: [-128, -1, 0, 127],
      int16: [-32768, -1024, 3071, 32767],
      uint16: [0, 1, 40000, 65535],
      int32: [-2147483648, -5, 7, 2147483647],
      uint32: [0, 3, 3000000000, 4294967295],
      float32: [-1.5, 0, Math.fround(0.1), 1e30],
      float64: [-2.25, 0, 1e-3, 12345.678],
    };
    for (const [name, values] of Object.entries(samples) as [DatatypeName, number[]][]) {
      for (const littleEndian of [true, false]) {
        const data = Array.from({ length: 12 }, (_, i) => values[i % values.length]);
        const path = await writeBytes(
          dir,
          `${name}-${littleEndian}.nii`,
          niftiBytes(data, dims, { datatype: name, littleEndian }),
        );
        const vol = await readNifti(path);
        assert.equal(vol.header.datatype.code, datatypeByName(name).code);
        assert.equal(vol.header.littleEndian, littleEndian);
        assert.deepEqual(
          Array.from(vol.data),
          data.map(Math.fround),
          `${name} ${littleEndian ? "LE" : "BE"}`,
        );
      }
    }
  } finally {
    await cleanup();
  }
});

Deno.test("scl_slope and scl_inter are applied; slope 0 means no scaling", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const data = [0, 1, 2, 3, -4, 5, 6, 7];
    const scaled = await readNifti(
      await writeBytes(
        dir,
        "s.nii.gz",
        niftiBytes(data, [2, 2, 2], { datatype: "int16", sclSlope: 0.5, sclInter: -1024 }),
      ),
    );
    assert.deepEqual(Array.from(scaled.data), data.map((v) => v * 0.5 - 1024));
    const unscaled = await readNifti(
      await writeBytes(
        dir,
        "u.nii",
        niftiBytes(data, [2, 2, 2], { datatype: "int16", sclSlope: 0, sclInter: 100 }),
      ),
    );
    assert.deepEqual(Array.from(unscaled.data), data);
  } finally {
    await cleanup();
  }
});

Deno.test("affine from sform, else qform (quaternion, qfac -1), else pixdim", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const bytes = niftiBytes(new Array(24).fill(0), [2, 3, 4], { affine: OBLIQUE });
    const sform = parseNiftiHeader(bytes, "x");
    assert.equal(sform.affineSource, "sform");
    assertAffineClose(sform.affine, OBLIQUE, 1e-4);
    assert.equal(sform.pixdim[0], -1, "a left-handed affine needs qfac -1");

    view(bytes).setInt16(254, 0, true); // sform_code = 0
    const qPath = await writeBytes(dir, "q.nii.gz", bytes);
    const q = await readNifti(qPath);
    assert.equal(q.header.affineSource, "qform");
    assertAffineClose(q.affine, OBLIQUE, 1e-4);
    assert.equal(axisCodes(q.affine), "LAS");
    for (const [a, b] of q.spacing.map((s, i) => [s, [0.8, 0.8, 2.5][i]])) assert.ok(Math.abs(a - b) < 1e-6);

    view(bytes).setInt16(252, 0, true); // qform_code = 0
    const p = parseNiftiHeader(bytes, "x");
    assert.equal(p.affineSource, "pixdim");
    assertAffineClose(p.affine, scaleAffine([0.8, 0.8, 2.5]), 1e-6);
  } finally {
    await cleanup();
  }
});

Deno.test("written header: sform and qform describe the same grid; nifti-reader-js agrees", () => {
  const affine = OBLIQUE;
  const bytes = encodeNifti(new Float32Array(2 * 3 * 4), { dims: [2, 3, 4], affine });
  const h = parseNiftiHeader(bytes, "x");
  assert.equal(h.voxOffset, 352);
  assert.deepEqual([h.sformCode, h.qformCode], [1, 1]);
  assertAffineClose(qformToAffine(h.qform), h.affine, 1e-4);
  assert.deepEqual(h.pixdim.slice(1, 4).map((x) => +x.toFixed(5)), [0.8, 0.8, 2.5]);

  // An independent reader of the same bytes.
  const other = niftiReader.readHeader(bytes.buffer);
  assert.deepEqual(other.dims.slice(0, 4), [3, 2, 3, 4]);
  assert.equal(other.datatypeCode, 16);
  assert.equal(other.vox_offset, 352);
  assertAffineClose(other.affine.flat(), affine, 1e-4);
  assert.throws(
    () => encodeNifti(new Float32Array(8), { dims: [2, 2, 2], affine: new Array(16).fill(0) }),
    RangeError,
  );
});

Deno.test("NIfTI-2 (both byte orders) and 4D with one volume are read", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    for (const le of [true, false]) {
      const dims: Vec3 = [2, 2, 3];
      const n = 12, off = 544;
      const bytes = new Uint8Array(off + 4 * n);
      const v = view(bytes);
      v.setInt32(0, 540, le);
      bytes.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
      v.setInt16(12, 16, le);
      v.setInt16(14, 32, le);
      [4, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), le));
      [1, 1.5, 1.5, 4, 1, 1, 1, 1].forEach((p, i) => v.setFloat64(104 + 8 * i, p, le));
      v.setBigInt64(168, BigInt(off), le);
      v.setFloat64(176, 1, le);
      v.setInt32(348, 1, le); // sform_code
      const srow = [-1.5, 0, 0, 10.125, 0, 1.5, 0, -20, 0, 0, 4, 33.3];
      srow.forEach((x, i) => v.setFloat64(400 + 8 * i, x, le));
      for (let i = 0; i < n; i++) v.setFloat32(off + 4 * i, i * 1.25 - 3, le);
      const vol = await readNifti(await writeBytes(dir, `n2-${le}.nii.gz`, bytes));
      assert.equal(vol.header.version, 2);
      assert.deepEqual(vol.dims, dims);
      assert.deepEqual(vol.affine, [...srow, 0, 0, 0, 1]);
      assert.equal(axisCodes(vol.affine), "LAS");
      assert.deepEqual(Array.from(vol.data), Array.from({ length: n }, (_, i) => i * 1.25 - 3));
    }
    const four = niftiBytes([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    view(four).setInt16(40, 4, true);
    const vol = await readNifti(await writeBytes(dir, "4d.nii", four));
    assert.deepEqual(vol.dims, [2, 2, 2]);
  } finally {
    await cleanup();
  }
});

Deno.test("gzip is detected by content, not by name", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const gz = await gzip(niftiBytes([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]));
    const misnamed = await readNifti(await writeBytes(dir, "gz-named.nii", gz, false));
    assert.deepEqual(Array.from(misnamed.data), [1, 2, 3, 4, 5, 6, 7, 8]);
  } finally {
    await cleanup();
  }
});

Deno.test("writing is atomic: a failed write leaves nothing, a rewrite replaces the file", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const vol = { dims: [2, 2, 2] as Vec3, affine: scaleAffine([1, 1, 1]), spacing: [1, 1, 1] as Vec3 };
    await assert.rejects(
      writeNifti(`${dir}/missing/out.nii.gz`, { ...vol, data: new Uint8Array(8) }),
      (e) => e instanceof VolumeError && e.code === "write" && e.file === `${dir}/missing/out.nii.gz`,
    );
    await writeNifti(`${dir}/out.nii.gz`, { ...vol, data: new Uint8Array(8).fill(3) });
    await writeNifti(`${dir}/out.nii.gz`, { ...vol, data: new Uint8Array(8).fill(5) });
    assert.deepEqual(Array.from((await readLabels(`${dir}/out.nii.gz`)).data), new Array(8).fill(5));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.nii.gz"]);
  } finally {
    await cleanup();
  }
});
