/** Float64 references of batch and instance normalisation, shared by the tests. */

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Per-group mean and biased variance; a group is a channel (batch) or an (n, c) volume (instance). */
export function refStats(x: Float64Array, shape: number[], instance: boolean) {
  const [n, c] = shape, inner = size(shape.slice(2));
  const groups = instance ? n * c : c, count = x.length / groups;
  const group = (q: number) => (instance ? q : q % c);
  const mean = new Float64Array(groups), variance = new Float64Array(groups);
  for (let q = 0; q < n * c; q++) {
    for (let i = 0; i < inner; i++) mean[group(q)] += x[q * inner + i] / count;
  }
  for (let q = 0; q < n * c; q++) {
    for (let i = 0; i < inner; i++) variance[group(q)] += (x[q * inner + i] - mean[group(q)]) ** 2 / count;
  }
  return { mean, variance, group, inner, count };
}

/**
 * float64 reference normalisation: batch (per channel) or instance (per volume) statistics, or the
 * given fixed `stats` (batch norm inference).
 */
export function refNorm(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  shape: number[],
  instance: boolean,
  eps = 1e-5,
  stats?: { mean: Float64Array; variance: Float64Array },
): Float64Array {
  const s = refStats(x, shape, instance);
  const { mean, variance } = stats ?? s;
  const c = shape[1];
  return x.map((v, j) => {
    const q = Math.floor(j / s.inner), g = stats ? q % c : s.group(q);
    return gamma[q % c] * (v - mean[g]) / Math.sqrt(variance[g] + eps) + beta[q % c];
  });
}

/** float64 analytic input gradient through the statistics (gamma = 1). */
export function refNormGrad(
  x: Float64Array,
  gy: Float64Array,
  shape: number[],
  instance: boolean,
  eps = 1e-5,
) {
  const { mean, variance, group, inner, count } = refStats(x, shape, instance);
  const groups = mean.length;
  const xhat = x.map((v, j) =>
    (v - mean[group(Math.floor(j / inner))]) / Math.sqrt(variance[group(Math.floor(j / inner))] + eps)
  );
  const s1 = new Float64Array(groups), s2 = new Float64Array(groups);
  gy.forEach((v, j) => {
    const g = group(Math.floor(j / inner));
    s1[g] += v;
    s2[g] += v * xhat[j];
  });
  return gy.map((v, j) => {
    const g = group(Math.floor(j / inner));
    return (v - s1[g] / count - xhat[j] * s2[g] / count) / Math.sqrt(variance[g] + eps);
  });
}
