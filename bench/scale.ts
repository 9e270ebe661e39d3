/**
 * How segment and train scale (bench/RESULTS.md, "Scale"):
 * - segment: time and peak memory against CT size: the sample CT (1.4 M voxels), a full-size
 *   512x512x300 made by resampling it (the same field of view at about 0.7 x 0.6 x 1.1 mm), and a
 *   long 512x512x1000 scan (that one continued along the body axis by mirroring, 3.3 times as long);
 * - train (stage 1): preparation time, peak memory and first-iteration latency with 1, 8 and 32
 *   full-size cases (the resampled CT and its labels, hard-linked under 32 names), on an empty cache
 *   and again on the filled one; with `--old DIR` (a checkout of the code before the cache) also the
 *   old behaviour. Each run is stopped once its first iteration is done.
 * Each run is a separate process under GNU time (peak resident memory; on the software adapter the
 * "GPU" memory is host memory, so it is included). The load average is recorded with each run.
 *
 * - a batch of three full-size CTs in one process, with and without reading the next CT ahead.
 *
 *   deno run -A bench/scale.ts [--work DIR] [--only segment|train|prefetch] [--cases 1,8,32] [--old DIR]
 */
import { parseArgs } from "node:util";
import { readLabels, readNifti, writeNifti } from "../src/io/volumes.ts";
import { gridWithSpacing, resampleToGrid } from "../src/volume/resample.ts";
import { spacingOf } from "../src/volume/affine.ts";
import type { Vec3, Volume } from "../src/volume/types.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    work: { type: "string", default: "/tmp/scale-bench" },
    only: { type: "string" },
    cases: { type: "string", default: "1,8,32" },
    old: { type: "string" },
    json: { type: "string" },
  },
});
const WORK = values.work!;
await Deno.mkdir(WORK, { recursive: true });

const loadavg = async () => (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** A volume resampled onto `dims` over the same field of view. */
function resampled<T extends Float32Array | Uint8Array>(
  v: Volume<T>,
  dims: Vec3,
  mode: "linear" | "nearest",
) {
  const old = spacingOf(v.affine);
  const spacing = [0, 1, 2].map((a) => (old[a] * v.dims[a]) / dims[a]) as Vec3;
  const grid = gridWithSpacing(v, spacing);
  return resampleToGrid(v, grid, mode);
}

/** The volume continued along z to `nz` slices by mirroring (0..n-1, n-1..0, ...). */
function lengthened<T extends Float32Array | Uint8Array>(
  v: Volume<T>,
  nz: number,
): Volume<T> {
  const [nx, ny, n] = v.dims, plane = nx * ny;
  const data = new (v.data.constructor as { new (n: number): T })(plane * nz);
  for (let z = 0; z < nz; z++) {
    const k = z % (2 * n), src = k < n ? k : 2 * n - 1 - k;
    data.set(v.data.subarray(src * plane, (src + 1) * plane), z * plane);
  }
  return { dims: [nx, ny, nz], affine: v.affine, spacing: v.spacing, data };
}

const SAMPLE = `${ROOT}data/abdomen-ct-a.nii.gz`;
const FULL = `${WORK}/full-512x512x300.nii.gz`,
  FULL_LABELS = `${WORK}/full-512x512x300.labels.nii.gz`;
const LONG = `${WORK}/long-512x512x1000.nii.gz`;

async function makeData(): Promise<void> {
  if (await exists(LONG)) return;
  console.log("making the full-size and long CTs ...");
  const ct = await readNifti(SAMPLE),
    labels = await readLabels(`${ROOT}data/abdomen-ct-a.labels.nii.gz`);
  const full = resampled(ct, [512, 512, 300], "linear");
  await writeNifti(FULL, full, { datatype: "int16" });
  await writeNifti(FULL_LABELS, resampled(labels, [512, 512, 300], "nearest"));
  await writeNifti(LONG, lengthened(full, 1000), { datatype: "int16" });
}

/**
 * One process under GNU time: wall seconds, peak RSS, and each output line with its time. With
 * `stopAt`, the process is killed at the first line that matches (peak RSS is then the peak until then).
 */
async function timed(
  args: string[],
  opts: { cwd?: string; stopAt?: RegExp } = {},
) {
  const timeFile = await Deno.makeTempFile();
  const load = await loadavg();
  const t0 = performance.now();
  const child = new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M %e %U %S", "-o", timeFile, Deno.execPath(), ...args],
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: { t: number; line: string }[] = [];
  let stopped = false;
  const stop = async () => {
    // GNU time's child is deno: kill it, and time reports what it used until then
    stopped = true;
    const kids = await Deno.readTextFile(
      `/proc/${child.pid}/task/${child.pid}/children`,
    );
    for (const pid of kids.trim().split(/\s+/).filter(Boolean)) {
      Deno.kill(Number(pid), "SIGKILL");
    }
  };
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push({ t: (performance.now() - t0) / 1000, line });
        if (opts.stopAt?.test(line) && !stopped) await stop();
      }
    }
  };
  const [status] = await Promise.all([
    child.status,
    collect(child.stdout),
    collect(child.stderr),
  ]);
  const last = (await Deno.readTextFile(timeFile)).trim().split("\n").at(-1)!;
  const [kb, wall, user, sys] = last.split(" ").map(Number);
  await Deno.remove(timeFile);
  if (!status.success && !stopped) {
    throw new Error(
      `${args.join(" ")} failed:\n${lines.map((l) => l.line).join("\n")}`,
    );
  }
  // CPU seconds (all threads, the software adapter's included) vary less with other work than wall time
  return { wall, cpu: user + sys, peakMiB: kb / 1024, lines, load };
}

