/**
 * The JSON report of one segmentation, as `deno task segment --json` writes it and the web page
 * offers it for download: one builder, so that both hold the same fields.
 */
import type { OrganStats } from "./organs.ts";

/** Seconds spent in each step of a segmentation. */
export interface SegmentSeconds {
  read: number;
  stage1: number;
  stage2: number;
  write: number;
  total: number;
}

/** The report's fields, in the order they are written. */
export interface SegmentReport {
  /** The CT as the user named it (a path, or a file name in the page). */
  input: string;
  /** The label map written (a path, or the download's file name). */
  output: string;
  /** The DICOM Segmentation written, when the input was a DICOM series and one was asked for. */
  dicomSeg?: string;
  /** The WebGPU adapter's name. */
  adapter: string;
  /** Arithmetic of the convolutions: "f32" or "f16". */
  precision: string;
  /** The model used (a directory, or where the page's model came from). */
  model: string;
  organs: OrganStats[];
  warnings: string[];
  /** Seconds per step, rounded to 0.01. */
  seconds: Record<keyof SegmentSeconds, number>;
}

/** The report of a segmentation, seconds rounded to hundredths. */
export function segmentReport(
  r: Omit<SegmentReport, "seconds"> & { seconds: SegmentSeconds },
): SegmentReport {
  const s = r.seconds;
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    input: r.input,
    output: r.output,
    ...(r.dicomSeg !== undefined ? { dicomSeg: r.dicomSeg } : {}),
    adapter: r.adapter,
    precision: r.precision,
    model: r.model,
    organs: r.organs,
    warnings: r.warnings,
    seconds: {
      read: round(s.read),
      stage1: round(s.stage1),
      stage2: round(s.stage2),
      write: round(s.write),
      total: round(s.total),
    },
  };
}
