import assert from "node:assert/strict";
import { dicePerLabel, meanDice } from "../src/train/dice.ts";

Deno.test("Dice on hand-made volumes", () => {
  // label 1: A = {0,1,2,3}, B = {2,3,4} -> 2*2/(4+3); label 2: only in the reference -> 0; label 3: absent -> NaN
  const pred = Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0]);
  const ref = Uint8Array.from([0, 0, 1, 1, 1, 2, 2, 0]);
  const d = dicePerLabel(pred, ref, 4);
  assert.equal(d[0].dice, 4 / 7);
  assert.equal(d[1].dice, 0);
  assert.ok(Number.isNaN(d[2].dice));
  assert.equal(meanDice(d), (4 / 7 + 0) / 2);
  assert.equal(dicePerLabel(ref, ref, 4)[0].dice, 1);
});

Deno.test("Dice counts only voxels inside the mask", () => {
  const pred = Uint8Array.from([1, 1, 0, 0]);
  const ref = Uint8Array.from([1, 0, 0, 1]);
  const mask = Uint8Array.from([1, 0, 1, 0]);
  assert.equal(dicePerLabel(pred, ref, 2, mask)[0].dice, 1);
  assert.throws(() => dicePerLabel(pred, ref.subarray(1), 2), /differ in size/);
});
