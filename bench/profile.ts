/**
 * Where the time of a U-Net step goes on this adapter: every kernel launch timed on the device with
 * timestamp queries (`Gpu.startProfile`), summed per kernel. The timed runs submit one pass per launch,
 * so the total is above a normal run's; the shares are what this script is for. The plain time of a
 * step, before profiling, is the median of `--steps` warm steps, each awaited on its own.
 *
 *   deno run -A bench/profile.ts [--preset fast|paper] [--base 8] [--size 40] [--mode train|infer] [--steps 2]
 *
 * `--base 8` is the fast preset's cascade network (`deno task train --preset fast`), 40 its stage-2 patch.
 */
import { parseArgs } from "node:util";
import { gpu } from "../src/gpu/runtime.ts";
import { startGpu } from "../src/io/gpu.ts";
import { backward, noGrad } from "../src/autograd.ts";
import { Tensor, tidy } from "../src/tensor.ts";
import { weightedCrossEntropy } from "../src/ops/loss.ts";
import { outputSize, UNet3D } from "../src/nn/unet3d.ts";
import { Adam } from "../src/optim/adam.ts";
import { Rng } from "../src/util/random.ts";
import { presetConfig } from "./shapes.ts";
import { median } from "./harness.ts";

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "fast" },
    base: { type: "string" },
    size: { type: "string", default: "40" },
    mode: { type: "string", default: "train" },
    steps: { type: "string", default: "2" },
  },
});
const preset = values.preset === "paper" ? "paper" : "fast";
const size = values.size.split("x").map(Number);
const [d, h, w] = size.length === 3 ? size : [size[0], size[0], size[0]];
const steps = Number(values.steps);

const g = await startGpu();
const config = { ...presetConfig(preset), ...values.base ? { baseChannels: Number(values.base) } : {} };
const model = new UNet3D(config, 1);
const rng = new Rng(2);
const x = Tensor.from(Float32Array.from({ length: d * h * w }, () => rng.normal()), [1, 1, d, h, w]);
const out = outputSize(config, [d, h, w]);
const labels = Tensor.from(
  Uint32Array.from({ length: out[0] * out[1] * out[2] }, () => rng.int(8)),
  [1, ...out],
  { dtype: "u32" },
);
const opt = new Adam([...model.params.values()], { lr: 1e-4 });
model.training = values.mode === "train";

function step(): void {
  tidy(() => {
    if (values.mode !== "train") return noGrad(() => model.forward(x));
    const loss = weightedCrossEntropy(model.forward(x), labels);
    backward(loss);
    noGrad(() => opt.step());
    opt.zeroGrad();
  });
}

step(); // warm-up: compiles every pipeline
await g.sync();
const times: number[] = [];
for (let i = 0; i < steps; i++) {
  const t = performance.now();
  step();
  await g.sync();
  times.push(performance.now() - t);
}
const plain = median(times);

g.startProfile();
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const rows = await g.stopProfile();
const timed = (performance.now() - t0) / steps;
const total = rows.reduce((a, r) => a + r.ms, 0) / steps;

console.log(`adapter: ${gpu().adapterName}`);
console.log(
  `${preset} U-Net, ${values.mode} step on ${d}x${h}x${w}: ${plain.toFixed(0)} ms a step ` +
    `(median of ${steps} warm steps: ${times.map((t) => t.toFixed(0)).join(", ")} ms)`,
);
console.log(`profiled: ${timed.toFixed(0)} ms a step, of which ${total.toFixed(0)} ms in kernels\n`);
console.log("kernel".padEnd(40) + "launches".padStart(9) + "ms/step".padStart(10) + "share".padStart(8));
for (const r of rows) {
  const ms = r.ms / steps;
  console.log(
    r.kernel.padEnd(40) + String(r.launches / steps).padStart(9) + ms.toFixed(1).padStart(10) +
      `${(100 * ms / total).toFixed(1)}%`.padStart(8),
  );
}
