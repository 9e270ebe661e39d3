/**
 * Optimisers that update parameter tensors in place on the GPU (shaders/optim.wgsl), one kernel per
 * parameter: the shared `Optimizer` base (state buffers, gradient bookkeeping, checkpoints) and SGD.
 * Adam lives in adam.ts; learning-rate schedules in schedule.ts.
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { Tensor, untrack } from "../tensor.ts";

/** The shader of the update kernels. */
export const OPTIM_SHADER = "optim.wgsl";

/**
 * An optimiser's state on the host, for checkpoints: the number of `step()` calls and, per buffer
 * name, one array per parameter (in the order the parameters were given). `buffers.step` holds each
 * parameter's own update count (a parameter without a gradient is skipped, as in PyTorch).
 */
export interface OptimizerState {
  step: number;
  buffers: Record<string, Float32Array[]>;
}

/** Base of the optimisers: per-parameter state tensors (zero-initialised) and the step loop. */
export abstract class Optimizer {
  /** Learning rate of the next `step()`; set it from a schedule before each step. */
  lr: number;
  /** Number of `step()` calls so far. */
  stepCount = 0;
  /** The parameters, updated in place. */
  readonly params: readonly Tensor[];
  /** Per state name, one tensor per parameter (same shape). */
  protected readonly buffers: Record<string, Tensor[]> = {};
  /** Updates applied to each parameter (Adam's bias correction counts per parameter, as PyTorch). */
  protected readonly paramSteps: number[];

  /** Allocates the zero state buffers `names` for every parameter. */
  protected constructor(params: readonly Tensor[], lr: number, names: readonly string[]) {
    if (!(lr >= 0)) throw new RangeError(`invalid learning rate ${lr}`);
    for (const p of params) {
      if (p.dtype !== "f32") throw new ShapeError(`optimiser: parameter ${p} is not f32`);
    }
    this.params = [...params];
    this.lr = lr;
    this.paramSteps = params.map(() => 0);
    for (const name of names) {
      this.buffers[name] = params.map((p) => {
        const t = Tensor.zeros(p.shape);
        untrack(t); // lives as long as the optimiser, whatever tidy scope created it
        return t;
      });
    }
  }

  /** Records the in-place update of parameter `i` with gradient `grad` (its update count is `t`). */
  protected abstract update(i: number, param: Tensor, grad: Tensor, t: number): void;

  /** Updates every parameter whose `.grad` is set (recorded on the GPU, not awaited). */
  step(): void {
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (!g) return;
      if (g.size !== p.size) throw new ShapeError(`optimiser: gradient ${g} does not match parameter ${p}`);
      this.update(i, p, g, ++this.paramSteps[i]);
    });
    this.stepCount++;
  }

  /** Disposes and clears the parameters' gradients. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Copies the state to the host (for a checkpoint from which training resumes exactly). */
  async state(): Promise<OptimizerState> {
    const buffers: Record<string, Float32Array[]> = {};
    for (const [name, ts] of Object.entries(this.buffers)) {
      buffers[name] = [];
      for (const t of ts) buffers[name].push(await t.read());
    }
    buffers.step = this.paramSteps.map((s) => Float32Array.of(s));
    return { step: this.stepCount, buffers };
  }

  /** Restores a state returned by `state()` of an optimiser of the same kind over the same shapes. */
  loadState(s: OptimizerState): void {
    const names = [...Object.keys(this.buffers), "step"];
    const have = Object.keys(s.buffers);
    if (have.length !== names.length || !names.every((n) => have.includes(n))) {
      throw new ShapeError(`optimiser state has buffers [${have}], expected [${names}]`);
    }
    this.params.forEach((p, k) => {
      for (const name of names) {
        const a = s.buffers[name], size = name === "step" ? 1 : p.size;
        if (a.length !== this.params.length || a[k].length !== size) {
          throw new ShapeError(
            `optimiser state: ${name}[${k}] has ${a[k]?.length} values (${a.length} arrays), ` +
              `expected ${size} (${this.params.length} arrays)`,
          );
        }
      }
    });
    this.params.forEach((_, k) => {
      this.paramSteps[k] = s.buffers.step[k][0];
      for (const [name, ts] of Object.entries(this.buffers)) gpu().write(ts[k].buffer, s.buffers[name][k]);
    });
    this.stepCount = s.step;
  }

  /** Frees the state buffers (the parameters are the caller's). */
  dispose(): void {
    for (const ts of Object.values(this.buffers)) ts.forEach((t) => t.dispose());
  }
}

/** Options of `SGD`. */
export interface SGDOptions {
  lr: number;
  /** Momentum factor (default 0.9); 0 keeps no buffer. */
  momentum?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0). */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with PyTorch's semantics (dampening 0): `g = grad + wd * p`,
 * `buf = momentum * buf + g` (buf = g at the first step), `p -= lr * (nesterov ? g + momentum * buf : buf)`.
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  /** An SGD optimiser over `params`. */
  constructor(params: readonly Tensor[], opts: SGDOptions) {
    const momentum = opts.momentum ?? 0.9;
    if (!(momentum >= 0)) throw new RangeError(`SGD: invalid momentum ${momentum}`);
    if (opts.nesterov && momentum <= 0) throw new RangeError("SGD: Nesterov momentum needs momentum > 0");
    super(params, opts.lr, momentum > 0 ? ["momentum_buffer"] : []);
    this.momentum = momentum;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
  }

  protected update(i: number, param: Tensor, grad: Tensor): void {
    const buf = this.buffers.momentum_buffer?.[i];
    gpu().run({
      shader: OPTIM_SHADER,
      entry: buf ? "sgd" : "sgd_plain",
      params: [param.size, this.lr, this.momentum, this.weightDecay, this.nesterov ? 1 : 0],
      paramTypes: "ufffu",
      inputs: [grad.buffer],
      outputs: buf ? [param.buffer, buf.buffer] : [param.buffer],
      invocations: param.size,
    });
  }
}
