/** The messages between the page (app.ts) and the segmentation worker (worker.ts). */
import type { SegmentReport } from "../../src/engine.ts";
import type { ChosenFile } from "./read_ct.ts";

/** Page to worker: segment the CT in these files (one NIfTI file, or the files of a DICOM series). */
export interface SegmentRequest {
  type: "segment";
  files: ChosenFile[];
}

/** What the worker found: the adapter and the arithmetic it will use. */
export interface AdapterMessage {
  type: "adapter";
  name: string;
  software: boolean;
  precision: string;
}

/** Progress of a step: `compile` (the kernels, before the first tile), or stage 1 or 2 (tiles). */
export interface ProgressMessage {
  type: "progress";
  step: "compile" | 1 | 2;
  done: number;
  total: number;
}

/** The model is loaded and every kernel compiled: ready to segment. */
export interface ReadyMessage {
  type: "ready";
  pipelines: number;
  compileSeconds: number;
}

/** A one-line account of what the worker is doing. */
export interface StatusMessage {
  type: "status";
  text: string;
}

/** The result of a segmentation. */
export interface DoneMessage {
  type: "done";
  /** The CT as a NIfTI file for the viewer, and its name (ending in .nii or .nii.gz). */
  ct: ArrayBuffer;
  ctName: string;
  /** The label map (.nii.gz, the CT's grid and affine), and its download name. */
  seg: ArrayBuffer;
  segName: string;
  /** The DICOM Segmentation (for a DICOM series with at least one organ found), and its name. */
  dicomSeg: ArrayBuffer | null;
  dicomSegName: string | null;
  report: SegmentReport;
  reportName: string;
  /** What the reader said about the input (files skipped, the series chosen), one line each. */
  notes: string[];
  /** Where the viewer's crosshair goes: the centre of the organs found, in mm (world), or null. */
  focusMm: [number, number, number] | null;
}

/**
 * Something failed, in one line. `fatal`: the worker cannot segment at all (no WebGPU, no model);
 * otherwise only this CT failed and the next one may be tried.
 */
export interface ErrorMessage {
  type: "error";
  message: string;
  fatal: boolean;
}

/** Any message from the worker. */
export type FromWorker =
  | AdapterMessage
  | ProgressMessage
  | ReadyMessage
  | StatusMessage
  | DoneMessage
  | ErrorMessage;
