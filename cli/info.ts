/**
 * `deno task info FILE|DICOM_DIR [LABELS]`: what a NIfTI volume or a DICOM series holds (dimensions, spacing, orientation,
 * datatype, intensity range) and, for a label map, voxels and millilitres per label.
 */

import { parseArgs } from "node:util";
import { runCli, UsageError } from "./_errors.ts";
import { assertSameGrid } from "../src/volume/grid.ts";
import { intensityRange } from "../src/volume/intensity.ts";
import { type LabelRemap, labelsFromValues, labelStats } from "../src/volume/labels.ts";
import { loadLabelRemap } from "../src/io/labels.ts";
import { type NiftiVolume } from "../src/volume/nifti-read.ts";
import { readNifti } from "../src/io/volumes.ts";
import { axisCodes } from "../src/volume/orientation.ts";
import { listAdapters } from "../src/gpu/runtime.ts";
import { quietMesa } from "../src/io/gpu.ts";
import { formatTable } from "../src/report/table.ts";
import { readCt } from "../src/io/read-ct.ts";
import type { DicomSeriesInfo } from "../src/volume/dicom/mod.ts";
import type { Volume } from "../src/volume/types.ts";

const HELP = `Usage: deno task info [options] FILE [LABELS]
       deno task info --adapters

Prints what a NIfTI-1/NIfTI-2 volume (.nii or .nii.gz) or a DICOM CT series (a folder) holds: dimensions, voxel spacing,
orientation code (e.g. RAS, LPS), datatype and intensity range. For a label map (an integer
image with few distinct values, or with --labels) it also prints, per label, the voxel count
and the volume in mL with the organ name.

Arguments:
  FILE              image or label map
  LABELS            a label map for FILE: its grid must match FILE's; summarised per label

Options:
  --adapters        list the WebGPU adapters this machine offers (for --adapter of segment and
                    train) instead of describing a file
  --labels          treat FILE as a label map even if it does not look like one
  --series UID      in a DICOM folder with several series, the SeriesInstanceUID to read
  --remap SPEC      remap label ids first: "52:1,64:2,..." or a JSON file {"52": 1, ...};
                    ids not listed become 0, results must lie in 0..7
  -h, --help        show this help

Labels: 0 background, 1 artery (aorta), 2 portal vein, 3 liver, 4 spleen, 5 stomach,
6 gallbladder, 7 pancreas.`;

/** At most this many distinct integer values make an image look like a label map. */
const MAX_LABEL_VALUES = 32;

/** True for integer-valued voxels with few distinct values. */
function looksLikeLabels(volume: NiftiVolume): boolean {
  const seen = new Set<number>();
  const data = volume.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (i > 0 && v === data[i - 1]) continue;
    if (!Number.isInteger(v)) return false;
    seen.add(v);
    if (seen.size > MAX_LABEL_VALUES) return false;
  }
  return true;
}

/** A number with at most `digits` decimals, trailing zeros dropped. */
function fmt(x: number, digits = 3): string {
  return String(+x.toFixed(digits));
}

/** The lines describing one volume. */
function describe(volume: NiftiVolume, asLabels: boolean, remap: LabelRemap | undefined): string[] {
  const h = volume.header;
  const n = volume.data.length;
  const { min, max } = intensityRange(volume.data);
  const scaling = h.sclSlope !== 0 && Number.isFinite(h.sclSlope) && !(h.sclSlope === 1 && h.sclInter === 0)
    ? `, scaled by ${fmt(h.sclSlope, 6)} + ${fmt(h.sclInter, 6)}`
    : "";
  const code = h.affineSource === "sform" ? h.sformCode : h.affineSource === "qform" ? h.qformCode : 0;
  const lines = [
    `file         ${volume.file}`,
    `format       NIfTI-${h.version}, ${h.littleEndian ? "little" : "big"}-endian`,
    `dimensions   ${volume.dims.join(" x ")} (${n} voxels)`,
    `spacing      ${volume.spacing.map((s) => fmt(s, 4)).join(" x ")} mm`,
    `orientation  ${axisCodes(volume.affine)} (affine from ${h.affineSource}${code ? `, code ${code}` : ""})`,
    `datatype     ${h.datatype.name}${scaling}`,
    `intensity    ${fmt(min, 4)} .. ${fmt(max, 4)}`,
  ];
  if (!asLabels) return lines;
  const values = remap ? labelsFromValues(volume.data, volume.dims, volume.file, { remap }) : volume.data;
  const stats = labelStats(values, volume.spacing);
  lines.push(`labels       ${stats.length} distinct values${remap ? " after remapping" : ""}`);
  lines.push(`  ${"label".padEnd(6)} ${"name".padEnd(30)} ${"voxels".padStart(10)} ${"mL".padStart(10)}`);
  for (const s of stats) {
    lines.push(
      `  ${String(s.label).padEnd(6)} ${s.name.padEnd(30)} ${String(s.voxels).padStart(10)} ${
        s.ml.toFixed(1).padStart(10)
      }`,
    );
  }
  return lines;
}

