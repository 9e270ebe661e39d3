/** Float64 reference of 2x2x2 max pooling. */

/** float64 reference: 2x2x2 max pooling, stride 2, floor rule. */
export function refMaxPool(x: Float64Array, shape: number[]): Float64Array {
  const [n, c, d, h, w] = shape;
  const od = Math.floor(d / 2), oh = Math.floor(h / 2), ow = Math.floor(w / 2);
  const out = new Float64Array(n * c * od * oh * ow);
  let o = 0;
  for (let q = 0; q < n * c; q++) {
    for (let z = 0; z < od; z++) {
      for (let y = 0; y < oh; y++) {
        for (let v = 0; v < ow; v++) {
          let m = -Infinity;
          for (let t = 0; t < 8; t++) {
            const zz = 2 * z + (t >> 2), yy = 2 * y + ((t >> 1) & 1), xx = 2 * v + (t & 1);
            m = Math.max(m, x[((q * d + zz) * h + yy) * w + xx]);
          }
          out[o++] = m;
        }
      }
    }
  }
  return out;
}
