import assert from "node:assert/strict";
import { assertClose, randomData, rng, setupGpu } from "../_helpers.ts";
import type { Dispatch } from "../../src/gpu/runtime.ts";
import {
  augmentPairAuto,
  augmentPairGpu,
  forceVolumeKernelsOnGpu,
  normalizeHuGpu,
  resampleArrayGpu,
  resampleToGridAuto,
  resampleToSpacingAuto,
  resampleToSpacingGpu,
  volumeKernelsOnGpu,
  warpArrayGpu,
} from "../../src/volume/gpu.ts";
import { augmentPair, warpArray } from "../../src/volume/augment.ts";
import { invertAffine, multiplyAffine, scaleAffine } from "../../src/volume/affine.ts";
import { makeVolume, voxelCount } from "../../src/volume/grid.ts";
import { normalizeHu } from "../../src/volume/intensity.ts";
// The portable decoders, not src/io/: this file also runs in Chromium (web/test/kernels_test.ts).
import { decodeLabels, decodeNifti } from "../../src/volume/nifti-read.ts";
import {
  gridWithSpacing,
  type Interpolation,
  resampleArray,
  resampleToSpacing,
} from "../../src/volume/resample.ts";
import type { Vec3, VoxelArray } from "../../src/volume/types.ts";
import { randomLabels, SAMPLE_CT, SAMPLE_LABELS } from "./_synth.ts";

const g = await setupGpu();

/** Random float32 voxels in [-1000, 1000) (HU-like). */
function image(dims: Vec3, seed: number): Float32Array {
  return Float32Array.from(randomData(voxelCount(dims), seed, -1000, 1000));
}

/** Row-major 3x4 index map: rotation by angles (rad) about x, y, z, times per-axis scale, plus t. */
function rotationMap(angles: Vec3, scale: Vec3, t: Vec3): number[] {
  const [cx, sx, cy, sy, cz, sz] = angles.flatMap((a) => [Math.cos(a), Math.sin(a)]);
  const r = [
    [cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx],
    [sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx],
    [-sy, cy * sx, cy * cx],
  ];
  return [0, 1, 2].flatMap((row) => [...r[row].map((v, c) => v * scale[c]), t[row]]);
}

/** Counts the kernel launches of `entry` prefix made while `f` runs. */
async function countingLaunches<T>(
  prefix: string,
  f: () => Promise<T>,
): Promise<{ result: T; launches: number }> {
  const run = g.run;
  let launches = 0;
  g.run = (d: Dispatch) => {
    if (d.entry.startsWith(prefix)) launches++;
    run.call(g, d);
  };
  try {
    return { result: await f(), launches };
  } finally {
    g.run = run;
  }
}

/** Asserts GPU == CPU: exactly for nearest, relative error < 1e-5 for linear; prints the error line. */
function compare(name: string, mode: Interpolation, gpu: VoxelArray, cpu: VoxelArray): void {
  assert.equal(gpu.constructor, cpu.constructor, `${name}: array type`);
  assert.equal(gpu.length, cpu.length, `${name}: length`);
  if (mode === "nearest") {
    const bad = cpu.findIndex((v, i) => !Object.is(v, gpu[i]));
    assert.equal(bad, -1, `${name}: voxel ${bad}: GPU ${gpu[bad]}, CPU ${cpu[bad]}`);
    console.log(`error ${name}: mismatches 0 of ${cpu.length}`);
  } else {
    const e = assertClose(gpu, cpu, 1e-5, name);
    console.log(`error ${name}: forward ${e.toExponential(1)}`);
  }
}

/** Fraction of voxels equal to `fill`. */
function fillFraction(data: VoxelArray, fill: number): number {
  let n = 0;
  for (const v of data) if (v === fill) n++;
  return n / data.length;
}

const SRC: Vec3 = [13, 7, 9], DST: Vec3 = [10, 11, 6];

