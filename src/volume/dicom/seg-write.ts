/**
 * A label map on a DICOM series' grid to a DICOM Segmentation object (Segmentation Storage,
 * BINARY): one segment per organ present, one frame per segment and source slice that holds it,
 * bits packed, each frame pointing at its source slice (DerivationImage, PlanePosition), the
 * source's patient and study attributes copied, and the source series listed in
 * ReferencedSeriesSequence, so that viewers and archives overlay it on the original images.
 */

import { maxAbsDifference } from "../affine.ts";
import { VolumeError } from "../errors.ts";
import { MAX_LABEL } from "../labels.ts";
import type { Affine, Volume } from "../types.ts";
import { ANATOMICAL_STRUCTURE, type Code, ORGAN_CODES, organLab, segmentLabel } from "./codes.ts";
import type { DicomSeriesInfo } from "./read.ts";
import { dicomAffine } from "./series.ts";
import { generateUid } from "./uid.ts";
import { type DicomAttribute, type DicomItem, encodePart10, type Part10Options } from "./write.ts";

/** Segmentation Storage. */
export const SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4";

/** Options of {@link encodeDicomSeg}. */
export interface DicomSegOptions extends Part10Options {
  /** SeriesDescription (default "Organ segmentation"). */
  seriesDescription?: string;
  /** SeriesNumber (default 300). */
  seriesNumber?: number;
  /** SegmentAlgorithmName and AlgorithmName: the model (default "cascaded 3D U-Net"). */
  algorithmName?: string;
  /** AlgorithmVersion and SoftwareVersions (default "1"). */
  algorithmVersion?: string;
  /** ContentDate/ContentTime/SeriesDate/SeriesTime (default now). */
  date?: Date;
}

/** The manufacturer and model names written in the equipment modules. */
export const MANUFACTURER = "Deno WebGPU cascaded 3D U-Net";

/** A decimal string of at most 16 characters (the DS limit). */
export function formatDs(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`DS value ${x} is not finite`);
  let s = String(x);
  for (let p = 15; s.length > 16 && p > 0; p--) s = String(Number(x.toPrecision(p)));
  return s;
}

/** A code sequence of one item. */
function codeSequence(tag: number, c: Code): DicomAttribute {
  return {
    tag,
    vr: "SQ",
    value: [[
      { tag: 0x00080100, vr: "SH", value: c.value },
      { tag: 0x00080102, vr: "SH", value: c.scheme },
      { tag: 0x00080104, vr: "LO", value: c.meaning },
    ]],
  };
}

/** DA and TM of a date (UTC). */
function dateTime(d: Date): { da: string; tm: string } {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return {
    da: `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`,
    tm: `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`,
  };
}

/** The voxel-to-RAS affine of a series' grid (the reader's convention), to check labels against. */
export function seriesAffine(info: DicomSeriesInfo): Affine {
  return dicomAffine(
    info.orientation,
    info.pixelSpacing,
    info.sliceSpacing,
    info.slices[0].position,
    info.rows,
  );
}

/**
 * Encodes `labels` (on the grid of the series `info` describes: same dims and affine) as a DICOM
 * SEG Part-10 file. Labels 1..7 become segments (numbered 1.. in label order, only those present);
 * a label map with no organ, or labels on another grid, is a VolumeError naming `info.source`.
 */
