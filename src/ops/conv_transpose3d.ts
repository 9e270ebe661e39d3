/**
 * Transposed 3D convolution, kernel 2x2x2, stride 2 (the U-Net up-convolution;
 * shaders/conv_transpose3d.wgsl), with gradients for input, weights and bias.
 */
import { gpu } from "../gpu/runtime.ts";
import { ShapeError } from "../gpu/errors.ts";
import { record } from "../autograd.ts";
import { Tensor } from "../tensor.ts";
import { biasGrad, checkBias, checkRank5, reducePartials, rowChunks } from "./conv3d.ts";

const SHADER = "conv_transpose3d.wgsl";

/**
 * Transposed convolution with a 2x2x2 kernel and stride 2: x [N, Cin, D, H, W], w [Cin, Cout, 2, 2, 2]
 * (PyTorch ConvTranspose3d layout), optional bias [Cout]; returns [N, Cout, 2D, 2H, 2W] with
 * out[n,co,2d+a,2h+b,2w+c] = bias[co] + sum_ci x[n,ci,d,h,w] * w[ci,co,a,b,c]. Recorded, with gradients
 * for x, w and b. Throws ShapeError on a wrong rank, a channel mismatch or a kernel other than 2x2x2.
 */
export function convTranspose3d(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const op = "convTranspose3d";
  checkRank5(op, "input", x);
  checkRank5(op, "weights", w);
  const [n, cin, d, h, wd] = x.shape;
  const [wcin, cout, ka, kb, kc] = w.shape;
  if (wcin !== cin) {
    throw new ShapeError(
      `${op}: weights [${w.shape}] expect ${wcin} input channels, input [${x.shape}] has ${cin}`,
    );
  }
  if (ka !== 2 || kb !== 2 || kc !== 2) {
    throw new ShapeError(`${op}: weights [${w.shape}] should be [Cin, Cout, 2, 2, 2]`);
  }
  checkBias(op, b, cout);
  if (x.size === 0 || cout === 0) throw new ShapeError(`${op}: empty input [${x.shape}] or weights`);
  const dims = [cin, cout, d, h, wd];
  const g = gpu();
  const out = Tensor.empty([n, cout, 2 * d, 2 * h, 2 * wd]);
  g.run({
    shader: SHADER,
    entry: "forward",
    // one invocation per input voxel and output channel (a 2x2x2 output block each)
    params: [out.size / 8, ...dims, b ? 1 : 0],
    // without a bias the binding still needs a buffer: the weights stand in, unread
    inputs: [x.buffer, w.buffer, (b ?? w).buffer],
    outputs: [out.buffer],
    invocations: out.size / 8,
  });

  const inputGrad = (gy: Tensor) => {
    const gx = Tensor.empty(x.shape);
    g.run({
      shader: SHADER,
      entry: "grad_input",
      params: [gx.size, ...dims],
      inputs: [gy.buffer, w.buffer],
      outputs: [gx.buffer],
      invocations: gx.size,
    });
    return gx;
  };
  const weightGrad = (gy: Tensor) => {
    const rows = n * d * h;
    const { rowsPerChunk, chunks } = rowChunks(rows, wd);
    return reducePartials(w.shape, chunks, (partials) =>
      g.run({
        shader: SHADER,
        entry: "grad_weight",
        // one invocation per chunk and channel pair (its 8 taps)
        params: [(w.size / 8) * chunks, ...dims, 0, rows, rowsPerChunk, chunks],
        inputs: [gy.buffer, x.buffer],
        outputs: [partials.buffer],
        invocations: (w.size / 8) * chunks,
      }));
  };
  return record(out, {
    name: "convTranspose3d",
    inputs: b ? [x, w, b] : [x, w],
    backward: (gy) => [
      x.requiresGrad ? inputGrad(gy) : null,
      w.requiresGrad ? weightGrad(gy) : null,
      b?.requiresGrad ? biasGrad(gy) : null,
    ],
  });
}
