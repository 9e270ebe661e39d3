import assert from "node:assert/strict";
import { randomData, setupGpu } from "./_helpers.ts";
import { FAST_UNET, outputSize, PAPER_UNET, UNet3D, type UNetConfig, weightCount } from "../src/nn/unet3d.ts";
import { loadModel, saveModel } from "../src/io/models.ts";
import { backward, noGrad } from "../src/autograd.ts";
import { weightedCrossEntropy } from "../src/ops/loss.ts";
import { Tensor, tidy } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";
import { WeightsError } from "../src/nn/safetensors.ts";

await setupGpu();

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
