/**
 * Line charts rendered to an {@link Image}: training loss (optionally on a log y axis) and per-organ
 * validation Dice curves. Axes with numbered ticks and grid lines, a title, axis labels and a legend
 * placed in the plot corner that covers the fewest curve pixels. Non-finite points (and points <= 0
 * on a log axis) leave a gap; isolated points are drawn as small squares.
 */

import { type Color, createImage, drawLine, fillRect, type Image, type Rect, strokeRect } from "./canvas.ts";
import { drawText, drawTextVertical, GLYPH_HEIGHT, textWidth } from "./font.ts";

/** One curve: its legend name, its (x, y) points in drawing order, and an optional colour. */
export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color?: Color;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  title?: string;
  series: Series[];
  xLabel?: string;
  yLabel?: string;
  /** Image width in pixels (default 800). */
  width?: number;
  /** Image height in pixels (default 500). */
  height?: number;
  /** Fixed y range [lo, hi]; default: the data's range extended to round tick values. */
  yRange?: readonly [number, number];
  /** Fixed x range [lo, hi]; default: the data's range. */
  xRange?: readonly [number, number];
  /** Logarithmic y axis (points with y <= 0 are gaps). */
  logY?: boolean;
  /** Draw a marker at every point, not only at isolated ones. */
  markers?: boolean;
  /** Curve thickness in pixels (default 2). */
  lineWidth?: number;
}

/** Default series colours (Tableau 10), used in order for series without a colour. */
export const SERIES_COLORS: readonly Color[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const INK: Color = [20, 20, 20];
const GRID: Color = [228, 228, 228];
const FRAME: Color = [90, 90, 90];

/** The smallest of 1, 2, 5 x 10^k that is >= `raw`. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** Removes float noise (0.30000000000000004 -> 0.3) from computed tick values. */
function clean(v: number): number {
  return v === 0 ? 0 : parseFloat(v.toPrecision(12));
}

/** Multiples of `step` within [lo, hi]. */
function multiples(lo: number, hi: number, step: number): number[] {
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++) out.push(clean(k * step));
  return out;
}

/**
 * Round tick values within [lo, hi], about `count` of them, at a 1/2/5 x 10^k step (at least
 * `minStep`). Returns the step too, for label formatting.
 */
export function niceTicks(
  lo: number,
  hi: number,
  count: number,
  minStep = 0,
): { ticks: number[]; step: number } {
  const step = Math.max(niceStep((hi - lo) / Math.max(1, count)), minStep);
  return { ticks: multiples(lo, hi, step), step };
}

/** Tick values for a log axis over [lo, hi] (both > 0): decades, then 2 and 5, then 1..9 multiples. */
function logTicks(lo: number, hi: number, count: number): number[] {
  const d0 = Math.floor(Math.log10(lo)), d1 = Math.ceil(Math.log10(hi));
  for (const mults of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const ticks: number[] = [];
    for (let d = d0; d <= d1; d++) {
      for (const m of mults) {
        const v = clean(m * 10 ** d);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
      }
    }
    if (ticks.length >= Math.min(3, count)) {
      // Too many decades for the space: keep every n-th decade.
      const every = Math.ceil(ticks.length / Math.max(2, count));
      return ticks.filter((_, i) => i % every === 0);
    }
  }
  return niceTicks(lo, hi, count).ticks.filter((v) => v > 0);
}

/**
 * A short label for a tick value: fixed decimals from the tick step on linear axes, exponent form
 * for very large or small magnitudes.
 */
export function formatTick(v: number, step?: number): string {
  const a = Math.abs(v);
  if (v !== 0 && (a >= 1e6 || a < 1e-3 || (step !== undefined && step < 1e-3))) {
    const [m, e] = v.toExponential(2).split("e");
    return `${m.replace(/\.?0+$/, "")}e${e.replace("+", "")}`;
  }
  if (step === undefined) return String(clean(parseFloat(v.toPrecision(3))));
  // As many decimals as the step needs (0.25 -> 2), so neighbouring ticks read differently.
  let decimals = 0;
  while (decimals < 10 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6) {
    decimals++;
  }
  const s = v.toFixed(decimals);
  return s === "-0" || /^-0\.0*$/.test(s) ? s.slice(1) : s;
}

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  labels: string[];
  /** Whether positions are linear in log10 of the value. */
  log: boolean;
}

function finiteRange(values: number[]): [number, number] | null {
  if (values.length === 0) return null;
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}

