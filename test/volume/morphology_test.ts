import assert from "node:assert/strict";
import { connectedComponents, largestComponent } from "../../src/volume/components.ts";
import { fillHolesSlicewise } from "../../src/volume/fill-holes.ts";
import { voxelCount } from "../../src/volume/grid.ts";
import { close, dilate, erode, open, squaredDistanceMm } from "../../src/volume/morphology.ts";
import type { Vec3 } from "../../src/volume/types.ts";
import { Rng } from "../../src/util/random.ts";

/** A random mask with the given density. */
function randomMask(dims: Vec3, density: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: voxelCount(dims) }, () => (rng.next() < density ? 1 : 0));
}

/** Brute-force morphology with the ellipsoid {o : |o * spacing| <= r}; outside counts as background. */
function bruteForce(
  mask: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  r: number,
  op: "dilate" | "erode",
): Uint8Array {
  const [nx, ny, nz] = dims;
  const reach = spacing.map((s) => Math.floor(r / s));
  const out = new Uint8Array(mask.length);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        let hit = op === "erode" ? 1 : 0;
        for (let c = -reach[2]; c <= reach[2]; c++) {
          for (let b = -reach[1]; b <= reach[1]; b++) {
            for (let a = -reach[0]; a <= reach[0]; a++) {
              const d2 = (a * spacing[0]) ** 2 + (b * spacing[1]) ** 2 + (c * spacing[2]) ** 2;
              if (d2 > r * r * (1 + 1e-9)) continue;
              const x = i + a, y = j + b, z = k + c;
              const inside = x >= 0 && x < nx && y >= 0 && y < ny && z >= 0 && z < nz;
              const v = inside ? mask[x + nx * (y + ny * z)] : 0;
              if (op === "dilate" && v) hit = 1;
              if (op === "erode" && !v) hit = 0;
            }
          }
        }
        out[i + nx * (j + ny * k)] = hit;
      }
    }
  }
  return out;
}

Deno.test("distance transform equals brute force with anisotropic spacing", () => {
  const dims: Vec3 = [9, 7, 6], spacing: Vec3 = [1, 2, 3.5];
  const mask = randomMask(dims, 0.05, 1);
  const d = squaredDistanceMm(mask, dims, spacing);
  const points: Vec3[] = [];
  mask.forEach((v, n) => v && points.push([n % 9, Math.floor(n / 9) % 7, Math.floor(n / 63)]));
  d.forEach((v, n) => {
    const p = [n % 9, Math.floor(n / 9) % 7, Math.floor(n / 63)];
    const best = Math.min(...points.map((q) => q.reduce((s, x, a) => s + ((x - p[a]) * spacing[a]) ** 2, 0)));
    assert.ok(Math.abs(v - best) < 1e-9, `voxel ${p}: ${v} vs ${best}`);
  });
  assert.ok(squaredDistanceMm(new Uint8Array(8), [2, 2, 2], [1, 1, 1]).every((v) => v === Infinity));
});

Deno.test("dilate and erode equal brute force with ellipsoidal elements in mm", () => {
  const dims: Vec3 = [10, 8, 7], spacing: Vec3 = [0.8, 1.6, 2.5];
  for (const [seed, density] of [[2, 0.08], [3, 0.7]]) {
    const mask = randomMask(dims, density, seed);
    // 1.6 and 2.5 put element offsets exactly on the ellipsoid.
    for (const r of [0.5, 1.6, 2.5, 3.3]) {
      assert.deepEqual(
        dilate(mask, dims, spacing, r),
        bruteForce(mask, dims, spacing, r, "dilate"),
        `dilate r=${r}`,
      );
      assert.deepEqual(
        erode(mask, dims, spacing, r),
        bruteForce(mask, dims, spacing, r, "erode"),
        `erode r=${r}`,
      );
    }
  }
});

Deno.test("opening removes a thin bridge between two blocks; closing fills a narrow gap", () => {
  const dims: Vec3 = [20, 8, 8];
  const mask = new Uint8Array(voxelCount(dims));
  const set = (i: number, j: number, k: number) => (mask[i + 20 * (j + 8 * k)] = 1);
  for (let k = 1; k < 7; k++) {
    for (let j = 1; j < 7; j++) {
      for (let i = 1; i < 7; i++) set(i, j, k);
      for (let i = 12; i < 19; i++) set(i, j, k);
    }
  }
  for (let i = 7; i < 12; i++) set(i, 4, 4); // one-voxel bridge
  assert.equal(connectedComponents(mask, dims).sizes.length - 1, 1);
  const opened = open(mask, dims, [1, 1, 1], 1);
  assert.equal(connectedComponents(opened, dims).sizes.length - 1, 2);
  assert.equal(opened[9 + 20 * (4 + 8 * 4)], 0);
  assert.equal(opened[3 + 20 * (3 + 8 * 3)], 1);

  // A block cut by a one-voxel slit: closing by 1 mm bridges it.
  const bdims: Vec3 = [20, 16, 16];
  const block = new Uint8Array(voxelCount(bdims));
  for (let k = 3; k < 13; k++) {
    for (let j = 3; j < 13; j++) for (let i = 3; i < 17; i++) block[i + 20 * (j + 16 * k)] = i === 9 ? 0 : 1;
  }
  const closed = close(block, bdims, [1, 1, 1], 1);
  assert.equal(closed[9 + 20 * (8 + 16 * 8)], 1);
  assert.equal(closed[1 + 20 * (8 + 16 * 8)], 0);
});

Deno.test("connected components: 6 vs 26 connectivity, largest component, large volumes", () => {
  const dims: Vec3 = [4, 4, 4];
  const mask = new Uint8Array(64);
  mask[0] = mask[1] = mask[4] = 1; // an L of 3 voxels: (0,0,0), (1,0,0), (0,1,0)
  mask[1 + 4 * 2 + 16 * 1] = 1; // (1,2,1) touches (0,1,0) at a corner only
  const six = connectedComponents(mask, dims, 6);
  const all = connectedComponents(mask, dims, 26);
  assert.deepEqual(six.sizes, [0, 3, 1]);
  assert.deepEqual(all.sizes, [0, 4]);
  assert.deepEqual(Array.from(largestComponent(mask, dims, 6)).reduce((s, v) => s + v, 0), 3);
  assert.ok(largestComponent(new Uint8Array(8), [2, 2, 2]).every((v) => v === 0));

  // A filled 128^3 block (2M voxels) is one component: the fill must not recurse.
  const big = new Uint8Array(128 ** 3).fill(1);
  assert.deepEqual(connectedComponents(big, [128, 128, 128], 26).sizes, [0, 128 ** 3]);
});

Deno.test("slice-wise hole filling fills enclosed holes only", () => {
  const dims: Vec3 = [7, 7, 2];
  const mask = new Uint8Array(98);
  for (let j = 1; j < 6; j++) for (let i = 1; i < 6; i++) mask[i + 7 * j] = mask[49 + i + 7 * j] = 1;
  mask[3 + 7 * 3] = 0; // enclosed hole in slice 0
  mask[49 + 3 + 7 * 3] = 0;
  mask[49 + 3 + 7 * 2] = 0;
  mask[49 + 3 + 7 * 1] = 0; // slice 1: the hole opens to the outside
  const filled = fillHolesSlicewise(mask, dims);
  assert.equal(filled[3 + 7 * 3], 1);
  assert.equal(filled[49 + 3 + 7 * 3], 0);
  assert.equal(filled.reduce((s, v) => s + v, 0), 25 + 22);
});
