/**
 * A configurable 3D U-Net (Çiçek et al. 2016, as used by Roth et al.): levels of two 3x3x3
 * convolutions with normalisation and activation, 2x2x2 max-pooling down, 2x2x2 stride-2
 * up-convolutions, skip connections by channel concatenation (centre-cropped for `valid` padding),
 * and a 1x1x1 head with one output per class.
 *
 * A layer whose activation would not fit one storage binding of the adapter (the paper's first level,
 * 235-448 MiB a tile, against lavapipe's 128 MiB) is computed in channel groups: each group's tensor
 * fits, the per-channel ops (normalisation, activation, pooling, cropping) run group by group, the skip
 * connection's concatenation joins lists, and a convolution sums, over the input groups, convolutions
 * with the matching block of its weights (`sliceBlock`). The result is the unsplit network's to
 * float32 rounding, forward and backward; with no layer too large, the network runs unsplit.
 */
import { Tensor } from "../tensor.ts";
import { isGradEnabled } from "../autograd.ts";
import { gpu } from "../gpu/runtime.ts";
import { conv3d, conv3dWithMoments } from "../ops/conv3d.ts";
import { convTranspose3d } from "../ops/conv_transpose3d.ts";
import { maxPool3d } from "../ops/pool3d.ts";
import { batchNorm3d, instanceNorm3d } from "../ops/norm.ts";
import { centerCrop, concatChannels, sliceBlock } from "../ops/layout.ts";
import { accumulate, add } from "../ops/elementwise.ts";
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

/**
 * Channel counts of the groups that `channels` channels of `bytesPerChannel` bytes each split into so
 * that every group fits `maxBytes` (as few groups as that allows, of sizes differing by at most one).
 * A single channel larger than `maxBytes` stays a group of one, which the allocator then refuses by name.
 */
export function channelGroups(channels: number, bytesPerChannel: number, maxBytes: number): number[] {
  const per = Math.max(1, Math.floor(maxBytes / bytesPerChannel));
  const count = Math.ceil(channels / per);
  const base = Math.floor(channels / count), extra = channels % count;
  return Array.from({ length: count }, (_, i) => base + (i < extra ? 1 : 0));
}

/** A layer's activation as channel groups, in channel order: one tensor unless it would not fit. */
type Groups = Tensor[];

/** First channel of each group. */
function starts(groups: readonly Tensor[]): number[] {
  let c = 0;
  return groups.map((t) => (c += t.shape[1]) - t.shape[1]);
}