/** A linear axis: a fixed range as given, else the data range widened to ticks (if `snap`). */
function linearAxis(
  data: [number, number] | null,
  fixed: readonly [number, number] | undefined,
  count: number,
  snap: boolean,
  integers: boolean,
): Axis {
  let [lo, hi] = fixed ?? data ?? [0, 1];
  if (!(hi > lo)) {
    // A constant series (or a single point) gets a band around its value.
    const pad = integers ? 1 : Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  let { ticks, step } = niceTicks(lo, hi, count, integers ? 1 : 0);
  if (snap && !fixed) {
    lo = Math.min(lo, clean(Math.floor(lo / step + 1e-9) * step));
    hi = Math.max(hi, clean(Math.ceil(hi / step - 1e-9) * step));
    ticks = multiples(lo, hi, step);
  }
  return { lo, hi, ticks, labels: ticks.map((t) => formatTick(t, step)), log: false };
}

/** A log axis over positive data; the range is padded slightly in log space. */
function logAxis(
  data: [number, number] | null,
  fixed: readonly [number, number] | undefined,
  count: number,
): Axis {
  let [lo, hi] = fixed ?? data ?? [0.1, 1];
  if (!(lo > 0) || !(hi > 0)) throw new RangeError(`log y range must be positive, got [${lo}, ${hi}]`);
  if (!(hi > lo)) {
    lo /= 2;
    hi *= 2;
  }
  if (!fixed) {
    const pad = 0.04 * (Math.log10(hi) - Math.log10(lo));
    lo = 10 ** (Math.log10(lo) - pad);
    hi = 10 ** (Math.log10(hi) + pad);
  }
  const ticks = logTicks(lo, hi, count);
  return { lo, hi, ticks, labels: ticks.map((t) => formatTick(t)), log: true };
}

/** Position of `v` along the axis, 0 at lo and 1 at hi. */
function frac(axis: Axis, v: number): number {
  return axis.log
    ? (Math.log10(v) - Math.log10(axis.lo)) / (Math.log10(axis.hi) - Math.log10(axis.lo))
    : (v - axis.lo) / (axis.hi - axis.lo);
}

/**
 * Draws a line chart of one or more series and returns the image (default 800 x 500). Ranges come
 * from the finite points unless `xRange`/`yRange` fix them; a chart without any drawable point shows
 * empty axes and "no data".
 */
export function lineChart(opts: LineChartOptions): Image {
  const width = opts.width ?? 800, height = opts.height ?? 500;
  const logY = opts.logY ?? false;
  const img = createImage(width, height, [255, 255, 255]);
  const valid = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0);

  const xs: number[] = [], ys: number[] = [];
  for (const s of opts.series) {
    for (const [x, y] of s.points) {
      if (valid(x, y)) {
        xs.push(x);
        ys.push(y);
      }
    }
  }

  // Layout: title on top, x tick labels and x label below, y tick labels and y label on the left.
  const fh = GLYPH_HEIGHT;
  const top = opts.title ? 12 + 2 * fh + 10 : 14;
  const bottom = 8 + fh + (opts.xLabel ? 8 + fh : 0) + 10;
  const ph = Math.max(10, height - top - bottom);
  const yAxis = logY
    ? logAxis(finiteRange(ys), opts.yRange, Math.max(2, Math.floor(ph / 45)))
    : linearAxis(finiteRange(ys), opts.yRange, Math.max(2, Math.floor(ph / 50)), true, false);
  const yLabelWidth = Math.max(0, ...yAxis.labels.map((l) => textWidth(l)));
  const left = 10 + (opts.yLabel ? fh + 8 : 0) + yLabelWidth + 8;
  const integerX = xs.length > 0 && xs.every(Number.isInteger);
  // x ticks depend on the plot width, which depends on the right margin the last label needs.
  let right = 20;
  let xAxis!: Axis;
  let pw = 0;
  for (let pass = 0; pass < 2; pass++) {
    pw = Math.max(10, width - left - right);
    xAxis = linearAxis(finiteRange(xs), opts.xRange, Math.max(2, Math.floor(pw / 90)), false, integerX);
    const last = xAxis.labels[xAxis.labels.length - 1] ?? "";
    right = Math.max(20, Math.ceil(textWidth(last) / 2) + 6);
  }
  const plot: Rect = { x: left, y: top, w: pw, h: ph };
  // Values map a few pixels inside the frame, so curves at the range ends are not hidden by it.
  const inner = 4;
  const px = (x: number) => plot.x + inner + frac(xAxis, x) * (plot.w - 1 - 2 * inner);
  const py = (y: number) => plot.y + inner + (1 - frac(yAxis, y)) * (plot.h - 1 - 2 * inner);

  // Grid, frame, ticks and their labels.
  yAxis.ticks.forEach((t, i) => {
    const y = Math.round(py(t));
    drawLine(img, plot.x, y, plot.x + plot.w - 1, y, GRID);
    drawLine(img, plot.x - 5, y, plot.x - 1, y, FRAME);
    const label = yAxis.labels[i];
    drawText(img, plot.x - 8 - textWidth(label), y - 3, label, INK);
  });
  xAxis.ticks.forEach((t, i) => {
    const x = Math.round(px(t));
    drawLine(img, x, plot.y, x, plot.y + plot.h - 1, GRID);
    drawLine(img, x, plot.y + plot.h, x, plot.y + plot.h + 4, FRAME);
    const label = xAxis.labels[i];
    drawText(img, x - Math.floor(textWidth(label) / 2), plot.y + plot.h + 8, label, INK);
  });
  strokeRect(img, plot.x - 1, plot.y - 1, plot.w + 2, plot.h + 2, FRAME);

  if (opts.title) {
    drawText(img, Math.round((width - textWidth(opts.title, 2)) / 2), 12, opts.title, INK, 2);
  }
  if (opts.xLabel) {
    const x = plot.x + Math.round((plot.w - textWidth(opts.xLabel)) / 2);
    drawText(img, x, height - 10 - fh, opts.xLabel, INK);
  }
  if (opts.yLabel) {
    const y = plot.y + Math.round((plot.h - textWidth(opts.yLabel)) / 2);
    drawTextVertical(img, 10, Math.max(0, y), opts.yLabel, INK);
  }

  // Curves, clipped to the plot; consecutive valid points are joined, gaps break the line.
  const colorOf = (i: number) => opts.series[i].color ?? SERIES_COLORS[i % SERIES_COLORS.length];
  const lw = opts.lineWidth ?? 2;
  const ink: [number, number][] = []; // sampled curve pixels, for the legend placement
  opts.series.forEach((s, si) => {
    const color = colorOf(si);
    const pts = s.points;
    for (let i = 0; i < pts.length; i++) {
      const [x, y] = pts[i];
      if (!valid(x, y)) continue;
      const X = px(x), Y = py(y);
      const prevOk = i > 0 && valid(pts[i - 1][0], pts[i - 1][1]);
      const nextOk = i + 1 < pts.length && valid(pts[i + 1][0], pts[i + 1][1]);
      if (nextOk) {
        const X1 = px(pts[i + 1][0]), Y1 = py(pts[i + 1][1]);
        drawLine(img, X, Y, X1, Y1, color, lw, plot);
        const n = Math.min(1000, Math.ceil(Math.hypot(X1 - X, Y1 - Y) / 3));
        for (let k = 0; k <= n; k++) ink.push([X + (X1 - X) * k / n, Y + (Y1 - Y) * k / n]);
      } else {
        ink.push([X, Y]);
      }
      if (opts.markers || (!prevOk && !nextOk)) drawMarker(img, X, Y, color, plot);
    }
  });
  if (xs.length === 0) {
    const msg = "no data";
    drawText(img, plot.x + (plot.w - textWidth(msg)) / 2, plot.y + (plot.h - fh) / 2, msg, FRAME);
  }

  if (opts.series.length > 0) drawLegend(img, plot, opts.series.map((s, i) => [s.name, colorOf(i)]), ink);
  return img;
}

