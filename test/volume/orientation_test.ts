import assert from "node:assert/strict";
import { applyAffine, multiplyAffine } from "../../src/volume/affine.ts";
import { makeVolume, voxelOf } from "../../src/volume/grid.ts";
import { axisCodes, fromCanonical, reorient, toCanonical } from "../../src/volume/orientation.ts";
import type { Affine, Vec3 } from "../../src/volume/types.ts";
import { volumeFrom } from "./_synth.ts";

/** An affine whose voxel axes point along the given signed world axes, with spacing and origin. */
function axesAffine(cols: [number, number][], spacing: Vec3, origin: Vec3): Affine {
  const a = [0, 0, 0, origin[0], 0, 0, 0, origin[1], 0, 0, 0, origin[2], 0, 0, 0, 1];
  cols.forEach(([world, sign], c) => (a[world * 4 + c] = sign * spacing[c]));
  return a;
}

Deno.test("axisCodes matches nibabel's aff2axcodes on axis-aligned and oblique affines", () => {
  assert.equal(axisCodes([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), "RAS");
  assert.equal(axisCodes([-0.7, 0, 0, 0, 0, -0.7, 0, 0, 0, 0, 2.5, 0, 0, 0, 0, 1]), "LPS");
  assert.equal(axisCodes(axesAffine([[1, 1], [2, -1], [0, -1]], [1, 2, 3], [0, 0, 0])), "AIL");
  const c = Math.cos(0.5), s = Math.sin(0.5);
  const oblique = multiplyAffine([c, -s, 0, 0, s, c, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], [
    -1,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    1,
  ]);
  assert.equal(axisCodes(oblique), "LAS");
});

Deno.test("reorient to RAS keeps every voxel at its world position; back is exact", () => {
  const dims: Vec3 = [5, 4, 3];
  const layouts: [number, number][][] = [
    [[0, -1], [1, -1], [2, 1]], // LPS
    [[1, -1], [2, -1], [0, 1]], // PIR
    [[0, -1], [2, 1], [1, 1]], // LSA
    [[0, 1], [1, 1], [2, 1]], // RAS
  ];
  for (const cols of layouts) {
    const affine = axesAffine(cols, [0.8, 1.5, 2.5], [12.5, -30.25, 100]);
    const vol = volumeFrom(dims, (i, j, k) => i + 10 * j + 100 * k, affine);
    const ras = toCanonical(vol);
    assert.equal(axisCodes(ras.affine), "RAS");
    // Each voxel value is unique: find it again and compare world positions.
    ras.data.forEach((value, n) => {
      const p = voxelOf(n, ras.dims);
      const q: Vec3 = [value % 10, Math.floor(value / 10) % 10, Math.floor(value / 100)];
      const a = applyAffine(ras.affine, p), b = applyAffine(affine, q);
      a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-9, `${axisCodes(affine)} voxel ${p}`));
    });
    const back = fromCanonical(ras, vol);
    assert.deepEqual(back.dims, vol.dims);
    assert.deepEqual(back.affine, vol.affine);
    assert.deepEqual(back.data, vol.data);
    assert.deepEqual(reorient(vol, axisCodes(affine)).data, vol.data);
  }
});

Deno.test("fromCanonical refuses a volume that is not on the original's grid; bad codes throw", () => {
  const vol = volumeFrom([4, 3, 2], () => 0);
  const other = makeVolume(new Float32Array(24), [3, 4, 2], vol.affine);
  assert.throws(() => fromCanonical(other, vol), RangeError);
  assert.throws(() => reorient(vol, "RRS"), /invalid orientation code/);
  assert.throws(() => reorient(vol, "RA"), /invalid orientation code/);
});