Deno.test("resampleArrayGpu = resampleArray on a rotated, scaled map: linear and nearest, with and without fill", async () => {
  const map = rotationMap([0.3, -0.5, 0.7], [1.3, 0.9, 1.7], [4.1, -1.3, 2.2]);
  const img = image(SRC, 1), lab = randomLabels(voxelCount(SRC), 8, 2);
  for (const fill of [undefined, -2048]) {
    for (const [mode, data] of [["linear", img], ["nearest", img], ["nearest", lab]] as const) {
      const f = fill !== undefined && data === lab ? 255 : fill;
      const cpu = resampleArray(data, SRC, DST, map, mode, f);
      const gpu = await resampleArrayGpu(data, SRC, DST, map, mode, f);
      if (f !== undefined) {
        const frac = fillFraction(cpu, f);
        assert.ok(frac > 0.1 && frac < 0.9, `the map should put part of the output outside (${frac})`);
      }
      const what = data === lab ? "uint8" : "float32";
      compare(
        `resample ${mode} ${what} rotated ${SRC.join("x")}->${DST.join("x")} fill ${f}`,
        mode,
        gpu,
        cpu,
      );
    }
  }
});

Deno.test("axis-aligned maps use the CPU's own decisions: exact at .5 ties, extent edges, float64 noise, permutations", async () => {
  const img = image(SRC, 3), lab = randomLabels(voxelCount(SRC), 8, 4);
  const third = 1 / 3;
  const maps: [string, number[]][] = [
    // every other output voxel is a .5 tie
    ["halving", [0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0]],
    // points exactly on the extent's edges (-0.5 and n - 0.5) and ties at the CPU's rounding noise
    ["thirds from -0.5", [third, 0, 0, -0.5, 0, 0.7, 0, -0.5, 0, 0, 1.7, -0.5]],
    ["decimal steps", [0.1 * 13, 0, 0, -0.3, 0, 0.3, 0, 0.1, 0, 0, 0.7, 0.2]],
    // input x from the output row, input y from the column (a transposition with a flip)
    ["permuted", [0, -1.1, 0, 12.5, 0.7, 0, 0, -0.5, 0, 0, 1.5, -0.5]],
    // the map resampleToGrid builds for a new spacing
    [
      "grid",
      (() => {
        const a = [-1.5, 0, 0, 40, 0, 2, 0, -12, 0, 0, 3, 7.5, 0, 0, 0, 1];
        return multiplyAffine(
          invertAffine(a),
          gridWithSpacing({ dims: SRC, affine: a }, [0.9, 1.4, 4.5]).affine,
        )
          .slice(0, 12);
      })(),
    ],
  ];
  for (const [name, map] of maps) {
    for (const fill of [undefined, 7]) {
      for (const [mode, data] of [["linear", img], ["nearest", img], ["nearest", lab]] as const) {
        const cpu = resampleArray(data, SRC, DST, map, mode, fill);
        const gpu = await resampleArrayGpu(data, SRC, DST, map, mode, fill);
        compare(
          `resample ${mode} ${data === lab ? "uint8" : "float32"} ${name} fill ${fill}`,
          mode,
          gpu,
          cpu,
        );
      }
    }
  }
});

Deno.test("general maps: nearest differs from the CPU only at exact ties that float64 noise decides", async () => {
  // Decimal coefficients put many points exactly on .5 ties and extent edges; the CPU's float64
  // accumulation lands them a hair either side.
  const map = [0.8, 0.3, 0.1, -1, -0.2, 0.7, 0.05, 0.5, 0.1, -0.1, 1.3, -0.7];
  const lab = randomLabels(voxelCount(SRC), 250, 5);
  for (const fill of [undefined, 255]) {
    const cpu = resampleArray(lab, SRC, DST, map, "nearest", fill);
    const gpu = await resampleArrayGpu(lab, SRC, DST, map, "nearest", fill);
    let mismatches = 0;
    for (let k = 0, n = 0; k < DST[2]; k++) {
      for (let j = 0; j < DST[1]; j++) {
        for (let i = 0; i < DST[0]; i++, n++) {
          if (cpu[n] === gpu[n]) continue;
          mismatches++;
          const p = [0, 1, 2].map((a) =>
            map[4 * a] * i + map[4 * a + 1] * j + map[4 * a + 2] * k + map[4 * a + 3]
          );
          const nearTie = p.some((x) => Math.abs(x - Math.floor(x) - 0.5) < 1e-9);
          assert.ok(nearTie, `voxel ${i},${j},${k} at ${p}: GPU ${gpu[n]}, CPU ${cpu[n]}, not at a tie`);
        }
      }
    }
    assert.ok(mismatches < cpu.length / 5);
    console.log(
      `resample nearest decimal map fill ${fill}: ${mismatches} of ${cpu.length} voxels at exact ties differ`,
    );
  }
  // The same map moved off the ties by an irrational offset matches exactly.
  const off = map.map((v, i) => (i % 4 === 3 ? v + Math.SQRT2 / 100 : v));
  compare(
    "resample nearest uint8 decimal map off ties",
    "nearest",
    await resampleArrayGpu(lab, SRC, DST, off, "nearest", 255),
    resampleArray(lab, SRC, DST, off, "nearest", 255),
  );
});

