/**
 * The body mask C1 of Roth et al. (stage-1 candidate region): everything of the patient's body, with
 * air, the CT table and clothing removed.
 */

import { type Connectivity, largestComponent } from "./components.ts";
import { fillHolesSlicewise } from "./fill-holes.ts";
import { open } from "./morphology.ts";
import type { Volume } from "./types.ts";

/** Parameters of {@link bodyMask}. */
export interface BodyMaskOptions {
  /** Voxels above this HU are tissue (default -500). */
  thresholdHu?: number;
  /** Radius of the opening in mm, which cuts thin bridges to the table (default 3). */
  openingRadiusMm?: number;
  /** Connectivity of the largest-component step (default 6). */
  connectivity?: Connectivity;
}

/**
 * Body mask of a CT in HU: threshold (HU > -500), morphological opening, largest 3D connected
 * component, then slice-wise (k axis) 2D hole filling, which puts the air of lungs and bowel back.
 */
export function bodyMask(ct: Volume<Float32Array>, opts: BodyMaskOptions = {}): Uint8Array {
  const threshold = opts.thresholdHu ?? -500;
  const tissue = new Uint8Array(ct.data.length);
  for (let i = 0; i < tissue.length; i++) tissue[i] = ct.data[i] > threshold ? 1 : 0;
  const opened = open(tissue, ct.dims, ct.spacing, opts.openingRadiusMm ?? 3);
  const body = largestComponent(opened, ct.dims, opts.connectivity ?? 6);
  return fillHolesSlicewise(body, ct.dims);
}
