// The class weights of the cross-entropy against hand computations, on a synthetic label map; the fast
// preset's rare-class settings.
import assert from "node:assert/strict";
import { cappedInverseWeights, stageClassWeights } from "../src/train/loop.ts";
import { patchCentre, trainingVolume } from "../src/train/sampler.ts";
import { FAST_PRESET, type TrainSettings } from "../src/cascade/presets.ts";
import { Rng } from "../src/util/random.ts";

/** 64 voxels, 60 in the candidate region: 40 background, 12 of class 1, 6 of class 2, 2 of class 3. */
function volume() {
  const labels = new Uint8Array(64);
  labels.fill(1, 40, 52);
  labels.fill(2, 52, 58);
  labels.fill(3, 58, 60);
  labels.fill(3, 60, 64); // outside the candidate region: not counted
  const candidate = new Uint8Array(64).fill(1, 0, 60);
  return trainingVolume(
    "t",
    { image: new Float32Array(64), dims: [4, 4, 4], spacing: [1, 1, 1], affine: [] },
    labels,
    candidate,
  );
}

function assertWeights(w: Float32Array, expected: number[]) {
  assert.equal(w.length, expected.length);
  w.forEach((x, i) =>
    assert.ok(Math.abs(x - expected[i]) < 1e-6, `class ${i}: ${x}, expected ${expected[i]}`)
  );
}

Deno.test("inverse weights: the commonest class weighs 1, the others N_max / N_i up to the cap", () => {
  // N = [40, 12, 6, 2, 0]; 40/12 = 3.33, 40/6 = 6.67, 40/2 = 20 -> capped at 10; class 4 is absent
  assertWeights(cappedInverseWeights([volume()], 5, 10), [1, 40 / 12, 40 / 6, 10, 10]);
  // without a binding cap each class counts as much as the commonest in total
  assertWeights(cappedInverseWeights([volume()], 4, 100), [1, 40 / 12, 40 / 6, 20]);
});

Deno.test("inverse weights are counted over all training volumes together", () => {
  // twice the same volume: the same ratios; with the cap 1 every weight is 1
  assertWeights(cappedInverseWeights([volume(), volume()], 4, 50), [1, 40 / 12, 40 / 6, 20]);
  assertWeights(cappedInverseWeights([volume()], 4, 1), [1, 1, 1, 1]);
  assert.throws(() => cappedInverseWeights([volume()], 4, 0.5), /cap must be at least 1/);
});

Deno.test("a stage's settings choose its class weights", () => {
  const base: TrainSettings = {
    iterations: 1,
    batch: 1,
    optimizer: "adam",
    lr: 1e-3,
    validateEvery: 1,
    foregroundFraction: 1,
    classWeights: "uniform",
  };
  assertWeights(stageClassWeights(base, [volume()], 4), [1, 1, 1, 1]);
  assertWeights(
    stageClassWeights({ ...base, classWeights: "paper" }, [volume()], 4),
    [40, 12, 6, 2].map((n) => (1 - n / 60) / 3),
  );
  assertWeights(
    stageClassWeights({ ...base, classWeights: "inverse", classWeightCap: 5 }, [volume()], 4),
    [1, 40 / 12, 5, 5],
  );
  // the default cap
  assertWeights(
    stageClassWeights({ ...base, classWeights: "inverse" }, [volume()], 4),
    [1, 40 / 12, 40 / 6, 10],
  );
});

Deno.test("the fast preset's stage 2 keeps a rare class alive: centred as often as the others, weighed at the cap", () => {
  // Under plain cross-entropy and organ voxels drawn alike, the demo model's aorta (about 2% of C2's
  // organ voxels) died out in stage 2 (models/demo/README.md).
  const s = FAST_PRESET.train[1];
  const w = stageClassWeights(s, [volume()], 4);
  assert.ok(w[3] >= 10 * w[0], `the rarest class weighs ${w[3]}, the background ${w[0]}`);
  const v = volume();
  const rng = new Rng(3);
  const hits = new Uint32Array(4);
  for (let i = 0; i < 3000; i++) hits[v.labels[patchCentre(v, rng, s)]]++;
  const organs = hits[1] + hits[2] + hits[3];
  assert.ok(hits[3] > organs / 4, `the rarest organ centred ${hits[3]} times of ${organs}`);
});
