/** Float64 references of channel concatenation and centre crop. */

/** float64 reference: channel concatenation of [N, Ca, S] and [N, Cb, S]. */
export function refConcat(a: Float64Array, b: Float64Array, n: number, ca: number, cb: number, s: number) {
  const out = new Float64Array(n * (ca + cb) * s);
  for (let i = 0; i < n; i++) {
    out.set(a.subarray(i * ca * s, (i + 1) * ca * s), i * (ca + cb) * s);
    out.set(b.subarray(i * cb * s, (i + 1) * cb * s), (i * (ca + cb) + ca) * s);
  }
  return out;
}

/** float64 reference: centre crop of [N, C, D, H, W] to [d, h, w]. */
export function refCrop(x: Float64Array, shape: number[], to: number[]) {
  const [n, c, d, h, w] = shape;
  const [od, oh, ow] = [0, 1, 2].map((i) => Math.floor((shape[i + 2] - to[i]) / 2));
  const out = new Float64Array(n * c * to[0] * to[1] * to[2]);
  let o = 0;
  for (let q = 0; q < n * c; q++) {
    for (let z = 0; z < to[0]; z++) {
      for (let y = 0; y < to[1]; y++) {
        for (let v = 0; v < to[2]; v++) out[o++] = x[((q * d + z + od) * h + y + oh) * w + v + ow];
      }
    }
  }
  return out;
}
