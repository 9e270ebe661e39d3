import assert from "node:assert/strict";
import { assertClose, randomData, setupGpu } from "./_helpers.ts";
import { FAST_UNET, outputSize, PAPER_UNET, UNet3D, type UNetConfig, weightCount } from "../src/nn/unet3d.ts";
import { loadModel, saveModel } from "../src/io/models.ts";
import { backward, noGrad } from "../src/autograd.ts";
import { weightedCrossEntropy } from "../src/ops/loss.ts";
import { Tensor, tidy } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";
import { WeightsError } from "../src/nn/safetensors.ts";

const g = await setupGpu();

const tiny: UNetConfig = { ...FAST_UNET, baseChannels: 2, levels: 3 };

Deno.test("the paper's U-Net maps 132x132x116 to 44x44x28 with about 19 M weights", () => {
  assert.deepEqual(outputSize(PAPER_UNET, [132, 132, 116]), [44, 44, 28]);
  assert.throws(() => outputSize(PAPER_UNET, [130, 132, 116]), ShapeError);
  assert.deepEqual(outputSize(FAST_UNET, [32, 24, 40]), [32, 24, 40]);
  const weights = weightCount(PAPER_UNET);
  assert.ok(weights > 18e6 && weights < 20e6, `${weights} weights`);
});

Deno.test("valid and same U-Nets run forward and backward with every parameter getting a gradient", async () => {
  for (const cfg of [tiny, { ...PAPER_UNET, baseChannels: 2, levels: 2 }]) {
    const net = new UNet3D(cfg, 1);
    const size = cfg.padding === "valid" ? [20, 22, 18] : [8, 12, 16];
    const out = outputSize(cfg, size);
    const x = Tensor.from(randomData(2 * size.reduce((a, b) => a * b), 3), [2, 1, ...size]);
    const labels = Tensor.from(new Uint32Array(2 * out.reduce((a, b) => a * b)).map((_, i) => i % 8), [
      2,
      ...out,
    ], {
      dtype: "u32",
    });
    const loss = tidy(() => {
      const logits = net.forward(x);
      assert.deepEqual(logits.shape, [2, 8, ...out]);
      const l = weightedCrossEntropy(logits, labels, { weights: "paper" });
      backward(l);
      return l;
    });
    assert.ok(Number.isFinite((await loss.read())[0]));
    for (const [name, p] of net.params) {
      const g = await p.grad?.read();
      assert.ok(g && g.every(Number.isFinite), `${name} has no finite gradient`);
    }
    net.dispose();
    x.dispose();
    labels.dispose();
    loss.dispose();
  }
});