function drawMarker(img: Image, x: number, y: number, color: Color, clip: Rect): void {
  const x0 = Math.max(clip.x, Math.round(x) - 2), y0 = Math.max(clip.y, Math.round(y) - 2);
  const x1 = Math.min(clip.x + clip.w, Math.round(x) + 3), y1 = Math.min(clip.y + clip.h, Math.round(y) + 3);
  if (x1 > x0 && y1 > y0) fillRect(img, x0, y0, x1 - x0, y1 - y0, color);
}

/** The legend box in the plot corner with the fewest curve pixels under it (top-right on ties). */
function drawLegend(img: Image, plot: Rect, items: [string, Color][], ink: [number, number][]): void {
  const rowH = 13, pad = 7, swatch = 18;
  const w = pad + swatch + 6 + Math.max(...items.map(([n]) => textWidth(n))) + pad;
  const h = pad + items.length * rowH - (rowH - GLYPH_HEIGHT) + pad;
  const inset = 8;
  const xs = [plot.x + plot.w - inset - w, plot.x + inset];
  const ys = [plot.y + inset, plot.y + plot.h - inset - h];
  let best: Rect = { x: xs[0], y: ys[0], w, h }, bestScore = Infinity;
  for (const y of ys) {
    for (const x of xs) {
      const r = { x, y, w, h };
      const score = ink.filter(([px, py]) => px >= x - 3 && px < x + w + 3 && py >= y - 3 && py < y + h + 3)
        .length;
      if (score < bestScore) {
        best = r;
        bestScore = score;
      }
    }
  }
  fillRect(img, best.x, best.y, w, h, [255, 255, 255], 0.88);
  strokeRect(img, best.x, best.y, w, h, [160, 160, 160]);
  items.forEach(([name, color], i) => {
    const y = best.y + pad + i * rowH;
    fillRect(img, best.x + pad, y + 2, swatch, 3, color);
    drawText(img, best.x + pad + swatch + 6, y, name, INK);
  });
}
