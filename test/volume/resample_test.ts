import assert from "node:assert/strict";
import { scaleAffine } from "../../src/volume/affine.ts";
import { makeVolume } from "../../src/volume/grid.ts";
import { labelStats } from "../../src/volume/labels.ts";
import { readLabels } from "../../src/io/volumes.ts";
import { gridWithSpacing, resampleToGrid, resampleToSpacing } from "../../src/volume/resample.ts";
import type { Vec3 } from "../../src/volume/types.ts";
import { randomLabels, SAMPLE_LABELS, volumeFrom } from "./_synth.ts";

const AFFINE = [-1.5, 0, 0, 40, 0, 2, 0, -12, 0, 0, 3, 7.5, 0, 0, 0, 1];
const linear = (i: number, j: number, k: number) => 2 * i - 3 * j + 0.5 * k + 5;

Deno.test("gridWithSpacing keeps the origin voxel centre and directions", () => {
  const g = gridWithSpacing({ dims: [10, 7, 5], affine: AFFINE }, [0.75, 1, 4]);
  assert.deepEqual(g.dims, [20, 14, 4]); // round(10 * 1.5 / 0.75), round(7 * 2 / 1), round(5 * 3 / 4)
  assert.deepEqual(g.affine, [-0.75, 0, 0, 40, 0, 1, 0, -12, 0, 0, 4, 7.5, 0, 0, 0, 1]);
});

Deno.test("resampling onto the same grid is the identity; trilinear is exact on linear functions", () => {
  const vol = volumeFrom([6, 5, 4], linear, AFFINE);
  assert.deepEqual(resampleToGrid(vol, vol, "linear").data, vol.data);
  assert.deepEqual(resampleToGrid(vol, vol, "nearest").data, vol.data);
  const fine = resampleToSpacing(vol, [0.5, 1, 1.5], "linear");
  assert.deepEqual(fine.dims, [18, 10, 8]);
  assert.deepEqual(fine.spacing, [0.5, 1, 1.5]);
  fine.data.forEach((v, n) => {
    const i = n % 18, j = Math.floor(n / 18) % 10, k = Math.floor(n / 180);
    // Input index = output index * new / old spacing; clamped at the far edge.
    const p = [Math.min(i / 3, 5), Math.min(j / 2, 4), Math.min(k / 2, 3)] as Vec3;
    assert.ok(Math.abs(v - linear(...p)) < 1e-4, `voxel ${i},${j},${k}: ${v} vs ${linear(...p)}`);
  });
});

Deno.test("down to coarse spacing and back restores the grid exactly and the image closely", () => {
  const smooth = (i: number, j: number, k: number) => 100 * Math.sin(i / 6) * Math.cos(j / 7) + k;
  const vol = volumeFrom([24, 20, 12], smooth, AFFINE);
  const coarse = resampleToSpacing(vol, [3, 3, 3], "linear");
  const back = resampleToGrid(coarse, vol, "linear");
  assert.deepEqual(back.affine, vol.affine);
  assert.deepEqual(back.dims, vol.dims);
  // The coarse grid ends before the fine one (x: 12 x 3 mm from the same origin covers fine
  // voxels 0..22): past it values are edge-replicated, so only the covered part is held tight.
  let sum = 0, interior = 0;
  back.data.forEach((v, n) => {
    const e = Math.abs(v - vol.data[n]);
    sum += e;
    const i = n % 24, j = Math.floor(n / 24) % 20;
    if (i <= 22 && j <= 18) interior = Math.max(interior, e);
  });
  assert.ok(interior < 3, `max error inside the coarse extent ${interior}`);
  assert.ok(sum / back.data.length < 1.5, `mean error ${sum / back.data.length}`);
});

Deno.test("labels: nearest upsampling by 2 and back is lossless; fill applies outside the extent", () => {
  const dims: Vec3 = [7, 6, 5];
  const labels = makeVolume(randomLabels(7 * 6 * 5, 8, 3), dims, AFFINE);
  const up = resampleToSpacing(labels, [0.75, 1, 1.5], "nearest");
  assert.ok(up.data instanceof Uint8Array);
  assert.deepEqual(resampleToGrid(up, labels, "nearest").data, labels.data);
  const shifted = { dims, affine: scaleAffine([1, 1, 1], [1000, 0, 0]) };
  assert.ok(resampleToGrid(labels, shifted, "nearest", 0).data.every((v) => v === 0));
  assert.throws(() => resampleToGrid(labels, labels, "linear"), TypeError);
});

Deno.test("sample labels resampled to 4 mm keep each organ's volume within 8%", async () => {
  const labels = await readLabels(SAMPLE_LABELS);
  const before = labelStats(labels.data, labels.spacing);
  const coarse = resampleToSpacing(labels, [4, 4, 4], "nearest");
  const after = labelStats(coarse.data, coarse.spacing);
  for (const s of before.slice(1)) {
    const ml = after.find((a) => a.label === s.label)?.ml ?? 0;
    assert.ok(Math.abs(ml - s.ml) / s.ml < 0.08, `${s.name}: ${s.ml.toFixed(1)} mL -> ${ml.toFixed(1)} mL`);
  }
});
