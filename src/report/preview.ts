/**
 * Segmentation previews: an axial, a coronal and a sagittal CT slice through the labelled organs,
 * the CT windowed to grey, labels coloured over it with an outline, square pixels in millimetres,
 * and a legend of the labels present.
 *
 * Volumes are in the project's canonical RAS orientation (src/volume/orientation.ts): voxels stored
 * x fastest (index = i + nx * (j + ny * k)), and increasing i, j, k point to the patient's Right,
 * Anterior and Superior. Display follows the radiological convention: axial and coronal views show
 * the patient's right on the image left; axial has anterior up; coronal and sagittal have superior
 * up; sagittal has anterior on the left.
 */

import { blit, type Color, createImage, fillRect, type Image, type Rect, strokeRect } from "./canvas.ts";
import { drawText, GLYPH_HEIGHT, textWidth } from "./font.ts";

/** An opaque 8-bit colour. */
export type RGB = readonly [number, number, number];

/**
 * Default label colours, index = label (0, background, is never drawn): artery red, portal vein
 * blue, liver orange-brown, spleen purple, stomach yellow, gallbladder green, pancreas pink.
 */
export const ORGAN_COLORS: readonly RGB[] = [
  [0, 0, 0],
  [230, 30, 30],
  [40, 110, 245],
  [210, 120, 40],
  [150, 70, 210],
  [245, 215, 30],
  [40, 190, 70],
  [255, 110, 190],
];

/** The three views, in drawing order. */
export type View = "axial" | "coronal" | "sagittal";

/** Options of {@link segmentationPreview}. */
export interface PreviewOptions {
  /** CT intensities in HU, nx * ny * nz values, x fastest. */
  image: Float32Array;
  /** Labels, same layout; 0 is background. */
  labels: Uint8Array;
  /** [nx, ny, nz]. */
  dims: readonly [number, number, number];
  /** Voxel size in mm [sx, sy, sz]. */
  spacing: readonly [number, number, number];
  /** Label names, index = label (names[0] is background); missing names show as `label N`. */
  names: readonly string[];
  /** Label colours, index = label; default {@link ORGAN_COLORS}, then generated colours. */
  colors?: readonly RGB[];
  /** HU window [lo, hi] mapped to black..white (default [-160, 240], abdominal soft tissue). */
  window?: readonly [number, number];
  /** Opacity of the label fill (default 0.45); outlines are opaque. */
  alpha?: number;
  /** Pixels along the longest physical extent of any panel (default 320). */
  panelSize?: number;
  /** Slice indices to show instead of the automatic choice ({@link chooseSlices}). */
  slices?: { x?: number; y?: number; z?: number };
  /** Optional title above the panels. */
  title?: string;
}

/** Where a view lies in the preview image. */
export interface PreviewPanel {
  view: View;
  /** The voxel index of the slice along the view's normal axis (z, y or x). */
  slice: number;
  /** The panel's pixels in the preview image. */
  rect: Rect;
}

/** The geometry of a preview: its size, the panels, and millimetres per output pixel. */
export interface PreviewLayout {
  width: number;
  height: number;
  mmPerPixel: number;
  panels: PreviewPanel[];
  /** Top of the legend. */
  legendY: number;
  /** Labels present in the volume, ascending. */
  present: number[];
}

// For each view: the voxel axis along panel columns, along panel rows, and normal to the panel.
// Columns and rows both run against the axis (e.g. axial columns go from high i, the patient's
// right, to low i), which is the radiological convention for RAS volumes.
const VIEWS: Record<View, { col: 0 | 1 | 2; row: 0 | 1 | 2; normal: 0 | 1 | 2; marks: string }> = {
  axial: { col: 0, row: 1, normal: 2, marks: "RLAP" },
  coronal: { col: 0, row: 2, normal: 1, marks: "RLSI" },
  sagittal: { col: 1, row: 2, normal: 0, marks: "APSI" },
};
const VIEW_ORDER: View[] = ["axial", "coronal", "sagittal"];
const AXIS_NAMES = ["x", "y", "z"];

const BACKGROUND: Color = [18, 18, 18];
const TEXT: Color = [235, 235, 235];
const MARGIN = 12, GAP = 12, LEGEND_ROW = 16;

function checkVolume(opts: PreviewOptions): number {
  const [nx, ny, nz] = opts.dims;
  const n = nx * ny * nz;
  if (![nx, ny, nz].every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`preview dims must be positive integers, got [${opts.dims}]`);
  }
  if (opts.image.length !== n || opts.labels.length !== n) {
    throw new RangeError(
      `preview dims [${opts.dims}] need ${n} voxels, got image ${opts.image.length}, labels ${opts.labels.length}`,
    );
  }
  if (!opts.spacing.every((s) => s > 0)) {
    throw new RangeError(`preview spacing must be > 0, got [${opts.spacing}]`);
  }
  return n;
}

