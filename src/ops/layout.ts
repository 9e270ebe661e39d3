/**
 * Layout ops on NCDHW tensors: channel concatenation (the U-Net's skip connections; buffer copies)
 * and centre cropping of the spatial dims (valid-padding skips; shaders/layout.wgsl), each with its
 * backward pass (split, zero padding). Also the rank check the other NCDHW op families share.
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";

const SHADER = "layout.wgsl";

/** The dims of a 5-D NCDHW tensor; throws `ShapeError` naming `op` for any other rank or dtype. */
export function dims5(op: string, x: Tensor): [number, number, number, number, number] {
  if (x.shape.length !== 5) throw new ShapeError(`${op}: expected an NCDHW tensor, got [${x.shape}]`);
  if (x.dtype !== "f32") throw new ShapeError(`${op}: expected f32 values, got ${x.dtype} [${x.shape}]`);
  const [n, c, d, h, w] = x.shape;
  return [n, c, d, h, w];
}

/**
 * Copies `cn` channels of `x` starting at `ci` into `out` starting at channel `co` (same N, space):
 * per batch item one contiguous run of memory, so one buffer-to-buffer copy each (no kernel).
 */
function copyChannels(x: Tensor, ci: number, out: Tensor, co: number, cn: number): void {
  const s = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const [cx, cOut] = [x.shape[1], out.shape[1]];
  for (let b = 0; b < x.shape[0]; b++) {
    gpu().copy(x.buffer, out.buffer, cn * s * 4, (b * cx + ci) * s * 4, (b * cOut + co) * s * 4);
  }
}

/** Channels `[c0, c0 + cn)` of `x` as a new tensor. */
function sliceChannels(x: Tensor, c0: number, cn: number): Tensor {
  const out = Tensor.empty([x.shape[0], cn, ...x.shape.slice(2)]);
  copyChannels(x, c0, out, 0, cn);
  return out;
}

/**
 * Concatenates `a` [N, Ca, D, H, W] and `b` [N, Cb, D, H, W] along the channels into
 * [N, Ca + Cb, D, H, W]. The backward splits the gradient back into the two channel ranges.
 */
export function concat(a: Tensor, b: Tensor): Tensor {
  const [n, ca, ...sa] = dims5("concat", a);
  const [nb, cb, ...sb] = dims5("concat", b);
  if (n !== nb || sa.some((v, i) => v !== sb[i])) {
    throw new ShapeError(`concat: [${a.shape}] and [${b.shape}] differ outside the channel dim`);
  }
  const out = Tensor.empty([n, ca + cb, ...sa]);
  copyChannels(a, 0, out, 0, ca);
  copyChannels(b, 0, out, ca, cb);
  return record(out, {
    name: "concat",
    inputs: [a, b],
    backward: (g) => [
      a.requiresGrad ? sliceChannels(g, 0, ca) : null,
      b.requiresGrad ? sliceChannels(g, ca, cb) : null,
    ],
  });
}

/** `out[.., z, y, x] = x[.., z + off[0], y + off[1], x + off[2]]`, 0 outside `x`. */
function window(x: Tensor, size: readonly number[], off: readonly number[]): Tensor {
  const out = Tensor.empty([x.shape[0], x.shape[1], ...size]);
  gpu().run({
    shader: SHADER,
    entry: "window",
    params: [out.size, ...x.shape.slice(2), ...size, ...off],
    paramTypes: "uuuuuuuiii",
    inputs: [x.buffer],
    outputs: [out.buffer],
    invocations: out.size,
  });
  return out;
}

/**
 * Crops the spatial dims of `x` [N, C, D, H, W] to `size` = [d, h, w], centred: the window starts at
 * floor((D - d) / 2) (likewise H, W), as the U-Net's valid-padding skip connections need. Each of
 * d, h, w must be between 1 and the input's size. The backward pads the gradient with zeros.
 */
export function centerCrop(x: Tensor, size: readonly [number, number, number]): Tensor {
  const [, , ...space] = dims5("centerCrop", x);
  if (size.length !== 3 || size.some((v, i) => !Number.isInteger(v) || v < 1 || v > space[i])) {
    throw new ShapeError(`centerCrop: cannot crop [${x.shape}] to spatial size [${size}]`);
  }
  const off = space.map((v, i) => Math.floor((v - size[i]) / 2));
  return record(window(x, size, off), {
    name: "centerCrop",
    inputs: [x],
    backward: (g) => [window(g, space, off.map((v) => -v))],
  });
}