Deno.test("slabs: a small binding splits the output and uploads only the input slices each slab reads", async () => {
  const src: Vec3 = [23, 19, 31], dst: Vec3 = [21, 17, 33];
  const img = image(src, 6), lab = randomLabels(voxelCount(src), 8, 7);
  const maps: [string, number[]][] = [
    ["rotated", rotationMap([0.05, -0.08, 0.1], [1.05, 1.1, 0.9], [0.7, -0.4, 0.3])],
    ["aligned", [1.1, 0, 0, -0.5, 0, 1.1, 0, 0, 0, 0, 0.95, 0.25]],
  ];
  for (const [name, map] of maps) {
    for (const fill of [undefined, 9]) {
      for (const [mode, data] of [["linear", img], ["nearest", img], ["nearest", lab]] as const) {
        const cpu = resampleArray(data, src, dst, map, mode, fill);
        // 16 KiB: 9 input slices of float32, 195 output rows.
        const { result, launches } = await countingLaunches(
          "resample",
          () => resampleArrayGpu(data, src, dst, map, mode, fill, { maxBytes: 16384 }),
        );
        assert.ok(launches >= 2, `${name}: ${launches} slabs`);
        compare(
          `resample ${mode} ${data === lab ? "uint8" : "float32"} ${name} in ${launches} slabs`,
          mode,
          result,
          cpu,
        );
      }
    }
  }
});

Deno.test("an output row that reads more input than a binding holds falls back to the CPU", async () => {
  const img = image(SRC, 8);
  // Input z follows the output column: every row reads all 9 input slices (3276 bytes).
  const map = [0, 1, 0, 0, 0, 0, 1, 0, 0.8, 0, 0, 0];
  const { result, launches } = await countingLaunches(
    "resample",
    () => resampleArrayGpu(img, SRC, DST, map, "linear", undefined, { maxBytes: 2048 }),
  );
  assert.equal(launches, 0);
  assert.deepEqual(result, resampleArray(img, SRC, DST, map, "linear"));
  const gpu = await resampleArrayGpu(img, SRC, DST, map, "linear");
  compare(
    "resample linear float32 column-to-z map",
    "linear",
    gpu,
    resampleArray(img, SRC, DST, map, "linear"),
  );
});

/** A random sampling field over `count` voxels for an input of `dims`: uniform over the extent plus
 * 2 voxels each side, with exact .5 ties, extent edges and their float32 neighbours mixed in. */
function randomField(count: number, dims: Vec3, seed: number): Float32Array {
  const r = rng(seed), field = new Float32Array(3 * count);
  for (let v = 0; v < count; v++) {
    for (let a = 0; a < 3; a++) {
      const n = dims[a], u = r();
      const special = [-0.5, n - 0.5, Math.floor(u * n) + 0.5, Math.floor(u * n), 0.49999997, -0.50000006];
      const x = u < 0.3 ? special[Math.floor(r() * special.length)] : -2.5 + r() * (n + 4);
      field[3 * v + a] = u < 0.15 ? nextFloat32(x, r() < 0.5 ? -1 : 1) : x;
    }
  }
  return field;
}

/** The float32 next to x in direction `dir`. */
function nextFloat32(x: number, dir: number): number {
  const f = new Float32Array([x]), u = new Int32Array(f.buffer);
  if (f[0] === 0) return dir * 1e-45;
  u[0] += (f[0] > 0) === (dir > 0) ? 1 : -1;
  return f[0];
}

