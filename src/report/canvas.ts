/**
 * A minimal raster canvas: an RGBA image type and the few drawing primitives the charts and previews
 * need (rectangles, lines with a clip rectangle, alpha blending, copying one image into another).
 */

/** An 8-bit colour: [r, g, b] (opaque) or [r, g, b, a] with a in 0..255. */
export type Color = readonly [number, number, number] | readonly [number, number, number, number];

/** An RGBA image, rows top to bottom, 4 bytes per pixel. */
export interface Image {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An axis-aligned rectangle in pixels: [x, x + w) x [y, y + h). */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
}

/** A new `width` x `height` image filled with `background` (default opaque white). */
export function createImage(width: number, height: number, background: Color = [255, 255, 255]): Image {
  checkSize(width, height);
  const data = new Uint8Array(width * height * 4);
  const [r, g, b] = background;
  const a = background[3] ?? 255;
  for (let p = 0; p < data.length; p += 4) {
    data[p] = r;
    data[p + 1] = g;
    data[p + 2] = b;
    data[p + 3] = a;
  }
  return { width, height, data };
}

/** The [r, g, b, a] of pixel (x, y); throws RangeError outside the image. */
export function getPixel(img: Image, x: number, y: number): [number, number, number, number] {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) {
    throw new RangeError(`pixel (${x}, ${y}) outside ${img.width}x${img.height} image`);
  }
  const p = (y * img.width + x) * 4;
  return [img.data[p], img.data[p + 1], img.data[p + 2], img.data[p + 3]];
}

/**
 * Paints pixel (x, y) (rounded) with `color`, blended over what is there with opacity
 * `alpha` * color's own alpha; pixels outside the image are ignored, so callers need not clip.
 */
export function setPixel(img: Image, x: number, y: number, color: Color, alpha = 1): void {
  x = Math.round(x);
  y = Math.round(y);
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const p = (y * img.width + x) * 4;
  const a = alpha * ((color[3] ?? 255) / 255);
  const d = img.data;
  if (a >= 1) {
    d[p] = color[0];
    d[p + 1] = color[1];
    d[p + 2] = color[2];
    d[p + 3] = 255;
  } else if (a > 0) {
    d[p] = Math.round(d[p] * (1 - a) + color[0] * a);
    d[p + 1] = Math.round(d[p + 1] * (1 - a) + color[1] * a);
    d[p + 2] = Math.round(d[p + 2] * (1 - a) + color[2] * a);
    d[p + 3] = Math.round(d[p + 3] * (1 - a) + 255 * a);
  }
}

/** Fills the rectangle [x, x + w) x [y, y + h) (clipped to the image), blending with `alpha`. */
export function fillRect(
  img: Image,
  x: number,
  y: number,
  w: number,
  h: number,
  color: Color,
  alpha = 1,
): void {
  const x0 = Math.max(0, Math.round(x)), y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(img.width, Math.round(x + w)), y1 = Math.min(img.height, Math.round(y + h));
  for (let yy = y0; yy < y1; yy++) {
    for (let xx = x0; xx < x1; xx++) setPixel(img, xx, yy, color, alpha);
  }
}

/** Draws a 1-pixel outline just inside the rectangle [x, x + w) x [y, y + h). */
export function strokeRect(img: Image, x: number, y: number, w: number, h: number, color: Color): void {
  fillRect(img, x, y, w, 1, color);
  fillRect(img, x, y + h - 1, w, 1, color);
  fillRect(img, x, y, 1, h, color);
  fillRect(img, x + w - 1, y, 1, h, color);
}

function inRect(x: number, y: number, r: Rect | undefined): boolean {
  return !r || (x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h);
}

/**
 * Draws a line from (x0, y0) to (x1, y1) (Bresenham on rounded ends) with a square pen `width`
 * pixels wide; only pixels inside `clip` (when given) and the image are painted.
 */
export function drawLine(
  img: Image,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: Color,
  width = 1,
  clip?: Rect,
): void {
  if (!Number.isFinite(x0 + y0 + x1 + y1)) return; // NaN ends would never terminate the walk
  let x = Math.round(x0), y = Math.round(y0);
  const xe = Math.round(x1), ye = Math.round(y1);
  // Far off-canvas ends (e.g. a value far outside a fixed y range) would make the walk long; a line
  // of more than a few image sizes is cut to the image bounds first (which makes it short).
  const limit = 4 * (img.width + img.height);
  if (Math.abs(xe - x) + Math.abs(ye - y) > limit) {
    const c = clipSegment(x0, y0, x1, y1, { x: 0, y: 0, w: img.width, h: img.height });
    if (!c) return;
    return drawLine(img, c[0], c[1], c[2], c[3], color, width, clip);
  }
  const dx = Math.abs(xe - x), dy = -Math.abs(ye - y);
  const sx = x < xe ? 1 : -1, sy = y < ye ? 1 : -1;
  const lo = -Math.floor((width - 1) / 2), hi = lo + Math.max(1, Math.round(width));
  let err = dx + dy;
  for (;;) {
    for (let oy = lo; oy < hi; oy++) {
      for (let ox = lo; ox < hi; ox++) {
        if (inRect(x + ox, y + oy, clip)) setPixel(img, x + ox, y + oy, color);
      }
    }
    if (x === xe && y === ye) break;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

/** Liang-Barsky clipping of a segment to a rectangle (slightly enlarged); null when it misses it. */
function clipSegment(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  r: Rect,
): [number, number, number, number] | null {
  const dx = x1 - x0, dy = y1 - y0;
  let t0 = 0, t1 = 1;
  const edges: [number, number][] = [
    [-dx, x0 - (r.x - 2)],
    [dx, r.x + r.w + 1 - x0],
    [-dy, y0 - (r.y - 2)],
    [dy, r.y + r.h + 1 - y0],
  ];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return null;
    } else {
      const t = q / p;
      if (p < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
    }
  }
  if (t0 > t1) return null;
  return [x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy];
}

/** Copies `src` into `dst` with its top-left corner at (x, y), clipped to `dst`. */
export function blit(dst: Image, src: Image, x: number, y: number): void {
  for (let sy = 0; sy < src.height; sy++) {
    const dy = y + sy;
    if (dy < 0 || dy >= dst.height) continue;
    const sx0 = Math.max(0, -x), sx1 = Math.min(src.width, dst.width - x);
    if (sx1 <= sx0) return;
    dst.data.set(
      src.data.subarray((sy * src.width + sx0) * 4, (sy * src.width + sx1) * 4),
      (dy * dst.width + x + sx0) * 4,
    );
  }
}