/**
 * The slice index along x, y and z to show: the foreground centroid, or, when that slice holds no
 * foreground (e.g. between two organs), the slice with the most foreground; the middle slice when
 * there is no foreground at all.
 */
export function chooseSlices(
  labels: Uint8Array,
  dims: readonly [number, number, number],
): [number, number, number] {
  const [nx, ny, nz] = dims;
  const counts = [new Float64Array(nx), new Float64Array(ny), new Float64Array(nz)];
  let n = 0;
  for (let k = 0, p = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, p++) {
        if (labels[p] === 0) continue;
        counts[0][i]++;
        counts[1][j]++;
        counts[2][k]++;
        n++;
      }
    }
  }
  return counts.map((c, axis) => {
    if (n === 0) return Math.floor(dims[axis] / 2);
    let sum = 0;
    c.forEach((v, idx) => sum += v * idx);
    const centroid = Math.round(sum / n);
    if (c[centroid] > 0) return centroid;
    let best = 0;
    c.forEach((v, idx) => {
      if (v > c[best]) best = idx;
    });
    return best;
  }) as [number, number, number];
}

/** The colour of a label: the given colours, the organ palette, then a generated hue. */
function labelColor(label: number, colors: readonly RGB[] | undefined): RGB {
  const c = colors?.[label] ?? ORGAN_COLORS[label];
  if (c) return c;
  const h = (label * 137.508) % 360; // golden-angle hues stay apart
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (0.55 - 0.45 * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

function labelText(label: number, names: readonly string[]): string {
  return names[label] ?? `label ${label}`;
}

/** Legend entries laid out in rows that fit `width`: [label, x, y offset from the legend top]. */
function legendPlacement(
  present: number[],
  names: readonly string[],
  width: number,
): [number, number, number][] {
  const out: [number, number, number][] = [];
  let x = MARGIN, row = 0;
  for (const l of present) {
    const w = 14 + textWidth(labelText(l, names)) + 16;
    if (x > MARGIN && x + w > width - MARGIN) {
      x = MARGIN;
      row++;
    }
    out.push([l, x, row * LEGEND_ROW]);
    x += w;
  }
  return out;
}

/** The preview's geometry for `opts`, without rendering it. */
export function previewLayout(opts: PreviewOptions): PreviewLayout {
  const n = checkVolume(opts);
  const { dims, spacing } = opts;
  const seen = new Uint8Array(256);
  for (let p = 0; p < n; p++) seen[opts.labels[p]] = 1;
  const present = [...seen.keys()].filter((l) => l > 0 && seen[l]);

  const auto = chooseSlices(opts.labels, dims);
  const chosen = [opts.slices?.x ?? auto[0], opts.slices?.y ?? auto[1], opts.slices?.z ?? auto[2]];
  chosen.forEach((s, a) => {
    if (!Number.isInteger(s) || s < 0 || s >= dims[a]) {
      throw new RangeError(`preview slice ${AXIS_NAMES[a]} = ${s} outside 0..${dims[a] - 1}`);
    }
  });

  const extent = [0, 1, 2].map((a) => dims[a] * spacing[a]);
  const mmPerPixel = Math.max(...extent) / (opts.panelSize ?? 320);
  const size = (a: number) => Math.max(1, Math.round(extent[a] / mmPerPixel));
  const top = MARGIN + (opts.title ? 2 * GLYPH_HEIGHT + 10 : 0) + GLYPH_HEIGHT + 6;
  let x = MARGIN;
  const panels = VIEW_ORDER.map((view) => {
    const v = VIEWS[view];
    const rect = { x, y: top, w: size(v.col), h: size(v.row) };
    x += rect.w + GAP;
    return { view, slice: chosen[v.normal], rect };
  });
  const panelsRight = x - GAP + MARGIN;
  const minWidth = Math.max(
    panelsRight,
    opts.title ? textWidth(opts.title, 2) + 2 * MARGIN : 0,
    ...present.map((l) => 2 * MARGIN + 30 + textWidth(labelText(l, opts.names))),
  );
  const legendY = top + Math.max(...panels.map((p) => p.rect.h)) + 12;
  const rows = present.length === 0
    ? 0
    : legendPlacement(present, opts.names, minWidth).at(-1)![2] / LEGEND_ROW + 1;
  return {
    width: minWidth,
    height: legendY + rows * LEGEND_ROW + MARGIN - 4,
    mmPerPixel,
    panels,
    legendY,
    present,
  };
}

/** Renders one view's slice: windowed grey, label fill and 1-pixel label outlines. */
function renderPanel(opts: PreviewOptions, panel: PreviewPanel, mmPerPixel: number): Image {
  const { dims, spacing } = opts;
  const v = VIEWS[panel.view];
  const { w, h } = panel.rect;
  const [lo, hi] = opts.window ?? [-160, 240];
  const alpha = opts.alpha ?? 0.45;
  const stride = [1, dims[0], dims[0] * dims[1]];

  // Nearest voxel for each pixel column / row; both run against their axis (see VIEWS).
  const index = (axis: number, count: number) =>
    Int32Array.from({ length: count }, (_, c) => {
      const along = Math.min(dims[axis] - 1, Math.floor(((c + 0.5) * mmPerPixel) / spacing[axis]));
      return (dims[axis] - 1 - along) * stride[axis];
    });
  const colOffset = index(v.col, w), rowOffset = index(v.row, h);
  const base = panel.slice * stride[v.normal];

  const lab = new Uint8Array(w * h);
  const img = createImage(w, h, [0, 0, 0]);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const p = base + rowOffset[r] + colOffset[c];
      const t = (opts.image[p] - lo) / (hi - lo);
      const g = Number.isNaN(t) ? 0 : Math.round(255 * Math.min(1, Math.max(0, t)));
      const o = (r * w + c) * 4;
      img.data[o] = img.data[o + 1] = img.data[o + 2] = g;
      lab[r * w + c] = opts.labels[p];
    }
  }
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const l = lab[r * w + c];
      if (l === 0) continue;
      // Outline: a labelled pixel with a 4-neighbour of another label (the panel edge counts).
      const edge = c === 0 || r === 0 || c === w - 1 || r === h - 1 ||
        lab[r * w + c - 1] !== l || lab[r * w + c + 1] !== l || lab[(r - 1) * w + c] !== l ||
        lab[(r + 1) * w + c] !== l;
      const color = labelColor(l, opts.colors);
      const a = edge ? 1 : alpha;
      const o = (r * w + c) * 4;
      for (let ch = 0; ch < 3; ch++) {
        img.data[o + ch] = Math.round(img.data[o + ch] * (1 - a) + color[ch] * a);
      }
    }
  }
  return img;
}

