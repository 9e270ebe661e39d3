/**
 * Tests of src/report: PNG structure (chunks, CRCs, inflated rows), chart and preview rendering
 * (sizes, colours where they belong, legend text), progress output, and table alignment.
 *
 * Set REPORT_TEST_OUT=<dir> to keep the rendered example PNGs there for viewing.
 */
import assert from "node:assert/strict";
import { crc32, encodeImage, encodePng } from "../src/report/png.ts";
import { createImage, drawLine, fillRect, getPixel, type Image } from "../src/report/canvas.ts";
import { drawText, textWidth } from "../src/report/font.ts";
import { formatTick, lineChart, niceTicks, SERIES_COLORS } from "../src/report/chart.ts";
import { chooseSlices, ORGAN_COLORS, previewLayout, segmentationPreview } from "../src/report/preview.ts";
import { formatDuration, Progress, type ProgressWriter } from "../src/report/progress.ts";
import { formatTable } from "../src/report/table.ts";

interface Chunk {
  type: string;
  data: Uint8Array;
}

/** Splits a PNG into chunks, checking the signature and every chunk's CRC. */
function readChunks(png: Uint8Array): Chunk[] {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: Chunk[] = [];
  let o = 8;
  while (o < png.length) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    assert.equal(view.getUint32(o + 8 + len), crc32(png.subarray(o + 4, o + 8 + len)), `CRC of ${type}`);
    chunks.push({ type, data });
    o += 12 + len;
  }
  assert.equal(o, png.length, "chunks end exactly at the end of the file");
  return chunks;
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const copy = new Uint8Array(bytes); // a fresh ArrayBuffer-backed copy for Blob
  const stream = new Blob([copy]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Decodes one of our PNGs (filter 0 rows only): size, channels and pixels. */
async function decodeOwnPng(png: Uint8Array) {
  const chunks = readChunks(png);
  assert.deepEqual(chunks.map((c) => c.type), ["IHDR", "IDAT", "IEND"]);
  const ihdr = new DataView(chunks[0].data.buffer, chunks[0].data.byteOffset, 13);
  const width = ihdr.getUint32(0), height = ihdr.getUint32(4);
  assert.equal(chunks[0].data.length, 13);
  assert.equal(ihdr.getUint8(8), 8, "bit depth");
  assert.deepEqual([ihdr.getUint8(10), ihdr.getUint8(11), ihdr.getUint8(12)], [0, 0, 0]);
  const channels = ihdr.getUint8(9) === 6 ? 4 : 3;
  const raw = await inflate(chunks[1].data);
  assert.equal(raw.length, height * (width * channels + 1));
  const pixels = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = y * (width * channels + 1);
    assert.equal(raw[row], 0, `filter byte of row ${y}`);
    pixels.set(raw.subarray(row + 1, row + 1 + width * channels), y * width * channels);
  }
  return { width, height, channels, pixels };
}

async function outDir(): Promise<string> {
  const keep = Deno.env.get("REPORT_TEST_OUT");
  if (keep) {
    await Deno.mkdir(keep, { recursive: true });
    return keep;
  }
  return await Deno.makeTempDir({ prefix: "report_test_" });
}

/** Writes the image as PNG into `dir` and checks the file decodes to the same pixels. */
async function savePng(dir: string, name: string, img: Image): Promise<void> {
  const png = await encodeImage(img);
  await Deno.writeFile(`${dir}/${name}`, png);
  const back = await decodeOwnPng(png);
  assert.equal(back.width, img.width);
  assert.equal(back.height, img.height);
  assert.deepEqual(back.pixels, img.data);
}

async function cleanUp(dir: string): Promise<void> {
  if (!Deno.env.get("REPORT_TEST_OUT")) await Deno.remove(dir, { recursive: true });
  else console.log(`report_test: PNGs kept in ${dir}`);
}

