/** 3-D max pooling (shaders/pool3d.wgsl) with arg-max routing of the gradient. */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";
import { dims5 } from "./layout.ts";

const SHADER = "pool3d.wgsl";

/**
 * Max pooling with a 2x2x2 window and stride 2 on `x` [N, C, D, H, W], giving
 * [N, C, floor(D/2), floor(H/2), floor(W/2)]. Odd sizes follow the floor rule (PyTorch's default
 * `ceil_mode=False`): the last plane of an odd dimension is dropped and gets a zero gradient. Each
 * spatial dimension must be at least 2 (`ShapeError` otherwise). Ties go to the first maximum in
 * d, h, w order; the backward routes each output gradient to that one input voxel.
 */
export function maxPool3d(x: Tensor): Tensor {
  const [n, c, d, h, w] = dims5("maxPool3d", x);
  if (d < 2 || h < 2 || w < 2) {
    throw new ShapeError(`maxPool3d: every spatial dim of [${x.shape}] must be at least 2`);
  }
  const od = Math.floor(d / 2), oh = Math.floor(h / 2), ow = Math.floor(w / 2);
  const out = Tensor.empty([n, c, od, oh, ow]);
  // the window position (0..7) of each output's maximum, for the backward pass
  const arg = Tensor.empty(out.shape, "u32");
  const params = (count: number) => [n * c, d, h, w, od, oh, ow, count];
  gpu().run({
    shader: SHADER,
    entry: "max_pool",
    params: params(out.size),
    inputs: [x.buffer],
    outputs: [out.buffer, arg.buffer],
    invocations: out.size,
  });
  return record(out, {
    name: "maxPool3d",
    inputs: [x],
    backward: (g) => {
      const gx = Tensor.empty(x.shape);
      gpu().run({
        shader: SHADER,
        entry: "max_pool_grad",
        params: params(x.size),
        inputs: [g.buffer, arg.buffer],
        outputs: [gx.buffer],
        invocations: x.size,
      });
      return [gx];
    },
    release: () => arg.dispose(),
  });
}
