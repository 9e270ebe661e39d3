import assert from "node:assert/strict";
import { assertClose, setupGpu } from "./_helpers.ts";
import { blendRegion, NonFiniteError, predictRegion, type Segmenter } from "../src/cascade/infer.ts";
import { planTiles } from "../src/cascade/tiles.ts";
import type { StageSpec } from "../src/cascade/stage.ts";
import { FAST_UNET } from "../src/nn/unet3d.ts";
import { concat } from "../src/ops/layout.ts";
import { add, mul, scale } from "../src/ops/elementwise.ts";
import { Tensor } from "../src/tensor.ts";
import type { Box } from "../src/volume/bbox.ts";
import type { Vec3 } from "../src/volume/types.ts";

await setupGpu();

/** A stand-in network whose answer is known: class 1 where the input is positive, else class 0. */
const signNet: Segmenter = { training: false, forward: (x: Tensor) => concat(scale(x, -1), x) };
const spec = (patch: Vec3): StageSpec => ({
  stage: 1,
  spacing: [1, 1, 1],
  patch,
  unet: { ...FAST_UNET, classes: 2, levels: 2 },
  hu: { min: -1000, max: 1000 },
});

function volume(dims: Vec3): Float32Array {
  const v = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let i = 0; i < v.length; i++) v[i] = Math.sin(i * 0.37) + 0.2 * Math.cos(i * 1.3);
  return v;
}

Deno.test("overlapping tiles stitch to the exact answer, inside the region only", async () => {
  const dims: Vec3 = [23, 17, 29];
  const image = volume(dims);
  const region = { min: [2, 1, 3] as Vec3, max: [21, 17, 26] as Vec3 };
  let calls = 0;
  const labels = await predictRegion(signNet, spec([8, 6, 10]), image, dims, region, {
    overlap: 0.5,
    onTile: () => calls++,
  });
  assert.ok(calls > 8, "expected many overlapping tiles");
  for (let z = 0; z < dims[2]; z++) {
    for (let y = 0; y < dims[1]; y++) {
      for (let x = 0; x < dims[0]; x++) {
        const i = x + dims[0] * (y + dims[1] * z);
        const inside = x >= 2 && x < 21 && y >= 1 && y < 17 && z >= 3 && z < 26;
        assert.equal(labels[i], inside && image[i] > 0 ? 1 : 0, `voxel ${x},${y},${z}`);
      }
    }
  }
});

Deno.test("a volume thinner than a tile is padded, not refused", async () => {
  const dims: Vec3 = [12, 9, 3];
  const image = volume(dims);
  const labels = await predictRegion(signNet, spec([8, 8, 8]), image, dims, { min: [0, 0, 0], max: dims });
  assert.deepEqual([...labels], [...image].map((v) => (v > 0 ? 1 : 0)));
});

