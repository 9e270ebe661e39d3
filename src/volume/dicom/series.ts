/**
 * From parsed files to one CT series on a voxel grid: grouping by SeriesInstanceUID (or, where the
 * archive left it empty, by frame of reference, orientation, size and description), the choice among
 * several series, slices sorted along the slice normal, the geometry checks (missing or duplicated
 * slices, tilt, mixed sizes) and the affine as dcm2niix writes it: rows flipped, so that the NIfTI of
 * an axial series comes out LAS.
 */

import type { Affine, Vec3 } from "../types.ts";
import { type DicomFile, SOP_CLASS, str } from "./parse.ts";

/** A refusal of the series, one line; the reader prefixes the folder. */
export class SeriesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SeriesError";
  }
}

/** A group of files that belong to one series. */
export interface SeriesGroup {
  /** SeriesInstanceUID, or `series-N` for a group found without one. */
  id: string;
  /** True when the files carry a SeriesInstanceUID. */
  hasUid: boolean;
  files: DicomFile[];
  description: string;
  /** Whether the group holds CT images (classic single-frame or enhanced). */
  isCt: boolean;
}

/** One slice of the chosen series, in volume order (k = 0 first). */
export interface DicomSlice {
  /** File name within the folder. */
  file: string;
  sopClassUid: string;
  sopInstanceUid: string;
  /** ImagePositionPatient, LPS mm. */
  position: Vec3;
}

/** The geometry of a sorted series. */
export interface SeriesGeometry {
  rows: number;
  columns: number;
  /** ImageOrientationPatient: row direction (along a row, increasing column), column direction. */
  orientation: number[];
  /** [between rows, between columns] mm. */
  pixelSpacing: [number, number];
  /** Distance between slice centres along the normal, mm. */
  sliceSpacing: number;
  /** Voxel index (i column, j flipped row, k slice) -> RAS mm. */
  affine: Affine;
  /** The files in slice order, one per slice. */
  files: DicomFile[];
  /** Messages for the user (duplicates of one instance dropped). */
  notes: string[];
}

const cross = (a: number[], b: number[]): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/** True for a CT image: the CT SOP classes, or Modality CT when the SOP class is missing. */
function isCtImage(f: DicomFile): boolean {
  if (!f.hasPixels) return false;
  const c = f.sopClassUid;
  if (c === SOP_CLASS.ct || c === SOP_CLASS.enhancedCt || c === SOP_CLASS.legacyEnhancedCt) return true;
  return c === "" && f.modality === "CT";
}

/** True for a localizer (scout) image, which never belongs to the volume. */
function isLocalizer(f: DicomFile): boolean {
  return /(^|\\)LOCALIZER(\\|$)/.test(str(f.dataSet, "x00080008").toUpperCase());
}

/** Groups files into series: by SeriesInstanceUID, else by frame of reference, orientation, size and description. */
export function groupSeries(files: DicomFile[]): SeriesGroup[] {
  const groups = new Map<string, DicomFile[]>();
  for (const f of files) {
    const key = f.seriesUid !== "" ? `uid:${f.seriesUid}` : [
      "geometry",
      f.studyUid,
      f.frameOfReferenceUid,
      f.modality,
      f.sopClassUid,
      f.orientation?.map((v) => v.toFixed(4)).join(",") ?? "",
      `${f.rows}x${f.columns}`,
      f.seriesNumber ?? "",
      f.seriesDescription,
    ].join("|");
    const list = groups.get(key);
    if (list) list.push(f);
    else groups.set(key, [f]);
  }
  let unnamed = 0;
  return [...groups.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([key, list]) => ({
    id: key.startsWith("uid:") ? key.slice(4) : `series-${++unnamed}`,
    hasUid: key.startsWith("uid:"),
    files: list,
    description: list[0].seriesDescription,
    isCt: list.some(isCtImage),
  }));
}

/** "CT Body 3.0 (1.2.3..., 20 files)". */
export function describeGroup(g: SeriesGroup): string {
  const what = g.description ? `"${g.description}" ` : "";
  return `${what}${g.id} (${g.files.length} file${g.files.length === 1 ? "" : "s"})`;
}

/**
 * The CT series to read: the one named by `wanted` (a SeriesInstanceUID or a `series-N` id), else
 * the one with the most files. Returns it with notes on what was skipped or chosen.
 */
