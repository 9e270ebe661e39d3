/** Float64 references of softmax, class counts, the paper's class weights and the weighted cross-entropy. */

/** Softmax over the channels of [N, K, S]. */
export function refSoftmax(x: Float64Array, n: number, k: number, s: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let v = 0; v < s; v++) {
      const at = (c: number) => (b * k + c) * s + v;
      let m = -Infinity, total = 0;
      for (let c = 0; c < k; c++) m = Math.max(m, x[at(c)]);
      for (let c = 0; c < k; c++) total += Math.exp(x[at(c)] - m);
      for (let c = 0; c < k; c++) y[at(c)] = Math.exp(x[at(c)] - m) / total;
    }
  }
  return y;
}

/** Voxels per class inside the mask. */
export function refCounts(labels: Uint32Array, mask: Uint32Array | null, k: number): Float64Array {
  const c = new Float64Array(k);
  labels.forEach((y, v) => {
    if ((!mask || mask[v]) && y < k) c[y]++;
  });
  return c;
}

/** lambda_i = (1 - N_i / N_C) / (K - 1). */
export function refPaperWeights(counts: Float64Array): Float64Array {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total > 0 ? (1 - c / total) / (counts.length - 1) : 0));
}

/** Mean weighted cross-entropy over the voxels inside the mask. */
export function refCrossEntropy(
  z: Float64Array,
  labels: Uint32Array,
  mask: Uint32Array | null,
  w: Float64Array,
  n: number,
  k: number,
  s: number,
): Float64Array {
  const p = refSoftmax(z, n, k, s);
  let loss = 0, m = 0;
  for (let b = 0; b < n; b++) {
    for (let v = 0; v < s; v++) {
      if (mask && !mask[b * s + v]) continue;
      const y = labels[b * s + v];
      loss -= w[y] * Math.log(p[(b * k + y) * s + v]);
      m++;
    }
  }
  return Float64Array.of(m > 0 ? loss / m : 0);
}
