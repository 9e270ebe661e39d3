/**
 * What a DICOM Segmentation says about each organ: SNOMED CT codes as TotalSegmentator's DICOM
 * output uses them (category "Anatomical Structure"), and the recommended display colour as
 * DICOM's scaled CIELab, converted from the preview palette.
 */

import { ORGAN_COLORS, type RGB } from "../../report/preview.ts";
import { labelName } from "../labels.ts";

/** A coded concept: (CodeValue, CodingSchemeDesignator, CodeMeaning). */
export interface Code {
  value: string;
  scheme: string;
  meaning: string;
}

/** SegmentedPropertyCategory of every organ. */
export const ANATOMICAL_STRUCTURE: Code = {
  value: "123037004",
  scheme: "SCT",
  meaning: "Anatomical Structure",
};

/** SegmentedPropertyType per label (index = label; 0, background, has none). */
export const ORGAN_CODES: readonly (Code | null)[] = [
  null,
  { value: "15825003", scheme: "SCT", meaning: "Aorta" },
  { value: "110765007", scheme: "SCT", meaning: "Portal vein and splenic vein" },
  { value: "10200004", scheme: "SCT", meaning: "Liver" },
  { value: "78961009", scheme: "SCT", meaning: "Spleen" },
  { value: "69695003", scheme: "SCT", meaning: "Stomach" },
  { value: "28231008", scheme: "SCT", meaning: "Gallbladder" },
  { value: "15776009", scheme: "SCT", meaning: "Pancreas" },
];

/** The label id of a SegmentedPropertyType code (SCT, or the older SNOMED RT liver code), or null. */
export function labelOfCode(code: Code): number | null {
  for (let l = 1; l < ORGAN_CODES.length; l++) {
    const c = ORGAN_CODES[l]!;
    if (c.value === code.value && c.scheme === code.scheme) return l;
  }
  // SNOMED RT codes that older SEGs (dcmqi's examples among them) use for the same organs.
  const srt: Record<string, number> = {
    "T-42000": 1,
    "T-62000": 3,
    "T-C3000": 4,
    "T-57000": 5,
    "T-63000": 6,
    "T-65000": 7,
  };
  return code.scheme === "SRT" ? srt[code.value] ?? null : null;
}

/** The segment label written for an organ: its name without the parenthesis ("artery", "liver"). */
export function segmentLabel(label: number): string {
  return labelName(label).replace(/\s*\(.*\)$/, "");
}

/**
 * sRGB (0..255) to DICOM's scaled CIELab (PS3.3 C.10.7.1.1): L* 0..100 and a*, b* -128..127 mapped
 * to 0..65535, with the D65 white point.
 */
export function rgbToDicomLab(rgb: RGB): [number, number, number] {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = rgb.map(lin);
  const x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
  const z = 0.0193339 * r + 0.119192 * g + 0.9503041 * b;
  const f = (t: number) => t > (6 / 29) ** 3 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29;
  const fx = f(x / 0.95047), fy = f(y / 1.0), fz = f(z / 1.08883);
  const l = 116 * fy - 16, a = 500 * (fx - fy), bb = 200 * (fy - fz);
  const clamp = (v: number) => Math.min(65535, Math.max(0, Math.round(v)));
  return [clamp(l * 65535 / 100), clamp((a + 128) * 65535 / 255), clamp((bb + 128) * 65535 / 255)];
}

/** The scaled CIELab colour of an organ label, from the preview palette. */
export function organLab(label: number): [number, number, number] {
  return rgbToDicomLab(ORGAN_COLORS[label] ?? [128, 128, 128]);
}
