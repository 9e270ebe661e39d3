import assert from "node:assert/strict";
import { applyAffine } from "../../src/volume/affine.ts";
import {
  boundingBox,
  cropVolume,
  extractBox,
  marginVoxels,
  padArray,
  padVolume,
} from "../../src/volume/bbox.ts";
import { DEFAULT_HU_WINDOW, intensityRange, normalizeHu } from "../../src/volume/intensity.ts";
import { volumeFrom } from "./_synth.ts";

const AFFINE = [0, 0, 2.5, -50, -0.7, 0, 0, 30, 0, 1.2, 0, 5, 0, 0, 0, 1];

Deno.test("bounding box with margin, clipped to the volume; null when empty", () => {
  const vol = volumeFrom([8, 6, 5], (i, j, k) => (i >= 2 && i <= 4 && j === 3 && k >= 1 && k <= 3 ? 1 : 0));
  assert.deepEqual(boundingBox(vol.data, vol.dims), { min: [2, 3, 1], max: [5, 4, 4] });
  assert.deepEqual(boundingBox(vol.data, vol.dims, 2), { min: [0, 1, 0], max: [7, 6, 5] });
  assert.deepEqual(boundingBox(vol.data, vol.dims, [1, 0, 3]), { min: [1, 3, 0], max: [6, 4, 5] });
  assert.equal(boundingBox(new Uint8Array(8), [2, 2, 2]), null);
  assert.deepEqual(marginVoxels(10, [0.7, 2.5, 3]), [15, 4, 4]);
});

Deno.test("crop and pad (constant and edge) move voxels, not world positions", () => {
  const vol = volumeFrom([4, 3, 2], (i, j, k) => 1 + i + 10 * j + 100 * k, AFFINE);
  const crop = cropVolume(vol, { min: [1, 1, 0], max: [3, 3, 2] });
  assert.deepEqual(Array.from(crop.data), [12, 13, 22, 23, 112, 113, 122, 123]);
  assert.deepEqual(applyAffine(crop.affine, [0, 0, 0]), applyAffine(vol.affine, [1, 1, 0]));

  const padded = padVolume(vol, [1, 0, 0], [0, 0, 1], "edge");
  assert.deepEqual(padded.dims, [5, 3, 3]);
  assert.equal(padded.data[0], 1); // replicated from (0,0,0)
  assert.equal(padded.data[4 + 5 * 2 + 15 * 2], 124); // (3,2,1) replicated upwards
  assert.deepEqual(applyAffine(padded.affine, [1, 0, 0]), applyAffine(vol.affine, [0, 0, 0]));
  const zero = padArray(vol.data, vol.dims, [1, 1, 1], [1, 1, 1], -7);
  assert.equal(zero.length, 6 * 5 * 4);
  assert.equal(zero[0], -7);
  assert.deepEqual(extractBox(zero, [6, 5, 4], { min: [1, 1, 1], max: [5, 4, 3] }), vol.data);
  assert.deepEqual(cropVolume(padded, { min: [1, 0, 0], max: [5, 3, 2] }).data, vol.data);
});

Deno.test("HU window [-1000, 1000] maps linearly onto [-1, 1] with clipping", () => {
  const hu = Float32Array.from([-3000, -1000, -500, 0, 40, 1000, 3000]);
  assert.deepEqual(Array.from(normalizeHu(hu)), [-1, -1, -0.5, 0, 0.03999999910593033, 1, 1]);
  assert.deepEqual(DEFAULT_HU_WINDOW, { min: -1000, max: 1000 });
  assert.deepEqual(
    Array.from(normalizeHu(hu, { min: -200, max: 300 })),
    [-1, -1, -1, -0.2, -0.04, 1, 1].map(Math.fround),
  );
  assert.throws(() => normalizeHu(hu, { min: 5, max: 5 }), RangeError);
  assert.deepEqual(intensityRange(hu), { min: -3000, max: 3000 });
});
