import assert from "node:assert/strict";
import { setupGpu } from "./_helpers.ts";
import { predictRegion, type Segmenter } from "../src/cascade/infer.ts";
import type { StageSpec } from "../src/cascade/stage.ts";
import { FAST_UNET } from "../src/nn/unet3d.ts";
import { concat } from "../src/ops/layout.ts";
import { scale } from "../src/ops/elementwise.ts";
import type { Tensor } from "../src/tensor.ts";
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
