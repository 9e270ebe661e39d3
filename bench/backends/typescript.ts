/**
 * The floor: plain TypeScript float32 loops on the CPU, one thread. The loops are ordered so that the
 * innermost one runs along W over contiguous memory, which is what V8 makes fastest; nothing else is
 * tuned.
 */
import type { Case, CeShape, ConvShape, ConvTShape, PoolShape } from "../shapes.ts";
import {
  type Backend,
  type CaseData,
  convPad,
  convShapes,
  convTShapes,
  numel,
  type Runner,
  Unsupported,
} from "./types.ts";

const NO_UNET = "no whole U-Net in the TypeScript floor (its ops are timed one by one)";

/** Convolution geometry shared by the three convolution loops. */
interface Geo {
  n: number;
  cin: number;
  cout: number;
  k: number;
  p: number;
  d: number;
  h: number;
  w: number;
  od: number;
  oh: number;
  ow: number;
}

function geo(s: ConvShape): Geo {
  const { y } = convShapes(s);
  return {
    n: s.n,
    cin: s.cin,
    cout: s.cout,
    k: s.k,
    p: convPad(s),
    d: s.d,
    h: s.h,
    w: s.w,
    od: y[2],
    oh: y[3],
    ow: y[4],
  };
}

/**
 * Visits every (output row, input row, kernel tap) pairing of a convolution for one (input channel,
 * output channel) pair: `f(weightIndex, inputRowStart, outputRowStart, owLo, owHi, kw)` where output
 * voxel `ow` of the row meets input voxel `ow + kw - p`.
 */
function eachRow(
  g: Geo,
  f: (tap: number, xRow: number, yRow: number, lo: number, hi: number, shift: number) => void,
): void {
  const { k, p } = g;
  for (let kd = 0; kd < k; kd++) {
    for (let kh = 0; kh < k; kh++) {
      for (let kw = 0; kw < k; kw++) {
        const tap = (kd * k + kh) * k + kw;
        const shift = kw - p;
        const lo = Math.max(0, -shift), hi = Math.min(g.ow, g.w - shift);
        for (let od = 0; od < g.od; od++) {
          const id = od + kd - p;
          if (id < 0 || id >= g.d) continue;
          for (let oh = 0; oh < g.oh; oh++) {
            const ih = oh + kh - p;
            if (ih < 0 || ih >= g.h) continue;
            f(tap, (id * g.h + ih) * g.w, (od * g.oh + oh) * g.ow, lo, hi, shift);
          }
        }
      }
    }
  }
}

/** `y = conv(x, w) + b`, NCDHW, weights [cout, cin, k, k, k]. */
export function convForward(s: ConvShape, x: Float32Array, w: Float32Array, b: Float32Array): Float32Array {
  const g = geo(s);
  const xs = g.d * g.h * g.w, ys = g.od * g.oh * g.ow, k3 = g.k ** 3;
  const y = new Float32Array(g.n * g.cout * ys);
  for (let n = 0; n < g.n; n++) {
    for (let co = 0; co < g.cout; co++) {
      const yc = y.subarray((n * g.cout + co) * ys, (n * g.cout + co + 1) * ys);
      yc.fill(b[co]);
      for (let ci = 0; ci < g.cin; ci++) {
        const xc = x.subarray((n * g.cin + ci) * xs, (n * g.cin + ci + 1) * xs);
        const wb = (co * g.cin + ci) * k3;
        eachRow(g, (tap, xr, yr, lo, hi, shift) => {
          const wv = w[wb + tap];
          const xo = xr + shift;
          for (let i = lo; i < hi; i++) yc[yr + i] += wv * xc[xo + i];
        });
      }
    }
  }
  return y;
}

/** Gradient of the convolution with respect to its input, for the output gradient `dy`. */
export function convInputGrad(s: ConvShape, dy: Float32Array, w: Float32Array): Float32Array {
  const g = geo(s);
  const xs = g.d * g.h * g.w, ys = g.od * g.oh * g.ow, k3 = g.k ** 3;
  const dx = new Float32Array(g.n * g.cin * xs);
  for (let n = 0; n < g.n; n++) {
    for (let ci = 0; ci < g.cin; ci++) {
      const xc = dx.subarray((n * g.cin + ci) * xs, (n * g.cin + ci + 1) * xs);
      for (let co = 0; co < g.cout; co++) {
        const yc = dy.subarray((n * g.cout + co) * ys, (n * g.cout + co + 1) * ys);
        const wb = (co * g.cin + ci) * k3;
        eachRow(g, (tap, xr, yr, lo, hi, shift) => {
          const wv = w[wb + tap];
          const xo = xr + shift;
          for (let i = lo; i < hi; i++) xc[xo + i] += wv * yc[yr + i];
        });
      }
    }
  }
  return dx;
}

/** Gradient of the convolution with respect to its weights, for the output gradient `dy`. */
export function convWeightGrad(s: ConvShape, x: Float32Array, dy: Float32Array): Float32Array {
  const g = geo(s);
  const xs = g.d * g.h * g.w, ys = g.od * g.oh * g.ow, k3 = g.k ** 3;
  const dw = new Float32Array(g.cout * g.cin * k3);
  for (let co = 0; co < g.cout; co++) {
    for (let ci = 0; ci < g.cin; ci++) {
      const wb = (co * g.cin + ci) * k3;
      for (let n = 0; n < g.n; n++) {
        const xc = x.subarray((n * g.cin + ci) * xs, (n * g.cin + ci + 1) * xs);
        const yc = dy.subarray((n * g.cout + co) * ys, (n * g.cout + co + 1) * ys);
        eachRow(g, (tap, xr, yr, lo, hi, shift) => {
          let acc = 0;
          const xo = xr + shift;
          for (let i = lo; i < hi; i++) acc += yc[yr + i] * xc[xo + i];
          dw[wb + tap] += acc;
        });
      }
    }
  }
  return dw;
}