function countColor(img: Image, c: readonly number[], region = { x: 0, y: 0, w: img.width, h: img.height }) {
  let n = 0;
  for (let y = region.y; y < region.y + region.h; y++) {
    for (let x = region.x; x < region.x + region.w; x++) {
      const p = (y * img.width + x) * 4;
      if (img.data[p] === c[0] && img.data[p + 1] === c[1] && img.data[p + 2] === c[2]) n++;
    }
  }
  return n;
}

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("encodePng writes valid RGBA and RGB files whose IDAT inflates to the rows", async () => {
  for (const channels of [4, 3]) {
    const w = 7, h = 5;
    const px = Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 37 + channels) & 255);
    const png = await encodePng(px, w, h);
    const back = await decodeOwnPng(png);
    assert.deepEqual([back.width, back.height, back.channels], [w, h, channels]);
    assert.deepEqual(back.pixels, px);
  }
  await assert.rejects(() => encodePng(new Uint8Array(10), 2, 2), RangeError);
  await assert.rejects(() => encodePng(new Uint8Array(0), 0, 2), RangeError);
});

Deno.test("canvas primitives and font", () => {
  const img = createImage(20, 10, [0, 0, 0]);
  fillRect(img, 18, 8, 5, 5, [255, 0, 0]); // clipped at the corner
  assert.deepEqual(getPixel(img, 19, 9), [255, 0, 0, 255]);
  assert.equal(countColor(img, [255, 0, 0]), 4);
  drawLine(img, 0, 0, 9, 0, [0, 255, 0], 1, { x: 0, y: 0, w: 5, h: 5 });
  assert.equal(countColor(img, [0, 255, 0]), 5, "the clip rectangle cuts the line");
  drawLine(img, 0, 5, 1e9, 5, [0, 0, 255]); // a far end is cut to the image, quickly
  assert.equal(countColor(img, [0, 0, 255]), 20);
  drawLine(img, NaN, 0, 3, 3, [9, 9, 9]); // ignored, and must not hang
  const t = createImage(40, 12, [255, 255, 255]);
  assert.equal(drawText(t, 1, 1, "Ag", [0, 0, 0]), textWidth("Ag"));
  assert.equal(textWidth("Ag"), 11);
  assert.ok(countColor(t, [0, 0, 0]) > 20);
});

Deno.test("tick helpers", () => {
  assert.deepEqual(niceTicks(0, 1, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.13, 0.71, 4).ticks, [0.2, 0.4, 0.6]);
  assert.equal(formatTick(0.30000000000000004, 0.1), "0.3");
  assert.equal(formatTick(0, 0.25), "0.00");
  assert.equal(formatTick(0.75, 0.25), "0.75");
  assert.equal(formatTick(-0.2, 0.2), "-0.2");
  assert.equal(formatTick(20, 5), "20");
  assert.equal(formatTick(2e-5), "2e-5");
  assert.equal(formatTick(1500, 500), "1500");
});

Deno.test("lineChart renders series, gaps, single points and a legend", async () => {
  const dir = await outDir();
  const loss: [number, number][] = [];
  for (let i = 1; i <= 200; i++) loss.push([i, 2 * Math.exp(-i / 30) + 0.05 + 0.02 * Math.sin(i)]);
  for (let i = 90; i < 110; i++) loss[i] = [i + 1, NaN]; // a gap
  const red: [number, number, number] = [214, 39, 40];
  const chart = lineChart({
    title: "Training loss",
    series: [
      { name: "train loss", points: loss },
      { name: "constant", points: [[1, 0.5], [200, 0.5]] },
      { name: "single", points: [[100, 1]], color: red },
    ],
    xLabel: "iteration",
    yLabel: "loss",
    logY: true,
    width: 640,
    height: 400,
  });
  assert.deepEqual([chart.width, chart.height], [640, 400]);
  await savePng(dir, "chart.png", chart);

  // The gap: the loss colour's columns have a hole around x = 100 (of 1..200, ~ the middle).
  const blue = SERIES_COLORS[0];
  const cols = new Set<number>();
  for (let y = 0; y < chart.height; y++) {
    for (let x = 0; x < chart.width; x++) if (countColor(chart, blue, { x, y, w: 1, h: 1 })) cols.add(x);
  }
  const mid = Math.round(chart.width / 2);
  assert.ok(cols.size > 300, "the loss curve is drawn");
  assert.ok(!cols.has(mid) && !cols.has(mid + 5) && !cols.has(mid - 5), "no loss pixels inside the NaN gap");
  // The constant series and the isolated point (a 5x5 marker besides the 18x3 legend swatch).
  assert.ok(countColor(chart, SERIES_COLORS[1]) > 300);
  assert.ok(countColor(chart, red) >= 18 * 3 + 20);
  // Text (title, ticks, labels, legend) is drawn in near-black ink.
  assert.ok(countColor(chart, [20, 20, 20]) > 500);

  const dice = ["liver", "spleen", "pancreas"].map((name, o) => ({
    name,
    points: Array.from(
      { length: 30 },
      (_, e) => [e + 1, 0.9 - 0.2 * o - 0.5 * Math.exp(-e / 5)] as [number, number],
    ),
    color: ORGAN_COLORS[[3, 4, 7][o]],
  }));
  const diceChart = lineChart({ title: "Validation Dice", series: dice, xLabel: "epoch", yRange: [0, 1] });
  assert.deepEqual([diceChart.width, diceChart.height], [800, 500]);
  for (const s of dice) assert.ok(countColor(diceChart, s.color) > 200, s.name);
  await savePng(dir, "dice.png", diceChart);

  // Degenerate inputs render without throwing.
  const empty = lineChart({
    series: [{ name: "none", points: [[0, NaN], [1, -1]] }],
    logY: true,
    width: 200,
    height: 150,
  });
  assert.ok(countColor(empty, [90, 90, 90]) > 0, "'no data' and the frame");
  lineChart({ series: [{ name: "one", points: [[3, 7]] }], width: 200, height: 150 });
  lineChart({ series: [], width: 200, height: 150 });
  await cleanUp(dir);
});

