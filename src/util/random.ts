/**
 * A small seeded pseudo-random generator, so that augmentation and initialisation are reproducible
 * from one integer seed. mulberry32: 32-bit state, fast, good enough for augmentation (not for crypto).
 */

/** Deterministic random numbers from a 32-bit seed. */
export class Rng {
  #state: number;
  /** Normal deviate kept from the last Box-Muller pair. */
  #spare: number | null = null;

  /** Starts a generator; equal seeds give equal sequences. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal deviate (Box-Muller). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    // 1 - next() lies in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.next()));
    const phi = 2 * Math.PI * this.next();
    this.#spare = r * Math.sin(phi);
    return r * Math.cos(phi);
  }
}
