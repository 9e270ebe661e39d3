import assert from "node:assert/strict";
import { listCases, readCase } from "../../src/io/dataset.ts";
import { VolumeError } from "../../src/volume/errors.ts";
import { parseLabelRemap } from "../../src/volume/labels.ts";
import { niftiBytes, tempDir, writeBytes } from "./_synth.ts";

const IMAGE = niftiBytes([0, 1, 2, 3, 4, 5, 6, 7], [2, 2, 2], { datatype: "int16" });
const LABELS = niftiBytes([0, 1, 0, 7, 0, 0, 3, 0], [2, 2, 2]);

/** Asserts a VolumeError of `code` whose message matches `pattern`. */
async function rejects(promise: Promise<unknown>, code: string, pattern: RegExp) {
  await assert.rejects(
    promise,
    (e) => e instanceof VolumeError && e.code === code && pattern.test(e.message),
  );
}

Deno.test("pairs layout: CASE.nii.gz + CASE.labels.nii.gz, sorted, images without labels ignored", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    for (const id of ["b", "a"]) {
      await writeBytes(dir, `${id}.nii.gz`, IMAGE);
      await writeBytes(dir, `${id}.labels.nii.gz`, LABELS);
    }
    await writeBytes(dir, "c.nii", IMAGE);
    await writeBytes(dir, "c.labels.nii", LABELS);
    await writeBytes(dir, "unlabelled.nii.gz", IMAGE);
    await Deno.writeTextFile(`${dir}/notes.txt`, "x");
    const cases = await listCases(dir);
    assert.deepEqual(cases, [
      { id: "a", image: `${dir}/a.nii.gz`, labels: `${dir}/a.labels.nii.gz` },
      { id: "b", image: `${dir}/b.nii.gz`, labels: `${dir}/b.labels.nii.gz` },
      { id: "c", image: `${dir}/c.nii`, labels: `${dir}/c.labels.nii` },
    ]);
    const { image, labels } = await readCase(cases[0]);
    assert.deepEqual(Array.from(image.data), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(Array.from(labels.data), [0, 1, 0, 7, 0, 0, 3, 0]);
    const remapped = await readCase(cases[0], { remap: parseLabelRemap("7:1,3:2") });
    assert.deepEqual(Array.from(remapped.labels.data), [0, 0, 0, 1, 0, 0, 2, 0]);

    await writeBytes(dir, "orphan.labels.nii.gz", LABELS);
    await rejects(
      listCases(dir),
      "dataset",
      /orphan\.labels\.nii\.gz: label map without an image orphan\.nii\.gz/,
    );
  } finally {
    await cleanup();
  }
});

Deno.test("nnU-Net layout: imagesTr/CASE_0000.nii.gz, labelsTr/CASE.nii.gz", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await Deno.mkdir(`${dir}/imagesTr`);
    await Deno.mkdir(`${dir}/labelsTr`);
    await Deno.writeTextFile(
      `${dir}/dataset.json`,
      JSON.stringify({ file_ending: ".nii.gz", numTraining: 2 }),
    );
    for (const id of ["abd_002", "abd_001"]) {
      await writeBytes(dir, `imagesTr/${id}_0000.nii.gz`, IMAGE);
      await writeBytes(dir, `labelsTr/${id}.nii.gz`, LABELS);
    }
    const cases = await listCases(dir);
    assert.deepEqual(cases.map((c) => c.id), ["abd_001", "abd_002"]);
    assert.equal(cases[0].image, `${dir}/imagesTr/abd_001_0000.nii.gz`);
    assert.equal(cases[0].labels, `${dir}/labelsTr/abd_001.nii.gz`);

    await writeBytes(dir, "imagesTr/abd_001_0001.nii.gz", IMAGE);
    await rejects(listCases(dir), "dataset", /abd_001_0001\.nii\.gz: multi-channel cases are not supported/);
    await Deno.remove(`${dir}/imagesTr/abd_001_0001.nii.gz`);
    await writeBytes(dir, "labelsTr/abd_003.nii.gz", LABELS);
    await rejects(listCases(dir), "dataset", /abd_003\.nii\.gz: no image abd_003_0000\.nii\.gz in imagesTr/);
  } finally {
    await cleanup();
  }
});

Deno.test("Decathlon layout: dataset.json training list, images with or without _0000", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await Deno.mkdir(`${dir}/imagesTr`);
    await Deno.mkdir(`${dir}/labelsTr`);
    const training = [
      { image: "./imagesTr/liver_1.nii.gz", label: "./labelsTr/liver_1.nii.gz" },
      { image: "./imagesTr/liver_0.nii.gz", label: "./labelsTr/liver_0.nii.gz" },
    ];
    await Deno.writeTextFile(`${dir}/dataset.json`, JSON.stringify({ name: "Liver", training }));
    await writeBytes(dir, "imagesTr/liver_0.nii.gz", IMAGE);
    await writeBytes(dir, "imagesTr/liver_1_0000.nii.gz", IMAGE);
    for (const id of ["liver_0", "liver_1"]) await writeBytes(dir, `labelsTr/${id}.nii.gz`, LABELS);
    const cases = await listCases(dir);
    assert.deepEqual(cases, [
      { id: "liver_0", image: `${dir}/imagesTr/liver_0.nii.gz`, labels: `${dir}/labelsTr/liver_0.nii.gz` },
      {
        id: "liver_1",
        image: `${dir}/imagesTr/liver_1_0000.nii.gz`,
        labels: `${dir}/labelsTr/liver_1.nii.gz`,
      },
    ]);
    await Deno.writeTextFile(`${dir}/dataset.json`, "{ not json");
    await rejects(listCases(dir), "dataset", /dataset\.json: unreadable dataset\.json/);
  } finally {
    await cleanup();
  }
});

Deno.test("missing or empty dataset folders are errors", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await rejects(listCases(`${dir}/nope`), "not-found", /nope: folder not found/);
    await rejects(listCases(dir), "dataset", /no training cases/);
  } finally {
    await cleanup();
  }
});
