/**
 * A configurable 3D U-Net (Çiçek et al. 2016, as used by Roth et al.): levels of two 3x3x3
 * convolutions with normalisation and activation, 2x2x2 max-pooling down, 2x2x2 stride-2
 * up-convolutions, skip connections by channel concatenation (centre-cropped for `valid` padding),
 * and a 1x1x1 head with one output per class.
 */
import { Tensor } from "../tensor.ts";
import { conv3d, conv3dWithMoments } from "../ops/conv3d.ts";
import { convTranspose3d } from "../ops/conv_transpose3d.ts";
import { maxPool3d } from "../ops/pool3d.ts";
import { batchNorm3d, instanceNorm3d } from "../ops/norm.ts";
import { centerCrop, concat } from "../ops/layout.ts";
import { ShapeError } from "../gpu/errors.ts";
import { Rng } from "../util/random.ts";

/** Architecture of a U-Net; stored in the weights file's metadata. */
export interface UNetConfig {
  /** Input channels (1 for CT). */
  inChannels: number;
  /** Output classes, background included (8). */
  classes: number;
  /** Resolution levels, the bottom one included (the paper: 4). */
  levels: number;
  /** Channels of the first convolution (the paper: 32). */
  baseChannels: number;
  /**
   * `cicek`: the second convolution of a level doubles its channels (32-64 | 64-128 | ...), the
   * up-convolution keeps them; `plain`: both convolutions of level l have base * 2^l channels and the
   * up-convolution halves them.
   */
  widths: "cicek" | "plain";
  /** `valid` (the paper: outputs smaller than inputs) or `same` convolutions. */
  padding: "valid" | "same";
  /** Batch norm (the paper) or instance norm. */
  norm: "batch" | "instance";
  /** Slope of the activation for negative inputs: 0 is ReLU (the paper), 0.01 leaky ReLU. */
  negativeSlope: number;
}

/** The architecture of Roth et al. 2017/2018: about 19 M weights, 132x132x116 in, 44x44x28 out. */
export const PAPER_UNET: UNetConfig = {
  inChannels: 1,
  classes: 8,
  levels: 4,
  baseChannels: 32,
  widths: "cicek",
  padding: "valid",
  norm: "batch",
  negativeSlope: 0,
};

/** A small fast network: 3 levels of 16-32-64 channels, same padding, instance norm, leaky ReLU. */
export const FAST_UNET: UNetConfig = {
  inChannels: 1,
  classes: 8,
  levels: 3,
  baseChannels: 16,
  widths: "plain",
  padding: "same",
  norm: "instance",
  negativeSlope: 0.01,
};

interface ConvSpec {
  name: string;
  cin: number;
  cout: number;
}

/** Throws a ShapeError naming the first field of `c` that is not a valid U-Net configuration. */
export function validateConfig(c: UNetConfig): void {
  const int = (v: unknown, lo: number, hi: number) =>
    Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
  const bad = !c || typeof c !== "object"
    ? "not an object"
    : !int(c.inChannels, 1, 64)
    ? "inChannels"
    : !int(c.classes, 2, 256)
    ? "classes"
    : !int(c.levels, 1, 6)
    ? "levels"
    : !int(c.baseChannels, 1, 512)
    ? "baseChannels"
    : !["cicek", "plain"].includes(c.widths)
    ? "widths"
    : !["valid", "same"].includes(c.padding)
    ? "padding"
    : !["batch", "instance"].includes(c.norm)
    ? "norm"
    : !(typeof c.negativeSlope === "number" && c.negativeSlope >= 0 && c.negativeSlope < 1)
    ? "negativeSlope"
    : null;
  if (bad) throw new ShapeError(`invalid U-Net configuration: ${bad}`);
  if (c.widths === "plain" && c.baseChannels * 2 ** (c.levels - 1) % 2 !== 0 && c.levels > 1) {
    throw new ShapeError("invalid U-Net configuration: plain widths need even channel counts");
  }
}

