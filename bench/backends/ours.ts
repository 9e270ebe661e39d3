/**
 * Our engine (src/ops, src/nn) on its WebGPU adapter. Each op is called exactly as the U-Net calls
 * it, so a faster kernel that an op dispatches to (e.g. src/ops/conv3d_fast.ts) is what gets timed.
 * Gradients are timed on their own: the forward pass is recorded once, and each run calls the
 * node's backward with the output gradient (what `backward()` does for this op, minus the tape walk).
 * Every run ends with `await gpu().sync()` (the device's onSubmittedWorkDone).
 */
import { gpu } from "../../src/gpu/runtime.ts";
import { startGpu } from "../../src/io/gpu.ts";
import { backward, noGrad } from "../../src/autograd.ts";
import { Tensor, tidy } from "../../src/tensor.ts";
import { conv3d, convKernels } from "../../src/ops/conv3d.ts";
import { convTranspose3d } from "../../src/ops/conv_transpose3d.ts";
import { maxPool3d } from "../../src/ops/pool3d.ts";
import { weightedCrossEntropy } from "../../src/ops/loss.ts";
import { outputSize, UNet3D } from "../../src/nn/unet3d.ts";
import { SGD } from "../../src/optim/sgd.ts";
import type { Case, ConvShape, ConvTShape, UNetShape } from "../shapes.ts";
import { presetConfig } from "../shapes.ts";
import { type Backend, type CaseData, convShapes, convTShapes, type Runner } from "./types.ts";

/** Learning rate and momentum of the timed training step (their values do not change the time). */
const SGD_OPTS = { lr: 1e-4, momentum: 0.9 };

/** A runner around `step`, which records the work of one run and returns its result tensor. */
function tensorRunner(step: () => Tensor, owned: Tensor[], after?: () => void): Runner {
  let last: Tensor | null = null;
  return {
    run: async () => {
      last?.dispose();
      last = step();
      await gpu().sync();
    },
    output: () => last!.read(),
    dispose: () => {
      last?.dispose();
      after?.();
      for (const t of owned) t.dispose();
    },
  };
}

/** Our WebGPU engine. */
export class OursBackend implements Backend {
  readonly name = "ours";

  async init(): Promise<void> {
    await startGpu();
    // BENCH_CONV=direct times the direct convolution kernels instead of the default the op dispatches to
    const impl = Deno.env.get("BENCH_CONV");
    if (impl === "direct" || impl === "tiled") convKernels.implementation = impl;
    else if (impl) throw new Error(`BENCH_CONV must be "direct" or "tiled", got "${impl}"`);
  }

  device(): string {
    return `${gpu().adapterName} (conv3d: ${convKernels.implementation} kernels)`;
  }

  prepare(c: Case, data: CaseData): Promise<Runner> {
    return Promise.resolve(this.#prepare(c, data));
  }

  #prepare(c: Case, data: CaseData): Runner {
    const s = c.shape;
    switch (c.op) {
      case "conv3d_forward":
      case "conv3d_input_grad":
      case "conv3d_weight_grad":
        return convRunner(c.op, s as ConvShape, data);
      case "conv_transpose3d_forward": {
        const sh = convTShapes(s as ConvTShape);
        const x = Tensor.from(data.x, sh.x),
          w = Tensor.from(data.w!, sh.w),
          b = Tensor.from(data.b!, [sh.w[1]]);
        return tensorRunner(() => noGrad(() => convTranspose3d(x, w, b)), [x, w, b]);
      }
      case "max_pool3d_forward": {
        const p = s as { n: number; c: number; d: number; h: number; w: number };
        const x = Tensor.from(data.x, [p.n, p.c, p.d, p.h, p.w]);
        return tensorRunner(() => noGrad(() => maxPool3d(x)), [x]);
      }
      case "softmax_ce_forward": {
        const p = s as { n: number; k: number; d: number; h: number; w: number };
        const x = Tensor.from(data.x, [p.n, p.k, p.d, p.h, p.w]);
        const y = Tensor.from(data.labels!, [p.n, p.d, p.h, p.w], { dtype: "u32" });
        return tensorRunner(() => noGrad(() => weightedCrossEntropy(x, y)), [x, y]);
      }
      case "unet_train_step":
      case "unet_inference_tile":
        return unetRunner(c.op, s as UNetShape, data);
    }
  }
}

/** Convolution forward, or one of its gradients alone (the forward recorded once, outside the timing). */
function convRunner(op: Case["op"], s: ConvShape, data: CaseData): Runner {
  const sh = convShapes(s);
  const x = Tensor.from(data.x, sh.x), w = Tensor.from(data.w!, sh.w), b = Tensor.from(data.b!, [s.cout]);
  const opts = { padding: s.padding };
  if (op === "conv3d_forward") return tensorRunner(() => noGrad(() => conv3d(x, w, b, opts)), [x, w, b]);
  const wantInput = op === "conv3d_input_grad";
  x.requiresGrad = wantInput;
  w.requiresGrad = !wantInput;
  const y = conv3d(x, w, b, opts);
  const node = y.node!;
  const dy = Tensor.from(data.dy!, sh.y);
  return tensorRunner(
    () => noGrad(() => node.backward(dy)[wantInput ? 0 : 1]!),
    [x, w, b, dy, y],
    () => node.release?.(),
  );
}

/**
 * A whole U-Net: a training step (forward, loss, backward, SGD update) or an inference tile. A step's
 * result is its loss and the gradient of every parameter (`Parts`): the gradients are cleared at the
 * start of the next step instead of the end of this one, so they are still there to read.
 */
function unetRunner(op: Case["op"], s: UNetShape, data: CaseData): Runner {
  const config = presetConfig(s.preset);
  const model = new UNet3D(config, data.seed ?? 0);
  const x = Tensor.from(data.x, [s.n, config.inChannels, s.d, s.h, s.w]);
  if (op === "unet_inference_tile") {
    model.training = false;
    return tensorRunner(() => noGrad(() => tidy(() => model.forward(x))), [x], () => model.dispose());
  }
  const out = outputSize(config, [s.d, s.h, s.w]);
  const labels = Tensor.from(data.labels!, [s.n, ...out], { dtype: "u32" });
  const named = [...model.params];
  const opt = new SGD(named.map(([, p]) => p), SGD_OPTS);
  const runner = tensorRunner(
    () =>
      tidy(() => {
        opt.zeroGrad();
        const logits = model.forward(x);
        const loss = weightedCrossEntropy(logits, labels);
        backward(loss);
        noGrad(() => opt.step());
        // the loss was computed before the update: it is what another backend's first step gives
        return loss;
      }),
    [x, labels],
    () => {
      opt.zeroGrad();
      opt.dispose();
      model.dispose();
    },
  );
  return {
    ...runner,
    output: async () => {
      const parts = new Map([["loss", await runner.output() as Float32Array]]);
      for (const [name, p] of named) {
        if (!p.grad) throw new Error(`the training step left no gradient on ${name}`);
        parts.set(`grad:${name}`, await p.grad.read());
      }
      return parts;
    },
  };
}