export function chooseSeries(
  groups: SeriesGroup[],
  wanted?: string,
): { group: SeriesGroup; notes: string[] } {
  const notes: string[] = [];
  const ct = groups.filter((g) => g.isCt);
  const other = groups.filter((g) => !g.isCt).flatMap((g) => g.files);
  if (other.length > 0 && ct.length > 0) notes.push(`ignored what is not a CT image: ${kinds(other)}`);
  if (wanted !== undefined) {
    const g = groups.find((g) => g.id === wanted);
    if (!g) {
      const list = ct.map(describeGroup).join(", ") || "none";
      throw new SeriesError(`no series ${wanted}; the CT series here: ${list}`);
    }
    if (!g.isCt) throw new SeriesError(`series ${wanted} holds no CT image (${kinds(g.files)})`);
    return { group: g, notes };
  }
  if (ct.length === 0) {
    throw new SeriesError(`no CT image series (found ${kinds(groups.flatMap((g) => g.files))})`);
  }
  const best = ct.reduce((a, b) => b.files.length > a.files.length ? b : a);
  if (ct.length > 1) {
    const others = ct.filter((g) => g !== best).map(describeGroup).join(", ");
    notes.push(
      `${ct.length} CT series: took ${describeGroup(best)}, the one with the most files; ` +
        `others: ${others}; choose one with --series`,
    );
  }
  return { group: best, notes };
}

