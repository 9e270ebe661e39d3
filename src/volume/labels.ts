/** The organ label set, label remapping (`52:1,64:2` or a JSON file) and per-label volumes. */

import { LabelRemapError, VolumeError } from "./errors.ts";
import { voxelOf } from "./grid.ts";
import type { Vec3 } from "./types.ts";

/** Names of labels 0..7, index = label. */
export const LABEL_NAMES: readonly string[] = [
  "background",
  "artery (aorta)",
  "portal vein (+ splenic vein)",
  "liver",
  "spleen",
  "stomach",
  "gallbladder",
  "pancreas",
];

/** The largest label id (7 organs, 0 is background). */
export const MAX_LABEL = LABEL_NAMES.length - 1;

/** The name of a label, or `label N` for ids outside the organ set. */
export function labelName(label: number): string {
  return LABEL_NAMES[label] ?? `label ${label}`;
}

/** Source label id -> engine label id; ids not listed map to 0. */
export type LabelRemap = ReadonlyMap<number, number>;

/** Builds a remap from source -> target pairs, checking ids; `spec` is named in errors. */
function remapFromPairs(pairs: [string, unknown][], spec: string, maxLabel: number): LabelRemap {
  if (pairs.length === 0) throw new LabelRemapError(spec, "no mappings");
  const map = new Map<number, number>();
  for (const [key, value] of pairs) {
    const from = Number(key.trim());
    const to = typeof value === "string" ? Number(value.trim()) : value;
    if (key.trim() === "" || !Number.isInteger(from)) {
      throw new LabelRemapError(spec, `source id ${JSON.stringify(key)} is not an integer`);
    }
    if (typeof to !== "number" || !Number.isInteger(to)) {
      throw new LabelRemapError(spec, `target of ${from} is ${JSON.stringify(value)}, not an integer`);
    }
    if (to < 0 || to > maxLabel) {
      throw new LabelRemapError(spec, `labels outside 0..${maxLabel} after remapping: ${from} -> ${to}`);
    }
    if (map.has(from)) throw new LabelRemapError(spec, `source id ${from} is mapped twice`);
    map.set(from, to);
  }
  return map;
}

/** Parses `52:1,64:2,...` (whitespace allowed). Targets must lie in 0..maxLabel. */
export function parseLabelRemap(spec: string, maxLabel = MAX_LABEL): LabelRemap {
  const pairs = spec.split(",").filter((p) => p.trim() !== "").map((part): [string, string] => {
    const fields = part.split(":");
    if (fields.length !== 2) throw new LabelRemapError(spec, `${JSON.stringify(part.trim())} is not FROM:TO`);
    return [fields[0], fields[1]];
  });
  return remapFromPairs(pairs, spec, maxLabel);
}

/** True when a remap spec names a JSON file rather than listing `FROM:TO` pairs. */
export function isRemapFile(spec: string): boolean {
  return spec.toLowerCase().endsWith(".json") || !spec.includes(":");
}

/** Parses a JSON remap `{"52": 1, ...}`; `spec` (the file) names it in messages. */
export function parseLabelRemapJson(text: string, spec: string, maxLabel = MAX_LABEL): LabelRemap {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LabelRemapError(spec, `invalid JSON: ${(e as Error).message.split("\n")[0]}`, { cause: e });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new LabelRemapError(spec, 'the JSON is not an object like {"52": 1}');
  }
  return remapFromPairs(Object.entries(json), spec, maxLabel);
}

/** What to do with raw label values. */
export interface LabelOptions {
  /** Source id -> label; unlisted ids become 0. Without it, values must already lie in 0..maxLabel. */
  remap?: LabelRemap;
  /** Largest valid label (default 7). */
  maxLabel?: number;
}

/**
 * Converts raw label values (as decoded from a file) into a uint8 label map, remapping if asked.
 * Throws a "labels" VolumeError naming `file` for non-integer values and labels outside 0..maxLabel.
 */
export function labelsFromValues(
  values: Float32Array,
  dims: Vec3,
  file: string,
  opts: LabelOptions = {},
): Uint8Array {
  const maxLabel = opts.maxLabel ?? MAX_LABEL;
  const remap = opts.remap;
  const out = new Uint8Array(values.length);
  // Label maps have long runs of one value: remember the last lookup.
  let lastValue = NaN, lastLabel = 0;
  for (let n = 0; n < values.length; n++) {
    const v = values[n];
    if (v !== lastValue) {
      if (!Number.isInteger(v)) {
        throw new VolumeError(
          file,
          "labels",
          `non-integer label value ${v} at voxel (${voxelOf(n, dims).join(",")})`,
        );
      }
      const label = remap ? remap.get(v) ?? 0 : v;
      if (label < 0 || label > maxLabel) {
        const how = remap ? `after remapping (${v} -> ${label})` : "(pass a label remap such as 52:1,64:2)";
        throw new VolumeError(
          file,
          "labels",
          `label ${label} at voxel (${voxelOf(n, dims).join(",")}) is outside 0..${maxLabel} ${how}`,
        );
      }
      lastValue = v;
      lastLabel = label;
    }
    out[n] = lastLabel;
  }
  return out;
}

/** Voxel count and volume of one label. */
export interface LabelStat {
  /** Label id. */
  label: number;
  /** Organ name. */
  name: string;
  /** Number of voxels. */
  voxels: number;
  /** Volume in millilitres (cm^3). */
  ml: number;
}

/** Voxel counts and volumes of each distinct value present (any integer ids), ascending by id. */
export function labelStats(labels: ArrayLike<number>, spacing: Vec3): LabelStat[] {
  const counts = new Map<number, number>();
  // Count runs of equal values: one map update per run, not per voxel.
  let run = 0;
  for (let n = 0; n < labels.length; n++) {
    if (n > 0 && labels[n] !== labels[n - 1]) {
      counts.set(labels[n - 1], (counts.get(labels[n - 1]) ?? 0) + run);
      run = 0;
    }
    run++;
  }
  if (run > 0) counts.set(labels[labels.length - 1], (counts.get(labels[labels.length - 1]) ?? 0) + run);
  const voxelMl = (spacing[0] * spacing[1] * spacing[2]) / 1000;
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([label, voxels]) => ({
    label,
    name: labelName(label),
    voxels,
    ml: voxels * voxelMl,
  }));
}
