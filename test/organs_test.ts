/** The organ report (volumes, HU statistics, organs cut by the scan's edge) and the fit warnings. */
import assert from "node:assert/strict";
import { labelsOnEdge, organStats } from "../src/report/organs.ts";
import { inputFitWarnings, outputFitWarnings, trainingProfile } from "../src/cascade/fit.ts";
import { FAST_PRESET } from "../src/cascade/presets.ts";
import { makeVolume } from "../src/volume/grid.ts";
import type { Vec3 } from "../src/volume/types.ts";
import { randomData } from "./_helpers.ts";

const affine = (s: Vec3) => [s[0], 0, 0, 0, 0, s[1], 0, 0, 0, 0, s[2], 0, 0, 0, 0, 1];

Deno.test("organStats: voxels, mL, HU mean and sd against float64, Dice, and every organ listed", () => {
  const dims: Vec3 = [7, 6, 5], n = 7 * 6 * 5;
  const hu = Float32Array.from(randomData(n, 3, -200, 300), (v) => v + 1000); // far from 0: shifted sums
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = (i * 7) % 11 < 4 ? (i % 3) + 1 : 0;
  const reference = labels.map((l, i) => (i % 5 === 0 ? 0 : l));
  const ct = makeVolume(hu, dims, affine([0.5, 0.8, 2]));
  const stats = organStats(ct, makeVolume(labels, dims, ct.affine), { reference });
  assert.equal(stats.length, 7);
  for (const s of stats) {
    const values = [...hu].filter((_, i) => labels[i] === s.label).map(Number);
    assert.equal(s.voxels, values.length, s.name);
    assert.equal(s.ml, Math.round(values.length * 0.5 * 0.8 * 2 / 1000 * 10) / 10);
    if (!values.length) {
      assert.equal(s.hu_mean, null);
      assert.equal(s.dice, null);
      continue;
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
    assert.ok(Math.abs(s.hu_mean! - mean) <= 0.05 + 1e-9, `${s.name} mean ${s.hu_mean} vs ${mean}`);
    assert.ok(Math.abs(s.hu_sd! - sd) <= 0.05 + 1e-9, `${s.name} sd ${s.hu_sd} vs ${sd}`);
    const inter = labels.filter((l, i) => l === s.label && reference[i] === s.label).length;
    const ref = reference.filter((l) => l === s.label).length;
    assert.equal(s.dice, Math.round((2 * inter) / (values.length + ref) * 1e4) / 1e4);
  }
});

Deno.test("an organ touching any face of the scan is flagged; one inside it is not", () => {
  const dims: Vec3 = [6, 5, 4];
  const at = (x: number, y: number, z: number) => x + 6 * (y + 5 * z);
  for (const [x, y, z] of [[0, 2, 2], [5, 2, 2], [2, 0, 2], [2, 4, 2], [2, 2, 0], [2, 2, 3]]) {
    const labels = new Uint8Array(120);
    labels[at(2, 2, 1)] = 3; // liver inside
    labels[at(x, y, z)] = 4; // spleen on a face
    const edge = labelsOnEdge(makeVolume(labels, dims, affine([1, 1, 1])));
    assert.equal(edge[4], true, `spleen at ${x},${y},${z}`);
    assert.equal(edge[3], false);
  }
});

Deno.test("fit warnings: a CT in HU passes; not HU, coarse slices, a small field of view and no abdomen are named", () => {
  const spec = FAST_PRESET.stages[1];
  const dims: Vec3 = [60, 60, 60];
  const ct = (values: (i: number) => number, s: Vec3) =>
    makeVolume(Float32Array.from({ length: 60 ** 3 }, (_, i) => values(i)), dims, affine(s));
  const abdomen = (i: number) => (i % 5 === 0 ? -1000 : 40 + (i % 7) * 10);
  assert.deepEqual(inputFitWarnings(ct(abdomen, [3, 3, 3]), spec), []);
  assert.match(inputFitWarnings(ct((i) => i % 4096, [3, 3, 3]), spec).join(), /Hounsfield/);
  assert.match(inputFitWarnings(ct(abdomen, [3, 3, 8]), spec).join(), /coarser/);
  assert.match(inputFitWarnings(ct(abdomen, [1, 1, 1]), spec).join(), /covers 60 mm/);
  // a sagittal volume whose first voxel axis runs head to foot: 60 x 3 mm along the body, 60 x 1 mm across
  const sagittal = makeVolume(
    Float32Array.from({ length: 60 ** 3 }, (_, i) => abdomen(i)),
    [60, 60, 60],
    [0, 0, 1, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1],
  );
  assert.match(inputFitWarnings(sagittal, spec).join(), /covers 60 mm across and 180 mm along the body axis/);
  const organ = (name: string, ml: number) => ({ name, ml }) as Parameters<typeof outputFitWarnings>[0][0];
  assert.match(
    outputFitWarnings([organ("liver", 0), organ("spleen", 2), organ("stomach", 0)]).join(),
    /abdomen/,
  );
  assert.deepEqual(outputFitWarnings([organ("liver", 1500), organ("spleen", 0), organ("stomach", 0)]), []);
});

Deno.test("the training profile: voxel sizes and body-axis extents of the training CTs, in any orientation", () => {
  // an LPS CT with 0.8 mm pixels and 2 mm slices, and a CT whose slices run along the first voxel axis
  const lps = {
    dims: [512, 512, 150] as Vec3,
    affine: [-0.8, 0, 0, 0, 0, -0.8, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1],
  };
  const sideways = { dims: [80, 100, 120] as Vec3, affine: [0, 0, 1, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1] };
  const p = trainingProfile([lps, sideways]);
  assert.deepEqual(p.spacingMm, [0.8, 3]);
  assert.deepEqual(p.extentZMm, [240, 300]);
  assert.equal(p.cases, 2);
  // a CT of 5 mm slices is flagged against this profile, not against the stage grid alone
  const spec = { ...FAST_PRESET.stages[1], spacing: [8, 8, 8] as Vec3 };
  const abdomen = (i: number) => (i % 5 === 0 ? -1000 : 40 + (i % 7) * 10);
  const ct = makeVolume(
    Float32Array.from({ length: 60 ** 3 }, (_, i) => abdomen(i)),
    [60, 60, 60],
    affine([7, 7, 7]),
  );
  assert.deepEqual(inputFitWarnings(ct, spec), []);
  assert.match(inputFitWarnings(ct, spec, p).join(), /coarser than the 3 mm/);
});
