/**
 * A DICOM Segmentation object back onto its source series' grid: frames placed on slices by the
 * source instance they reference (DerivationImage / SourceImage), else by their plane position;
 * BINARY (bits packed across frames) and FRACTIONAL (8-bit, over half the maximum) pixel data.
 */

import dicomParser from "dicom-parser";
import { VolumeError } from "../errors.ts";
import type { Volume } from "../types.ts";
import { type Code, labelOfCode } from "./codes.ts";
import { type DataSet, numbers, parserMessage, str, us } from "./parse.ts";
import type { DicomSeriesInfo } from "./read.ts";
import { seriesAffine } from "./seg-write.ts";
import { transferSyntax } from "./transfer-syntax.ts";

/** One segment of a decoded SEG. */
export interface DecodedSegment {
  /** SegmentNumber, the value of its voxels in {@link DecodedSeg.volume}. */
  number: number;
  /** SegmentLabel. */
  label: string;
  category: Code | null;
  type: Code | null;
  /** The project's label id for the segment's type code (1..7), or null for other structures. */
  organ: number | null;
}

/** A SEG on its source grid. */
export interface DecodedSeg {
  /** Segment numbers on the source series' grid (0 outside every segment; the last wins where they overlap). */
  volume: Volume<Uint8Array>;
  segments: DecodedSegment[];
  /** Voxels that more than one segment covers. */
  overlaps: number;
}

/** The items of a sequence attribute ([] when absent). */
function items(ds: DataSet, tag: string): DataSet[] {
  return (ds.elements[tag]?.items ?? []).map((i) => i.dataSet!).filter((d) => d !== undefined);
}

/** The first item's code of a code sequence, or null. */
function code(ds: DataSet, tag: string): Code | null {
  const it = items(ds, tag)[0];
  if (!it) return null;
  return { value: str(it, "x00080100"), scheme: str(it, "x00080102"), meaning: str(it, "x00080104") };
}

/** A functional group's item: the frame's own, else the shared one. */
function group(frame: DataSet | undefined, shared: DataSet | undefined, tag: string): DataSet | undefined {
  return (frame && items(frame, tag)[0]) ?? (shared && items(shared, tag)[0]);
}

/**
 * Decodes a SEG whose frames lie on the slices of the series `info` describes. Returns segment
 * numbers per voxel, laid out as the series' volume (same dims and affine). A SEG of another
 * series, grid or orientation is a VolumeError naming `source` (default "DICOM SEG").
 */
