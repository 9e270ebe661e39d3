/**
 * A whole training step's float32 gradients against PyTorch's float64 step (bench/step_precision.ts),
 * where torch imports: given the leaky-ReLU branches our forward pass took, every gradient keeps float32's
 * digits (the bench's own figures: 4e-6 at the fast U-Net's 32^3 tile, where the step as a whole errs by
 * 1.3e-2 through a branch taken the other way at a voxel whose float64 pre-activation is 6e-8). A kernel that
 * lost digits anywhere in the chain (a naive long sum, f16 arithmetic) would show here. Labels are derived
 * from the input, not from people.
 */
import assert from "node:assert/strict";
import { findTorch } from "../bench/backends/torch.ts";
import { stepPrecision } from "../bench/step_precision.ts";

const torch = (await findTorch()) !== null;

Deno.test({
  name:
    "a training step's gradients match float64 to 3e-5 given the same leaky-ReLU branches (where torch imports)",
  ignore: !torch,
  fn: async () => {
    const r = await stepPrecision({ size: 16, labels: "input", base: 4, seed: 1, print: false });
    const same = r.errors["ours, same branches"];
    const names = Object.keys(same).filter((k) => !r.noise.includes(k));
    assert.ok(names.length > 30, `only ${names.length} tensors above the noise floor`);
    for (const k of names) assert.ok(same[k] < 3e-5, `${k}: relative error ${same[k].toExponential(2)}`);
    // the conv biases that a normalisation follows are zero in exact arithmetic: rounding noise, under the
    // harness's floor of 1e-4 of the largest gradient
    for (const k of r.noise) assert.ok(same[k] < 1e-2, `${k}: ${same[k].toExponential(2)} of the floor`);
    assert.ok(same.loss < 1e-6, `loss: ${same.loss}`);
  },
});
