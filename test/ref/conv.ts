/** Float64 references of the 3D convolutions (NCDHW, PyTorch weight layouts), shared by the conv tests. */

/** Sizes of a stride-1 convolution with a cubic kernel of side k and zero padding `pad`. */
export interface ConvDims {
  n: number;
  cin: number;
  cout: number;
  d: number;
  h: number;
  w: number;
  k: number;
  pad: number;
}

/** Output sizes [od, oh, ow] of a convolution. */
export function convOut(s: ConvDims): [number, number, number] {
  return [s.d, s.h, s.w].map((v) => v + 2 * s.pad - s.k + 1) as [number, number, number];
}

/**
 * Calls `f(xi, wi, oi)` for every (input voxel, weight, output voxel) triple of a convolution, as flat
 * indices into x [n,cin,d,h,w], w [cout,cin,k,k,k] and out [n,cout,od,oh,ow].
 */
function eachTap(s: ConvDims, f: (xi: number, wi: number, oi: number) => void): void {
  const [od, oh, ow] = convOut(s);
  const { n, cin, cout, d, h, w, k, pad } = s;
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      for (let z = 0; z < od; z++) {
        for (let y = 0; y < oh; y++) {
          for (let x = 0; x < ow; x++) {
            const oi = (((b * cout + co) * od + z) * oh + y) * ow + x;
            for (let ci = 0; ci < cin; ci++) {
              for (let kd = 0; kd < k; kd++) {
                const iz = z + kd - pad;
                if (iz < 0 || iz >= d) continue;
                for (let kh = 0; kh < k; kh++) {
                  const iy = y + kh - pad;
                  if (iy < 0 || iy >= h) continue;
                  for (let kw = 0; kw < k; kw++) {
                    const ix = x + kw - pad;
                    if (ix < 0 || ix >= w) continue;
                    f(
                      (((b * cin + ci) * d + iz) * h + iy) * w + ix,
                      (((co * cin + ci) * k + kd) * k + kh) * k + kw,
                      oi,
                    );
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

/** Forward convolution: out[n,co,o] = b[co] + sum x[n,ci,o+k-pad] * w[co,ci,k]. */
export function conv3dRef(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  s: ConvDims,
): Float64Array {
  const [od, oh, ow] = convOut(s);
  const plane = od * oh * ow;
  const out = new Float64Array(s.n * s.cout * plane);
  if (b) out.forEach((_, i) => out[i] = b[Math.floor(i / plane) % s.cout]);
  eachTap(s, (xi, wi, oi) => out[oi] += x[xi] * w[wi]);
  return out;
}

/** Weight gradient of the convolution for an output gradient gy: sum gy[n,co,o] * x[n,ci,o+k-pad]. */
export function conv3dWeightGradRef(x: Float64Array, gy: Float64Array, s: ConvDims): Float64Array {
  const gw = new Float64Array(s.cout * s.cin * s.k ** 3);
  eachTap(s, (xi, wi, oi) => gw[wi] += gy[oi] * x[xi]);
  return gw;
}

/** Input gradient of the convolution for an output gradient gy: gx[n,ci,i] = sum gy[n,co,o] * w[co,ci,i-o+pad]. */
export function conv3dInputGradRef(gy: Float64Array, w: Float64Array, s: ConvDims): Float64Array {
  const gx = new Float64Array(s.n * s.cin * s.d * s.h * s.w);
  eachTap(s, (xi, wi, oi) => gx[xi] += gy[oi] * w[wi]);
  return gx;
}

/** Sizes of a 2x2x2 stride-2 transposed convolution: input [n,cin,d,h,w], output [n,cout,2d,2h,2w]. */
export interface UpDims {
  n: number;
  cin: number;
  cout: number;
  d: number;
  h: number;
  w: number;
}

/**
 * Calls `f(xi, wi, oi)` for every (input voxel, weight, output voxel) triple of a 2x2x2 stride-2
 * transposed convolution, as flat indices into x [n,cin,d,h,w], w [cin,cout,2,2,2], out [n,cout,2d,2h,2w].
 */
function eachUpTap(s: UpDims, f: (xi: number, wi: number, oi: number) => void): void {
  const { n, cin, cout, d, h, w } = s;
  for (let b = 0; b < n; b++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let z = 0; z < d; z++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const xi = (((b * cin + ci) * d + z) * h + y) * w + x;
            for (let co = 0; co < cout; co++) {
              for (let t = 0; t < 8; t++) {
                const [ta, tb, tc] = [t >> 2, (t >> 1) & 1, t & 1];
                f(
                  xi,
                  (ci * cout + co) * 8 + t,
                  (((b * cout + co) * 2 * d + 2 * z + ta) * 2 * h + 2 * y + tb) * 2 * w + 2 * x + tc,
                );
              }
            }
          }
        }
      }
    }
  }
}

/** out[n,co,2d+a,2h+b,2w+c] = b[co] + sum_ci x[n,ci,d,h,w] * w[ci,co,a,b,c]. */
export function convTranspose3dRef(
  x: Float64Array,
  w: Float64Array,
  bias: Float64Array | null,
  s: UpDims,
): Float64Array {
  const plane = 8 * s.d * s.h * s.w;
  const out = new Float64Array(s.n * s.cout * plane);
  if (bias) out.forEach((_, i) => out[i] = bias[Math.floor(i / plane) % s.cout]);
  eachUpTap(s, (xi, wi, oi) => out[oi] += x[xi] * w[wi]);
  return out;
}

/** Weight gradient of the transposed convolution for an output gradient gy: sum x * gy over each tap. */
export function convTranspose3dWeightGradRef(x: Float64Array, gy: Float64Array, s: UpDims): Float64Array {
  const gw = new Float64Array(s.cin * s.cout * 8);
  eachUpTap(s, (xi, wi, oi) => gw[wi] += x[xi] * gy[oi]);
  return gw;
}