export function encodeDicomSeg(
  labels: Volume<Uint8Array>,
  info: DicomSeriesInfo,
  opts: DicomSegOptions = {},
): Uint8Array {
  const [nx, ny, nz] = labels.dims;
  if (nx !== info.columns || ny !== info.rows || nz !== info.slices.length) {
    throw new VolumeError(
      info.source,
      "grid",
      `label map ${
        labels.dims.join("x")
      } is not on the series' grid ${info.columns}x${info.rows}x${info.slices.length}`,
    );
  }
  const diff = maxAbsDifference(labels.affine, seriesAffine(info));
  if (!(diff < 1e-3)) {
    throw new VolumeError(
      info.source,
      "grid",
      `label map affine differs from the series' by ${diff.toFixed(4)} mm`,
    );
  }
  const plane = nx * ny;
  // Which labels are present in which slices.
  const present = Array.from({ length: MAX_LABEL + 1 }, () => new Uint8Array(nz));
  for (let k = 0; k < nz; k++) {
    const slice = labels.data.subarray(k * plane, (k + 1) * plane);
    for (let i = 0; i < plane; i++) {
      const l = slice[i];
      if (l > MAX_LABEL) {
        throw new VolumeError(
          info.source,
          "labels",
          `label ${l} has no organ code (labels are 0..${MAX_LABEL})`,
        );
      }
      present[l][k] = 1;
    }
  }
  const organs = [];
  for (let l = 1; l <= MAX_LABEL; l++) if (present[l].some((v) => v)) organs.push(l);
  if (organs.length === 0) {
    throw new VolumeError(
      info.source,
      "labels",
      "no organ in the segmentation: a DICOM SEG needs at least one segment",
    );
  }

  const frames: { segment: number; label: number; k: number }[] = [];
  organs.forEach((l, s) => {
    for (let k = 0; k < nz; k++) if (present[l][k]) frames.push({ segment: s + 1, label: l, k });
  });
  // Bits packed across frames without padding, first pixel in the lowest bit (PS3.5 8.1.1).
  const pixels = new Uint8Array(Math.ceil(frames.length * plane / 8));
  frames.forEach((f, n) => {
    const base = n * plane;
    for (let r = 0; r < ny; r++) {
      const src = f.k * plane + (ny - 1 - r) * nx; // the volume's rows run from the last image row
      for (let c = 0; c < nx; c++) {
        if (labels.data[src + c] === f.label) {
          const bit = base + r * nx + c;
          pixels[bit >>> 3] |= 1 << (bit & 7);
        }
      }
    }
  });

  const now = dateTime(opts.date ?? new Date());
  const algorithm = opts.algorithmName ?? "cascaded 3D U-Net";
  const version = opts.algorithmVersion ?? "1";
  const sopInstanceUid = generateUid();
  const dimensionUid = generateUid();
  const ds = (v: number[]) => v.map(formatDs).join("\\");

  const segments: DicomItem[] = organs.map((l, s) => [
    codeSequence(0x00620003, ANATOMICAL_STRUCTURE),
    { tag: 0x00620004, vr: "US", value: [s + 1] },
    { tag: 0x00620005, vr: "LO", value: segmentLabel(l) },
    {
      tag: 0x00620007,
      vr: "SQ",
      value: [[
        codeSequence(0x0066002f, { value: "123110", scheme: "DCM", meaning: "Artificial Intelligence" }),
        { tag: 0x00660031, vr: "LO", value: version },
        { tag: 0x00660036, vr: "LO", value: algorithm },
      ]],
    },
    { tag: 0x00620008, vr: "CS", value: "AUTOMATIC" },
    { tag: 0x00620009, vr: "LO", value: algorithm },
    { tag: 0x0062000d, vr: "US", value: organLab(l) },
    codeSequence(0x0062000f, ORGAN_CODES[l]!),
  ]);

  const perFrame: DicomItem[] = frames.map((f) => {
    const slice = info.slices[f.k];
    return [
      {
        tag: 0x00089124, // DerivationImageSequence
        vr: "SQ",
        value: [[
          {
            tag: 0x00082112, // SourceImageSequence
            vr: "SQ",
            value: [[
              { tag: 0x00081150, vr: "UI", value: slice.sopClassUid },
              { tag: 0x00081155, vr: "UI", value: slice.sopInstanceUid },
              codeSequence(0x0040a170, {
                value: "121322",
                scheme: "DCM",
                meaning: "Source image for image processing operation",
              }),
            ]],
          },
          codeSequence(0x00089215, { value: "113076", scheme: "DCM", meaning: "Segmentation" }),
        ]],
      },
      { tag: 0x00209111, vr: "SQ", value: [[{ tag: 0x00209157, vr: "UL", value: [f.segment, f.k + 1] }]] },
      { tag: 0x00209113, vr: "SQ", value: [[{ tag: 0x00200032, vr: "DS", value: ds(slice.position) }]] },
      { tag: 0x0062000a, vr: "SQ", value: [[{ tag: 0x0062000b, vr: "US", value: [f.segment] }]] },
    ];
  });

  const copied = new Map(info.copied.map((c) => [c.tag, c]));
  const attributes: DicomItem = info.copied.map((c) => ({ tag: c.tag, vr: c.vr, value: c.bytes }));
  // Type 2 patient and study attributes: present, empty when the source has none.
  for (
    const [tag, vr] of [
      [0x00080020, "DA"],
      [0x00080030, "TM"],
      [0x00080050, "SH"],
      [0x00080090, "PN"],
      [0x00100010, "PN"],
      [0x00100020, "LO"],
      [0x00100030, "DA"],
      [0x00100040, "CS"],
      [0x00200010, "SH"],
    ] as const
  ) {
    if (!copied.has(tag)) attributes.push({ tag, vr, value: "" });
  }
  const dimension = (pointer: number, group: number, label: string): DicomItem => [
    { tag: 0x00209164, vr: "UI", value: dimensionUid },
    { tag: 0x00209165, vr: "AT", value: [pointer] },
    { tag: 0x00209167, vr: "AT", value: [group] },
    { tag: 0x00209421, vr: "LO", value: label },
  ];
  attributes.push(
    { tag: 0x00080008, vr: "CS", value: "DERIVED\\PRIMARY" },
    { tag: 0x00080016, vr: "UI", value: SEG_SOP_CLASS_UID },
    { tag: 0x00080018, vr: "UI", value: sopInstanceUid },
    { tag: 0x00080021, vr: "DA", value: now.da },
    { tag: 0x00080023, vr: "DA", value: now.da },
    { tag: 0x00080031, vr: "TM", value: now.tm },
    { tag: 0x00080033, vr: "TM", value: now.tm },
    { tag: 0x00080060, vr: "CS", value: "SEG" },
    { tag: 0x00080070, vr: "LO", value: MANUFACTURER },
    { tag: 0x0008103e, vr: "LO", value: opts.seriesDescription ?? "Organ segmentation" },
    { tag: 0x00081090, vr: "LO", value: MANUFACTURER },
    {
      tag: 0x00081115, // ReferencedSeriesSequence
      vr: "SQ",
      value: [[
        {
          tag: 0x0008114a,
          vr: "SQ",
          value: info.slices.map((s) => [
            { tag: 0x00081150, vr: "UI", value: s.sopClassUid },
            { tag: 0x00081155, vr: "UI", value: s.sopInstanceUid },
          ]),
        },
        { tag: 0x0020000e, vr: "UI", value: info.seriesUid },
      ]],
    },
    { tag: 0x00181000, vr: "LO", value: "1" },
    { tag: 0x00181020, vr: "LO", value: version },
    { tag: 0x0020000d, vr: "UI", value: info.studyUid },
    { tag: 0x0020000e, vr: "UI", value: generateUid() },
    { tag: 0x00200011, vr: "IS", value: String(opts.seriesNumber ?? 300) },
    { tag: 0x00200013, vr: "IS", value: "1" },
    { tag: 0x00200052, vr: "UI", value: info.frameOfReferenceUid },
    { tag: 0x00201040, vr: "LO", value: "" },
    { tag: 0x00209221, vr: "SQ", value: [[{ tag: 0x00209164, vr: "UI", value: dimensionUid }]] },
    {
      tag: 0x00209222,
      vr: "SQ",
      value: [
        dimension(0x0062000b, 0x0062000a, "ReferencedSegmentNumber"),
        dimension(0x00200032, 0x00209113, "ImagePositionPatient"),
      ],
    },
    { tag: 0x00280002, vr: "US", value: [1] },
    { tag: 0x00280004, vr: "CS", value: "MONOCHROME2" },
    { tag: 0x00280008, vr: "IS", value: String(frames.length) },
    { tag: 0x00280010, vr: "US", value: [ny] },
    { tag: 0x00280011, vr: "US", value: [nx] },
    { tag: 0x00280100, vr: "US", value: [1] },
    { tag: 0x00280101, vr: "US", value: [1] },
    { tag: 0x00280102, vr: "US", value: [0] },
    { tag: 0x00280103, vr: "US", value: [0] },
    { tag: 0x00282110, vr: "CS", value: "00" },
    { tag: 0x00620001, vr: "CS", value: "BINARY" },
    { tag: 0x00620002, vr: "SQ", value: segments },
    { tag: 0x00700080, vr: "CS", value: "ORGANS" },
    { tag: 0x00700081, vr: "LO", value: `Abdominal organs by the ${algorithm}` },
    { tag: 0x00700084, vr: "PN", value: "" },
    {
      tag: 0x52009229, // SharedFunctionalGroupsSequence
      vr: "SQ",
      value: [[
        {
          tag: 0x00209116, // PlaneOrientationSequence
          vr: "SQ",
          value: [[{ tag: 0x00200037, vr: "DS", value: ds(info.orientation) }]],
        },
        {
          tag: 0x00289110, // PixelMeasuresSequence
          vr: "SQ",
          value: [[
            { tag: 0x00180050, vr: "DS", value: formatDs(info.sliceSpacing) },
            { tag: 0x00180088, vr: "DS", value: formatDs(info.sliceSpacing) },
            { tag: 0x00280030, vr: "DS", value: ds(info.pixelSpacing) },
          ]],
        },
      ]],
    },
    { tag: 0x52009230, vr: "SQ", value: perFrame },
    { tag: 0x7fe00010, vr: "OB", value: pixels },
  );
  return encodePart10(SEG_SOP_CLASS_UID, sopInstanceUid, attributes, opts);
}
