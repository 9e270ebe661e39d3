/**
 * `deno task segment CT [-o OUT.nii.gz|OUT.dcm] [--model DIR] ...`: the two-stage cascade on a whole
 * CT (a NIfTI file or a DICOM series folder), writing a label map with the input's grid and affine
 * (NIfTI, or a DICOM SEG for a DICOM series); with several CTs, folders or a manifest, a batch into
 * an output folder (cli/_batch.ts). Argument parsing and printing only; the work is in src/cascade/
 * and src/io/batch.ts.
 */
import { parseArgs } from "node:util";
import { basename, resolve } from "node:path";
import { runCli, UsageError } from "./_errors.ts";
import { startGpu } from "../src/io/gpu.ts";
import { stderrWriter } from "../src/io/terminal.ts";
import { convKernels, inferencePrecision } from "../src/ops/conv3d.ts";
import type { ConvPrecision } from "../src/ops/conv3d_fast.ts";
import { DEMO_MODEL_DIR, loadCascade } from "../src/io/models.ts";
import { segmentVolume } from "../src/cascade/pipeline.ts";
import { readLabels } from "../src/io/volumes.ts";
import { inputStem, readCt } from "../src/io/read-ct.ts";
import { encodeDicomSeg } from "../src/volume/dicom/mod.ts";
import { assertSameGrid } from "../src/volume/grid.ts";
import { meanDice } from "../src/train/dice.ts";
import { writeNifti } from "../src/io/volumes.ts";
import { LABEL_NAMES } from "../src/volume/labels.ts";
import { toCanonical } from "../src/volume/orientation.ts";
import { Progress, type ProgressMode } from "../src/report/progress.ts";
import { formatTable } from "../src/report/table.ts";
import { segmentationPreview } from "../src/report/preview.ts";
import { encodeImage } from "../src/report/png.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { type OrganStats, organStats } from "../src/report/organs.ts";
import { segmentReport } from "../src/report/segment-report.ts";
import { inputFitWarnings, outputFitWarnings } from "../src/cascade/fit.ts";
import { ADAPTER_CHOICES, type AdapterChoice } from "../src/gpu/runtime.ts";
import { isDirectory } from "../src/io/fs.ts";
import { isDicomFolder } from "../src/io/dicom-files.ts";
import { BATCH_ERRORS, segmentBatch } from "./_batch.ts";

const HELP = `Segment the abdominal organs of a CT with the two-stage cascaded 3D U-Net.

Usage: deno task segment CT [options]
       deno task segment CT... [--manifest LIST] -o OUT_DIR [options]

CT is a NIfTI file (.nii, .nii.gz) or a folder holding a DICOM CT series (read recursively).

  -o, --output FILE   label map to write (default: NAME.seg.nii.gz in the current directory);
                      uint8, with the input's dimensions and affine; a name ending in .dcm
                      writes a DICOM Segmentation instead (DICOM input only)
  --dicom-seg FILE    also write a DICOM Segmentation referencing the source series
  --series UID        the SeriesInstanceUID to read when the folder holds several series
  --model DIR         a model directory from deno task train (default: the shipped demo model)
  --overlap F         overlap of neighbouring sliding-window tiles in both stages, 0 to 0.9
                      (default 0.5; less is faster, more is smoother)
  --json FILE         also write the report (organs, volumes, times) as JSON
  --preview FILE      also write a PNG with axial, coronal and sagittal slices and the labels
  --stage1-only       stop after the coarse stage (faster, blockier)
  --reference FILE    a label map of the same CT: adds the Dice of each organ to the table and JSON
  --precision P       arithmetic of the convolutions: auto, f32 or f16 (default auto: f16 on a GPU
                      with shader-f16, f32 on the software adapter, where f16 is slower)
  --adapter A         high-performance (default), low-power or software (the CPU); see
                      deno task info --adapters
  --progress MODE     bar, lines or off (default: a bar on a terminal, lines otherwise)
  -h, --help          this help

Many CTs (several inputs, a folder of CTs, --manifest, or -o naming a folder: ending in "/",
existing, or without a file suffix): the model is loaded once and -o names an output folder, which receives NAME.seg.nii.gz per case and summary.csv / summary.jsonl (organ
volumes, HU, edge flags, times, status), updated as cases finish.
  --manifest FILE     a list of CTs: one path per line (.txt), or a CSV file with a "path" column
                      (and optionally "name"); relative paths are relative to the manifest
  --overwrite         segment cases whose output exists (default: skip them, so a killed run
                      resumes where it stopped)
  --shard I/N         take shard I (0 to N-1) of N, by a stable hash of each case's name; without
                      it, a Slurm job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a
                      Kubernetes Indexed Job (JOB_COMPLETION_INDEX, JOB_COMPLETIONS) picks it.
                      Shards write summary.shard-I-of-N.*; deno task summarize OUT_DIR merges them
A folder's cases are its NIfTI files at any depth (not *.labels.nii.gz nor *.seg.nii.gz) and its
sub-folders that directly hold DICOM files (one series each), named by their file or folder names
(or enough of their paths to tell them apart). A case that cannot be read or
segmented is reported on one line and the batch goes on; the exit code is 1 if any failed.

Labels: 0 background, 1 artery (aorta), 2 portal vein, 3 liver, 4 spleen, 5 stomach,
6 gallbladder, 7 pancreas. The table gives each organ's volume and mean HU; an organ marked
"cut" touches the edge of the scan, so its volume is a lower bound.`;

