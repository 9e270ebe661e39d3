/**
 * Training volumes without holding them all: a store loads one case at a time (from the training
 * cache, or from memory in tests), and a working set keeps a few of them for the patches of the
 * current iterations, replacing one every few iterations. Which cases are in the set at iteration i
 * depends only on (seed, stage, i), so a resumed run sees the same volumes as an uninterrupted one;
 * when every case fits, the set is all of them, in order, for the whole run.
 */
import { Rng } from "../util/random.ts";
import type { TrainingVolume } from "./sampler.ts";

/** Training cases that can be loaded one at a time. */
export interface CaseStore {
  /** Case ids, in a fixed order. */
  readonly ids: readonly string[];
  /** The volume of case `i`. */
  load(i: number): Promise<TrainingVolume>;
  /** Voxels of each label inside case `i`'s candidate region (labels at or past `classes` left out). */
  counts(i: number, classes: number): Float64Array;
}

/** A store over volumes already in memory. */
export function memoryStore(volumes: TrainingVolume[]): CaseStore {
  return {
    ids: volumes.map((v) => v.id),
    load: (i) => Promise.resolve(volumes[i]),
    counts: (i, classes) => {
      const out = new Float64Array(classes);
      const v = volumes[i];
      for (const j of v.inside) if (v.labels[j] < classes) out[v.labels[j]]++;
      return out;
    },
  };
}

/** How many cases a working set holds and how often it changes one. */
export interface WorkingSetOptions {
  /** Cases held at once (one more is read ahead). */
  size: number;
  /** Iterations between replacements of one case. */
  refreshEvery: number;
  seed: number;
  stage: number;
}

/**
 * The cases in memory at each iteration. With `n` cases and room for `size`, all of them when
 * `n <= size`; otherwise slots `w .. w+size-1` of an endless sequence of seeded permutations of the
 * cases at window `w = floor(i / refreshEvery)`, so each window drops one case and takes the next.
 */
export class WorkingSet {
  readonly #store: CaseStore;
  readonly #o: WorkingSetOptions;
  readonly #perms = new Map<number, Uint32Array>();
  readonly #loaded = new Map<number, Promise<TrainingVolume>>();
  /** Most volumes held at once (for tests and reports). */
  peak = 0;
  /** Volumes loaded so far. */
  loads = 0;

  constructor(store: CaseStore, opts: WorkingSetOptions) {
    if (!(opts.size >= 1 && opts.refreshEvery >= 1)) {
      throw new RangeError("working set: size and refreshEvery must be >= 1");
    }
    this.#store = store;
    this.#o = opts;
  }

  /** Case `j` of the endless sequence. */
  #at(j: number): number {
    const n = this.#store.ids.length;
    const cycle = Math.floor(j / n);
    let perm = this.#perms.get(cycle);
    if (!perm) {
      const rng = new Rng(
        (Math.imul(this.#o.seed ^ 0x2545f491, 0x9e3779b1) ^
          Math.imul(this.#o.stage * 7919 + cycle, 0x85ebca6b)) >>> 0,
      );
      perm = Uint32Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const k = rng.int(i + 1);
        [perm[i], perm[k]] = [perm[k], perm[i]];
      }
      this.#perms.set(cycle, perm);
      // a window spans at most two cycles, and the read-ahead one more
      for (const c of this.#perms.keys()) if (c < cycle - 2) this.#perms.delete(c);
    }
    return perm[j % n];
  }

  /** The case indices in the set at `iteration` (a list: a case may fill two slots). */
  casesAt(iteration: number): number[] {
    const n = this.#store.ids.length, size = this.#o.size;
    if (n <= size) return Array.from({ length: n }, (_, i) => i);
    const w = Math.floor(iteration / this.#o.refreshEvery);
    return Array.from({ length: size }, (_, s) => this.#at(w + s));
  }

  #load(i: number): Promise<TrainingVolume> {
    let p = this.#loaded.get(i);
    if (!p) {
      p = this.#store.load(i);
      this.#loaded.set(i, p);
      this.loads++;
      this.peak = Math.max(this.peak, this.#loaded.size);
      p.catch(() => this.#loaded.delete(i));
    }
    return p;
  }

  /** A volume if it is in memory now (validation on the training cases uses it). */
  held(i: number): Promise<TrainingVolume> | undefined {
    return this.#loaded.get(i);
  }

  /**
   * The volumes of the set at `iteration`, in slot order: cases that left the set are dropped, new
   * ones loaded, and the case the next window adds is read ahead.
   */
  async volumesAt(iteration: number): Promise<TrainingVolume[]> {
    const now = this.casesAt(iteration);
    const n = this.#store.ids.length;
    const ahead = n > this.#o.size ? this.casesAt(iteration + this.#o.refreshEvery) : [];
    const keep = new Set([...now, ...ahead]);
    for (const i of [...this.#loaded.keys()]) if (!keep.has(i)) this.#loaded.delete(i);
    const volumes = await Promise.all(now.map((i) => this.#load(i)));
    for (const i of ahead) if (!this.#loaded.has(i)) this.#load(i).catch(() => {}); // errors surface when used
    return volumes;
  }
}