const results: Record<string, unknown[]> = { segment: [], train: [] };

async function benchSegment(): Promise<void> {
  for (
    const [name, path] of [["sample", SAMPLE], ["512x512x300", FULL], [
      "512x512x1000",
      LONG,
    ]]
  ) {
    const ct = await readNifti(path);
    const voxels = ct.data.length;
    const json = `${WORK}/segment-${name}.json`;
    const r = await timed([
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `${ROOT}cli/segment.ts`,
      path,
      "-o",
      `${WORK}/segment-${name}.seg.nii.gz`,
      "--json",
      json,
      "--progress",
      "off",
    ]);
    const report = JSON.parse(await Deno.readTextFile(json));
    const row = {
      name,
      dims: ct.dims,
      voxels,
      wall: r.wall,
      cpu: r.cpu,
      peakMiB: r.peakMiB,
      seconds: report.seconds,
      load: r.load,
    };
    console.log(JSON.stringify(row));
    results.segment.push(row);
  }
}

/** A data folder with `n` full-size cases (hard links to one CT and its labels). */
async function dataDir(n: number): Promise<string> {
  const dir = `${WORK}/train-${n}`;
  if (await exists(dir)) return dir;
  await Deno.mkdir(dir);
  for (let i = 0; i < n; i++) {
    const id = `case${String(i).padStart(3, "0")}`;
    await Deno.link(FULL, `${dir}/${id}.nii.gz`);
    await Deno.link(FULL_LABELS, `${dir}/${id}.labels.nii.gz`);
  }
  return dir;
}

/** Seconds at the first output line matching `re`. */
function at(lines: { t: number; line: string }[], re: RegExp): number | null {
  return lines.find((l) => re.test(l.line))?.t ?? null;
}

async function trainRun(n: number, code: string, run: string, extra: string[]) {
  const data = await dataDir(n);
  const out = `${WORK}/model-${n}-${run}`;
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const r = await timed([
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-ffi",
    `${code}/cli/train.ts`,
    "--data",
    data,
    "--out",
    out,
    "--stage",
    "1",
    "--iterations",
    "1",
    "--progress",
    "lines",
    ...extra,
  ], { stopAt: /^stage 1: done 1\/1/ }); // the validation that follows is not what is measured here
  // preparation ends when the stage announces its cases; the first iteration when its bar finishes
  const prepared = at(r.lines, /^stage 1: \d+ training case/);
  const first = at(r.lines, /^stage 1: done 1\/1/);
  const started = at(r.lines, /^preparing|^stage 1: preparing/) ??
    at(r.lines, /^adapter:/);
  const row = {
    cases: n,
    run,
    wall: r.wall,
    cpu: r.cpu,
    peakMiB: r.peakMiB,
    preparation: prepared !== null && started !== null ? prepared - started : null,
    firstIteration: first,
    load: r.load,
  };
  console.log(JSON.stringify(row));
  results.train.push(row);
}

async function benchTrain(): Promise<void> {
  for (const n of values.cases!.split(",").map(Number)) {
    const cache = `${WORK}/cache-${n}`;
    await Deno.remove(cache, { recursive: true }).catch(() => {});
    await trainRun(n, ROOT.replace(/\/$/, ""), "first", ["--cache", cache]);
    await trainRun(n, ROOT.replace(/\/$/, ""), "cached", ["--cache", cache]);
    if (values.old) {
      await trainRun(n, values.old, "before the cache", []);
    }
  }
}

/**
 * A batch of three full-size CTs in this process, stage 1 only (so that reading is a visible share),
 * with and without reading the next case ahead: the time the batch waited for each CT, and in all.
 */
async function benchPrefetch(): Promise<void> {
  const { startGpu } = await import("../src/io/gpu.ts");
  const { loadCascade, DEMO_MODEL_DIR } = await import("../src/io/models.ts");
  const { discoverCases } = await import("../src/io/inputs.ts");
  const { planBatch, runBatch } = await import("../src/io/batch.ts");
  await startGpu();
  const { stage1 } = await loadCascade(DEMO_MODEL_DIR, { stage1Only: true });
  const dir = `${WORK}/batch`;
  await Deno.mkdir(dir, { recursive: true });
  for (let i = 0; i < 3; i++) {
    if (!(await exists(`${dir}/ct${i}.nii.gz`))) {
      await Deno.link(FULL, `${dir}/ct${i}.nii.gz`);
    }
  }
  const cases = await discoverCases([dir]);
  for (const prefetch of [false, true]) {
    const out = await Deno.makeTempDir({ dir: WORK });
    const load = await loadavg();
    const t0 = performance.now();
    const waits: number[] = [];
    await runBatch(await planBatch(cases, out), {
      stage1,
      stage2: null,
      prefetch,
      onRecord: (r) => waits.push(Math.round(r.seconds!.read * 100) / 100),
    });
    const row = {
      prefetch,
      cases: cases.length,
      seconds: (performance.now() - t0) / 1000,
      readWaits: waits,
      load,
    };
    console.log(JSON.stringify(row));
    (results.prefetch ??= []).push(row);
    await Deno.remove(out, { recursive: true });
  }
}

await makeData();
if (!values.only || values.only === "segment") await benchSegment();
if (!values.only || values.only === "train") await benchTrain();
if (!values.only || values.only === "prefetch") await benchPrefetch();
const file = values.json ?? `${WORK}/scale-results.json`;
await Deno.writeTextFile(
  file,
  JSON.stringify({ date: new Date().toISOString(), ...results }, null, 2) +
    "\n",
);
console.log(`results: ${file}`);
