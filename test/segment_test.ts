// End to end on the sample CT (labels from another model, TotalSegmentator, not manual annotation)
// with a tiny cascade trained here for a few iterations: the output keeps the input's grid and
// affine, labels lie in 0..7, the report matches the label map, orientation does not matter, and
// bad input gets one line and no output file.
import assert from "node:assert/strict";
import { setupGpu } from "./_helpers.ts";
import { canSpawn, runCli } from "./_cli.ts";
import type { CascadePreset } from "../src/cascade/presets.ts";
import { loadCascade } from "../src/io/models.ts";
import { segmentVolume } from "../src/cascade/pipeline.ts";
import { FAST_UNET, UNet3D } from "../src/nn/unet3d.ts";
import { trainCascade } from "../src/train/cascade.ts";
import { readLabels, readNifti } from "../src/io/volumes.ts";
import { writeNifti } from "../src/io/volumes.ts";
import { axisCodes, reorient } from "../src/volume/orientation.ts";
import { maxAbsDifference } from "../src/volume/affine.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  WeightsError,
} from "../src/nn/safetensors.ts";
import { decodeStage } from "../src/cascade/models.ts";

await setupGpu();

const SAMPLE = "data/abdomen-ct-a.nii.gz";
const unet = { ...FAST_UNET, baseChannels: 4, levels: 2 };
const HU = { min: -1000, max: 1000 };
const settings = {
  iterations: 2,
  batch: 1,
  optimizer: "adam" as const,
  lr: 1e-2,
  validateEvery: 2,
  foregroundFraction: 1,
  classWeights: "paper" as const,
};
const preset: CascadePreset = {
  name: "tiny",
  stages: [
    { stage: 1, spacing: [9, 9, 9], patch: [24, 24, 24], unet, hu: HU },
    { stage: 2, spacing: [6, 6, 6], patch: [32, 32, 32], unet, hu: HU, c2MarginMm: 12 },
  ],
  train: [settings, settings],
};

/** A tiny two-stage model, trained on a copy of the sample CT in a temporary data folder. */
async function tinyModel(): Promise<string> {
  const data = await Deno.makeTempDir(), out = await Deno.makeTempDir();
  await Deno.copyFile(SAMPLE, `${data}/ct.nii.gz`);
  await Deno.copyFile("data/abdomen-ct-a.labels.nii.gz", `${data}/ct.labels.nii.gz`);
  await trainCascade({ dataDir: data, outDir: out, preset, stages: [1, 2], resume: false, seed: 1 });
  return out;
}

const modelDir = await tinyModel();

Deno.test("the cascade gives the same labels for a flipped, axis-permuted copy of the CT", async () => {
  const ct = await readNifti(SAMPLE);
  const { stage1, stage2 } = await loadCascade(modelDir);
  const a = await segmentVolume(ct, stage1, stage2);
  const permuted = reorient(ct, "SLP"); // axes permuted and two of them flipped
  const b = await segmentVolume(permuted, stage1, stage2);
  assert.deepEqual(b.labels.dims, permuted.dims);
  const back = reorient(b.labels, axisCodes(ct.affine));
  assert.ok(a.labels.data.some((v) => v > 0), "the tiny model found nothing at all");
  assert.deepEqual(back.data, a.labels.data);
});

Deno.test({
  name: "deno task segment writes the input's grid and affine, labels 0..7, a matching report and a preview",
  ignore: !canSpawn,
  async fn() {
    const dir = await Deno.makeTempDir();
    const out = `${dir}/seg.nii.gz`, json = `${dir}/r.json`, png = `${dir}/p.png`;
    const r = await runCli("segment.ts", [
      SAMPLE,
      "--model",
      modelDir,
      "-o",
      out,
      "--json",
      json,
      "--preview",
      png,
      "--reference",
      "data/abdomen-ct-a.labels.nii.gz",
    ]);
    assert.equal(r.code, 0, r.stderr);
    // auto: f16 only on a hardware adapter with shader-f16, so f32 on the software one CI runs
    assert.match(r.stdout, /convolutions in f(16|32)/);
    const ct = await readNifti(SAMPLE), seg = await readLabels(out);
    assert.deepEqual(seg.dims, ct.dims);
    assert.ok(maxAbsDifference(seg.affine, ct.affine) < 1e-5, "affine changed");
    assert.equal(seg.header.datatype.name, "uint8");
    const report = JSON.parse(await Deno.readTextFile(json));
    const counts = new Array(8).fill(0);
    for (const v of seg.data) counts[v]++;
    for (const o of report.organs) {
      assert.equal(o.voxels, counts[o.label], o.name);
      assert.ok(o.dice === null || (o.dice >= 0 && o.dice <= 1), `${o.name}: Dice ${o.dice}`);
    }
    assert.match(r.stdout, /mean Dice/);
    assert.ok(report.seconds.total > 0 && report.adapter.length > 0);
    for (const o of report.organs) {
      assert.equal(typeof o.touches_edge, "boolean");
      assert.equal(o.hu_mean === null, o.voxels === 0, JSON.stringify(o));
      if (o.touches_edge) assert.match(r.stdout, new RegExp(`^${o.name.split(" ")[0]} .* cut`, "m"));
    }
    assert.ok(Array.isArray(report.warnings));
    assert.ok((await Deno.stat(png)).size > 1000);
    assert.match(r.stdout, /liver/);
  },
});

