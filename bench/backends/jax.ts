/**
 * jax-js (`npm:@jax-js/jax`) on WebGPU (its own device on the same adapter) or on its Wasm backend:
 * `lax.convGeneralDilated`, its gradients through `vjp`, `lax.convTranspose`, `lax.reduceWindow`, and
 * `nn.logSoftmax`, each wrapped in `jit`. jax-js counts references: an argument passed to a function
 * is consumed, so inputs kept across runs are passed as `.ref`. Each run ends with
 * `blockUntilReady()` (submit, then a zero-byte read that waits for the device).
 *
 * Known: its convolution weight gradient is wrong at 36^3 voxels and above (seen here on both
 * devices; a 32-bit index overflow); the correctness check marks those rows.
 */
import { defaultDevice, getWebGPUDevice, init, jit, lax, nn, numpy as np, vjp } from "@jax-js/jax";
import type { Case, CeShape, ConvShape, ConvTShape, PoolShape } from "../shapes.ts";
import { type Backend, type CaseData, convShapes, convTShapes, type Runner, Unsupported } from "./types.ts";

type Arr = np.Array;

const NO_UNET = "no U-Net port to jax-js (its ops are timed one by one)";
type Device = "webgpu" | "wasm";

/** jax-js on one device. */
export class JaxBackend implements Backend {
  readonly name: "jax-js" | "jax-js-wasm";

  constructor(readonly jaxDevice: Device) {
    this.name = jaxDevice === "webgpu" ? "jax-js" : "jax-js-wasm";
  }

  async init(): Promise<void> {
    const got = await init(this.jaxDevice);
    if (!got.includes(this.jaxDevice)) {
      throw new Error(`jax-js could not start its ${this.jaxDevice} backend`);
    }
  }

  device(): string {
    if (this.jaxDevice === "wasm") {
      return `Wasm (CPU, ${typeof SharedArrayBuffer === "function" ? "threads possible" : "1 thread"})`;
    }
    const info = (getWebGPUDevice() as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const name = info
      ? info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(" ")
      : "";
    return `WebGPU${name ? `: ${name}` : ""}`;
  }

  unsupported(c: Case): string | null {
    return c.shape.kind === "unet" ? NO_UNET : null;
  }

  prepare(c: Case, data: CaseData): Promise<Runner> {
    defaultDevice(this.jaxDevice);
    const device = this.jaxDevice;
    const arr = (a: Float32Array, shape: number[]) =>
      np.array(a as Float32Array<ArrayBuffer>, { shape, device });
    const s = c.shape;
    let inputs: Arr[];
    let fn: (...a: Arr[]) => Arr;
    switch (c.op) {
      case "conv3d_forward":
      case "conv3d_input_grad":
      case "conv3d_weight_grad": {
        const cs = s as ConvShape, sh = convShapes(cs);
        const pad = cs.padding === "same" ? "SAME" : "VALID";
        const conv = (x: Arr, w: Arr) => lax.convGeneralDilated(x, w, [1, 1, 1], pad);
        if (c.op === "conv3d_forward") {
          inputs = [arr(data.x, sh.x), arr(data.w!, sh.w), arr(data.b!, [1, cs.cout, 1, 1, 1])];
          fn = (x, w, b) => conv(x, w).add(b);
        } else if (c.op === "conv3d_input_grad") {
          inputs = [arr(data.x, sh.x), arr(data.w!, sh.w), arr(data.dy!, sh.y)];
          fn = (x, w, dy) => {
            const [y, back] = vjp((a: Arr) => conv(a, w), [x]);
            y.dispose();
            return (back(dy) as Arr[])[0];
          };
        } else {
          inputs = [arr(data.x, sh.x), arr(data.w!, sh.w), arr(data.dy!, sh.y)];
          fn = (x, w, dy) => {
            const [y, back] = vjp((b: Arr) => conv(x, b), [w]);
            y.dispose();
            return (back(dy) as Arr[])[0];
          };
        }
        break;
      }
      case "conv_transpose3d_forward": {
        const ts = s as ConvTShape, sh = convTShapes(ts);
        inputs = [arr(data.x, sh.x), arr(data.w!, sh.w), arr(data.b!, [1, ts.cout, 1, 1, 1])];
        // kernel [cin, cout, 2, 2, 2] as PyTorch's ConvTranspose3d: the gradient of a convolution
        fn = (x, w, b) => lax.convTranspose(x, w, [2, 2, 2], "VALID", { transposeKernel: true }).add(b);
        break;
      }
      case "max_pool3d_forward": {
        const p = s as PoolShape;
        inputs = [arr(data.x, [p.n, p.c, p.d, p.h, p.w])];
        fn = (x) => lax.reduceWindow(x, (win: Arr) => win.max(), [2, 2, 2], [2, 2, 2]);
        break;
      }
      case "softmax_ce_forward": {
        const p = s as CeShape;
        const v = p.n * p.d * p.h * p.w;
        // one-hot labels [n, k, d, h, w], made outside the timing
        const onehot = new Float32Array(data.x.length);
        const sp = p.d * p.h * p.w;
        data.labels!.forEach((l, i) => onehot[(Math.floor(i / sp) * p.k + l) * sp + (i % sp)] = 1);
        inputs = [arr(data.x, [p.n, p.k, p.d, p.h, p.w]), arr(onehot, [p.n, p.k, p.d, p.h, p.w])];
        fn = (z, oh) => nn.logSoftmax(z, 1).mul(oh).sum().mul(-1 / v);
        break;
      }
      default:
        return Promise.reject(new Unsupported(NO_UNET));
    }
    const compiled = jit(fn);
    let last: Arr | null = null;
    return Promise.resolve({
      run: async () => {
        last?.dispose();
        last = compiled(...inputs.map((a) => a.ref)) as Arr;
        await last.blockUntilReady();
      },
      output: async () => {
        const d = await last!.ref.data();
        return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
      },
      dispose: () => {
        last?.dispose();
        for (const a of inputs) a.dispose();
        compiled.dispose();
      },
    });
  }
}