/** The sum of tensors of one shape: recorded adds when gradients are wanted, else in place. */
function sumAll(parts: Tensor[]): Tensor {
  if (isGradEnabled()) return parts.reduce((a, b) => add(a, b));
  for (const p of parts.slice(1)) {
    accumulate(parts[0], p);
    p.dispose();
  }
  return parts[0];
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

  /** Channel groups for `channels` channels of [n, ...space] tensors on this adapter. */
  #groups(channels: number, n: number, space: readonly number[]): number[] {
    const bytes = 4 * n * space.reduce((a, b) => a * b, 1);
    return channelGroups(channels, bytes, gpu().maxBinding);
  }

  /**
   * Joins adjacent groups into single tensors while they fit one binding (all of them, as one
   * concatenation, when the whole activation fits), so that the convolution after runs as few times
   * as it can.
   */
  #join(groups: Groups): Groups {
    const max = gpu().maxBinding;
    const out: Groups = [];
    let run: Tensor[] = [], bytes = 0;
    const flush = () => {
      if (run.length) out.push(run.length === 1 ? run[0] : concatChannels(run));
      run = [];
      bytes = 0;
    };
    for (const t of groups) {
      if (bytes + 4 * t.size > max) flush();
      run.push(t);
      bytes += 4 * t.size;
    }
    flush();
    return out;
  }

  /**
   * One conv + norm + activation block on channel groups. A group of output channels sums, over the
   * input groups, the convolutions with the matching block of the weights; with a single input group
   * the normalisation takes its statistics from the convolution's epilogue.
   */
  #block(xs: Groups, s: ConvSpec): Groups {
    const batch = this.config.norm === "batch";
    const padding = this.config.padding;
    const w = this.#p(`${s.name}.weight`), b = this.#p(`${s.name}.bias`);
    const [n, , ...space] = xs[0].shape;
    const out = space.map((v) => (padding === "valid" ? v - 2 : v));
    const inStarts = starts(xs);
    const result: Groups = [];
    let co = 0;
    for (const cn of this.#groups(s.cout, n, out)) {
      const bias = sliceBlock(b, [co, cn]);
      let y: Tensor, known: { mean: Tensor; m2: Tensor } | undefined;
      if (xs.length === 1) {
        const r = conv3dWithMoments(xs[0], sliceBlock(w, [co, cn]), bias, { padding });
        y = r.y;
        known = r.moments ?? undefined;
      } else {
        y = sumAll(
          xs.map((x, i) =>
            conv3d(x, sliceBlock(w, [co, cn], [inStarts[i], x.shape[1]]), i === 0 ? bias : null, { padding })
          ),
        );
      }
      // the normalisation takes its statistics from the convolution's epilogue: per channel over batch
      // and space, what batch norm needs and instance norm too when the batch is one volume
      if (known && !batch && n > 1) {
        known.mean.dispose();
        known.m2.dispose();
        known = undefined;
      }
      result.push(this.#norm(y, s.name, co, cn, known));
      co += cn;
    }
    return result;
  }

  /** Normalisation (with the activation fused) of channels [c0, c0 + cn) of a block, in `y`. */
  #norm(y: Tensor, name: string, c0: number, cn: number, moments?: { mean: Tensor; m2: Tensor }): Tensor {
    const st = this.#normState(name);
    const gamma = sliceBlock(st.gamma, [c0, cn]), beta = sliceBlock(st.beta, [c0, cn]);
    const opts = { negativeSlope: this.config.negativeSlope, moments };
    if (this.config.norm === "instance") return instanceNorm3d(y, gamma, beta, opts);
    const whole = cn === st.gamma.size;
    // a group normalises with copies of its channels' running statistics, written back after a
    // training step has updated them
    const part = (t: Tensor) => {
      if (whole) return t;
      const c = Tensor.empty([cn]);
      gpu().copy(t.buffer, c.buffer, cn * 4, c0 * 4, 0);
      return c;
    };
    const running = { runningMean: part(st.runningMean!), runningVar: part(st.runningVar!) };
    const out = batchNorm3d(y, gamma, beta, running, { training: this.training, ...opts });
    if (!whole) {
      if (this.training) {
        gpu().copy(running.runningMean.buffer, st.runningMean!.buffer, cn * 4, 0, c0 * 4);
        gpu().copy(running.runningVar.buffer, st.runningVar!.buffer, cn * 4, 0, c0 * 4);
      }
      running.runningMean.dispose();
      running.runningVar.dispose();
    }
    return out;
  }

  /** The stride-2 up-convolution on channel groups (a sum over input groups per output group). */
  #up(xs: Groups, name: string, cout: number): Groups {
    const w = this.#p(`${name}.weight`), b = this.#p(`${name}.bias`);
    const [n, , ...space] = xs[0].shape;
    const inStarts = starts(xs);
    const result: Groups = [];
    let co = 0;
    for (const cn of this.#groups(cout, n, space.map((v) => 2 * v))) {
      const bias = sliceBlock(b, [co, cn]);
      result.push(
        sumAll(
          xs.map((x, i) =>
            convTranspose3d(x, sliceBlock(w, [inStarts[i], x.shape[1]], [co, cn]), i === 0 ? bias : null)
          ),
        ),
      );
      co += cn;
    }
    return result;
  }

  /** Logits [N, classes, ...outputSize] for an input [N, inChannels, D, H, W]. */
  forward(x: Tensor): Tensor {
    if (x.shape.length !== 5 || x.shape[1] !== this.config.inChannels) {
      throw new ShapeError(`U-Net: expected input [N, ${this.config.inChannels}, D, H, W], got [${x.shape}]`);
    }
    outputSize(this.config, x.shape.slice(2));
    const splits = new Map<string, number>();
    const note = (name: string, g: Groups) => {
      if (g.length > 1) splits.set(name, g.length);
      return g;
    };
    const skips: Groups[] = [];
    let h: Groups = [x];
    this.plan.down.forEach((level, l) => {
      for (const s of level) h = note(s.name, this.#block(h, s));
      if (l < this.config.levels - 1) {
        skips.push(h);
        h = h.map((t) => maxPool3d(t));
      }
    });
    this.plan.up.forEach((u, k) => {
      const up = note(u.name, this.#up(h, u.name, u.cout));
      let skip = skips.pop()!;
      if (this.config.padding === "valid") {
        const size = up[0].shape.slice(2) as [number, number, number];
        skip = skip.map((t) => centerCrop(t, size));
      }
      h = note(`${this.plan.dec[k][0].name} input`, this.#join([...up, ...skip]));
      for (const s of this.plan.dec[k]) h = note(s.name, this.#block(h, s));
    });
    this.lastSplits = splits;
    const w = this.#p("head.weight"), b = this.#p("head.bias");
    const hs = starts(h);
    return sumAll(
      h.map((t, i) =>
        conv3d(t, sliceBlock(w, [0, w.shape[0]], [hs[i], t.shape[1]]), i === 0 ? b : null, {
          padding: "same",
        })
      ),
    );
  }

  /**
   * The layers of the last `forward` computed in several channel groups, with their group counts
   * (empty when every activation fitted one binding).
   */
  lastSplits: ReadonlyMap<string, number> = new Map();

  /** Frees every parameter and buffer (and their gradients). */
  dispose(): void {
    for (const t of [...this.params.values(), ...this.buffers.values()]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}
