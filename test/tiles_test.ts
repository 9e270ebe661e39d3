import assert from "node:assert/strict";
import { axisStarts, blendWeights, planTiles } from "../src/cascade/tiles.ts";

Deno.test("tiles cover the region, stay inside it when they fit, and overlap as asked", () => {
  for (
    const [lo, hi, size, overlap] of [[0, 100, 32, 0.5], [5, 37, 32, 0.5], [3, 200, 48, 0], [0, 33, 32, 0.25]]
  ) {
    const s = axisStarts(lo, hi, size, overlap);
    assert.equal(s[0], lo);
    assert.equal(s.at(-1)! + size, hi);
    for (let i = 1; i < s.length; i++) {
      assert.ok(s[i] > s[i - 1] && s[i] <= s[i - 1] + size, `gap between tiles at ${s}`);
      assert.ok(s[i] - s[i - 1] <= Math.ceil(size * (1 - overlap)), `overlap too small at ${s}`);
    }
  }
  assert.deepEqual(axisStarts(10, 30, 32, 0.5), [4]); // a region thinner than a tile: one centred tile
  assert.equal(planTiles({ min: [0, 0, 0], max: [64, 40, 20] }, [32, 32, 32], 0.5).length, 3 * 2 * 1);
  assert.throws(() => planTiles({ min: [0, 0, 0], max: [1, 1, 1] }, [1, 1, 1], 1), /overlap/);
});

Deno.test("blending weights peak in the middle and fall off towards the borders", () => {
  const w = blendWeights([9, 8, 7]);
  const at = (x: number, y: number, z: number) => w[(z * 8 + y) * 9 + x];
  assert.ok(at(4, 4, 3) > at(0, 4, 3) && at(4, 4, 3) > at(4, 0, 3) && at(4, 4, 3) > at(4, 4, 0));
  assert.ok(w.every((v) => v >= 1e-3 && v <= 1));
});