/** The channel plan: two convolutions per level down, the up-convolutions, the decoder convolutions. */
export function channelPlan(c: UNetConfig): { down: ConvSpec[][]; up: ConvSpec[]; dec: ConvSpec[][] } {
  const down: ConvSpec[][] = [], up: ConvSpec[] = [], dec: ConvSpec[][] = [];
  const outs: number[] = [];
  let cin = c.inChannels;
  for (let l = 0; l < c.levels; l++) {
    const mid = c.baseChannels * 2 ** l;
    const out = c.widths === "cicek" ? 2 * mid : mid;
    down.push([{ name: `down${l}.conv0`, cin, cout: mid }, { name: `down${l}.conv1`, cin: mid, cout: out }]);
    outs.push(out);
    cin = out;
  }
  for (let l = c.levels - 2; l >= 0; l--) {
    const upOut = c.widths === "cicek" ? cin : cin / 2;
    up.push({ name: `up${l}`, cin, cout: upOut });
    const skip = outs[l];
    dec.push([{ name: `dec${l}.conv0`, cin: upOut + skip, cout: skip }, {
      name: `dec${l}.conv1`,
      cin: skip,
      cout: skip,
    }]);
    cin = skip;
  }
  return { down, up, dec };
}

/** Number of trainable weights of a configuration (without building it). */
export function weightCount(c: UNetConfig): number {
  const { down, up, dec } = channelPlan(c);
  const norm = 2;
  let n = 0;
  for (const s of [...down.flat(), ...dec.flat()]) n += s.cout * (s.cin * 27 + 1 + norm);
  for (const u of up) n += u.cout * (u.cin * 8 + 1);
  const last = dec.at(-1)?.[1].cout ?? down.at(-1)![1].cout;
  return n + c.classes * (last + 1);
}

/**
 * Spatial output size for an input size, or a ShapeError naming the level where the size breaks
 * (a pooled size that is odd or too small).
 */
export function outputSize(c: UNetConfig, input: readonly number[]): number[] {
  const shrink = c.padding === "valid" ? 4 : 0;
  let s = [...input];
  const check = (where: string) => {
    if (s.some((v) => v < 1)) throw new ShapeError(`U-Net: input [${input}] becomes empty ${where}`);
  };
  for (let l = 0; l < c.levels; l++) {
    s = s.map((v) => v - shrink);
    check(`in level ${l}`);
    if (l < c.levels - 1) {
      if (s.some((v) => v % 2 !== 0)) {
        throw new ShapeError(
          `U-Net: input [${input}] gives the odd size [${s}] before pooling at level ${l}`,
        );
      }
      s = s.map((v) => v / 2);
    }
  }
  for (let l = c.levels - 2; l >= 0; l--) {
    s = s.map((v) => 2 * v - shrink);
    check(`in decoder level ${l}`);
  }
  return s;
}

/** Normalisation parameters and (batch norm) running statistics of one convolution block. */
interface NormState {
  gamma: Tensor;
  beta: Tensor;
  runningMean?: Tensor;
  runningVar?: Tensor;
}

/** A 3D U-Net with its parameters on the GPU. */
export class UNet3D {
  /** Trainable tensors by name (PyTorch-like names: `down0.conv0.weight`, ...). */
  readonly params = new Map<string, Tensor>();
  /** Non-trainable state (batch-norm running statistics). */
  readonly buffers = new Map<string, Tensor>();
  /** Training mode: batch statistics for batch norm. */
  training = true;
  readonly plan: ReturnType<typeof channelPlan>;