/** A 40 x 30 x 20 volume: soft tissue (HU 40) with boxes of labels at known places. */
function syntheticVolume() {
  const dims: [number, number, number] = [40, 30, 20];
  const [nx, ny, nz] = dims;
  const image = new Float32Array(nx * ny * nz).fill(40);
  const labels = new Uint8Array(nx * ny * nz);
  const box = (l: number, i0: number, i1: number, j0: number, j1: number, k0: number, k1: number) => {
    for (let k = k0; k < k1; k++) {
      for (let j = j0; j < j1; j++) for (let i = i0; i < i1; i++) labels[i + nx * (j + ny * k)] = l;
    }
  };
  box(3, 24, 38, 6, 24, 4, 16); // liver: high i = the patient's right
  box(4, 3, 11, 6, 14, 6, 14); // spleen: low i = the patient's left, posterior (low j)
  box(5, 14, 20, 18, 26, 2, 6); // stomach, anterior and inferior (off the chosen axial slice)
  return { image, labels, dims, spacing: [1, 1, 2] as [number, number, number] };
}

Deno.test("chooseSlices picks the foreground centroid, or the fullest slice off the foreground", () => {
  const dims: [number, number, number] = [10, 4, 3];
  const labels = new Uint8Array(120);
  labels[1 + 10 * (1 + 4 * 1)] = 2;
  labels[8 + 10 * (1 + 4 * 1)] = 2;
  labels[8 + 10 * (2 + 4 * 1)] = 2;
  // x centroid (1 + 8 + 8) / 3 = 5.67 -> 6 holds nothing: the fullest x slice (8) is used.
  assert.deepEqual(chooseSlices(labels, dims), [8, 1, 1]);
  assert.deepEqual(chooseSlices(new Uint8Array(120), dims), [5, 2, 1]);
});