/** One line per adapter choice: what it gives here, or that it gives none. */
async function describeAdapters(): Promise<string> {
  quietMesa();
  const list = await listAdapters();
  const rows = list.map((a) => [
    a.choice,
    a.name ?? "(none)",
    a.name ? (a.software ? "software (CPU)" : "hardware") : "",
    a.features.filter((f) => ["shader-f16", "timestamp-query", "subgroups"].includes(f)).join(", "),
  ]);
  return formatTable(["--adapter", "adapter", "kind", "features"], rows);
}

/** The lines describing a DICOM series (read as a CT volume). */
function describeDicom(
  dir: string,
  volume: Volume<Float32Array>,
  info: DicomSeriesInfo,
  notes: string[],
): string[] {
  const { min, max } = intensityRange(volume.data);
  const uid = (v: string, generated: boolean) => generated ? "(none in the files)" : v;
  return [
    `folder       ${dir}`,
    `format       DICOM series, ${info.slices.length} slices, ${info.transferSyntaxes.join(", ")}`,
    `series       ${info.description ? `"${info.description}" ` : ""}${
      uid(info.seriesUid, info.generated.series)
    }`,
    `study        ${uid(info.studyUid, info.generated.study)}`,
    `dimensions   ${volume.dims.join(" x ")} (${volume.data.length} voxels)`,
    `spacing      ${volume.spacing.map((s) => fmt(s, 4)).join(" x ")} mm`,
    `orientation  ${axisCodes(volume.affine)} (affine as dcm2niix writes it)`,
    `intensity    ${fmt(min, 4)} .. ${fmt(max, 4)} HU`,
    ...notes.map((n) => `note         ${n}`),
  ];
}

/** Parses arguments, reads the volume(s) and prints the summary. */
async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      labels: { type: "boolean", default: false },
      adapters: { type: "boolean", default: false },
      series: { type: "string" },
      remap: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.adapters) {
    if (positionals.length) throw new UsageError("--adapters takes no file (see --help)");
    console.log(await describeAdapters());
    return;
  }
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError(`expected FILE [LABELS], got ${positionals.length} arguments (see --help)`);
  }
  const remap = values.remap === undefined ? undefined : await loadLabelRemap(values.remap);
  const [file, labelsFile] = positionals;
  const ct = await readCt(file, { series: values.series });
  if (ct.format === "dicom") {
    const out = describeDicom(file, ct.volume, ct.info, ct.notes);
    if (labelsFile !== undefined) {
      const labels = await readNifti(labelsFile);
      assertSameGrid(ct.volume, file, labels, labelsFile);
      out.push("", ...describe(labels, true, remap));
    }
    console.log(out.join("\n"));
    return;
  }
  const volume = ct.volume;
  const out: string[] = [];
  if (labelsFile === undefined) {
    const asLabels = values.labels || remap !== undefined || looksLikeLabels(volume);
    out.push(...describe(volume, asLabels, remap));
  } else {
    const labels = await readNifti(labelsFile);
    assertSameGrid(volume, file, labels, labelsFile);
    out.push(...describe(volume, values.labels, undefined), "", ...describe(labels, true, remap));
  }
  console.log(out.join("\n"));
}

if (import.meta.main) await runCli(main);