Deno.test("overlapping tiles that disagree are blended with the Gaussian weights (float64 reference)", async () => {
  // the stand-in network's class-1 score depends on where the voxel lies in its tile, so two tiles
  // give the same voxel different probabilities and only the right weights give the right blend
  const patch: Vec3 = [8, 6, 10];
  const local = (lx: number, ly: number, lz: number) => 1.5 * Math.sin(1.7 * lx + 0.9 * ly + 2.3 * lz + 0.4);
  const rampData = new Float32Array(patch[0] * patch[1] * patch[2]);
  for (let z = 0, i = 0; z < patch[2]; z++) {
    for (let y = 0; y < patch[1]; y++) for (let x = 0; x < patch[0]; x++) rampData[i++] = local(x, y, z);
  }
  const ramp = Tensor.from(rampData, [1, 1, patch[2], patch[1], patch[0]]);
  const net: Segmenter = { training: false, forward: (x: Tensor) => concat(scale(x, -1), add(x, ramp)) };
  const dims: Vec3 = [23, 17, 29];
  const image = volume(dims).map((v) => 0.3 * v);
  const region: Box = { min: [2, 1, 3], max: [21, 17, 26] };
  const [rx, ry, rz] = [0, 1, 2].map((a) => region.max[a] - region.min[a]);
  // float64 reference: sum over tiles of w(local) * softmax(scores), w a Gaussian of sigma = size / 8
  const gauss = (i: number, n: number) => Math.exp(-((i - (n - 1) / 2) ** 2) / (2 * (n / 8) ** 2));
  const expected = new Float64Array(2 * rx * ry * rz);
  const tiles = planTiles(region, patch, 0.5);
  assert.ok(tiles.length > 8);
  for (const o of tiles) {
    for (let lz = 0; lz < patch[2]; lz++) {
      for (let ly = 0; ly < patch[1]; ly++) {
        for (let lx = 0; lx < patch[0]; lx++) {
          const [gx, gy, gz] = [o[0] + lx, o[1] + ly, o[2] + lz];
          if ([gx, gy, gz].some((g, a) => g < region.min[a] || g >= region.max[a])) continue;
          const v = image[gx + dims[0] * (gy + dims[1] * gz)];
          const w = Math.max(1e-3, gauss(lx, patch[0]) * gauss(ly, patch[1]) * gauss(lz, patch[2]));
          const p1 = 1 / (1 + Math.exp(-(v + local(lx, ly, lz)) - v)); // softmax of (-v, v + ramp)
          const at = (gx - region.min[0]) + rx * ((gy - region.min[1]) + ry * (gz - region.min[2]));
          expected[at] += w * (1 - p1);
          expected[rx * ry * rz + at] += w * p1;
        }
      }
    }
  }
  const actual = new Float64Array(expected.length);
  const seen: number[] = [];
  await blendRegion(net, spec(patch), image, dims, region, { overlap: 0.5 }, (z, acc) => {
    seen.push(z);
    const plane = rx * ry, base = (z - region.min[2]) * plane;
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < plane; i++) actual[c * rx * ry * rz + base + i] = acc![c * plane + i];
    }
  });
  assert.deepEqual(seen, Array.from({ length: rz }, (_, i) => region.min[2] + i), "planes out of order");
  assertClose(actual, expected, 1e-5, "blended probabilities");
  // and the labels are the arg-max of that blend wherever it is not a near tie
  const labels = await predictRegion(net, spec(patch), image, dims, region, { overlap: 0.5 });
  let checked = 0;
  for (let at = 0; at < rx * ry * rz; at++) {
    const [p0, p1] = [expected[at], expected[rx * ry * rz + at]];
    if (Math.abs(p0 - p1) < 1e-4 * (p0 + p1)) continue;
    const x = region.min[0] + (at % rx), y = region.min[1] + Math.floor(at / rx) % ry;
    const z = region.min[2] + Math.floor(at / (rx * ry));
    assert.equal(labels[x + dims[0] * (y + dims[1] * z)], p1 > p0 ? 1 : 0, `voxel ${x},${y},${z}`);
    checked++;
  }
  assert.ok(checked > 0.9 * rx * ry * rz);
  // a model that records its training loss's class weights has them divided out before the arg-max
  const weighted = await predictRegion(net, { ...spec(patch), lossWeights: [1, 3] }, image, dims, region, {
    overlap: 0.5,
  });
  let flipped = 0;
  checked = 0;
  for (let at = 0; at < rx * ry * rz; at++) {
    const [p0, p1] = [expected[at], expected[rx * ry * rz + at] / 3];
    if (Math.abs(p0 - p1) < 1e-4 * (p0 + p1)) continue;
    const x = region.min[0] + (at % rx), y = region.min[1] + Math.floor(at / rx) % ry;
    const z = region.min[2] + Math.floor(at / (rx * ry));
    const i = x + dims[0] * (y + dims[1] * z);
    assert.equal(weighted[i], p1 > p0 ? 1 : 0, `weighted voxel ${x},${y},${z}`);
    if (weighted[i] !== labels[i]) flipped++;
    checked++;
  }
  assert.ok(checked > 0.9 * rx * ry * rz && flipped > 0.05 * checked, `${flipped} of ${checked} flipped`);
  ramp.dispose();
});

Deno.test("a network that gives NaN or overflows stops inference with the model and the stage named", async () => {
  const dims: Vec3 = [14, 12, 16];
  const region: Box = { min: [0, 0, 0], max: dims };
  const nanNet: Segmenter = { training: false, forward: (x: Tensor) => concat(x, scale(x, NaN)) };
  await assert.rejects(
    () =>
      predictRegion(nanNet, spec([8, 8, 8]), volume(dims), dims, region, { source: "m/stage1.safetensors" }),
    (e) =>
      e instanceof NonFiniteError &&
      /^m\/stage1\.safetensors: stage 1 gave \d+ non-finite probabilities/.test(e.message),
  );
  // scores of 1e40 x^2 overflow to infinity where |x| > 0.02: at one voxel of the volume only
  const image = new Float32Array(dims[0] * dims[1] * dims[2]).fill(1e-3);
  image[5 + dims[0] * (7 + dims[1] * 11)] = 1;
  const hugeNet: Segmenter = {
    training: false,
    forward: (x: Tensor) => concat(x, mul(scale(x, 1e20), scale(x, 1e20))),
  };
  await assert.rejects(
    () => predictRegion(hugeNet, { ...spec([8, 8, 8]), stage: 2 }, image, dims, region),
    (e) =>
      e instanceof NonFiniteError && /^the stage-2 model: stage 2 gave [1-9]\d* non-finite/.test(e.message),
  );
  // the same network is finite where no voxel overflows
  image.fill(1e-3);
  const labels = await predictRegion(hugeNet, spec([8, 8, 8]), image, dims, region);
  assert.ok(labels.every((v) => v === 1));
});