/** Text with a dark shadow, readable over any grey. */
function shadowText(img: Image, x: number, y: number, text: string): void {
  drawText(img, x + 1, y + 1, text, [0, 0, 0]);
  drawText(img, x, y, text, [255, 255, 160]);
}

/**
 * Renders the three-view preview of a CT volume and its labels (see the module comment for the
 * orientation conventions) with captions naming each slice and a legend of the labels present.
 */
export function segmentationPreview(opts: PreviewOptions): Image {
  const layout = previewLayout(opts);
  const out = createImage(layout.width, layout.height, BACKGROUND);
  if (opts.title) drawText(out, MARGIN, MARGIN, opts.title, TEXT, 2);
  const capY = layout.panels[0].rect.y - GLYPH_HEIGHT - 6;
  for (const panel of layout.panels) {
    const { x, y, w, h } = panel.rect;
    blit(out, renderPanel(opts, panel, layout.mmPerPixel), x, y);
    const axis = AXIS_NAMES[VIEWS[panel.view].normal];
    drawText(out, x, capY, `${panel.view} ${axis}=${panel.slice}`, TEXT);
    // Orientation letters at the middle of each edge: left, right, top, bottom.
    const [l, r, t, b] = VIEWS[panel.view].marks;
    if (w >= 24 && h >= 24) {
      shadowText(out, x + 3, y + Math.floor(h / 2) - 4, l);
      shadowText(out, x + w - 8, y + Math.floor(h / 2) - 4, r);
      shadowText(out, x + Math.floor(w / 2) - 2, y + 3, t);
      shadowText(out, x + Math.floor(w / 2) - 2, y + h - 11, b);
    }
  }
  for (const [label, x, dy] of legendPlacement(layout.present, opts.names, layout.width)) {
    const y = layout.legendY + dy;
    fillRect(out, x, y, 10, 10, labelColor(label, opts.colors));
    strokeRect(out, x, y, 10, 10, [200, 200, 200]);
    drawText(out, x + 14, y + 1, labelText(label, opts.names), TEXT);
  }
  return out;
}
