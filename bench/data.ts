/** Deterministic host inputs of each benchmark case, the same for every backend. */
import { Rng } from "../src/util/random.ts";
import { outputSize } from "../src/nn/unet3d.ts";
import { type Case, presetConfig } from "./shapes.ts";
import { type CaseData, convShapes, convTShapes, numel } from "./backends/types.ts";

function uniform(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * (2 * rng.next() - 1);
  return a;
}

function labels(rng: Rng, n: number, k: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(k);
  return a;
}

/**
 * Inputs of a case: uniform values in [-1, 1), weights scaled by 1/sqrt(fan-in) so that outputs stay
 * of order one (which keeps relative errors meaningful), random labels.
 */
export function caseData(c: Case, seed = 1): CaseData {
  const rng = new Rng(seed);
  const s = c.shape;
  switch (s.kind) {
    case "conv": {
      const sh = convShapes(s);
      return {
        x: uniform(rng, numel(sh.x)),
        w: uniform(rng, numel(sh.w), 1 / Math.sqrt(s.cin * s.k ** 3)),
        b: uniform(rng, s.cout),
        dy: uniform(rng, numel(sh.y)),
      };
    }
    case "convT": {
      const sh = convTShapes(s);
      return {
        x: uniform(rng, numel(sh.x)),
        w: uniform(rng, numel(sh.w), 1 / Math.sqrt(s.cin)),
        b: uniform(rng, s.cout),
      };
    }
    case "pool":
      return { x: uniform(rng, s.n * s.c * s.d * s.h * s.w) };
    case "ce":
      return {
        x: uniform(rng, s.n * s.k * s.d * s.h * s.w, 3),
        labels: labels(rng, s.n * s.d * s.h * s.w, s.k),
      };
    case "unet": {
      const config = presetConfig(s.preset);
      const out = outputSize(config, [s.d, s.h, s.w]);
      return {
        x: uniform(rng, s.n * config.inChannels * s.d * s.h * s.w),
        labels: labels(rng, s.n * numel(out), config.classes),
        seed,
      };
    }
  }
}