/** 2x2x2 stride-2 transposed convolution, weights [cin, cout, 2, 2, 2]. */
export function convTransposeForward(
  s: ConvTShape,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
): Float32Array {
  const { y: ys } = convTShapes(s);
  const [, , OD, OH, OW] = ys;
  const xs = s.d * s.h * s.w, os = OD * OH * OW;
  const y = new Float32Array(numel(ys));
  for (let n = 0; n < s.n; n++) {
    for (let co = 0; co < s.cout; co++) {
      const yc = y.subarray((n * s.cout + co) * os, (n * s.cout + co + 1) * os);
      yc.fill(b[co]);
      for (let ci = 0; ci < s.cin; ci++) {
        const xc = x.subarray((n * s.cin + ci) * xs, (n * s.cin + ci + 1) * xs);
        for (let t = 0; t < 8; t++) {
          const a = t >> 2, bb = (t >> 1) & 1, c = t & 1;
          const wv = w[((ci * s.cout + co) * 8) + t];
          for (let d = 0; d < s.d; d++) {
            for (let h = 0; h < s.h; h++) {
              const xr = (d * s.h + h) * s.w;
              const yr = ((2 * d + a) * OH + 2 * h + bb) * OW + c;
              for (let i = 0; i < s.w; i++) yc[yr + 2 * i] += wv * xc[xr + i];
            }
          }
        }
      }
    }
  }
  return y;
}

/** 2x2x2 stride-2 max pooling (odd sizes: the last plane is dropped). */
export function maxPoolForward(s: PoolShape, x: Float32Array): Float32Array {
  const od = Math.floor(s.d / 2), oh = Math.floor(s.h / 2), ow = Math.floor(s.w / 2);
  const y = new Float32Array(s.n * s.c * od * oh * ow);
  let o = 0;
  for (let nc = 0; nc < s.n * s.c; nc++) {
    const base = nc * s.d * s.h * s.w;
    for (let d = 0; d < od; d++) {
      for (let h = 0; h < oh; h++) {
        for (let w = 0; w < ow; w++) {
          let m = -Infinity;
          for (let t = 0; t < 8; t++) {
            const i = base + ((2 * d + (t >> 2)) * s.h + 2 * h + ((t >> 1) & 1)) * s.w + 2 * w + (t & 1);
            if (x[i] > m) m = x[i];
          }
          y[o++] = m;
        }
      }
    }
  }
  return y;
}

/** Mean softmax cross-entropy over all voxels, unit class weights, no mask: a 1-element array. */
export function softmaxCrossEntropy(s: CeShape, logits: Float32Array, labels: Uint32Array): Float32Array {
  const v = s.d * s.h * s.w;
  let total = 0;
  for (let n = 0; n < s.n; n++) {
    for (let i = 0; i < v; i++) {
      const at = (c: number) => logits[(n * s.k + c) * v + i];
      let m = -Infinity;
      for (let c = 0; c < s.k; c++) m = Math.max(m, at(c));
      let z = 0;
      for (let c = 0; c < s.k; c++) z += Math.exp(at(c) - m);
      total += m + Math.log(z) - at(labels[n * v + i]);
    }
  }
  return new Float32Array([total / (s.n * v)]);
}

/** Computes a case's output on the host (the ops above, by case). */
export function compute(c: Case, data: CaseData): Float32Array {
  const s = c.shape;
  switch (c.op) {
    case "conv3d_forward":
      return convForward(s as ConvShape, data.x, data.w!, data.b!);
    case "conv3d_input_grad":
      return convInputGrad(s as ConvShape, data.dy!, data.w!);
    case "conv3d_weight_grad":
      return convWeightGrad(s as ConvShape, data.x, data.dy!);
    case "conv_transpose3d_forward":
      return convTransposeForward(s as ConvTShape, data.x, data.w!, data.b!);
    case "max_pool3d_forward":
      return maxPoolForward(s as PoolShape, data.x);
    case "softmax_ce_forward":
      return softmaxCrossEntropy(s as CeShape, data.x, data.labels!);
    default:
      throw new Unsupported(NO_UNET);
  }
}

/** The plain TypeScript backend. */
export class TypeScriptBackend implements Backend {
  readonly name = "typescript";
  init(): Promise<void> {
    return Promise.resolve();
  }
  device(): string {
    return "CPU, 1 thread (V8)";
  }
  unsupported(c: Case): string | null {
    return c.shape.kind === "unet" ? NO_UNET : null;
  }
  prepare(c: Case, data: CaseData): Promise<Runner> {
    const why = this.unsupported(c);
    if (why) return Promise.reject(new Unsupported(why));
    let out: Float32Array = new Float32Array(0);
    return Promise.resolve({
      run: () => {
        out = compute(c, data);
        return Promise.resolve();
      },
      output: () => Promise.resolve(out),
      dispose: () => {},
    });
  }
}
