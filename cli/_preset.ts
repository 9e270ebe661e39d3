/**
 * The preset of a training command (`train`, `prepare`): the one `--preset` names, or the default
 * that fits the adapter and the training CTs' voxel size, with the reason in one line. Both commands
 * call this, so that `prepare` fills the cache with the grids `train` reads.
 */
import { type CascadePreset, defaultPreset, PRESETS } from "../src/cascade/presets.ts";
import { type TrainingProfile, trainingProfile } from "../src/cascade/fit.ts";
import type { TrainingCase } from "../src/io/dataset.ts";
import { readNiftiHeader } from "../src/io/volumes.ts";
import { UsageError } from "./_errors.ts";

/** Refuses a `--preset` that names no preset. */
export function checkPresetName(name: string | undefined): void {
  if (name !== undefined && !PRESETS[name]) {
    throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(", ")}, got "${name}"`);
  }
}

/** What the training CTs cover, from their headers alone (one file open at a time). */
export async function casesProfile(cases: readonly TrainingCase[]): Promise<
  TrainingProfile & { typicalVoxelMm: number }
> {
  const headers = [];
  for (const c of cases) headers.push(await readNiftiHeader(c.image));
  return trainingProfile(headers);
}

/** The preset to use and why. */
export function pickPreset(
  name: string | undefined,
  o: { software: boolean; voxelMm: number },
): { preset: CascadePreset; why: string } {
  return name ? { preset: PRESETS[name], why: "--preset" } : defaultPreset(o);
}
