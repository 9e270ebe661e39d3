/**
 * Small CTs for batch tests: crops of the sample CT (a real scan; its labels come from another model,
 * TotalSegmentator, not from people) at different places, so that each case gives other labels and
 * the shipped demo model segments each in a few seconds on the software adapter.
 */
import { readLabels, readNifti, writeNifti } from "../src/io/volumes.ts";
import { cropVolume } from "../src/volume/bbox.ts";
import type { Vec3 } from "../src/volume/types.ts";
import { ROOT } from "./_cli.ts";

/** The sample CT (3 mm, 122x101x112). */
export const SAMPLE = `${ROOT}data/abdomen-ct-a.nii.gz`;
/** Its label map (TotalSegmentator's predictions). */
export const SAMPLE_LABELS = `${ROOT}data/abdomen-ct-a.labels.nii.gz`;

/** The box of crop `i`: 48x48x40 voxels around the upper abdomen, shifted with `i`. */
export function cropBox(i: number): { min: Vec3; max: Vec3 } {
  const min: Vec3 = [20 + ((7 * i) % 40), 15 + ((5 * i) % 30), 50 + ((3 * i) % 20)];
  return { min, max: [min[0] + 48, min[1] + 48, min[2] + 40] };
}

/**
 * Writes `n` crops of the sample CT as `dir/NAME.nii.gz` (names from `name`, default `ct{i}`), and
 * with `labels` their label maps as `NAME.labels.nii.gz`; returns the CT paths.
 */
export async function writeSmallCts(
  dir: string,
  n: number,
  opts: { name?: (i: number) => string; labels?: boolean } = {},
): Promise<string[]> {
  const ct = await readNifti(SAMPLE);
  const labels = opts.labels ? await readLabels(SAMPLE_LABELS) : null;
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = opts.name?.(i) ?? `ct${i}`;
    const path = `${dir}/${name}.nii.gz`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await writeNifti(path, cropVolume(ct, cropBox(i)));
    if (labels) await writeNifti(`${dir}/${name}.labels.nii.gz`, cropVolume(labels, cropBox(i)));
    paths.push(path);
  }
  return paths;
}
