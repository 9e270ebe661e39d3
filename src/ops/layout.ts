/**
 * Layout ops on NCDHW tensors: channel concatenation (the U-Net's skip connections; buffer copies),
 * centre cropping of the spatial dims (valid-padding skips; shaders/layout.wgsl), and blocks of the
 * first two dims of any tensor (slices of weights [Cout, Cin, ...] for a layer computed in channel
 * groups), each with its backward pass (split, zero padding). Also the rank check the other NCDHW op
 * families share.
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
  return concatChannels([a, b]);
}

/**
 * Concatenates tensors [N, C_i, D, H, W] along the channels (in order) into [N, sum C_i, D, H, W].
 * The backward splits the gradient back into the channel ranges.
 */
export function concatChannels(parts: readonly Tensor[]): Tensor {
  if (!parts.length) throw new ShapeError("concat: nothing to concatenate");
  const [n, , ...space] = dims5("concat", parts[0]);
  for (const p of parts) {
    const [np, , ...sp] = dims5("concat", p);
    if (np !== n || sp.some((v, i) => v !== space[i])) {
      throw new ShapeError(`concat: [${parts[0].shape}] and [${p.shape}] differ outside the channel dim`);
    }
  }
  const starts: number[] = [];
  let c = 0;
  for (const p of parts) {
    starts.push(c);
    c += p.shape[1];
  }
  const out = Tensor.empty([n, c, ...space]);
  parts.forEach((p, i) => copyChannels(p, 0, out, starts[i], p.shape[1]));
  return record(out, {
    name: "concat",
    inputs: parts,
    backward: (g) => parts.map((p, i) => (p.requiresGrad ? sliceChannels(g, starts[i], p.shape[1]) : null)),
  });
}

/** `x` viewed as [A, B, R]: its first dim, its second (1 for a vector), and the rest flattened. */
function blockView(x: Tensor): [number, number, number] {
  const [a, b = 1] = x.shape;
  return [a, b, x.size / Math.max(1, a * b)];
}

/**
 * The block `[rows[0], rows[0] + rows[1])` x `[cols[0], cols[0] + cols[1])` of the first two dims of
 * `x` (all of the second when `cols` is absent; a vector has only the first): for weights
 * [Cout, Cin, k, k, k] or [Cin, Cout, ...], the slice that maps one channel group to another. Returns
 * `x` itself when the block is the whole tensor. Recorded; the backward pads the gradient with zeros.
 */
export function sliceBlock(
  x: Tensor,
  rows: readonly [number, number],
  cols?: readonly [number, number],
): Tensor {
  const [a, b, r] = blockView(x);
  const [r0, rn] = rows;
  const [c0, cn] = cols ?? [0, b];
  const ok = (start: number, count: number, size: number) =>
    Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 1 && start + count <= size;
  if (x.dtype !== "f32" || !ok(r0, rn, a) || !ok(c0, cn, b) || (x.shape.length < 2 && cols && cn !== 1)) {
    throw new ShapeError(`sliceBlock: no block [${rows}] x [${cols ?? "all"}] in ${x.dtype} [${x.shape}]`);
  }
  if (rn === a && cn === b) return x;
  const shape = x.shape.length < 2 ? [rn] : [rn, cn, ...x.shape.slice(2)];
  const out = runWindow(x, [a, b, r], shape, [rn, cn, r], [r0, c0, 0]);
  return record(out, {
    name: "sliceBlock",
    inputs: [x],
    backward: (g) => [runWindow(g, [rn, cn, r], x.shape, [a, b, r], [-r0, -c0, 0])],
  });
}

/** `out[.., z, y, x] = x[.., z + off[0], y + off[1], x + off[2]]`, 0 outside `x`. */
function window(x: Tensor, size: readonly number[], off: readonly number[]): Tensor {
  return runWindow(x, x.shape.slice(2), [x.shape[0], x.shape[1], ...size], size, off);
}

/**
 * The window kernel on `x` seen as [.., ...inner] with the last three dims `inner`: a new tensor of
 * `shape` whose elements, seen as [.., ...size], are `x` shifted by `off` (0 outside `x`).
 */
function runWindow(
  x: Tensor,
  inner: readonly number[],
  shape: readonly number[],
  size: readonly number[],
  off: readonly number[],
): Tensor {
  const out = Tensor.empty(shape);
  gpu().run({
    shader: SHADER,
    entry: "window",
    params: [out.size, ...inner, ...size, ...off],
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