export function decodeDicomSeg(bytes: Uint8Array, info: DicomSeriesInfo, source = "DICOM SEG"): DecodedSeg {
  const fail = (problem: string): never => {
    throw new VolumeError(source, "dicom", problem);
  };
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(bytes);
  } catch (e) {
    return fail(`not a readable DICOM file: ${parserMessage(e)}`);
  }
  const sopClass = str(ds, "x00080016") || str(ds, "x00020002");
  if (sopClass !== "1.2.840.10008.5.1.4.1.1.66.4") {
    fail(`not a Segmentation object (SOP class ${sopClass || "missing"})`);
  }
  const ts = transferSyntax(str(ds, "x00020010"));
  if (ts.pixels !== "native") fail(`SEG pixel data in ${ts.name} is not supported (only uncompressed)`);
  const rows = us(ds, "x00280010") ?? 0, columns = us(ds, "x00280011") ?? 0;
  if (rows !== info.rows || columns !== info.columns) {
    fail(`SEG frames are ${columns}x${rows}, the series' slices ${info.columns}x${info.rows}`);
  }
  const type = str(ds, "x00620001");
  const bits = us(ds, "x00280100") ?? 0;
  if (!((type === "BINARY" && bits === 1) || (type === "FRACTIONAL" && bits === 8))) {
    fail(`SegmentationType ${type || "missing"} with ${bits} bits allocated is not supported`);
  }
  const threshold = type === "FRACTIONAL" ? (us(ds, "x00620010") ?? 255) / 2 : 0.5;

  const segments: DecodedSegment[] = items(ds, "x00620002").map((s) => {
    const t = code(s, "x0062000f");
    return {
      number: us(s, "x00620004") ?? 0,
      label: str(s, "x00620005"),
      category: code(s, "x00620003"),
      type: t,
      organ: t ? labelOfCode(t) : null,
    };
  });
  if (segments.length === 0) fail("SEG has no segments");
  if (segments.some((s) => s.number < 1 || s.number > 255)) fail("SEG segment numbers must lie in 1..255");

  const shared = items(ds, "x52009229")[0];
  const perFrame = items(ds, "x52009230");
  const frameCount = numbers(ds, "x00280008")[0] ?? 1;
  if (perFrame.length !== frameCount) {
    fail(`SEG has ${frameCount} frames but ${perFrame.length} per-frame functional group items`);
  }
  const orientation = numbers(group(perFrame[0], shared, "x00209116") ?? ds, "x00200037");
  if (orientation.length !== 6 || orientation.some((v, i) => Math.abs(v - info.orientation[i]) > 1e-4)) {
    fail(
      `SEG orientation [${orientation.join(", ")}] differs from the series' [${info.orientation.join(", ")}]`,
    );
  }

  const bySop = new Map(info.slices.map((s, k) => [s.sopInstanceUid, k]));
  const distance = (p: number[], k: number) => Math.hypot(...info.slices[k].position.map((v, a) => v - p[a]));

  const [nx, ny, nz] = [info.columns, info.rows, info.slices.length];
  const plane = nx * ny;
  const data = new Uint8Array(plane * nz);
  const pixelEl = ds.elements.x7fe00010;
  if (!pixelEl) fail("SEG has no pixel data");
  const needed = type === "BINARY" ? Math.ceil(frameCount * plane / 8) : frameCount * plane;
  if (pixelEl.length < needed) {
    fail(`SEG pixel data has ${pixelEl.length} bytes, ${frameCount} frames need ${needed}`);
  }
  const pix = ds.byteArray.subarray(pixelEl.dataOffset, pixelEl.dataOffset + pixelEl.length);
  const known = new Set(segments.map((s) => s.number));
  let overlaps = 0;

  for (let n = 0; n < frameCount; n++) {
    const f = perFrame[n];
    const segment = us(items(f, "x0062000a")[0] ?? f, "x0062000b") ??
      (segments.length === 1 ? segments[0].number : 0);
    if (!known.has(segment)) {
      fail(`frame ${n + 1} refers to segment ${segment}, which the SEG does not describe`);
    }
    // The slice: by the referenced source instance, else by plane position.
    let k: number | undefined;
    for (const d of items(f, "x00089124")) {
      for (const src of items(d, "x00082112")) {
        const hit = bySop.get(str(src, "x00081155"));
        if (hit !== undefined) k = hit;
      }
    }
    const position = numbers(group(f, shared, "x00209113") ?? f, "x00200032");
    if (position.length === 3) {
      // A frame lies on a slice when its first pixel's centre is that slice's (within 0.01 mm).
      const byPosition = info.slices.findIndex((_, kk) => distance(position, kk) < 0.01);
      if (k === undefined) k = byPosition >= 0 ? byPosition : undefined;
      else if (byPosition !== k) {
        fail(
          `frame ${n + 1} references ${info.slices[k].file} but lies ${
            distance(position, k).toFixed(3)
          } mm from it`,
        );
      }
    }
    if (k === undefined) {
      fail(`frame ${n + 1} matches no slice of the series (neither its source image nor its position)`);
    }
    const base = n * plane;
    for (let r = 0; r < ny; r++) {
      const dst = k! * plane + (ny - 1 - r) * nx;
      for (let c = 0; c < nx; c++) {
        const p = base + r * nx + c;
        const on = type === "BINARY" ? (pix[p >>> 3] >> (p & 7)) & 1 : pix[p] > threshold ? 1 : 0;
        if (on) {
          if (data[dst + c] !== 0 && data[dst + c] !== segment) overlaps++;
          data[dst + c] = segment;
        }
      }
    }
  }
  const affine = seriesAffine(info);
  const spacing: [number, number, number] = [
    info.pixelSpacing[1],
    info.pixelSpacing[0],
    Math.abs(info.sliceSpacing),
  ];
  return { volume: { dims: [nx, ny, nz], affine, spacing, data }, segments, overlaps };
}

/**
 * The project's organ labels (0..7) of a decoded SEG: each segment's voxels get the label of its
 * type code. A segment of another structure is a VolumeError naming `source`.
 */
export function organLabels(seg: DecodedSeg, source = "DICOM SEG"): Volume<Uint8Array> {
  const map = new Uint8Array(256);
  for (const s of seg.segments) {
    if (s.organ === null) {
      const what = s.type ? `${s.type.meaning} (${s.type.scheme} ${s.type.value})` : "no type code";
      throw new VolumeError(
        source,
        "labels",
        `segment ${s.number} "${s.label}" is not one of the seven organs: ${what}`,
      );
    }
    map[s.number] = s.organ;
  }
  const data = seg.volume.data.map((v) => map[v]);
  return { ...seg.volume, data };
}