Deno.test("segmentationPreview: three oriented panels with label colours and a legend", async () => {
  const dir = await outDir();
  const vol = syntheticVolume();
  const names = [
    "background",
    "artery",
    "portal vein",
    "liver",
    "spleen",
    "stomach",
    "gallbladder",
    "pancreas",
  ];
  const opts = { ...vol, names, panelSize: 200 };
  const layout = previewLayout(opts);
  const img = segmentationPreview(opts);
  assert.deepEqual([img.width, img.height], [layout.width, layout.height]);
  await savePng(dir, "preview.png", img);

  const pix = layout.mmPerPixel;
  assert.equal(pix, 40 / 200); // the longest extent (x: 40 mm, z: 20 x 2 mm) spans 200 pixels
  const [axial, coronal, sagittal] = layout.panels;
  assert.deepEqual(layout.panels.map((p) => p.view), ["axial", "coronal", "sagittal"]);
  // Square pixels: extents in mm / mm per pixel.
  assert.deepEqual([axial.rect.w, axial.rect.h], [200, 150]);
  assert.deepEqual([coronal.rect.w, coronal.rect.h], [200, 200]);
  assert.deepEqual([sagittal.rect.w, sagittal.rect.h], [150, 200]);
  const [sx, sy, sz] = vol.spacing, [nx, ny, nz] = vol.dims;
  assert.deepEqual(
    [sagittal.slice, coronal.slice, axial.slice],
    chooseSlices(vol.labels, vol.dims),
  );

  // The pixel centre of a voxel index shown against its axis (radiological display, see preview.ts).
  const at = (n: number, idx: number, s: number) => Math.floor((n - 1 - idx + 0.5) * s / pix);
  const grey = Math.round(255 * (40 + 160) / 400);
  const blended = (l: number) => ORGAN_COLORS[l].map((c) => Math.round(grey * 0.55 + c * 0.45));
  const expectColor = (panel: typeof axial, col: number, row: number, l: number, what: string) =>
    assert.deepEqual(getPixel(img, panel.rect.x + col, panel.rect.y + row).slice(0, 3), blended(l), what);

  // Axial: liver (high i) on the image left, spleen (low i) on the right and below (posterior).
  assert.ok(axial.slice >= 6 && axial.slice < 14, "axial slice through liver and spleen");
  expectColor(axial, at(nx, 30, sx), at(ny, 15, sy), 3, "liver in axial");
  assert.ok(at(nx, 30, sx) < axial.rect.w / 2);
  expectColor(axial, at(nx, 7, sx), at(ny, 10, sy), 4, "spleen in axial");
  assert.ok(at(nx, 7, sx) > axial.rect.w / 2 && at(ny, 10, sy) > axial.rect.h / 2);
  // Coronal: superior up; the stomach (k 2..5) is low in the panel when the slice crosses it.
  expectColor(coronal, at(nx, 30, sx), at(nz, 10, sz), 3, "liver in coronal");
  // Sagittal through the liver: anterior (high j) on the left.
  assert.ok(sagittal.slice >= 24 && sagittal.slice < 38);
  expectColor(sagittal, at(ny, 20, sy), at(nz, 10, sz), 3, "liver in sagittal");
  // Outside the labels: plain windowed grey.
  assert.deepEqual(getPixel(img, axial.rect.x + at(nx, 20, sx), axial.rect.y + at(ny, 2, sy)).slice(0, 3), [
    grey,
    grey,
    grey,
  ]);
  // Outlines: opaque label colour at the liver's image-left edge (its highest i).
  assert.deepEqual(
    getPixel(img, axial.rect.x + at(nx, 37, sx) - Math.floor(sx / pix / 2), axial.rect.y + at(ny, 15, sy))
      .slice(0, 3),
    [...ORGAN_COLORS[3]],
  );

  // Legend: a box of each present label's colour, and text pixels below the panels.
  assert.deepEqual(layout.present, [3, 4, 5]);
  const legend = { x: 0, y: layout.legendY, w: img.width, h: img.height - layout.legendY };
  for (const l of [3, 4, 5]) assert.ok(countColor(img, ORGAN_COLORS[l], legend) >= 64, `legend box ${l}`);
  assert.equal(countColor(img, ORGAN_COLORS[7], legend), 0, "absent labels are not listed");
  assert.ok(countColor(img, [235, 235, 235], legend) > 50, "legend text");

  assert.throws(() => segmentationPreview({ ...opts, labels: new Uint8Array(5) }), RangeError);
  await cleanUp(dir);
});

/** Collects written text; `tty` decides what isTerminal says. */
function bufferWriter(tty: boolean): ProgressWriter & { text: () => string } {
  const parts: Uint8Array[] = [];
  return {
    writeSync(p: Uint8Array) {
      parts.push(p.slice());
      return p.length;
    },
    isTerminal: () => tty,
    text: () => new TextDecoder().decode(new Uint8Array(parts.flatMap((p) => [...p]))),
  };
}