Deno.test({
  name: "deno task segment on bad input: one line, exit 1, no output file",
  ignore: !canSpawn,
  async fn() {
    const dir = await Deno.makeTempDir();
    const out = `${dir}/seg.nii.gz`;
    const check = async (args: string[], pattern: RegExp) => {
      const r = await runCli("segment.ts", [...args, "-o", out]);
      assert.equal(r.code, 1);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], pattern);
      await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
    };
    await check([`${dir}/missing.nii.gz`, "--model", modelDir], /missing\.nii\.gz/);
    await Deno.writeTextFile(`${dir}/bad.nii.gz`, "not a nifti file");
    await check([`${dir}/bad.nii.gz`, "--model", modelDir], /bad\.nii\.gz/);
    const broken = await Deno.makeTempDir();
    await Deno.copyFile(`${modelDir}/stage1.safetensors`, `${broken}/stage1.safetensors`);
    await Deno.writeFile(`${broken}/stage2.safetensors`, new Uint8Array(100));
    await check([SAMPLE, "--model", broken], /stage2\.safetensors/);
    await check([SAMPLE, "--model", `${dir}/nowhere`], /stage1\.safetensors/);
    await check([SAMPLE, "--model", modelDir, "--precision", "f8"], /--precision must be auto, f32 or f16/);
    const r = await runCli("segment.ts", [SAMPLE, "-o", SAMPLE, "--model", modelDir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /overwrite the input/);
  },
});

/** A copy of the tiny model whose stage-`stage` weights `edit` has changed. */
async function editedModel(stage: 1 | 2, edit: (t: Map<string, HostTensor>) => void): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const s of [1, 2]) {
    const path = `${modelDir}/stage${s}.safetensors`;
    let bytes: Uint8Array = await Deno.readFile(path);
    if (s === stage) {
      const { tensors, metadata } = decodeSafetensors(bytes, path);
      edit(tensors);
      bytes = encodeSafetensors(tensors, metadata);
    }
    await Deno.writeFile(`${dir}/stage${s}.safetensors`, bytes);
  }
  return dir;
}

Deno.test({
  name:
    "deno task segment with weights that hold a NaN or overflow: one line naming file and stage, no output",
  ignore: !canSpawn,
  async fn() {
    const dir = await Deno.makeTempDir();
    const out = `${dir}/seg.nii.gz`;
    const check = async (model: string, pattern: RegExp) => {
      const r = await runCli("segment.ts", [SAMPLE, "--model", model, "-o", out, "--progress", "off"]);
      assert.equal(r.code, 1, r.stdout);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], pattern);
      await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
    };
    // a bad weight file: one NaN in the first convolution of stage 2 (stage 1 runs normally)
    const nan = await editedModel(2, (t) => {
      t.get("down0.conv0.weight")!.data[5] = NaN;
    });
    await check(
      nan,
      /^error: \S*stage2\.safetensors: stage 2 gave \d+ non-finite probabilities \(NaN or infinity\)/,
    );
    // huge but finite weights in the head of stage 1: the scores overflow to infinity
    const huge = await editedModel(1, (t) => {
      t.get("head.weight")!.data.fill(3e38);
      t.get("head.bias")!.data.fill(3e38);
    });
    await check(huge, /^error: \S*stage1\.safetensors: stage 1 gave \d+ non-finite probabilities/);
  },
});

Deno.test("a CT thinner than a tile is padded, not refused", async () => {
  const ct = await readNifti(SAMPLE);
  const thin = { ...ct, dims: [ct.dims[0], ct.dims[1], 4] as [number, number, number] };
  thin.data = ct.data.subarray(60 * ct.dims[0] * ct.dims[1], 64 * ct.dims[0] * ct.dims[1]);
  const { stage1, stage2 } = await loadCascade(modelDir);
  const dir = await Deno.makeTempDir();
  await writeNifti(`${dir}/thin.nii.gz`, thin);
  const r = await segmentVolume(await readNifti(`${dir}/thin.nii.gz`), stage1, stage2);
  assert.deepEqual(r.labels.dims, thin.dims);
});

Deno.test("a stage file whose recorded loss weights are not one positive number per class is refused by name", async () => {
  const path = `${modelDir}/stage2.safetensors`;
  const { tensors, metadata } = decodeSafetensors(await Deno.readFile(path), path);
  const stage = JSON.parse(metadata.stage);
  const withWeights = (lossWeights: unknown) =>
    encodeSafetensors(tensors, { ...metadata, stage: JSON.stringify({ ...stage, lossWeights }) });
  const good = decodeStage(withWeights([1, 10, 10, 2, 10, 10, 10, 10]), path, 2);
  assert.deepEqual(good.spec.lossWeights, [1, 10, 10, 2, 10, 10, 10, 10]);
  (good.model as UNet3D).dispose();
  for (const bad of [[1, 2], [1, 10, 10, 2, 10, 10, 10, 0], [1, 10, 10, 2, 10, 10, 10, "x"], "1"]) {
    assert.throws(
      () => decodeStage(withWeights(bad), path, 2),
      (e) =>
        e instanceof WeightsError &&
        /stage2\.safetensors.*lossWeights must be 8 positive finite/.test(e.message),
      JSON.stringify(bad),
    );
  }
});
