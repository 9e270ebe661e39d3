import assert from "node:assert/strict";
import {
  augmentPair,
  bsplineDisplacement,
  controlPointCount,
  randomSamplingField,
  warpArray,
} from "../../src/volume/augment.ts";
import { makeVolume, voxelCount } from "../../src/volume/grid.ts";
import type { Vec3 } from "../../src/volume/types.ts";
import { Rng } from "../../src/util/random.ts";
import { volumeFrom } from "./_synth.ts";

Deno.test("Rng: same seed same sequence, uniform in [0, 1), normal deviates standardised", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.next()));
  const r = new Rng(7);
  let sum = 0, sum2 = 0, lo = 1, hi = 0;
  for (let i = 0; i < 20000; i++) {
    const u = r.next();
    [lo, hi] = [Math.min(lo, u), Math.max(hi, u)];
    const z = r.normal();
    sum += z;
    sum2 += z * z;
  }
  assert.ok(lo >= 0 && hi < 1 && lo < 0.001 && hi > 0.999);
  assert.ok(Math.abs(sum / 20000) < 0.03 && Math.abs(sum2 / 20000 - 1) < 0.05);
});

Deno.test("cubic B-spline: constant and linear coefficients are reproduced exactly", () => {
  const dims: Vec3 = [40, 9, 5], spacing = 8;
  const cdims = dims.map((n) => controlPointCount(n, spacing)) as Vec3;
  assert.deepEqual(cdims, [8, 5, 4]);
  const constant = new Float32Array(3 * voxelCount(cdims));
  for (let p = 0; p < constant.length; p += 3) constant.set([1.5, -2, 0.25], p);
  const d = bsplineDisplacement(dims, spacing, constant);
  for (let n = 0; n < d.length; n += 3) {
    assert.ok(
      Math.abs(d[n] - 1.5) < 1e-6 && Math.abs(d[n + 1] + 2) < 1e-6 && Math.abs(d[n + 2] - 0.25) < 1e-6,
    );
  }
  // Control point m sits at voxel (m - 1) * spacing: coefficients equal to that give x itself.
  const ramp = new Float32Array(3 * voxelCount(cdims));
  for (let p = 0; p < voxelCount(cdims); p++) ramp[3 * p] = ((p % cdims[0]) - 1) * spacing;
  const r = bsplineDisplacement(dims, spacing, ramp);
  for (let n = 0; n < voxelCount(dims); n++) assert.ok(Math.abs(r[3 * n] - (n % 40)) < 1e-4, `x=${n % 40}`);
});

Deno.test("sampling field: identity at zero strength, displacement bounded, smooth", () => {
  const dims: Vec3 = [20, 16, 12];
  const none = randomSamplingField(dims, [1, 1, 2], new Rng(1), { maxDisplacement: 0, maxRotationDeg: 0 });
  for (let n = 0; n < voxelCount(dims); n++) {
    const p = [n % 20, Math.floor(n / 20) % 16, Math.floor(n / 320)];
    p.forEach((x, a) => assert.ok(Math.abs(none[3 * n + a] - x) < 1e-5));
  }
  const f = randomSamplingField(dims, [1, 1, 2], new Rng(2), {
    maxDisplacement: 4,
    maxRotationDeg: 0,
    controlSpacing: 8,
  });
  let maxJump = 0, maxDisp = 0;
  for (let n = 0; n < voxelCount(dims); n++) {
    const p = [n % 20, Math.floor(n / 20) % 16, Math.floor(n / 320)];
    p.forEach((x, a) => (maxDisp = Math.max(maxDisp, Math.abs(f[3 * n + a] - x))));
    if (p[0] > 0) maxJump = Math.max(maxJump, Math.abs(f[3 * n] - f[3 * n - 3] - 1));
  }
  assert.ok(maxDisp <= 4 && maxDisp > 0.5, `max displacement ${maxDisp}`);
  assert.ok(maxJump < 1, `neighbouring displacements differ by ${maxJump}`);
});

Deno.test("augmentPair: deterministic per seed, identity at zero strength, same warp for image and labels", () => {
  const dims: Vec3 = [32, 32, 16];
  // Labels are a checkerboard of 8-voxel blocks; the image is the labels times 100: both must move together.
  const blocks = (i: number, j: number, k: number) => ((i >> 3) + (j >> 3) + (k >> 3)) % 2;
  const image = volumeFrom(dims, (i, j, k) => 100 * blocks(i, j, k), [
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
    2,
    0,
    0,
    0,
    0,
    1,
  ]);
  const labels = makeVolume(Uint8Array.from(image.data, (v) => v / 100), dims, image.affine);

  const a = augmentPair(image, labels, 11, { controlSpacing: 16 });
  const b = augmentPair(image, labels, 11, { controlSpacing: 16 });
  const c = augmentPair(image, labels, 12, { controlSpacing: 16 });
  assert.deepEqual(a.image.data, b.image.data);
  assert.deepEqual(a.labels.data, b.labels.data);
  assert.notDeepEqual(a.labels.data, c.labels.data);
  assert.notDeepEqual(a.labels.data, labels.data);
  assert.deepEqual(a.image.affine, image.affine);

  let agree = 0;
  a.labels.data.forEach((l, n) => (agree += Math.round(a.image.data[n] / 100) === l ? 1 : 0));
  assert.ok(agree / a.labels.data.length > 0.98, `image and labels agree on ${agree / a.labels.data.length}`);
  // One field drives both: the field drawn from the seed reproduces each output.
  const field = randomSamplingField(dims, image.spacing, new Rng(11), { controlSpacing: 16 });
  assert.deepEqual(warpArray(image.data, dims, field, "linear"), a.image.data);
  assert.deepEqual(warpArray(labels.data, dims, field, "nearest"), a.labels.data);

  const same = augmentPair(image, labels, 5, { maxDisplacement: 0, maxRotationDeg: 0 });
  assert.deepEqual(same.image.data, image.data);
  assert.deepEqual(same.labels.data, labels.data);
  assert.throws(
    () => warpArray(labels.data, dims, new Float32Array(3 * voxelCount(dims)), "linear"),
    TypeError,
  );
});

Deno.test("rotation alone keeps a centred ball's volume and centre", () => {
  const dims: Vec3 = [33, 33, 17];
  const ball = (
    i: number,
    j: number,
    k: number,
  ) => ((i - 16) ** 2 + (j - 16) ** 2 + (2 * (k - 8)) ** 2 <= 100 ? 1 : 0);
  const image = volumeFrom(dims, ball, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
  const labels = makeVolume(Uint8Array.from(image.data), dims, image.affine);
  const out = augmentPair(image, labels, 3, { maxDisplacement: 0, maxRotationDeg: 10 });
  const count = (d: Uint8Array) => d.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(count(out.labels.data) / count(labels.data) - 1) < 0.05);
  let cx = 0, cy = 0, cz = 0;
  out.labels.data.forEach((v, n) => {
    if (!v) return;
    cx += n % 33;
    cy += Math.floor(n / 33) % 33;
    cz += Math.floor(n / 1089);
  });
  const m = count(out.labels.data);
  assert.ok(Math.abs(cx / m - 16) < 0.3 && Math.abs(cy / m - 16) < 0.3 && Math.abs(cz / m - 8) < 0.3);
});
