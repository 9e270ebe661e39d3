/** Adam and AdamW (shaders/optim.wgsl) with PyTorch's semantics, bias correction included. */
import { gpu } from "../gpu/runtime.ts";
import type { Tensor } from "../tensor.ts";
import { OPTIM_SHADER, Optimizer } from "./sgd.ts";

/** Options of `Adam`. */
export interface AdamOptions {
  lr: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Weight decay (default 0): an L2 term in the gradient, or decoupled when `decoupled`. */
  weightDecay?: number;
  /** AdamW: shrink the parameters by `1 - lr * weightDecay` instead of adding an L2 gradient. */
  decoupled?: boolean;
}

/**
 * Adam (`decoupled: true`: AdamW), as PyTorch: `m = beta1 m + (1 - beta1) g`,
 * `v = beta2 v + (1 - beta2) g^2`, `p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`,
 * with t the parameter's own update count, kept on the host.
 */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;

  /** An Adam optimiser over `params`. */
  constructor(params: readonly Tensor[], opts: AdamOptions) {
    super(params, opts.lr, ["exp_avg", "exp_avg_sq"]);
    this.betas = opts.betas ?? [0.9, 0.999];
    if (!this.betas.every((b) => b >= 0 && b < 1)) {
      this.dispose();
      throw new RangeError(`Adam: invalid betas [${this.betas}]`);
    }
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.decoupled = opts.decoupled ?? false;
  }

  protected update(i: number, param: Tensor, grad: Tensor, t: number): void {
    const [b1, b2] = this.betas;
    // 1 - beta, the decay and the bias corrections in float64 on the host, as PyTorch's Python floats
    const stepSize = this.lr / (1 - b1 ** t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    const wd = this.weightDecay;
    const [l2, shrink] = this.decoupled ? [0, 1 - this.lr * wd] : [wd, 1];
    gpu().run({
      shader: OPTIM_SHADER,
      entry: "adam",
      params: [param.size, b2, 1 - b1, 1 - b2, this.eps, l2, shrink, stepSize, bc2Sqrt],
      paramTypes: "uffffffff",
      inputs: [grad.buffer],
      outputs: [param.buffer, this.buffers.exp_avg[i].buffer, this.buffers.exp_avg_sq[i].buffer],
      invocations: param.size,
    });
  }
}
