import assert from "node:assert/strict";
import { scaleAffine } from "../../src/volume/affine.ts";
import { readCase } from "../../src/io/dataset.ts";
import { LabelRemapError, VolumeError, type VolumeErrorCode } from "../../src/volume/errors.ts";
import { gzip } from "../../src/volume/gzip.ts";
import { parseLabelRemap } from "../../src/volume/labels.ts";
import { loadLabelRemap } from "../../src/io/labels.ts";
import { readLabels, readNifti } from "../../src/io/volumes.ts";
import { niftiBytes, tempDir, view, writeBytes } from "./_synth.ts";

/** Asserts that `promise` rejects with a one-line VolumeError of `code` about `file` matching `pattern`. */
async function rejectsWith(promise: Promise<unknown>, file: string, code: VolumeErrorCode, pattern: RegExp) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof VolumeError, `expected a VolumeError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.file, file);
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    assert.ok(!e.message.includes("\n"), `message has several lines: ${e.message}`);
    assert.match(e.problem, pattern);
    return true;
  });
}

/** A valid little NIfTI-1 float32 file's bytes (2x2x2). */
function good(): Uint8Array<ArrayBuffer> {
  return niftiBytes([0, 1, 2, 3, 4, 5, 6, 7], [2, 2, 2]);
}

/** `good()` with header changes applied. */
function patched(change: (v: DataView, bytes: Uint8Array) => void): Uint8Array<ArrayBuffer> {
  const bytes = good();
  change(view(bytes), bytes);
  return bytes;
}

Deno.test("bad files: missing, folder, not gzip, truncated or corrupt gzip, truncated data", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await rejectsWith(readNifti(`${dir}/none.nii.gz`), `${dir}/none.nii.gz`, "not-found", /file not found/);
    await rejectsWith(readNifti(dir), dir, "read", /is a directory/);

    const notGzip = await writeBytes(dir, "plain.nii.gz", good(), false);
    await rejectsWith(readNifti(notGzip), notGzip, "gzip", /not gzip-compressed/);

    const gz = await gzip(good());
    const cut = await writeBytes(dir, "cut.nii.gz", gz.slice(0, gz.length - 10), false);
    await rejectsWith(readNifti(cut), cut, "gzip", /truncated or corrupt gzip/);
    const corrupt = gz.slice();
    corrupt[gz.length - 6] ^= 0xff; // CRC
    const bad = await writeBytes(dir, "crc.nii.gz", corrupt, false);
    await rejectsWith(readNifti(bad), bad, "gzip", /truncated or corrupt gzip/);
    const twoMembers = new Uint8Array(2 * gz.length);
    twoMembers.set(gz);
    twoMembers.set(gz, gz.length);
    const multi = await writeBytes(dir, "multi.nii.gz", twoMembers, false);
    await rejectsWith(readNifti(multi), multi, "gzip", /after the end of the gzip stream/);

    const short = good().slice(0, 352 + 20);
    const shortNii = await writeBytes(dir, "short.nii", short);
    await rejectsWith(
      readNifti(shortNii),
      shortNii,
      "truncated",
      /image data truncated: 372 bytes, the header announces 384/,
    );
    const shortGz = await writeBytes(dir, "short.nii.gz", short);
    await rejectsWith(readNifti(shortGz), shortGz, "truncated", /image data truncated/);
    const stub = await writeBytes(dir, "stub.nii.gz", good().slice(0, 100));
    await rejectsWith(readNifti(stub), stub, "truncated", /truncated header: 100 bytes, NIfTI-1 needs 348/);
  } finally {
    await cleanup();
  }
});

Deno.test("bad headers: size field, magic, dims, 4D, datatype, offset, affine", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const cases: [string, Uint8Array<ArrayBuffer>, VolumeErrorCode, RegExp][] = [
      [
        "size.nii.gz",
        patched((v) => v.setInt32(0, 123, true)),
        "header",
        /header size field is 123, expected 348/,
      ],
      [
        "magic.nii.gz",
        patched((_, b) => b.set([0x61, 0x62, 0x63, 0], 344)),
        "header",
        /bad magic "abc\\u0000"/,
      ],
      ["pair.nii.gz", patched((_, b) => b.set([0x6e, 0x69, 0x31, 0], 344)), "header", /\.hdr\/\.img pair/],
      ["zero.nii.gz", patched((v) => v.setInt16(44, 0, true)), "dims", /dim\[2\]=0 is not positive/],
      ["neg.nii.gz", patched((v) => v.setInt16(46, -5, true)), "dims", /dim\[3\]=-5 is not positive/],
      ["ndim.nii.gz", patched((v) => v.setInt16(40, 9, true)), "dims", /dim\[0\]=9 is not in 1\.\.7/],
      [
        "4d.nii.gz",
        patched((v) => [4, 2, 2, 2, 3].forEach((d, i) => v.setInt16(40 + 2 * i, d, true))),
        "dims",
        /4D image with 3 volumes \(dim\[4\]=3\) is not supported/,
      ],
      [
        "rgb.nii.gz",
        patched((v) => v.setInt16(70, 128, true)),
        "datatype",
        /unsupported datatype 128 \(rgb24\)/,
      ],
      [
        "int64.nii.gz",
        patched((v) => v.setInt16(70, 1024, true)),
        "datatype",
        /unsupported datatype 1024 \(int64\)/,
      ],
      ["offset.nii.gz", patched((v) => v.setFloat32(108, 100, true)), "header", /vox_offset 100 lies inside/],
      [
        "singular.nii.gz",
        patched((v) => [0, 1, 2, 4, 5, 6, 8, 9, 10].forEach((i) => v.setFloat32(280 + 4 * i, 0, true))),
        "header",
        /sform affine is singular/,
      ],
    ];
    for (const [name, bytes, code, pattern] of cases) {
      const path = await writeBytes(dir, name, bytes);
      await rejectsWith(readNifti(path), path, code, pattern);
    }
  } finally {
    await cleanup();
  }
});

Deno.test("too large: overflowing dims and the byte budget are refused before allocating", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // Only the header and a few bytes exist: the refusal must come from the header alone.
    const huge = await writeBytes(
      dir,
      "huge.nii.gz",
      patched((v) => [1, 2, 3].forEach((a) => v.setInt16(40 + 2 * a, 32767, true))),
    );
    await rejectsWith(
      readNifti(huge),
      huge,
      "too-large",
      /dimensions 32767x32767x32767 = 35181150961663 voxels exceed the limit of 2147483648 voxels/,
    );
    const big = await writeBytes(
      dir,
      "big.nii",
      patched((v) => [1, 2, 3].forEach((a) => v.setInt16(40 + 2 * a, 1200, true))),
    );
    await rejectsWith(
      readNifti(big),
      big,
      "too-large",
      /1728000000 voxels need 12\.9 GiB to read, more than the 8\.0 GiB budget/,
    );
    const small = await writeBytes(dir, "small.nii.gz", good());
    await rejectsWith(
      readNifti(small, { limits: { maxVoxels: 7 } }),
      small,
      "too-large",
      /8 voxels exceed the limit of 7/,
    );
  } finally {
    await cleanup();
  }
});

Deno.test("NaN/Inf voxels are refused with their count and first position", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = await writeBytes(
      dir,
      "nan.nii.gz",
      niftiBytes([0, 1, 2, NaN, 4, Infinity, 6, 7], [2, 2, 2]),
    );
    await rejectsWith(readNifti(path), path, "non-finite", /2 NaN\/Inf voxels, the first at voxel \(1,1,0\)/);
  } finally {
    await cleanup();
  }
});

Deno.test("labels: out of range, non-integer, bad remap targets; grid mismatch with the image", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const raw = await writeBytes(
      dir,
      "raw.nii.gz",
      niftiBytes([0, 52, 52, 64, 0, 0, 5, 0], [2, 2, 2], { datatype: "int16" }),
    );
    await rejectsWith(readLabels(raw), raw, "labels", /label 52 at voxel \(1,0,0\) is outside 0\.\.7/);
    const remapped = await readLabels(raw, { remap: parseLabelRemap("52:1,64:2") });
    assert.deepEqual(Array.from(remapped.data), [0, 1, 1, 2, 0, 0, 0, 0]);
    await rejectsWith(
      readLabels(raw, { remap: new Map([[52, 9]]) }),
      raw,
      "labels",
      /outside 0\.\.7 after remapping \(52 -> 9\)/,
    );
    const frac = await writeBytes(dir, "frac.nii.gz", niftiBytes([0, 1, 2.5, 0, 0, 0, 0, 0], [2, 2, 2]));
    await rejectsWith(readLabels(frac), frac, "labels", /non-integer label value 2\.5 at voxel \(0,1,0\)/);

    const image = await writeBytes(dir, "img.nii.gz", good());
    const otherDims = await writeBytes(dir, "dims.labels.nii.gz", niftiBytes(new Uint8Array(12), [2, 2, 3]));
    await rejectsWith(
      readCase({ id: "x", image, labels: otherDims }),
      otherDims,
      "grid",
      /label grid differs from image .*img\.nii\.gz: dims 2x2x3 vs 2x2x2/,
    );
    const shifted = niftiBytes(new Uint8Array(8), [2, 2, 2], { affine: scaleAffine([2, 2, 3], [-10, 5, 9]) });
    const otherAffine = await writeBytes(dir, "aff.labels.nii.gz", shifted);
    await rejectsWith(
      readCase({ id: "x", image, labels: otherAffine }),
      otherAffine,
      "grid",
      /affine differs by up to 2 mm/,
    );
  } finally {
    await cleanup();
  }
});

Deno.test("label remap specs: bad strings and JSON files are LabelRemapErrors", async () => {
  for (
    const [spec, pattern] of [
      ["52:x", /target of 52 is "x"/],
      ["52", /"52" is not FROM:TO/],
      ["52:9", /outside 0\.\.7 after remapping: 52 -> 9/],
      ["1:1,1:2", /source id 1 is mapped twice/],
      ["", /no mappings/],
      ["a:1", /source id "a" is not an integer/],
    ] as [string, RegExp][]
  ) {
    assert.throws(
      () => parseLabelRemap(spec),
      (e) => e instanceof LabelRemapError && pattern.test(e.message),
    );
  }
  assert.deepEqual([...parseLabelRemap(" 52:1, 64:2 ,5:3")], [[52, 1], [64, 2], [5, 3]]);
  const { dir, cleanup } = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/ok.json`, '{"52": 1, "64": 2}');
    assert.deepEqual([...await loadLabelRemap(`${dir}/ok.json`)], [[52, 1], [64, 2]]);
    assert.deepEqual([...await loadLabelRemap("52:1")], [[52, 1]]);
    await Deno.writeTextFile(`${dir}/bad.json`, "{52: 1");
    await Deno.writeTextFile(`${dir}/list.json`, "[1, 2]");
    await Deno.writeTextFile(`${dir}/range.json`, '{"52": 8}');
    for (
      const [file, pattern] of [
        ["missing.json", /file not found/],
        ["bad.json", /invalid JSON/],
        ["list.json", /not an object/],
        ["range.json", /52 -> 8/],
      ] as [string, RegExp][]
    ) {
      await assert.rejects(
        loadLabelRemap(`${dir}/${file}`),
        (e) => e instanceof LabelRemapError && e.spec === `${dir}/${file}` && pattern.test(e.message),
      );
    }
  } finally {
    await cleanup();
  }
});