/** Near-identity field on `dims`: each voxel's own index plus up to 2 voxels in each direction. */
function smoothField(dims: Vec3, seed: number): Float32Array {
  const r = rng(seed), field = new Float32Array(3 * voxelCount(dims));
  for (let k = 0, o = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++) [i, j, k].forEach((p) => field[o++] = p - 2 + 4 * r());
    }
  }
  return field;
}

Deno.test("warpArrayGpu = warpArray on random fields with points outside, ties and edges; in slabs", async () => {
  const img = image(SRC, 9), lab = randomLabels(voxelCount(SRC), 8, 10);
  const cases = [
    { name: "random", field: randomField(5 * 6 * 11, SRC, 11), opts: {} },
    { name: "smooth", field: smoothField(SRC, 12), opts: {} },
    // 2 KiB: 170 field voxels, 5 input slices of float32
    { name: "smooth", field: smoothField(SRC, 12), opts: { maxBytes: 2048 } },
  ];
  for (const { name, field, opts } of cases) {
    for (const fill of [undefined, -3]) {
      for (const [mode, data] of [["linear", img], ["nearest", img], ["nearest", lab]] as const) {
        const cpu = warpArray(data, SRC, field, mode, fill);
        const { result, launches } = await countingLaunches(
          "warp",
          () => warpArrayGpu(data, SRC, field, mode, fill, opts),
        );
        if (opts.maxBytes) assert.ok(launches >= 5, `${launches} slabs`);
        if (fill !== undefined && name === "random") {
          const frac = fillFraction(cpu, data === lab ? 253 : fill);
          assert.ok(frac > 0.1 && frac < 0.9, `part of the field should lie outside (${frac})`);
        }
        const what = `${data === lab ? "uint8" : "float32"} ${name} field fill ${fill}`;
        compare(`warp ${mode} ${what}${opts.maxBytes ? ` in ${launches} slabs` : ""}`, mode, result, cpu);
      }
    }
  }
});

Deno.test("augmentPairGpu = augmentPair", async () => {
  const dims: Vec3 = [20, 17, 12], affine = scaleAffine([0.8, 1.1, 2.5]);
  const image = makeVolume(Float32Array.from(randomData(voxelCount(dims), 12)), dims, affine);
  const labels = makeVolume(randomLabels(voxelCount(dims), 8, 13), dims, affine);
  const cpu = augmentPair(image, labels, 14, { controlSpacing: 8, maxRotationDeg: 15 });
  const gpu = await augmentPairGpu(image, labels, 14, { controlSpacing: 8, maxRotationDeg: 15 });
  compare("augmentPair image", "linear", gpu.image.data, cpu.image.data);
  compare("augmentPair labels", "nearest", gpu.labels.data, cpu.labels.data);
  assert.deepEqual(gpu.labels.affine, cpu.labels.affine);
});

Deno.test("normalizeHuGpu = normalizeHu, NaN and infinities included, in one piece and in chunks", async () => {
  const data = Float32Array.from(randomData(1001, 15, -3000, 3000));
  data.set([NaN, Infinity, -Infinity, -1000, 1000, 0, -200, 300], 17);
  for (const window of [undefined, { min: -200, max: 300 }, { min: -160.5, max: 240.25 }]) {
    for (const opts of [{}, { maxBytes: 256 }]) {
      const cpu = normalizeHu(data, window), gpu = await normalizeHuGpu(data, window, opts);
      assert.deepEqual([...gpu].map(Number.isNaN), [...cpu].map(Number.isNaN));
      const e = assertClose(
        gpu.map((v) => (Number.isNaN(v) ? 0 : v)),
        cpu.map((v) => (Number.isNaN(v) ? 0 : v)),
        1e-5,
      );
      const w = window ? `[${window.min}, ${window.max}]` : "default";
      console.log(
        `error normalizeHu ${w}${opts.maxBytes ? " in chunks" : ""}: forward ${e.toExponential(1)}`,
      );
    }
  }
});

