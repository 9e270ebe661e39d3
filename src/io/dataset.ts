/**
 * Listing training cases in a folder, in either of two layouts:
 * - pairs: `CASE.nii.gz` with `CASE.labels.nii.gz` (or `.nii`) side by side;
 * - nnU-Net / Medical Segmentation Decathlon: `imagesTr/CASE_0000.nii.gz` (nnU-Net) or
 *   `imagesTr/CASE.nii.gz` (MSD), `labelsTr/CASE.nii.gz`, and `dataset.json`, whose "training" list
 *   (MSD) is used when present.
 */

import { VolumeError } from "../volume/errors.ts";
import { assertSameGrid } from "../volume/grid.ts";
import type { LabelOptions } from "../volume/labels.ts";
import type { NiftiVolume, ReadOptions } from "../volume/nifti-read.ts";
import { FileReadError, firstLine, listDir, pathExists, readTextFile } from "./fs.ts";
import { readLabels, readNifti } from "./volumes.ts";

/** One training case: an image and its label map. */
export interface TrainingCase {
  /** Case identifier (file name without suffixes). */
  id: string;
  /** Path of the image. */
  image: string;
  /** Path of the label map. */
  labels: string;
}

const NIFTI_SUFFIXES = [".nii.gz", ".nii"];

/** Joins a folder and a relative path. */
function join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name.replace(/^\.\//, "")}`;
}

const exists = pathExists;

/** Names of the regular files in a folder, sorted; "dataset" / "not-found" VolumeErrors otherwise. */
async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await listDir(dir)).filter((e) => !e.isDirectory).map((e) => e.name);
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    throw new VolumeError(dir, e.code === "not-found" ? "not-found" : "dataset", e.problem, { cause: e });
  }
}

/** The name without its NIfTI suffix, or null when it is not a NIfTI file. */
function stripNifti(name: string): string | null {
  const suffix = NIFTI_SUFFIXES.find((s) => name.endsWith(s));
  return suffix === undefined ? null : name.slice(0, -suffix.length);
}

/** Cases of the pairs layout. */
async function listPairs(dir: string): Promise<TrainingCase[]> {
  const names = await listFiles(dir);
  const cases: TrainingCase[] = [];
  for (const name of names) {
    const stem = stripNifti(name);
    if (stem === null || !stem.endsWith(".labels")) continue;
    const id = stem.slice(0, -".labels".length);
    const image = NIFTI_SUFFIXES.map((s) => id + s).find((n) => names.includes(n));
    if (image === undefined) {
      throw new VolumeError(join(dir, name), "dataset", `label map without an image ${id}.nii.gz`);
    }
    cases.push({ id, image: join(dir, image), labels: join(dir, name) });
  }
  return cases;
}

/** Cases of the nnU-Net / MSD layout. */
async function listDecathlon(dir: string): Promise<TrainingCase[]> {
  const jsonPath = join(dir, "dataset.json");
  let fileEnding = ".nii.gz";
  if (await exists(jsonPath)) {
    let json: unknown;
    try {
      json = JSON.parse(await readTextFile(jsonPath));
    } catch (e) {
      throw new VolumeError(
        jsonPath,
        "dataset",
        `unreadable dataset.json: ${firstLine(e)}`,
        {
          cause: e,
        },
      );
    }
    const meta = json as { training?: unknown; file_ending?: unknown };
    if (typeof meta.file_ending === "string") fileEnding = meta.file_ending;
    if (Array.isArray(meta.training)) {
      // MSD: explicit list of {image, label}; nnU-Net conversions may have renamed images to _0000.
      const cases: TrainingCase[] = [];
      for (const entry of meta.training as { image?: unknown; label?: unknown }[]) {
        if (typeof entry?.image !== "string" || typeof entry?.label !== "string") {
          throw new VolumeError(jsonPath, "dataset", 'a "training" entry lacks "image" or "label" paths');
        }
        const labels = join(dir, entry.label);
        const stem = stripNifti(entry.image) ?? entry.image;
        const ending = entry.image.slice(stem.length) || fileEnding;
        const candidates = [join(dir, entry.image), join(dir, `${stem}_0000${ending}`)];
        const image = (await Promise.all(candidates.map(exists))).indexOf(true);
        if (image < 0) {
          throw new VolumeError(candidates[0], "not-found", "image listed in dataset.json not found");
        }
        const id = (stripNifti(entry.label) ?? entry.label).split("/").pop()!;
        cases.push({ id, image: candidates[image], labels });
      }
      return cases;
    }
  }
  const imagesDir = join(dir, "imagesTr"), labelsDir = join(dir, "labelsTr");
  const images = await listFiles(imagesDir);
  const cases: TrainingCase[] = [];
  for (const name of await listFiles(labelsDir)) {
    if (!name.endsWith(fileEnding)) continue;
    const id = name.slice(0, -fileEnding.length);
    if (images.includes(`${id}_0001${fileEnding}`)) {
      throw new VolumeError(
        join(imagesDir, `${id}_0001${fileEnding}`),
        "dataset",
        "multi-channel cases are not supported",
      );
    }
    const image = [`${id}_0000${fileEnding}`, `${id}${fileEnding}`].find((n) => images.includes(n));
    if (image === undefined) {
      throw new VolumeError(join(labelsDir, name), "dataset", `no image ${id}_0000${fileEnding} in imagesTr`);
    }
    cases.push({ id, image: join(imagesDir, image), labels: join(labelsDir, name) });
  }
  return cases;
}

/**
 * The training cases in `dir`, sorted by id. Throws a VolumeError when the folder is missing, a
 * label map has no image, or no case is found.
 */
export async function listCases(dir: string): Promise<TrainingCase[]> {
  const decathlon = (await exists(join(dir, "dataset.json"))) || (await exists(join(dir, "imagesTr")));
  const cases = decathlon ? await listDecathlon(dir) : await listPairs(dir);
  if (cases.length === 0) {
    throw new VolumeError(
      dir,
      "dataset",
      "no training cases (expected CASE.nii.gz + CASE.labels.nii.gz pairs, or imagesTr/ + labelsTr/)",
    );
  }
  return cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Reads a case's image and labels (remapped if asked) and checks that they share one grid. */
export async function readCase(
  c: TrainingCase,
  opts: ReadOptions & LabelOptions = {},
): Promise<{ image: NiftiVolume<Float32Array>; labels: NiftiVolume<Uint8Array> }> {
  const image = await readNifti(c.image, opts);
  const labels = await readLabels(c.labels, opts);
  assertSameGrid(image, c.image, labels, c.labels);
  return { image, labels };
}
