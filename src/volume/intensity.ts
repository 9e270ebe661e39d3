/**
 * CT intensity preprocessing.
 *
 * Choice: clip to a fixed HU window (default [-1000, 1000]) and map it linearly onto [-1, 1]. A fixed
 * mapping needs no per-scan statistics, so a patch, a whole volume and a GPU kernel all give the same
 * value for the same HU; air maps to -1, water (0 HU) to 0, dense bone and contrast saturate at 1.
 */

/** An HU window [min, max]. */
export interface HuWindow {
  /** Lower bound (HU). */
  min: number;
  /** Upper bound (HU). */
  max: number;
}

/** The default window, [-1000, 1000] HU. */
export const DEFAULT_HU_WINDOW: Readonly<HuWindow> = { min: -1000, max: 1000 };

/** Clips HU to the window and maps it linearly onto [-1, 1] (per voxel; NaN stays NaN). */
export function normalizeHu(data: Float32Array, window: HuWindow = DEFAULT_HU_WINDOW): Float32Array {
  if (!(window.max > window.min)) throw new RangeError(`empty HU window [${window.min}, ${window.max}]`);
  const centre = (window.max + window.min) / 2, half = (window.max - window.min) / 2;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    out[i] = ((v < window.min ? window.min : v > window.max ? window.max : v) - centre) / half;
  }
  return out;
}

/** Smallest and largest voxel value (NaN ignored; Infinity/-Infinity when there is none). */
export function intensityRange(data: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}