Deno.test("bad input: linear on labels, wrong voxel counts, odd fields, empty windows", async () => {
  const lab = randomLabels(voxelCount(SRC), 8, 16), map = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
  await assert.rejects(() => resampleArrayGpu(lab, SRC, DST, map, "linear"), TypeError);
  await assert.rejects(
    () => resampleArrayGpu(new Float32Array(10), SRC, DST, map, "linear"),
    /data has 10 voxels/,
  );
  await assert.rejects(
    () => resampleArrayGpu(new Float32Array(819), SRC, DST, [1, 0, 0], "linear"),
    RangeError,
  );
  await assert.rejects(() => warpArrayGpu(lab, SRC, new Float32Array(6), "linear"), TypeError);
  await assert.rejects(() => warpArrayGpu(lab, SRC, new Float32Array(7), "nearest"), /3 numbers per voxel/);
  await assert.rejects(() => normalizeHuGpu(new Float32Array(4), { min: 5, max: 5 }), RangeError);
});

Deno.test("the Auto versions run on the GPU or the CPU as volumeKernelsOnGpu says, with the same results", async () => {
  const dims: Vec3 = [14, 9, 11], affine = [0, 0, 1.5, -3, -0.8, 0, 0, 7, 0, 1.2, 0, 2, 0, 0, 0, 1];
  const image = makeVolume(Float32Array.from(randomData(voxelCount(dims), 17)), dims, affine);
  const labels = makeVolume(randomLabels(voxelCount(dims), 8, 18), dims, affine);
  assert.equal(await volumeKernelsOnGpu(), !g.isFallback);
  const results = [];
  for (const on of [true, false]) {
    forceVolumeKernelsOnGpu(on);
    try {
      const { result, launches } = await countingLaunches("", async () => ({
        image: await resampleToSpacingAuto(image, [0.7, 1.1, 0.9], "linear"),
        labels: await resampleToGridAuto(labels, gridWithSpacing(labels, [0.7, 1.1, 0.9]), "nearest"),
        pair: await augmentPairAuto(image, labels, 19, { controlSpacing: 4 }),
      }));
      assert.equal(launches > 0, on);
      results.push(result);
    } finally {
      forceVolumeKernelsOnGpu(undefined);
    }
  }
  const [gpu, cpu] = results;
  compare("resampleToSpacingAuto", "linear", gpu.image.data, cpu.image.data);
  compare("resampleToGridAuto", "nearest", gpu.labels.data, cpu.labels.data);
  compare("augmentPairAuto image", "linear", gpu.pair.image.data, cpu.pair.image.data);
  compare("augmentPairAuto labels", "nearest", gpu.pair.labels.data, cpu.pair.labels.data);
});

Deno.test("sample CT from 3 mm to 1.5 mm: GPU = CPU, and the times of both", async () => {
  const ct = await decodeNifti(await Deno.readFile(SAMPLE_CT), SAMPLE_CT);
  const labels = await decodeLabels(await Deno.readFile(SAMPLE_LABELS), SAMPLE_LABELS);
  const spacing: Vec3 = [1.5, 1.5, 1.5];
  // Compiles the pipelines the big calls use (same axis modes), so that the times leave that out.
  const half = [0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0];
  await resampleArrayGpu(new Float32Array(8), [2, 2, 2], [3, 3, 3], half, "linear");
  await resampleArrayGpu(new Uint8Array(8), [2, 2, 2], [3, 3, 3], half, "nearest");
  g.poison = false; // times without the tests' NaN-filling of every new buffer
  try {
    for (const [what, vol, mode] of [["CT", ct, "linear"], ["labels", labels, "nearest"]] as const) {
      let t = performance.now();
      const cpu = resampleToSpacing<VoxelArray>(vol, spacing, mode);
      const cpuMs = performance.now() - t;
      const gpuMs: number[] = [];
      for (let rep = 0; rep < 2; rep++) {
        t = performance.now();
        const gpu = await resampleToSpacingGpu<VoxelArray>(vol, spacing, mode);
        gpuMs.push(performance.now() - t);
        assert.deepEqual(gpu.dims, cpu.dims);
        compare(
          `resample sample ${what} ${mode} 3 mm -> 1.5 mm (${cpu.dims.join("x")})`,
          mode,
          gpu.data,
          cpu.data,
        );
      }
      console.log(
        `time ${what} 3 -> 1.5 mm: CPU ${cpuMs.toFixed(0)} ms; GPU (${g.adapterName}) first call ` +
          `${gpuMs[0].toFixed(0)} ms, again ${gpuMs[1].toFixed(0)} ms`,
      );
    }
  } finally {
    g.poison = true;
  }
});
