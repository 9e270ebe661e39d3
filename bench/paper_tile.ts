/**
 * One forward pass of the paper's U-Net (Roth et al.: 4 levels, valid padding, batch norm; one
 * 132x132x116 tile in, 44x44x28 out) in inference mode, with seeded random weights: on an adapter whose
 * storage bindings are smaller than the first level's tensors (lavapipe: 128 MiB against 235 and
 * 448 MiB) the network runs those layers in channel groups. Prints the layers that were split, the time
 * and a check of the output. Slow on the software adapter: 599 s on 2 CPU cores shared with other work
 * (283 s of CPU time), the first level in 2 and 4 channel groups, all 123,904 logits finite.
 *
 *   deno run -A bench/paper_tile.ts [--size D,H,W] [--binding MiB]
 */
import { parseArgs } from "node:util";
import { initGpu } from "../src/gpu/runtime.ts";
import { noGrad } from "../src/autograd.ts";
import { outputSize, PAPER_UNET, UNet3D } from "../src/nn/unet3d.ts";
import { Tensor, tidy } from "../src/tensor.ts";
import { Rng } from "../src/util/random.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { size: { type: "string", default: "116,132,132" }, binding: { type: "string" } },
});
const size = values.size!.split(",").map(Number);
const g = await initGpu();
if (values.binding) g.capBinding(Number(values.binding) * 2 ** 20);
const out = outputSize(PAPER_UNET, size);
console.log(
  `adapter: ${g.adapterName}; largest binding ${(g.maxBinding / 2 ** 20).toFixed(0)} MiB; ` +
    `input [1, 1, ${size}] -> [1, 8, ${out}]`,
);
const net = new UNet3D(PAPER_UNET, 1);
net.training = false;
const rng = new Rng(2);
const data = new Float32Array(size.reduce((a, b) => a * b));
for (let i = 0; i < data.length; i++) data[i] = 2 * rng.next() - 1;
const x = Tensor.from(data, [1, 1, ...size]);
await g.sync();
const t0 = performance.now();
const logits = tidy(() => noGrad(() => net.forward(x)));
const result = await logits.read();
const seconds = (performance.now() - t0) / 1000;
const finite = result.every(Number.isFinite);
const mean = result.reduce((a, b) => a + b, 0) / result.length;
console.log(`split layers: ${JSON.stringify(Object.fromEntries(net.lastSplits))}`);
console.log(
  `forward: ${seconds.toFixed(1)} s; logits [${logits.shape}], all finite: ${finite}, mean ${
    mean.toFixed(4)
  }`,
);
