/**
 * The portable engine: everything a page (or any host without a file system) needs to segment a CT,
 * from bytes in to bytes out, on `navigator.gpu`. Nothing here, nor anything it imports, reads paths
 * or uses the Deno namespace: the web app bundles this module, and test/boundary_test.ts builds that
 * bundle.
 *
 * @example
 * ```ts
 * await initGpu();
 * const ct = await decodeNifti(niftiBytes, "ct.nii.gz");
 * const stage1 = decodeStage(stage1Bytes, "stage1.safetensors", 1);
 * const stage2 = decodeStage(stage2Bytes, "stage2.safetensors", 2);
 * await prepareInference([stage1, stage2]); // optional: compile every kernel ahead, in parallel
 * const { labels } = await segmentVolume(ct, stage1, stage2);
 * const out = await encodeNiftiFile(labels, true); // a .nii.gz on the CT's grid
 * ```
 *
 * A DICOM series goes in as the bytes of its files (`readDicomSeries`), and its label map comes back
 * out as a DICOM Segmentation too (`encodeDicomSeg`). The DICOM codecs are Emscripten builds whose
 * Node-only branch names `node:fs` and `node:path`; a browser never takes that branch.
 */
export { type AdapterChoice, type Gpu, gpu, initGpu, listAdapters } from "./gpu/runtime.ts";
export { convKernels, inferencePrecision } from "./ops/conv3d.ts";
export { decodeStage } from "./cascade/models.ts";
export { type InferenceOptions, segmentVolume, type StageModel } from "./cascade/pipeline.ts";
export { inputFitWarnings, outputFitWarnings } from "./cascade/fit.ts";
export { prepareInference, type WarmUp } from "./cascade/warmup.ts";
export { decodeLabels, decodeNifti, type NiftiVolume } from "./volume/nifti-read.ts";
export { encodeNiftiFile } from "./volume/nifti-write.ts";
export {
  decodeDicomSeg,
  type DicomSeriesInfo,
  encodeDicomSeg,
  hasPart10Prefix,
  organLabels,
  readDicomSeries,
} from "./volume/dicom/mod.ts";
export { VolumeError } from "./volume/errors.ts";
export { toCanonical } from "./volume/orientation.ts";
export { assertSameGrid } from "./volume/grid.ts";
export { LABEL_NAMES } from "./volume/labels.ts";
export type { Volume } from "./volume/types.ts";
export { type OrganStats, organStats } from "./report/organs.ts";
export { type SegmentReport, segmentReport } from "./report/segment-report.ts";
export { ORGAN_COLORS, segmentationPreview } from "./report/preview.ts";
export { encodeImage } from "./report/png.ts";