Deno.test("Progress: plain lines off a terminal, silent when asked, a throttled bar on a terminal", () => {
  let t = 0;
  const now = () => t;

  const quiet = bufferWriter(false);
  const p0 = new Progress("quiet", 10, { writer: quiet, now, mode: "off" });
  for (let i = 0; i < 10; i++) p0.tick();
  p0.done();
  assert.equal(quiet.text(), "");
  const auto = bufferWriter(false);
  const pa = new Progress("auto", 10, { writer: auto, now });
  for (let i = 0; i < 10; i++) pa.tick();
  pa.done();
  assert.match(auto.text(), /auto: done 10\/10/);

  const log = bufferWriter(false);
  const p1 = new Progress("train", 100, { writer: log, now, mode: "lines" });
  for (let i = 0; i < 100; i++) {
    t += 100;
    p1.tick(1, `loss ${(1 / (i + 1)).toFixed(3)}`);
  }
  p1.done();
  const lines = log.text().trimEnd().split("\n");
  assert.equal(lines.length, 10, log.text()); // 10%..90%, then the final line
  assert.equal(lines[0], "train: 10/100 (10%), 10.00 it/s, elapsed 0:01, ETA 0:09, loss 0.100");
  assert.equal(lines[8], "train: 90/100 (90%), 10.00 it/s, elapsed 0:09, ETA 0:01, loss 0.011");
  assert.equal(lines[9], "train: done 100/100 (100%), 10.00 it/s, elapsed 0:10, loss 0.010");

  // Slow progress still logs at least every 30 s.
  const slow = bufferWriter(false);
  t = 0;
  const p2 = new Progress("epoch", 1000, { writer: slow, now, mode: "lines", unit: "batch" });
  for (let i = 0; i < 6; i++) {
    t += 20000;
    p2.tick();
  }
  const slowLines = slow.text().trimEnd().split("\n");
  assert.equal(slowLines.length, 3); // at 40 s, 80 s and 120 s
  assert.equal(slowLines[0], "epoch: 2/1000 (0%), 20.00 s/batch, elapsed 0:40, ETA 5:32:40");

  const term = bufferWriter(true);
  t = 0;
  const p3 = new Progress("infer", 1000, { writer: term, now, columns: 100 });
  for (let i = 0; i < 1000; i++) {
    t += 1;
    p3.tick();
  }
  p3.done();
  const frames = term.text().split("\r").filter((f) => f.length > 0);
  assert.ok(frames.length >= 10 && frames.length <= 13, `${frames.length} redraws in 1 s`);
  const last = frames[frames.length - 1];
  assert.ok(last.startsWith("infer 100% |####"), last);
  assert.ok(last.includes("1000/1000 [0:01<0:00, 1000 it/s]"), last);
  assert.ok(last.endsWith("\x1b[K\n"));
  assert.ok(frames.every((f) => f.replace("\x1b[K", "").trimEnd().length < 100), "fits the terminal");

  // Work done in an instant gets no rate (it would read as thousands of cases a second).
  const instant = bufferWriter(false);
  t = 0;
  const p4 = new Progress("cases", 1, { writer: instant, now, mode: "lines", unit: "case" });
  t += 2;
  p4.tick();
  p4.done();
  assert.equal(instant.text().trimEnd().split("\n").at(-1), "cases: done 1/1 (100%), elapsed 0:00");

  assert.equal(formatDuration(5), "0:05");
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(formatDuration(NaN), "?");
});

Deno.test("formatTable pads columns and right-aligns numbers", () => {
  const out = formatTable(
    ["organ", "voxels", "volume", "note"],
    [
      ["liver", 41692, "1125.7 mL", "big"],
      ["gallbladder", 1319, "35.6 mL", null],
      ["pancreas", 695, 18.765432, "small"],
    ],
  );
  assert.equal(
    out,
    [
      "organ        voxels     volume  note",
      "-----------  ------  ---------  -----",
      "liver         41692  1125.7 mL  big",
      "gallbladder    1319    35.6 mL",
      "pancreas        695    18.7654  small",
    ].join("\n"),
  );
  assert.equal(formatTable(["a", "b"], [["x", 1]], ["right", "left"]), "a  b\n-  -\nx  1");
  assert.throws(() => formatTable(["a"], [["x", "y"]]), RangeError);
});
