/**
 * Learning-rate schedules: pure functions of the iteration `it` (0-based), set as `optimizer.lr`
 * before each step.
 */

/** A learning rate for iteration `it`. */
export type Schedule = (it: number) => number;

/** The same rate at every iteration. */
export function constantLr(lr: number): Schedule {
  return () => lr;
}

/** Step decay: `lr * gamma^floor(it / stepSize)`. */
export function stepDecay(lr: number, stepSize: number, gamma = 0.1): Schedule {
  if (!(stepSize > 0)) throw new RangeError(`stepDecay: invalid step size ${stepSize}`);
  return (it) => lr * gamma ** Math.floor(Math.max(0, it) / stepSize);
}

/**
 * Linear warm-up over the first `warmup` iterations (`lr * (it + 1) / warmup`, so the first step is not
 * wasted), then a half cosine from `lr` down to `minLr` at `max`; `minLr` from then on.
 */
export function cosineWarmup(lr: number, opts: { warmup: number; max: number; minLr?: number }): Schedule {
  const { warmup, max } = opts;
  const minLr = opts.minLr ?? 0;
  if (!(warmup >= 0 && max > warmup)) throw new RangeError(`cosineWarmup: need 0 <= warmup < max`);
  return (it) => {
    if (it < warmup) return lr * (it + 1) / warmup;
    if (it >= max) return minLr;
    return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * (it - warmup) / (max - warmup)));
  };
}

/** Polynomial decay as nnU-Net: `lr * (1 - it / max)^power` (power 0.9), 0 from `max` on. */
export function polyLr(lr: number, max: number, power = 0.9): Schedule {
  if (!(max > 0)) throw new RangeError(`polyLr: invalid iteration count ${max}`);
  return (it) => lr * (1 - Math.min(Math.max(it, 0), max) / max) ** power;
}
