// Where training patches are centred: the frequencies of each class over many draws, for the two ways
// of choosing the organ voxel (synthetic label maps: no CT is read).
import assert from "node:assert/strict";
import { patchCentre, type SampleOptions, trainingVolume } from "../src/train/sampler.ts";
import { Rng } from "../src/util/random.ts";

/** A 1000-voxel volume: class 1 has 10 voxels, class 3 has 300, class 5 has 90, the rest background. */
function volume() {
  const labels = new Uint8Array(1000);
  labels.fill(1, 0, 10);
  labels.fill(3, 100, 400);
  labels.fill(5, 500, 590);
  const candidate = new Uint8Array(1000).fill(1);
  candidate.fill(0, 900); // 100 voxels outside the candidate region, all background
  return trainingVolume(
    "t",
    { image: new Float32Array(1000), dims: [10, 10, 10], spacing: [1, 1, 1], affine: [] },
    labels,
    candidate,
  );
}

/** Fraction of `n` drawn centres per label, and checks that every centre is a candidate voxel. */
function centreFrequencies(opts: SampleOptions, n: number, seed: number): number[] {
  const v = volume();
  const rng = new Rng(seed);
  const hits = new Array(8).fill(0);
  for (let i = 0; i < n; i++) {
    const c = patchCentre(v, rng, opts);
    assert.equal(v.candidate[c], 1, `centre ${c} lies outside the candidate region`);
    hits[v.labels[c]]++;
  }
  return hits.map((h) => h / n);
}

/** Asserts |observed - expected| within 5 binomial standard deviations of n draws. */
function assertFrequencies(observed: number[], expected: number[], n: number) {
  observed.forEach((f, k) => {
    const sd = Math.sqrt(Math.max(expected[k] * (1 - expected[k]), 1e-12) / n);
    assert.ok(
      Math.abs(f - expected[k]) <= 5 * sd,
      `label ${k}: drawn ${f.toFixed(4)} of the time, expected ${expected[k].toFixed(4)}`,
    );
  });
}

const N = 40_000;

Deno.test("voxel sampling centres each organ as often as its size", () => {
  const f = centreFrequencies({ foregroundFraction: 1, foregroundSampling: "voxel" }, N, 1);
  assertFrequencies(f, [0, 10 / 400, 0, 300 / 400, 0, 90 / 400, 0, 0], N);
});

Deno.test("class sampling centres each organ present as often as the others, however small", () => {
  const f = centreFrequencies({ foregroundFraction: 1, foregroundSampling: "class" }, N, 2);
  assertFrequencies(f, [0, 1 / 3, 0, 1 / 3, 0, 1 / 3, 0, 0], N);
});

Deno.test("class sampling keeps the share of patches centred anywhere in the candidate region", () => {
  // a third of the centres anywhere among the 900 candidate voxels (500 background, 400 organ)
  const f = centreFrequencies({ foregroundFraction: 2 / 3, foregroundSampling: "class" }, N, 3);
  const any = 1 / 3, organ = (2 / 3) / 3;
  assertFrequencies(
    f,
    [any * 500 / 900, organ + any * 10 / 900, 0, organ + any * 300 / 900, 0, organ + any * 90 / 900, 0, 0],
    N,
  );
});

Deno.test("without organ voxels every centre is anywhere in the candidate region", () => {
  const v = trainingVolume(
    "empty",
    { image: new Float32Array(8), dims: [2, 2, 2], spacing: [1, 1, 1], affine: [] },
    new Uint8Array(8),
    Uint8Array.from([0, 1, 1, 0, 0, 0, 0, 0]),
  );
  const rng = new Rng(4);
  for (let i = 0; i < 100; i++) {
    assert.ok([1, 2].includes(patchCentre(v, rng, { foregroundFraction: 1, foregroundSampling: "class" })));
  }
});
