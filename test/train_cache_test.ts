// The training cache and the working set, on crops of the sample CT (a real scan; its labels come from
// another model, TotalSegmentator, not from people): entries hold what the in-memory preparation
// computes, a case is prepared once and again only when its files, labels or the preset change,
// training holds a bounded number of cases whatever their number and still resumes exactly, and
// deno task prepare fills the cache in shards.
import assert from "node:assert/strict";
import { setupGpu } from "./_helpers.ts";
import { canSpawn, runCli } from "./_cli.ts";
import { cropBox, SAMPLE, writeSmallCts } from "./_fixtures.ts";
import type { CascadePreset } from "../src/cascade/presets.ts";
import { candidateC1, labelsOnGrid, stageGridHu, stageVolume } from "../src/cascade/prepare.ts";
import { FAST_UNET } from "../src/nn/unet3d.ts";
import { listCases, readCase } from "../src/io/dataset.ts";
import { readNifti, writeNifti } from "../src/io/volumes.ts";
import { FileWriteError } from "../src/io/atomic.ts";
import { CacheError, decodeEntry, encodeEntry, gridSpecOf, TrainingCache } from "../src/train/cache.ts";
import { trainCascade } from "../src/train/cascade.ts";
import { addDiceCounts, diceFromCounts, dicePerLabel, emptyDiceCounts } from "../src/train/dice.ts";
import { stageFiles } from "../src/train/loop.ts";
import { readMetrics } from "../src/train/metrics.ts";
import { defaultCacheDir, prepareGrids } from "../src/train/prepare.ts";
import { trainingVolume } from "../src/train/sampler.ts";
import { memoryStore, WorkingSet } from "../src/train/working-set.ts";
import { cropVolume } from "../src/volume/bbox.ts";
import { Rng } from "../src/util/random.ts";

await setupGpu();

const unet = { ...FAST_UNET, baseChannels: 4, levels: 2 };
const HU = { min: -1000, max: 1000 };
const settings = {
  iterations: 6,
  batch: 1,
  optimizer: "adam" as const,
  lr: 1e-2,
  validateEvery: 3,
  foregroundFraction: 0.5,
  classWeights: "paper" as const,
};
const preset: CascadePreset = {
  name: "test",
  stages: [
    { stage: 1, spacing: [6, 6, 6], patch: [16, 16, 16], unet, hu: HU },
    { stage: 2, spacing: [3, 3, 3], patch: [16, 16, 16], unet, hu: HU, c2MarginMm: 9 },
  ],
  train: [settings, settings],
};

