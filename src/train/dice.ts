/** Dice overlap per label between a prediction and a reference label map. */

/** Dice of one label: 2|A∩B| / (|A| + |B|); NaN when the label is absent from both. */
export interface LabelDice {
  label: number;
  dice: number;
  predicted: number;
  reference: number;
}

/** Voxel counts behind Dice: per label, the overlap, the predicted and the reference voxels. */
export interface DiceCounts {
  inter: Float64Array;
  pred: Float64Array;
  ref: Float64Array;
}

/** Empty counts for labels 0..classes-1. */
export function emptyDiceCounts(classes: number): DiceCounts {
  return {
    inter: new Float64Array(classes),
    pred: new Float64Array(classes),
    ref: new Float64Array(classes),
  };
}

/**
 * Adds one volume's counts to `into`, over the voxels where `mask` is non-zero (all voxels when no
 * mask is given). Counting volume by volume gives the Dice of the pooled voxels without pooling them.
 */
export function addDiceCounts(
  into: DiceCounts,
  predicted: ArrayLike<number>,
  reference: ArrayLike<number>,
  mask?: ArrayLike<number>,
): DiceCounts {
  if (predicted.length !== reference.length || (mask && mask.length !== predicted.length)) {
    throw new Error("dicePerLabel: volumes differ in size");
  }
  const { inter, pred, ref } = into;
  const classes = inter.length;
  for (let i = 0; i < predicted.length; i++) {
    if (mask && !mask[i]) continue;
    const p = predicted[i], r = reference[i];
    if (p < classes) pred[p]++;
    if (r < classes) ref[r]++;
    if (p === r && p < classes) inter[p]++;
  }
  return into;
}

/** Dice of labels 1..classes-1 from counts. */
export function diceFromCounts({ inter, pred, ref }: DiceCounts): LabelDice[] {
  const out: LabelDice[] = [];
  for (let k = 1; k < inter.length; k++) {
    const den = pred[k] + ref[k];
    out.push({ label: k, dice: den > 0 ? (2 * inter[k]) / den : NaN, predicted: pred[k], reference: ref[k] });
  }
  return out;
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
  return diceFromCounts(addDiceCounts(emptyDiceCounts(classes), predicted, reference, mask));
}

/** Mean of the defined (non-NaN) Dice values; NaN when none is defined. */
export function meanDice(d: readonly LabelDice[]): number {
  const v = d.map((x) => x.dice).filter((x) => !Number.isNaN(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}
