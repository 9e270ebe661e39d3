// A few iterations of each stage on a small crop of the sample CT (whose labels come from another
// model, TotalSegmentator, not from manual annotation): the loss falls, checkpoints are written, and a
// resumed run continues exactly like an uninterrupted one.
import assert from "node:assert/strict";
import { setupGpu } from "./_helpers.ts";
import type { CascadePreset } from "../src/cascade/presets.ts";
import { FAST_UNET } from "../src/nn/unet3d.ts";
import { trainCascade } from "../src/train/cascade.ts";
import { stageFiles, TrainingError, volumeClassWeights } from "../src/train/loop.ts";
import { trainingVolume } from "../src/train/sampler.ts";
import { readMetrics } from "../src/train/metrics.ts";
import { readLabels, readNifti } from "../src/io/volumes.ts";
import { writeNifti } from "../src/io/volumes.ts";
import { cropVolume } from "../src/volume/bbox.ts";

await setupGpu();

const unet = { ...FAST_UNET, baseChannels: 4, levels: 2 };
const HU = { min: -1000, max: 1000 };
const preset: CascadePreset = {
  name: "test",
  stages: [
    { stage: 1, spacing: [6, 6, 6], patch: [16, 16, 16], unet, hu: HU },
    { stage: 2, spacing: [3, 3, 3], patch: [16, 16, 16], unet, hu: HU, c2MarginMm: 9 },
  ],
  train: [
    {
      iterations: 12,
      batch: 2,
      optimizer: "adam",
      lr: 1e-2,
      validateEvery: 6,
      foregroundFraction: 1,
      classWeights: "paper",
    },
    {
      iterations: 2,
      batch: 1,
      optimizer: "adam",
      lr: 1e-2,
      validateEvery: 2,
      foregroundFraction: 1,
      classWeights: "paper",
    },
  ],
};

/** A folder with one case: a crop of the sample CT around the liver and spleen. */
async function dataDir(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const box = {
    min: [20, 20, 60] as [number, number, number],
    max: [100, 80, 100] as [number, number, number],
  };
  const ct = await readNifti("data/abdomen-ct-a.nii.gz");
  const labels = await readLabels("data/abdomen-ct-a.labels.nii.gz");
  await writeNifti(`${dir}/crop.nii.gz`, cropVolume(ct, box));
  await writeNifti(`${dir}/crop.labels.nii.gz`, cropVolume(labels, box));
  return dir;
}

const data = await dataDir();
const losses = async (dir: string, stage: number) =>
  (await readMetrics(stageFiles(dir, stage).metrics)).filter((r) => r.loss !== undefined).map((r) => r.loss!);

Deno.test("stage 1 learns: the loss falls; model, checkpoint, log and curves are written", async () => {
  const out = await Deno.makeTempDir();
  const [r] = await trainCascade({ dataDir: data, outDir: out, preset, stages: [1], resume: false, seed: 3 });
  assert.equal(r.iterations, 12);
  const l = await losses(out, 1);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(mean(l.slice(-3)) < mean(l.slice(0, 3)), `loss did not fall: ${l.map((v) => v.toFixed(3))}`);
  for (const f of Object.values(stageFiles(out, 1))) await Deno.stat(f);
  await assert.rejects(
    () => trainCascade({ dataDir: data, outDir: out, preset, stages: [1], resume: false, seed: 3 }),
    (e) => e instanceof TrainingError && /--resume/.test(e.message),
  );
  // stage 2 on the C2 that the trained stage 1 gives
  const [r2] = await trainCascade({
    dataDir: data,
    outDir: out,
    preset,
    stages: [2],
    resume: false,
    seed: 3,
  });
  assert.equal(r2.iterations, 2);
  await Deno.stat(stageFiles(out, 2).model);
});

Deno.test("a resumed run gives the same losses as an uninterrupted one", async () => {
  const short = {
    ...preset,
    train: [{ ...preset.train[0], iterations: 4, validateEvery: 2 }, preset.train[1]],
  };
  const whole = await Deno.makeTempDir(), split = await Deno.makeTempDir();
  const opts = { dataDir: data, preset: short as CascadePreset, stages: [1 as const], seed: 5 };
  await trainCascade({ ...opts, outDir: whole, resume: false });
  const stop = new AbortController();
  const [first] = await trainCascade({
    ...opts,
    outDir: split,
    resume: false,
    signal: stop.signal,
    onIteration: (_s, it) => it === 2 && stop.abort(),
  });
  assert.ok(first.interrupted);
  assert.equal(first.iterations, 2);
  await trainCascade({ ...opts, outDir: split, resume: true });
  assert.deepEqual(await losses(split, 1), await losses(whole, 1));
});

Deno.test("the paper's class weights are counted over the candidate regions of the training volumes", () => {
  const labels = Uint8Array.from([0, 0, 1, 1, 1, 2, 0, 2]);
  const candidate = Uint8Array.from([1, 1, 1, 1, 1, 1, 0, 0]); // N_C = 6: two 0s, three 1s, one 2
  const v = trainingVolume(
    "t",
    { image: new Float32Array(8), dims: [2, 2, 2], spacing: [1, 1, 1], affine: [] },
    labels,
    candidate,
  );
  const w = volumeClassWeights([v], 4);
  const expected = [2, 3, 1, 0].map((n) => (1 - n / 6) / 3);
  w.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-7, `class ${i}: ${x} vs ${expected[i]}`));
});

Deno.test("a loss that turns NaN or infinite stops training with a clear message and saves no model", async () => {
  const out = await Deno.makeTempDir();
  const overrides = { optimizer: "sgd" as const, lr: 1e38, iterations: 6, validateEvery: 6 };
  await assert.rejects(
    () =>
      trainCascade({ dataDir: data, outDir: out, preset, stages: [1], resume: false, seed: 3, overrides }),
    (e) =>
      e instanceof TrainingError &&
      /the loss became (NaN|Infinity|-Infinity) at iteration \d/.test(e.message),
  );
  await assert.rejects(() => Deno.stat(stageFiles(out, 1).model), Deno.errors.NotFound);
});