Deno.test("cache entries: F32 and U8 tensors as safetensors, read back as views; damage is named", () => {
  const image = Float32Array.from([1.5, -2, 3]), labels = Uint8Array.from([0, 7, 3, 1, 2]);
  const bytes = encodeEntry({ labels, image }, { id: "a", version: "1" });
  const { arrays, meta } = decodeEntry(bytes, "e.safetensors");
  assert.deepEqual(arrays.image, image);
  assert.deepEqual(arrays.labels, labels);
  assert.equal(arrays.image.buffer, bytes.buffer, "a view, not a copy");
  assert.equal(meta.id, "a");
  assert.throws(
    () => decodeEntry(bytes.subarray(0, bytes.length - 1), "e.safetensors"),
    (e) =>
      e instanceof CacheError &&
      /e\.safetensors: tensor labels is damaged or truncated \(delete it/.test(e.message),
  );
});

Deno.test("a cache entry whose metadata holds non-ASCII paths keeps its float tensors aligned", () => {
  const image = Float32Array.from([1, 2, 3]), labels = Uint8Array.from([4, 5]);
  // "é", "ü" and "ö" take two UTF-8 bytes each: a header padded by its UTF-16 length ends 3 bytes short
  const bytes = encodeEntry({ labels, image }, { id: "/data/josé/ü-ö.nii.gz", version: "1" });
  const { arrays, meta } = decodeEntry(bytes, "e.safetensors");
  assert.deepEqual(arrays.image, image);
  assert.deepEqual(arrays.labels, labels);
  assert.equal(meta.id, "/data/josé/ü-ö.nii.gz");
});

Deno.test("a case is prepared once; a changed image, label map, remap or preset is prepared again, and nothing else", async () => {
  const data = await Deno.makeTempDir();
  await writeSmallCts(data, 3, { labels: true });
  const cases = await listCases(data);
  const cache = await TrainingCache.open(defaultCacheDir(data));
  const grids = [gridSpecOf(preset.stages[0]), gridSpecOf(preset.stages[1])];
  const pass = async (g = grids, remap?: Map<number, number>) => {
    const prepared: string[] = [];
    const files = await prepareGrids(cache, await listCases(data), g, {
      remap,
      onCase: (_d, _t, id, work) => work && prepared.push(id),
    });
    return { prepared, files };
  };
  const first = await pass();
  assert.deepEqual(first.prepared, ["ct0", "ct1", "ct2"]);

  // what an entry holds is what preparing in memory gives
  const { image, labels } = await readCase(cases[1]);
  const hu = await stageGridHu(image, preset.stages[0]);
  const entry = await cache.loadGrid(first.files[1][0]);
  assert.deepEqual(entry.image, stageVolume(hu, preset.stages[0]).image);
  assert.deepEqual(entry.labels, await labelsOnGrid(labels, hu));
  assert.deepEqual(entry.c1, candidateC1(hu));
  assert.deepEqual([entry.dims, entry.spacing, entry.affine], [hu.dims, hu.spacing, hu.affine]);
  assert.equal((await cache.loadGrid(first.files[1][1])).c1, null, "no C1 on stage 2's grid");

  cache.hashSeconds = 0;
  const again = await pass();
  assert.deepEqual(again.prepared, []);
  assert.deepEqual(again.files, first.files);
  assert.equal(cache.hashSeconds, 0, "known files are not read again");

  // a new image for ct1 (another crop); the same bytes rewritten for ct2's labels (new mtime)
  const ct = await readNifti(SAMPLE);
  const edited = cropVolume(ct, cropBox(1));
  edited.data[0] += 1;
  await writeNifti(`${data}/ct1.nii.gz`, edited);
  await Deno.writeFile(`${data}/ct2.labels.nii.gz`, await Deno.readFile(`${data}/ct2.labels.nii.gz`));
  const changed = await pass();
  assert.deepEqual(changed.prepared, ["ct1"]);
  assert.ok(cache.hashSeconds > 0, "changed stamps are hashed again");
  assert.deepEqual(changed.files[0], first.files[0]);
  assert.notDeepEqual(changed.files[1], first.files[1]);
  assert.deepEqual(changed.files[2], first.files[2]);

  assert.deepEqual((await pass(grids, new Map([[3, 3], [4, 4]]))).prepared, ["ct0", "ct1", "ct2"], "remap");
  const coarser = [{ ...grids[0], spacing: [9, 9, 9] as [number, number, number] }];
  assert.deepEqual((await pass(coarser)).prepared, ["ct0", "ct1", "ct2"], "preset");
  assert.deepEqual((await pass()).prepared, [], "the old entries are still there");
});

Deno.test("a cache folder that cannot be made is named in one line, with the way out", async () => {
  const file = await Deno.makeTempFile();
  await assert.rejects(
    () => TrainingCache.open(`${file}/cache`),
    (e) =>
      e instanceof FileWriteError && e.message.startsWith(`${file}/cache: cannot write: `) &&
      /--cache DIR/.test(e.message) && !e.message.includes("\n"),
  );
});

/** A volume of 8 voxels standing for case `id`. */
function toyVolume(id: number) {
  const v = trainingVolume(
    `c${id}`,
    { image: new Float32Array(8).fill(id), dims: [2, 2, 2], spacing: [1, 1, 1], affine: [] },
    Uint8Array.from([0, 1, 0, 2, 0, 0, 3, id % 8]),
    new Uint8Array(8).fill(1),
  );
  return v;
}

Deno.test("the working set: bounded, deterministic per iteration, every case visited, all cases when they fit", async () => {
  const volumes = Array.from({ length: 7 }, (_, i) => toyVolume(i));
  const store = memoryStore(volumes);
  const opts = { size: 3, refreshEvery: 2, seed: 4, stage: 1 };
  const ws = new WorkingSet(store, opts), twin = new WorkingSet(store, opts);
  const seen = new Set<number>();
  for (let it = 0; it < 60; it++) {
    const cases = ws.casesAt(it);
    assert.equal(cases.length, 3);
    assert.deepEqual(twin.casesAt(it), cases, "the same set for the same iteration");
    const vs = await ws.volumesAt(it);
    assert.deepEqual(vs.map((v) => v.id), cases.map((i) => `c${i}`));
    cases.forEach((i) => seen.add(i));
    if (it % 2 === 1) {
      assert.deepEqual(ws.casesAt(it + 1).slice(0, 2), cases.slice(1), "one case replaced per window");
    }
  }
  assert.ok(ws.peak <= 4, `peak ${ws.peak}`);
  assert.equal(seen.size, 7);
  assert.notDeepEqual(new WorkingSet(store, { ...opts, seed: 5 }).casesAt(0), ws.casesAt(0));
  const all = new WorkingSet(store, { ...opts, size: 7 });
  assert.deepEqual(all.casesAt(123), [0, 1, 2, 3, 4, 5, 6]);
});

Deno.test("validation Dice counted case by case equals the Dice of the pooled voxels", () => {
  const rng = new Rng(3);
  const parts = [100, 37, 64].map((n) => ({
    p: Uint8Array.from({ length: n }, () => rng.int(4)),
    r: Uint8Array.from({ length: n }, () => rng.int(4)),
  }));
  const counts = emptyDiceCounts(4);
  for (const { p, r } of parts) addDiceCounts(counts, p, r);
  const pooled = (k: "p" | "r") => Uint8Array.from(parts.flatMap((x) => [...x[k]]));
  assert.deepEqual(diceFromCounts(counts), dicePerLabel(pooled("p"), pooled("r"), 4));
});

Deno.test("training on more cases than memory holds: one case at a time, and a resumed run repeats the whole one", async () => {
  const data = await Deno.makeTempDir();
  await writeSmallCts(data, 4, { labels: true }); // 3 training cases, 1 held out
  const memory = { cases: 1, refreshEvery: 2 };
  const opts = { dataDir: data, preset, stages: [1 as const], seed: 2, memory };
  const whole = await Deno.makeTempDir(), split = await Deno.makeTempDir();
  const [w] = await trainCascade({ ...opts, outDir: whole, resume: false });
  assert.ok(w.peakCasesInMemory <= 2, `${w.peakCasesInMemory} cases in memory`);
  const stop = new AbortController();
  const [first] = await trainCascade({
    ...opts,
    outDir: split,
    resume: false,
    signal: stop.signal,
    onIteration: (_s, it) => it === 3 && stop.abort(),
  });
  assert.equal(first.iterations, 3);
  const prepared: boolean[] = [];
  await trainCascade({
    ...opts,
    outDir: split,
    resume: true,
    onPrepare: (_s, _d, _t, _id, p) => prepared.push(p),
  });
  assert.deepEqual(prepared, [false, false, false, false], "all from the cache");
  const losses = async (dir: string) =>
    (await readMetrics(stageFiles(dir, 1).metrics)).map((r) => r.loss ?? r.meanDice);
  assert.deepEqual(await losses(split), await losses(whole));
  assert.equal((await losses(whole)).length, 8, "6 losses and 2 validations");
});

Deno.test({
  name: "deno task prepare in two shards fills the cache that training then reads; a bad case is one line",
  ignore: !canSpawn,
  async fn() {
    const data = await Deno.makeTempDir(), cacheDir = await Deno.makeTempDir();
    await writeSmallCts(data, 4, { labels: true });
    const ct = await readNifti(`${data}/ct3.nii.gz`);
    await writeNifti(`${data}/ct3.labels.nii.gz`, {
      ...cropVolume(ct, { min: [0, 0, 0], max: [10, 10, 10] }),
      data: new Uint8Array(1000),
    });
    const outputs = [];
    for (const shard of ["0/2", "1/2"]) {
      const r = await runCli("prepare.ts", [
        "--data",
        data,
        "--cache",
        cacheDir,
        "--preset",
        "fast",
        "--shard",
        shard,
        "--progress",
        "off",
      ]);
      outputs.push(r);
      assert.match(r.stdout, new RegExp(`--shard ${shard}: \\d of them`));
    }
    const failed = outputs.find((r) => r.code !== 0)!;
    assert.equal(failed.code, 1);
    const lines = failed.stderr.trim().split("\n");
    assert.equal(lines.length, 2, failed.stderr);
    assert.match(lines[0], /^error: \[\d\/\d\] ct3: .*ct3\.labels\.nii\.gz/);
    assert.match(lines[1], /^error: 1 of \d cases could not be prepared/);
    const ok = outputs.find((r) => r.code === 0)!;
    assert.match(ok.stdout, /: \d prepared, 0 already in the cache, 0 failed/);
    await Deno.remove(`${data}/ct3.nii.gz`);
    await Deno.remove(`${data}/ct3.labels.nii.gz`);
    const cache = await TrainingCache.open(cacheDir);
    const { FAST_PRESET } = await import("../src/cascade/presets.ts");
    const prepared: string[] = [];
    await prepareGrids(cache, await listCases(data), [
      gridSpecOf(FAST_PRESET.stages[0]),
      gridSpecOf(FAST_PRESET.stages[1]),
    ], {
      onCase: (_d, _t, id, p) => p && prepared.push(id),
    });
    assert.deepEqual(prepared, []);
  },
});

Deno.test("a cache reached through another spelling of its folder keeps its entries (grid and C2 keys)", async () => {
  const base = await Deno.makeTempDir();
  const data = `${base}/data`;
  await Deno.mkdir(data);
  await writeSmallCts(data, 1, { labels: true });
  const [c] = await listCases(data);
  const spec = gridSpecOf(preset.stages[0]);
  const a = await TrainingCache.open(`${base}/cache`), b = await TrainingCache.open(`${base}/./cache`);
  const [ga, gb] = [await a.gridFile(c, spec), await b.gridFile(c, spec)];
  assert.equal(ga.split("/").pop(), gb.split("/").pop());
  const c2 = (t: TrainingCache, g: string) => t.c2File(c.id, g, g, "model", 9).split("/").pop();
  assert.equal(c2(a, ga), c2(b, gb));
  // and a relative path to the same case is hashed as the same file
  const cwd = Deno.cwd();
  try {
    Deno.chdir(base);
    const rel = {
      ...c,
      image: `data/${c.image.split("/").pop()}`,
      labels: `./data/${c.labels.split("/").pop()}`,
    };
    assert.equal((await a.gridFile(rel, spec)).split("/").pop(), ga.split("/").pop());
  } finally {
    Deno.chdir(cwd);
  }
});
