/** Per-element ops (shaders/elementwise.wgsl): add, mul, scale, (leaky) ReLU, clone, accumulate. */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";

const SHADER = "elementwise.wgsl";

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${op}: shapes [${a.shape}] and [${b.shape}] differ`);
  }
}

function unary(entry: string, x: Tensor, a: number): Tensor {
  const out = Tensor.empty(x.shape);
  gpu().run({
    shader: SHADER,
    entry,
    params: [x.size, a],
    paramTypes: "uf",
    inputs: [x.buffer],
    outputs: [out.buffer],
    invocations: x.size,
  });
  return out;
}

function binary(entry: string, x: Tensor, y: Tensor, a = 0): Tensor {
  sameShape(entry, x, y);
  const out = Tensor.empty(x.shape);
  gpu().run({
    shader: SHADER,
    entry,
    params: [x.size, a],
    paramTypes: "uf",
    inputs: [x.buffer, y.buffer],
    outputs: [out.buffer],
    invocations: x.size,
  });
  return out;
}

/** A copy of `x` (not recorded on the tape). */
export function clone(x: Tensor): Tensor {
  const out = Tensor.empty(x.shape, x.dtype);
  gpu().copy(x.buffer, out.buffer, x.size * 4);
  return out;
}

/** In place `dst += src` (gradient accumulation; not recorded). */
export function accumulate(dst: Tensor, src: Tensor): void {
  sameShape("accumulate", dst, src);
  gpu().run({
    shader: SHADER,
    entry: "accumulate",
    params: [dst.size, 0],
    paramTypes: "uf",
    inputs: [src.buffer],
    outputs: [dst.buffer],
    invocations: dst.size,
  });
}

/** `x + y`, same shapes. */
export function add(x: Tensor, y: Tensor): Tensor {
  return record(binary("add", x, y), { name: "add", inputs: [x, y], backward: (g) => [g, g] });
}

/** `x * y` element by element, same shapes. */
export function mul(x: Tensor, y: Tensor): Tensor {
  return record(binary("mul", x, y), {
    name: "mul",
    inputs: [x, y],
    backward: (
      g,
    ) => [x.requiresGrad ? binary("mul", g, y) : null, y.requiresGrad ? binary("mul", g, x) : null],
  });
}

/** `a * x` for a constant `a`. */
export function scale(x: Tensor, a: number): Tensor {
  return record(unary("scale", x, a), {
    name: "scale",
    inputs: [x],
    backward: (g) => [unary("scale", g, a)],
  });
}

/** Leaky ReLU: `x` where positive, `slope * x` elsewhere. */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  return record(unary("leaky_relu", x, slope), {
    name: "leaky_relu",
    inputs: [x],
    backward: (g) => [binary("leaky_relu_grad", x, g, slope)],
  });
}

/** ReLU: `max(x, 0)` (gradient 0 at 0). */
export function relu(x: Tensor): Tensor {
  return leakyRelu(x, 0);
}
