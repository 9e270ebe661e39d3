import assert from "node:assert/strict";
import { bodyMask } from "../../src/volume/body-mask.ts";
import { readLabels, readNifti } from "../../src/io/volumes.ts";
import { SAMPLE_CT, SAMPLE_LABELS, volumeFrom } from "./_synth.ts";

Deno.test("body mask on a synthetic CT: keeps the body with its lungs, drops the table and noise", () => {
  // An elliptic body (40 HU) with an air-filled "lung" (-850 HU), a table slab (200 HU) joined
  // to it by a one-voxel strut, and isolated noise voxels, in air (-1000 HU).
  const dims = [48, 40, 10] as [number, number, number];
  const ct = volumeFrom(dims, (i, j, k) => {
    if (((i - 24) / 18) ** 2 + ((j - 22) / 13) ** 2 <= 1) {
      return ((i - 18) / 4) ** 2 + ((j - 22) / 4) ** 2 <= 1 ? -850 : 40;
    }
    if (j >= 3 && j <= 5 && i >= 6 && i <= 42) return 200; // table
    if (i === 24 && j >= 6 && j <= 9) return 100; // strut between table and body
    if (i === 2 && j === 35 && k === 4) return 300; // noise
    return -1000;
  }, [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
  const mask = bodyMask(ct);
  const at = (i: number, j: number, k: number) => mask[i + 48 * (j + 40 * k)];
  assert.equal(at(24, 22, 5), 1, "body");
  assert.equal(at(18, 22, 5), 1, "lung filled");
  assert.equal(at(24, 4, 5), 0, "table");
  assert.equal(at(10, 4, 0), 0, "table at the end slice");
  assert.equal(at(2, 35, 4), 0, "noise");
  assert.equal(at(1, 1, 5), 0, "air");
});

Deno.test("body mask C1 on the sample CT covers the organs and about two thirds of the volume", async () => {
  const ct = await readNifti(SAMPLE_CT);
  const labels = await readLabels(SAMPLE_LABELS);
  const mask = bodyMask(ct);
  let inside = 0, organsOutside = 0, tissueOutside = 0;
  for (let n = 0; n < mask.length; n++) {
    inside += mask[n];
    if (!mask[n] && labels.data[n] > 0) organsOutside++;
    if (!mask[n] && ct.data[n] > -500) tissueOutside++;
  }
  const fraction = inside / mask.length;
  console.log(
    `body mask C1 on ${SAMPLE_CT.split("/").pop()}: ${
      (100 * fraction).toFixed(1)
    }% of ${mask.length} voxels; ` +
      `${tissueOutside} voxels above -500 HU left out (table, noise)`,
  );
  // This scan's field of view is tight around the abdomen: 64% of its voxels are above -500 HU.
  assert.ok(fraction > 0.55 && fraction < 0.72, `fraction ${fraction}`);
  assert.equal(organsOutside, 0, "every labelled organ voxel lies inside the body mask");
  assert.ok(tissueOutside > 500, "the CT table is left out");
});