async function main() {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      model: { type: "string" },
      overlap: { type: "string", default: "0.5" },
      json: { type: "string" },
      preview: { type: "string" },
      "stage1-only": { type: "boolean", default: false },
      reference: { type: "string" },
      progress: { type: "string", default: "auto" },
      precision: { type: "string", default: "auto" },
      adapter: { type: "string", default: "high-performance" },
      manifest: { type: "string" },
      shard: { type: "string" },
      overwrite: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      series: { type: "string" },
      "dicom-seg": { type: "string" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  // A batch: several inputs, a manifest, a shard, or a folder that is not one DICOM series (or is one,
  // but -o names an output folder rather than a file).
  // (-o names a folder: it ends in "/", exists as one, or has no file suffix)
  const o = values.output;
  const outIsDir = o !== undefined &&
    (o.endsWith("/") || await isDirectory(o) || !/\.\w+$/.test(basename(o)));
  const one = positionals.length === 1 && values.manifest === undefined && values.shard === undefined;
  const batch = !one || outIsDir ||
    (await isDirectory(positionals[0]) && !(await isDicomFolder(positionals[0])));
  if (!batch && positionals.length !== 1) {
    throw new UsageError(
      "give a CT (a .nii/.nii.gz file or a DICOM folder), several, or --manifest; see --help",
    );
  }
  const overlap = Number(values.overlap);
  if (!(overlap >= 0 && overlap <= 0.9)) {
    throw new UsageError(`--overlap must be in [0, 0.9], got "${values.overlap}"`);
  }
  const mode = values.progress as ProgressMode;
  if (!["auto", "bar", "lines", "off"].includes(mode)) {
    throw new UsageError(`--progress must be bar, lines or off, got "${values.progress}"`);
  }

  const precision = values.precision as "auto" | ConvPrecision;
  if (!["auto", "f32", "f16"].includes(precision)) {
    throw new UsageError(`--precision must be auto, f32 or f16, got "${values.precision}"`);
  }

  const adapter = values.adapter as AdapterChoice;
  if (!ADAPTER_CHOICES.includes(adapter)) {
    throw new UsageError(`--adapter must be ${ADAPTER_CHOICES.join(", ")}, got "${values.adapter}"`);
  }

  if (batch) {
    for (const single of ["json", "preview", "reference", "dicom-seg", "series"] as const) {
      if (values[single] !== undefined) {
        throw new UsageError(
          `--${single} is for one CT; a batch writes summary.csv and summary.jsonl instead`,
        );
      }
    }
    if (!values.output) throw new UsageError("with several CTs, give an output folder: -o OUT_DIR");
    return await segmentBatch({
      inputs: positionals,
      manifest: values.manifest,
      outDir: values.output,
      shard: values.shard,
      overwrite: values.overwrite,
      model: values.model,
      stage1Only: values["stage1-only"],
      overlap,
      precision,
      adapter,
      mode,
    });
  }
  if (values.overwrite) {
    throw new UsageError("--overwrite is for batches (-o OUT_DIR); one CT's output is always rewritten");
  }
  const input = positionals[0];
  const output = values.output ?? `${inputStem(input)}.seg.nii.gz`;
  // DICOM out: `-o X.dcm` writes only the SEG, `--dicom-seg FILE` adds one to the NIfTI.
  const segOnly = /\.dcm$/i.test(output);
  const dicomSeg = segOnly ? output : values["dicom-seg"];
  if (!segOnly && !/\.nii(\.gz)?$/i.test(output)) {
    throw new UsageError(`${output}: the output must end in .nii, .nii.gz or .dcm`);
  }
  for (const out of [output, dicomSeg]) {
    if (out !== undefined && resolve(out) === resolve(input)) {
      throw new UsageError(`${out}: refusing to overwrite the input`);
    }
  }

  const t0 = performance.now();
  const ctInput = await readCt(input, { series: values.series });
  const ct = ctInput.volume;
  if (dicomSeg !== undefined && ctInput.format !== "dicom") {
    throw new UsageError(`${dicomSeg}: a DICOM Segmentation needs a DICOM series as input`);
  }
  for (const note of ctInput.notes) console.log(`${input}: ${note}`);
  const reference = values.reference ? await readLabels(values.reference) : null;
  if (reference) assertSameGrid(ct, input, reference, values.reference!);
  const readSeconds = (performance.now() - t0) / 1000;
  const gpu = await startGpu(adapter);
  convKernels.inference = inferencePrecision(precision);
  console.log(
    `adapter: ${gpu.adapterName}${gpu.isFallback ? " (software: slow)" : ""}; ` +
      `convolutions in ${convKernels.inference}`,
  );
  const modelDir = values.model ?? DEMO_MODEL_DIR;
  if (!values.model) {
    console.log(`model: the shipped demo model (${modelDir}); train your own with deno task train`);
  }
  const cascade = await loadCascade(modelDir, { stage1Only: values["stage1-only"] });
  const fine = cascade.stage2 ?? cascade.stage1;
  const fitWarnings = inputFitWarnings(ct, fine.spec, fine.training);
  for (const w of fitWarnings) console.log(`warning: ${w}`);

  const bars = new Map<number, Progress>();
  const onTile = (stage: number, done: number, total: number) => {
    let bar = bars.get(stage);
    if (!bar) {
      bars.set(
        stage,
        bar = new Progress(`stage ${stage}`, total, { mode, unit: "tile", writer: stderrWriter }),
      );
    }
    bar.tick();
    if (done === total) bar.done();
  };
  const { labels, seconds } = await segmentVolume(ct, cascade.stage1, cascade.stage2, { overlap, onTile });
  const t1 = performance.now();
  const segBytes = dicomSeg !== undefined && ctInput.format === "dicom"
    ? encodeDicomSeg(labels, ctInput.info, { algorithmName: `cascaded 3D U-Net (${basename(modelDir)})` })
    : null;
  if (!segOnly) await writeNifti(output, labels);
  if (segBytes) await writeFileAtomic(dicomSeg!, segBytes);
  const writeSeconds = (performance.now() - t1) / 1000;

  const organs = organStats(ct, labels, { reference: reference?.data });
  console.log(`\n${organTable(organs)}`);
  if (organs.some((o) => o.touches_edge && o.voxels > 0)) {
    console.log("cut: the organ touches the edge of the scan, so the scan may not hold all of it");
  }
  if (reference) {
    const d = organs.map((o) => ({ label: o.label, dice: o.dice ?? NaN, predicted: 0, reference: 0 }));
    console.log(`mean Dice: ${meanDice(d).toFixed(3)} (against ${values.reference})`);
  }
  const warnings = [...fitWarnings, ...outputFitWarnings(organs)];
  for (const w of warnings) console.log(`warning: ${w}`);
  const total = (performance.now() - t0) / 1000;
  const times = {
    read: readSeconds,
    stage1: seconds.stage1,
    stage2: seconds.stage2,
    write: writeSeconds,
    total,
  };
  console.log(
    `\ntime: read ${times.read.toFixed(1)} s, stage 1 ${times.stage1.toFixed(1)} s, ` +
      (cascade.stage2 ? `stage 2 ${times.stage2.toFixed(1)} s, ` : "") +
      `write ${times.write.toFixed(1)} s, total ${total.toFixed(1)} s`,
  );
  if (!segOnly) console.log(`labels: ${output}`);
  if (segBytes) console.log(`DICOM SEG: ${dicomSeg}`);
  if (values.json) {
    const report = segmentReport({
      input,
      output,
      ...(segBytes ? { dicomSeg } : {}),
      adapter: gpu.adapterName,
      precision: convKernels.inference,
      model: modelDir,
      organs,
      warnings,
      seconds: times,
    });
    await writeFileAtomic(values.json, JSON.stringify(report, null, 2) + "\n");
    console.log(`report: ${values.json}`);
  }
  if (values.preview) {
    const c = toCanonical(ct), l = toCanonical(labels);
    const img = segmentationPreview({
      image: c.data,
      labels: l.data,
      dims: c.dims,
      spacing: c.spacing,
      names: LABEL_NAMES.map((n, i) => (organs[i - 1]?.touches_edge ? `${n} (cut)` : n)),
      title: `${basename(input)}: ${cascade.stage2 ? "two-stage cascade" : "stage 1 only"}`,
    });
    await writeFileAtomic(values.preview, await encodeImage(img));
    console.log(`preview: ${values.preview}`);
  }
}

/** The organ table: volume, HU, whether the scan cuts the organ, and the Dice when known. */
function organTable(organs: OrganStats[]): string {
  const dice = organs.some((o) => o.dice !== undefined);
  const headers = ["organ", "voxels", "mL", "HU mean", "HU sd", "", ...(dice ? ["Dice"] : [])];
  const rows = organs.map((o) => [
    o.name,
    o.voxels,
    o.ml.toFixed(1),
    o.hu_mean === null ? "-" : o.hu_mean.toFixed(0),
    o.hu_sd === null ? "-" : o.hu_sd.toFixed(0),
    o.touches_edge ? "cut" : "",
    ...(dice ? [o.dice === null || o.dice === undefined ? "-" : o.dice.toFixed(3)] : []),
  ]);
  return formatTable(headers, rows);
}

if (import.meta.main) await runCli(main, BATCH_ERRORS);
