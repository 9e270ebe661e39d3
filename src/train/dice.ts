/** Dice overlap per label between a prediction and a reference label map. */

/** Dice of one label: 2|A∩B| / (|A| + |B|); NaN when the label is absent from both. */
export interface LabelDice {
  label: number;
  dice: number;
  predicted: number;
  reference: number;
}

/**
 * Dice for labels 1..classes-1, counted over the voxels where `mask` is non-zero (all voxels when no
 * mask is given).
 */
export function dicePerLabel(
  predicted: ArrayLike<number>,
  reference: ArrayLike<number>,
  classes: number,
  mask?: ArrayLike<number>,
): LabelDice[] {
  if (predicted.length !== reference.length || (mask && mask.length !== predicted.length)) {
    throw new Error("dicePerLabel: volumes differ in size");
  }
  const inter = new Float64Array(classes), pred = new Float64Array(classes), ref = new Float64Array(classes);
  for (let i = 0; i < predicted.length; i++) {
    if (mask && !mask[i]) continue;
    const p = predicted[i], r = reference[i];
    if (p < classes) pred[p]++;
    if (r < classes) ref[r]++;
    if (p === r && p < classes) inter[p]++;
  }
  const out: LabelDice[] = [];
  for (let k = 1; k < classes; k++) {
    const den = pred[k] + ref[k];
    out.push({ label: k, dice: den > 0 ? (2 * inter[k]) / den : NaN, predicted: pred[k], reference: ref[k] });
  }
  return out;
}

/** Mean of the defined (non-NaN) Dice values; NaN when none is defined. */
export function meanDice(d: readonly LabelDice[]): number {
  const v = d.map((x) => x.dice).filter((x) => !Number.isNaN(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}