Deno.test("weights round-trip through safetensors; wrong files are refused by name", async () => {
  const dir = await Deno.makeTempDir();
  const net = new UNet3D(tiny, 7);
  const path = `${dir}/m.safetensors`;
  await saveModel(path, net, { note: "test" });
  const { model, metadata } = await loadModel(path);
  assert.equal(metadata.note, "test");
  const x = Tensor.from(randomData(8 * 12 * 16, 4), [1, 1, 8, 12, 16]);
  const [a, b] = await Promise.all([net, model].map((m) => noGrad(() => m.forward(x)).read()));
  assert.deepEqual(a, b);
  // a model of another size in the file: refused by tensor name and shape
  await saveModel(path, new UNet3D({ ...tiny, baseChannels: 4 }));
  const wrong = new UNet3D(tiny);
  assert.equal(wrong.weightCount, weightCount(tiny));
  const { loadInto } = await import("../src/nn/weights.ts");
  const { decodeSafetensors } = await import("../src/nn/safetensors.ts");
  assert.throws(
    () => loadInto(wrong, decodeSafetensors(Deno.readFileSync(path), path).tensors, path),
    (e) =>
      e instanceof WeightsError &&
      /down0\.conv0\.weight has shape \[4,1,3,3,3\], the model needs \[2,1,3,3,3\]/.test(e.message),
  );
  // truncated file
  const bytes = Deno.readFileSync(path);
  Deno.writeFileSync(path, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(
    () => loadModel(path),
    (e) => e instanceof WeightsError && /truncated/.test(e.message),
  );
  await assert.rejects(() => loadModel(`${dir}/none.safetensors`), /no such file/);
  Deno.writeFileSync(path, new TextEncoder().encode("not a model at all"));
  await assert.rejects(() => loadModel(path), WeightsError);
  await Deno.remove(dir, { recursive: true });
});

/** Logits (training and inference mode), loss, gradients and running statistics of one step. */
async function step(cfg: UNetConfig, shape: number[], cap: number | null) {
  const net = new UNet3D(cfg, 5);
  const x = Tensor.from(randomData(shape.reduce((a, b) => a * b), 8), shape);
  const out = outputSize(cfg, shape.slice(2));
  const voxels = shape[0] * out.reduce((a, b) => a * b);
  const labels = Tensor.from(
    Uint32Array.from({ length: voxels }, (_, i) => (i * 7 + (i >> 3)) % cfg.classes),
    [
      shape[0],
      ...out,
    ],
    { dtype: "u32" },
  );
  g.capBinding(cap);
  try {
    const [logits, loss] = tidy(() => {
      const logits = net.forward(x).retain();
      const l = weightedCrossEntropy(logits, labels, { weights: "paper" });
      backward(l);
      return [logits, l];
    });
    const splits = new Map(net.lastSplits);
    net.training = false;
    const inference = noGrad(() => net.forward(x));
    const r = {
      splits,
      logits: await logits.read(),
      loss: (await loss.read())[0],
      inference: await inference.read(),
      grads: new Map<string, Float32Array>(),
      buffers: new Map<string, Float32Array>(),
    };
    for (const [name, p] of net.params) r.grads.set(name, await p.grad!.read());
    for (const [name, b] of net.buffers) r.buffers.set(name, await b.read());
    for (const t of [logits, loss, inference, x, labels]) t.dispose();
    return r;
  } finally {
    g.capBinding(null);
    net.dispose();
  }
}

Deno.test("a U-Net whose activations exceed the binding limit runs in channel groups, with the unsplit result", async () => {
  // The binding limit is lowered (a test hook) so that small networks split as the paper's does on
  // lavapipe; every tensor, weights and gradients included, must then fit the lowered limit.
  const cases: { cfg: UNetConfig; shape: number[]; cap: number; splits: Record<string, number> }[] = [
    {
      // valid padding, batch norm (running statistics written back per group), a batch of two: the
      // first level (channels of 45 and 32 KiB) in two groups each, the skip cropped per group
      cfg: { ...PAPER_UNET, baseChannels: 2, levels: 2 },
      shape: [2, 1, 20, 22, 18],
      cap: 64 * 1024,
      splits: { "down0.conv0": 2, "down0.conv1": 2 },
    },
    {
      // same padding, instance norm: the first level in groups of two channels, the second in two
      // groups, so that the up-convolution and the decoder's convolutions sum over several input groups
      cfg: { ...FAST_UNET, baseChannels: 10, levels: 2, classes: 2 },
      shape: [1, 1, 16, 16, 20],
      cap: 44 * 1024,
      splits: {
        "down0.conv0": 5,
        "down0.conv1": 5,
        "down1.conv0": 2,
        "down1.conv1": 2,
        "up0": 5,
        "dec0.conv0 input": 10,
        "dec0.conv0": 5,
        "dec0.conv1": 5,
      },
    },
  ];
  for (const { cfg, shape, cap, splits } of cases) {
    const whole = await step(cfg, shape, null);
    const split = await step(cfg, shape, cap);
    assert.deepEqual(whole.splits, new Map(), "the network split without need");
    assert.deepEqual(Object.fromEntries(split.splits), splits);
    const what = `${cfg.padding}/${cfg.norm}`;
    const e = assertClose(split.logits, whole.logits, 1e-5, `${what} logits`);
    assertClose([split.loss], [whole.loss], 1e-6, `${what} loss`);
    assertClose(split.inference, whole.inference, 1e-5, `${what} inference logits`);
    // gradients relative to the largest of all (a bias before a normalisation has a gradient of 0 plus
    // rounding, which a per-tensor relative error would compare with itself)
    let largest = 0, worst = 0;
    for (const gw of whole.grads.values()) for (const v of gw) largest = Math.max(largest, Math.abs(v));
    for (const [name, gw] of whole.grads) {
      const a = split.grads.get(name)!;
      const err = gw.reduce((m, v, i) => Math.max(m, Math.abs(a[i] - v)), 0) / largest;
      assert.ok(
        err < 1e-5,
        `${what} ${name} gradient: error ${err.toExponential(2)} of the largest gradient`,
      );
      worst = Math.max(worst, err);
    }
    console.log(`error split ${what}: logits ${e.toExponential(1)}, gradients ${worst.toExponential(1)}`);
    for (const [name, b] of whole.buffers) assertClose(split.buffers.get(name)!, b, 1e-5, `${what} ${name}`);
  }
});
