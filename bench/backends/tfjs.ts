/**
 * TensorFlow.js 4.22 on its WebGPU backend (its own device from Deno's navigator.gpu) or its CPU
 * backend (plain JavaScript). TensorFlow.js is channels-last: inputs are permuted to NDHWC and
 * weights to [kd, kh, kw, in, out] outside the timing, and outputs permuted back for the check.
 * The gradients are its own kernels (`Conv3DBackpropInputV2`, `Conv3DBackpropFilterV2`), called
 * directly so that no forward pass is timed with them. A run ends by reading back one element of
 * the result, which waits for the work before it without timing a full read-back.
 *
 * Its Wasm backend is left out: it gave wrong 3-D results here.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import type { Case, CeShape, ConvShape, ConvTShape, PoolShape } from "../shapes.ts";
import {
  type Backend,
  type CaseData,
  convShapes,
  convTShapes,
  type Runner,
  toChannelsLast,
  toTfWeights,
  Unsupported,
} from "./types.ts";

type T = tf.Tensor;
type T5 = tf.Tensor5D;

const NO_UNET = "no U-Net port to TensorFlow.js (its ops are timed one by one)";

const STRIDES1: [number, number, number, number, number] = [1, 1, 1, 1, 1];

/** TensorFlow.js on one of its backends. */
export class TfjsBackend implements Backend {
  readonly name: "tfjs-webgpu" | "tfjs-cpu";

  constructor(readonly tfBackend: "webgpu" | "cpu") {
    this.name = tfBackend === "webgpu" ? "tfjs-webgpu" : "tfjs-cpu";
  }

  async init(): Promise<void> {
    // TensorFlow.js prints a hint about tfjs-node at its CPU backend's first upload in a Node-like runtime
    const warn = console.warn, log = console.log;
    console.warn = console.log = () => {};
    try {
      if (!(await tf.setBackend(this.tfBackend))) {
        throw new Error(`TensorFlow.js could not start its ${this.tfBackend} backend`);
      }
      await tf.ready();
      tf.tensor1d([0]).dispose();
    } finally {
      console.warn = warn;
      console.log = log;
    }
  }

  device(): string {
    if (this.tfBackend === "cpu") return "CPU, 1 thread (JavaScript)";
    const b = tf.backend() as unknown as { device?: GPUDevice & { adapterInfo?: GPUAdapterInfo } };
    const info = b.device?.adapterInfo;
    const name = info ? info.description || [info.vendor, info.architecture].filter(Boolean).join(" ") : "";
    return `WebGPU${name ? `: ${name}` : ""}`;
  }

  unsupported(c: Case): string | null {
    return c.shape.kind === "unet" ? NO_UNET : null;
  }

  async prepare(c: Case, data: CaseData): Promise<Runner> {
    if (tf.getBackend() !== this.tfBackend) await tf.setBackend(this.tfBackend);
    const s = c.shape;
    let inputs: T[];
    let fn: () => T;
    /** NCDHW shape of the output, to permute it back; null for a scalar. */
    let outShape: number[] | null;
    const cl = (a: Float32Array, shape: number[]) => {
      const [n, ch, d, h, w] = shape;
      return tf.tensor5d(toChannelsLast(a, shape), [n, d, h, w, ch]);
    };
    const wt = (a: Float32Array, shape: number[]) => {
      const [o, i, kd, kh, kw] = shape;
      return tf.tensor5d(toTfWeights(a, shape), [kd, kh, kw, i, o]);
    };
    switch (c.op) {
      case "conv3d_forward":
      case "conv3d_input_grad":
      case "conv3d_weight_grad": {
        const cs = s as ConvShape, sh = convShapes(cs);
        const pad = cs.padding;
        const x = cl(data.x, sh.x) as T5, w = wt(data.w!, sh.w) as T5;
        if (c.op === "conv3d_forward") {
          const b = tf.tensor1d(data.b!);
          inputs = [x, w, b];
          fn = () => tf.tidy(() => tf.add(tf.conv3d(x, w, 1, pad), b));
          outShape = sh.y;
        } else {
          const dy = cl(data.dy!, sh.y);
          inputs = [x, w, dy];
          if (c.op === "conv3d_input_grad") {
            fn = () =>
              tf.engine().runKernel("Conv3DBackpropInputV2", { dy, filter: w }, {
                strides: STRIDES1,
                pad,
                inputShape: x.shape,
              }) as T;
            outShape = sh.x;
          } else {
            fn = () =>
              tf.engine().runKernel("Conv3DBackpropFilterV2", { x, dy }, {
                strides: STRIDES1,
                pad,
                filterShape: w.shape,
              }) as T;
            outShape = null; // weights: permuted back below
          }
        }
        if (c.op === "conv3d_weight_grad") return runner(inputs, fn, (a) => toTfWeights(a, sh.w, true));
        break;
      }
      case "conv_transpose3d_forward": {
        const ts = s as ConvTShape, sh = convTShapes(ts);
        const x = cl(data.x, sh.x) as T5;
        // [cin, cout, 2, 2, 2] -> [kd, kh, kw, out, in]
        const w = wt(data.w!, sh.w) as T5;
        const b = tf.tensor1d(data.b!);
        inputs = [x, w, b];
        const [n, , d, h, wd] = sh.y;
        fn = () => tf.tidy(() => tf.add(tf.conv3dTranspose(x, w, [n, d, h, wd, ts.cout], 2, "valid"), b));
        outShape = sh.y;
        break;
      }
      case "max_pool3d_forward": {
        const p = s as PoolShape;
        const x = cl(data.x, [p.n, p.c, p.d, p.h, p.w]) as T5;
        inputs = [x];
        fn = () => tf.maxPool3d(x, 2, 2, "valid");
        outShape = [p.n, p.c, Math.floor(p.d / 2), Math.floor(p.h / 2), Math.floor(p.w / 2)];
        break;
      }
      case "softmax_ce_forward": {
        const p = s as CeShape;
        const v = p.n * p.d * p.h * p.w;
        const z = tf.reshape(cl(data.x, [p.n, p.k, p.d, p.h, p.w]), [v, p.k]);
        // one-hot labels, made outside the timing
        const onehot = tf.oneHot(tf.tensor1d(Int32Array.from(data.labels!), "int32"), p.k);
        inputs = [z, onehot];
        fn = () => tf.losses.softmaxCrossEntropy(onehot, z);
        outShape = null;
        break;
      }
      default:
        throw new Unsupported(NO_UNET);
    }
    return runner(inputs, fn, (a) => outShape ? toChannelsLast(a, outShape, true) : a);
  }
}

/** Times `fn`, syncing on a one-element read of its result; `back` maps the output to NCDHW. */
function runner(inputs: T[], fn: () => T, back: (a: Float32Array) => Float32Array): Runner {
  let last: T | null = null;
  return {
    run: async () => {
      last?.dispose();
      last = fn();
      const probe = tf.tidy(() => tf.slice(tf.reshape(last!, [-1]), 0, 1));
      await probe.data();
      probe.dispose();
    },
    output: async () => back(Float32Array.from(await last!.data() as Float32Array)),
    dispose: () => {
      last?.dispose();
      for (const t of inputs) t.dispose();
    },
  };
}