  /** Creates the network with He-initialised weights from `seed`. */
  constructor(readonly config: UNetConfig, seed = 0) {
    validateConfig(config);
    this.plan = channelPlan(config);
    const rng = new Rng(seed);
    const he = (shape: number[], fanIn: number) => {
      const std = Math.sqrt(2 / fanIn);
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) data[i] = std * rng.normal();
      return Tensor.from(data, shape, { requiresGrad: true });
    };
    const param = (name: string, t: Tensor) => {
      t.requiresGrad = true;
      this.params.set(name, t);
    };
    const block = (s: ConvSpec) => {
      param(`${s.name}.weight`, he([s.cout, s.cin, 3, 3, 3], s.cin * 27));
      param(`${s.name}.bias`, Tensor.zeros([s.cout]));
      param(`${s.name}.norm.weight`, Tensor.full([s.cout], 1));
      param(`${s.name}.norm.bias`, Tensor.zeros([s.cout]));
      if (config.norm === "batch") {
        this.buffers.set(`${s.name}.norm.running_mean`, Tensor.zeros([s.cout]));
        this.buffers.set(`${s.name}.norm.running_var`, Tensor.full([s.cout], 1));
      }
    };
    this.plan.down.flat().forEach(block);
    for (const u of this.plan.up) {
      // each output voxel of a stride-2 2x2x2 up-convolution sees one kernel tap per input channel
      param(`${u.name}.weight`, he([u.cin, u.cout, 2, 2, 2], u.cin));
      param(`${u.name}.bias`, Tensor.zeros([u.cout]));
    }
    this.plan.dec.flat().forEach(block);
    const last = this.plan.dec.at(-1)?.[1].cout ?? this.plan.down.at(-1)![1].cout;
    param("head.weight", he([config.classes, last, 1, 1, 1], last));
    param("head.bias", Tensor.zeros([config.classes]));
  }

  /** Number of trainable weights. */
  get weightCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  #p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`U-Net: missing parameter ${name}`);
    return t;
  }

  #normState(name: string): NormState {
    return {
      gamma: this.#p(`${name}.norm.weight`),
      beta: this.#p(`${name}.norm.bias`),
      runningMean: this.buffers.get(`${name}.norm.running_mean`),
      runningVar: this.buffers.get(`${name}.norm.running_var`),
    };
  }

  #block(x: Tensor, s: ConvSpec): Tensor {
    const n = this.#normState(s.name);
    const batch = this.config.norm === "batch";
    const { y, moments } = conv3dWithMoments(x, this.#p(`${s.name}.weight`), this.#p(`${s.name}.bias`), {
      padding: this.config.padding,
    });
    // the normalisation takes its statistics from the convolution's epilogue: per channel over batch and
    // space, what batch norm needs and instance norm too when the batch is one volume
    let known = moments ?? undefined;
    if (known && !batch && x.shape[0] > 1) {
      known.mean.dispose();
      known.m2.dispose();
      known = undefined;
    }
    // the activation runs fused into the normalisation's pass
    const opts = { negativeSlope: this.config.negativeSlope, moments: known };
    return batch
      ? batchNorm3d(y, n.gamma, n.beta, { runningMean: n.runningMean!, runningVar: n.runningVar! }, {
        training: this.training,
        ...opts,
      })
      : instanceNorm3d(y, n.gamma, n.beta, opts);
  }

  /** Logits [N, classes, ...outputSize] for an input [N, inChannels, D, H, W]. */
  forward(x: Tensor): Tensor {
    if (x.shape.length !== 5 || x.shape[1] !== this.config.inChannels) {
      throw new ShapeError(`U-Net: expected input [N, ${this.config.inChannels}, D, H, W], got [${x.shape}]`);
    }
    outputSize(this.config, x.shape.slice(2));
    const skips: Tensor[] = [];
    let h = x;
    this.plan.down.forEach((level, l) => {
      for (const s of level) h = this.#block(h, s);
      if (l < this.config.levels - 1) {
        skips.push(h);
        h = maxPool3d(h);
      }
    });
    this.plan.up.forEach((u, k) => {
      const up = convTranspose3d(h, this.#p(`${u.name}.weight`), this.#p(`${u.name}.bias`));
      let skip = skips.pop()!;
      if (this.config.padding === "valid") {
        skip = centerCrop(skip, up.shape.slice(2) as [number, number, number]);
      }
      h = concat(up, skip);
      for (const s of this.plan.dec[k]) h = this.#block(h, s);
    });
    return conv3d(h, this.#p("head.weight"), this.#p("head.bias"), { padding: "same" });
  }

  /** Frees every parameter and buffer (and their gradients). */
  dispose(): void {
    for (const t of [...this.params.values(), ...this.buffers.values()]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}
