import assert from "node:assert/strict";
import { assertClose, randomData, setupGpu } from "./_helpers.ts";
import { conv3dRef, conv3dWeightGradRef, type ConvDims, convOut } from "./ref/conv.ts";
import { conv3dForwardFast, conv3dInputGradFast, conv3dWeightGradFast } from "../src/ops/conv3d_fast.ts";
import { Tensor } from "../src/tensor.ts";
import { ShapeError } from "../src/gpu/errors.ts";

await setupGpu();

/** Input gradient of the convolution for an output gradient gy: gx[n,ci,i] = sum gy[n,co,o] w[co,ci,i-o+pad]. */
function conv3dInputGradRef(gy: Float64Array, w: Float64Array, s: ConvDims): Float64Array {
  const [od, oh, ow] = convOut(s);
  const { n, cin, cout, d, h, w: wd, k, pad } = s;
  const gx = new Float64Array(n * cin * d * h * wd);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      for (let z = 0; z < od; z++) {
        for (let y = 0; y < oh; y++) {
          for (let x = 0; x < ow; x++) {
            const g = gy[(((b * cout + co) * od + z) * oh + y) * ow + x];
            for (let ci = 0; ci < cin; ci++) {
              for (let kd = 0; kd < k; kd++) {
                const iz = z + kd - pad;
                if (iz < 0 || iz >= d) continue;
                for (let kh = 0; kh < k; kh++) {
                  const iy = y + kh - pad;
                  if (iy < 0 || iy >= h) continue;
                  for (let kw = 0; kw < k; kw++) {
                    const ix = x + kw - pad;
                    if (ix < 0 || ix >= wd) continue;
                    gx[(((b * cin + ci) * d + iz) * h + iy) * wd + ix] += g *
                      w[(((co * cin + ci) * k + kd) * k + kh) * k + kw];
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  return gx;
}

/** Awkward shapes: sizes not multiples of any tile, C = 1 and 3, D != H != W, N = 1 and 2. */
const SHAPES: Omit<ConvDims, "k" | "pad">[] = [
  { n: 1, cin: 1, cout: 3, d: 5, h: 6, w: 7 },
  { n: 2, cin: 3, cout: 17, d: 9, h: 4, w: 11 },
  { n: 2, cin: 20, cout: 5, d: 4, h: 5, w: 3 },
  { n: 1, cin: 16, cout: 33, d: 6, h: 7, w: 5 },
];
const KERNELS = [
  { k: 3, pad: 1, name: "k3 same" },
  { k: 3, pad: 0, name: "k3 valid" },
  { k: 1, pad: 0, name: "k1" },
];

function cases(): { s: ConvDims; label: string }[] {
  return KERNELS.flatMap(({ k, pad, name }) =>
    SHAPES.map((sh) => ({
      s: { ...sh, k, pad },
      label: `${name} ${sh.n}x${sh.cin}->${sh.cout} ${sh.d}x${sh.h}x${sh.w}`,
    }))
  );
}

Deno.test("conv3dForwardFast matches the float64 reference", async () => {
  let seed = 1;
  for (const { s, label } of cases()) {
    const xd = randomData(s.n * s.cin * s.d * s.h * s.w, seed++);
    const wdata = randomData(s.cout * s.cin * s.k ** 3, seed++);
    const bd = randomData(s.cout, seed++);
    const x = Tensor.from(xd, [s.n, s.cin, s.d, s.h, s.w]);
    const w = Tensor.from(wdata, [s.cout, s.cin, s.k, s.k, s.k]);
    const b = Tensor.from(bd, [s.cout]);
    const y = conv3dForwardFast(x, w, b, s.pad);
    const e = assertClose(await y.read(), conv3dRef(xd, wdata, bd, s), 1e-4, `forward ${label}`);
    console.log(`error conv3dForwardFast ${label}: ${e.toExponential(1)}`);
    for (const t of [x, w, b, y]) t.dispose();
  }
});

Deno.test("conv3dInputGradFast matches the float64 reference", async () => {
  let seed = 100;
  for (const { s, label } of cases()) {
    const [od, oh, ow] = convOut(s);
    const gd = randomData(s.n * s.cout * od * oh * ow, seed++);
    const wdata = randomData(s.cout * s.cin * s.k ** 3, seed++);
    const gy = Tensor.from(gd, [s.n, s.cout, od, oh, ow]);
    const w = Tensor.from(wdata, [s.cout, s.cin, s.k, s.k, s.k]);
    const gx = conv3dInputGradFast(gy, w, [s.n, s.cin, s.d, s.h, s.w], s.pad);
    const e = assertClose(await gx.read(), conv3dInputGradRef(gd, wdata, s), 1e-4, `input grad ${label}`);
    console.log(`error conv3dInputGradFast ${label}: ${e.toExponential(1)}`);
    for (const t of [gy, w, gx]) t.dispose();
  }
});

void assert;
void ShapeError;

Deno.test("conv3dWeightGradFast matches the float64 reference", async () => {
  let seed = 200;
  for (const { s, label } of cases()) {
    const [od, oh, ow] = convOut(s);
    const xd = randomData(s.n * s.cin * s.d * s.h * s.w, seed++);
    const gd = randomData(s.n * s.cout * od * oh * ow, seed++);
    const x = Tensor.from(xd, [s.n, s.cin, s.d, s.h, s.w]);
    const gy = Tensor.from(gd, [s.n, s.cout, od, oh, ow]);
    const gw = conv3dWeightGradFast(x, gy, s.k, s.pad);
    const e = assertClose(await gw.read(), conv3dWeightGradRef(xd, gd, s), 1e-4, `weight grad ${label}`);
    console.log(`error conv3dWeightGradFast ${label}: ${e.toExponential(1)}`);
    for (const t of [x, gy, gw]) t.dispose();
  }
});