/** "3 SEG files, 1 RTSTRUCT file": what a set of files holds, for refusals. */
function kinds(files: DicomFile[]): string {
  const count = new Map<string, number>();
  for (const f of files) {
    const k = f.sopClassUid === SOP_CLASS.seg
      ? "SEG"
      : f.sopClassUid === SOP_CLASS.rtStruct
      ? "RTSTRUCT"
      : f.sopClassUid === SOP_CLASS.dicomdir
      ? "DICOMDIR"
      : (f.modality || "unknown") + (f.hasPixels ? " image" : "");
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  return [...count.entries()].map(([k, n]) => `${n} ${k} file${n === 1 ? "" : "s"}`).join(", ");
}

/** Tolerances of the geometry checks. */
export const GEOMETRY_TOLERANCE = {
  /** Two orientations are the same within this (direction cosines). */
  orientation: 1e-4,
  /** Slices closer than this along the normal are at the same position (mm). */
  duplicate: 0.01,
  /** A gap may differ from the median by this fraction before a slice counts as missing. */
  spacing: 0.05,
  /** In-plane drift of the slice positions allowed (mm, plus 0.1% of the distance) before it is a tilt. */
  shear: 0.02,
};

/** Sorts the files of a series along the slice normal and checks that they form a regular grid. */
export function seriesGeometry(group: SeriesGroup): SeriesGeometry {
  const notes: string[] = [];
  const images = group.files.filter((f) => isCtImage(f) && !isLocalizer(f));
  const localizers = group.files.filter((f) => isCtImage(f) && isLocalizer(f)).length;
  if (localizers > 0) notes.push(`skipped ${localizers} localizer image${localizers === 1 ? "" : "s"}`);
  const multi = images.find((f) =>
    f.sopClassUid === SOP_CLASS.enhancedCt || f.sopClassUid === SOP_CLASS.legacyEnhancedCt ||
    f.numberOfFrames > 1
  );
  if (multi) {
    throw new SeriesError(
      `${multi.name}: enhanced multi-frame CT (${multi.numberOfFrames} frames in one file) is not supported; ` +
        `export the series as single-frame CT images`,
    );
  }
  if (images.length < 2) {
    throw new SeriesError(`series ${group.id} has ${images.length} CT slice; need at least 2`);
  }
  for (const f of images) {
    const missing = [
      f.position ? "" : "ImagePositionPatient",
      f.orientation ? "" : "ImageOrientationPatient",
      f.pixelSpacing ? "" : "PixelSpacing",
      f.rows > 0 && f.columns > 0 ? "" : "Rows/Columns",
    ].filter((s) => s !== "");
    if (missing.length > 0) throw new SeriesError(`${f.name}: no ${missing.join(", ")}`);
  }
  const first = images[0];
  for (const f of images) {
    if (f.rows !== first.rows || f.columns !== first.columns) {
      throw new SeriesError(
        `mixed image sizes in one series: ${first.name} is ${first.columns}x${first.rows}, ` +
          `${f.name} is ${f.columns}x${f.rows}`,
      );
    }
    if (f.orientation!.some((v, i) => Math.abs(v - first.orientation![i]) > GEOMETRY_TOLERANCE.orientation)) {
      throw new SeriesError(
        `mixed orientations in one series: ${first.name} [${first.orientation!.join(", ")}], ` +
          `${f.name} [${f.orientation!.join(", ")}]`,
      );
    }
    const ps = f.pixelSpacing!, ps0 = first.pixelSpacing!;
    if (Math.abs(ps[0] - ps0[0]) > 1e-4 || Math.abs(ps[1] - ps0[1]) > 1e-4) {
      throw new SeriesError(
        `mixed pixel spacings in one series: ${first.name} ${ps0.join("x")}, ${f.name} ${ps.join("x")}`,
      );
    }
  }
  const row = first.orientation!.slice(0, 3), col = first.orientation!.slice(3, 6);
  const unit = (v: number[]) => Math.abs(Math.hypot(v[0], v[1], v[2]) - 1) < 1e-3;
  if (!unit(row) || !unit(col) || Math.abs(dot(row, col)) > 1e-3) {
    throw new SeriesError(
      `${first.name}: ImageOrientationPatient [${
        first.orientation!.join(", ")
      }] is not two orthogonal unit vectors`,
    );
  }
  const normal = cross(row, col);
  const along = (f: DicomFile) => dot(normal, f.position!);
  const sorted = [...images].sort((a, b) => along(a) - along(b));

  // The same instance twice (a copied file) is dropped; two instances at one position are refused.
  const unique: DicomFile[] = [];
  for (const f of sorted) {
    const prev = unique[unique.length - 1];
    if (prev && Math.abs(along(f) - along(prev)) < GEOMETRY_TOLERANCE.duplicate) {
      if (f.sopInstanceUid !== "" && f.sopInstanceUid === prev.sopInstanceUid) {
        notes.push(`${f.name} repeats ${prev.name} (same SOP instance): read once`);
        continue;
      }
      throw new SeriesError(
        `duplicated slice position ${along(f).toFixed(3)} mm along the normal: ${prev.name} and ${f.name}`,
      );
    }
    unique.push(f);
  }
  if (unique.length < 2) throw new SeriesError(`series ${group.id} has 1 distinct slice; need at least 2`);

  const gaps = unique.slice(1).map((f, k) => along(f) - along(unique[k]));
  const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)];
  for (let k = 0; k < gaps.length; k++) {
    if (Math.abs(gaps[k] - median) > GEOMETRY_TOLERANCE.spacing * median) {
      const what = gaps[k] > median ? "missing slice" : "non-uniform slice spacing";
      throw new SeriesError(
        `${what}: ${gaps[k].toFixed(3)} mm between ${unique[k].name} and ${unique[k + 1].name}, ` +
          `${median.toFixed(3)} mm elsewhere`,
      );
    }
  }

  // Slice centres must lie on the normal through the first: an in-plane drift is a gantry tilt.
  const p0 = unique[0].position!;
  for (const f of unique) {
    const d = f.position!.map((v, i) => v - p0[i]);
    const inPlane = Math.hypot(dot(d, row), dot(d, col));
    if (inPlane > GEOMETRY_TOLERANCE.shear + 1e-3 * Math.abs(dot(d, normal))) {
      const angle = Math.atan2(inPlane, Math.abs(dot(d, normal))) * 180 / Math.PI;
      throw new SeriesError(
        `gantry tilt or sheared slices: ${f.name} lies ${inPlane.toFixed(2)} mm off the slice normal ` +
          `(${angle.toFixed(1)} degrees); resample to an orthogonal grid first`,
      );
    }
  }

  const n = unique.length;
  const sliceSpacing = (along(unique[n - 1]) - along(unique[0])) / (n - 1);
  const affine = dicomAffine(first.orientation!, first.pixelSpacing!, sliceSpacing, p0, first.rows);
  return {
    rows: first.rows,
    columns: first.columns,
    orientation: first.orientation!,
    pixelSpacing: first.pixelSpacing!,
    sliceSpacing,
    affine,
    files: unique,
    notes,
  };
}

/**
 * The voxel -> RAS affine of a slice stack as dcm2niix writes it: i along a row (increasing column),
 * j from the last image row to the first, k along the normal row x column from `firstPosition` (the
 * centre of the first row's first pixel of slice 0).
 */
export function dicomAffine(
  orientation: number[],
  pixelSpacing: [number, number],
  sliceSpacing: number,
  firstPosition: Vec3,
  rows: number,
): Affine {
  const row = orientation.slice(0, 3), col = orientation.slice(3, 6);
  const normal = cross(row, col);
  const [dr, dc] = pixelSpacing;
  // LPS: x = p0 + i*dc*row + (rows-1-j)*dr*col + k*spacing*normal; then x and y negated for RAS.
  const lps = [0, 1, 2].map((a) => [
    dc * row[a],
    -dr * col[a],
    sliceSpacing * normal[a],
    firstPosition[a] + (rows - 1) * dr * col[a],
  ]);
  const affine = [...lps[0].map((v) => -v), ...lps[1].map((v) => -v), ...lps[2], 0, 0, 0, 1];
  return affine.map((v) => v === 0 ? 0 : v); // no -0
}
