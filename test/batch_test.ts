// Batch segmentation: shards (stable hash, disjoint, complete; from --shard, Slurm or Kubernetes),
// CSV, case discovery (folders, manifests, names), summaries (merge, a killed run's half line), and
// runs of the shipped demo model on small crops of the sample CT (a real scan): a bad case is
// recorded and the batch goes on, existing outputs are skipped, shards together equal one run voxel
// for voxel, a killed batch resumes, and the CLI reports each case on one line.
import assert from "node:assert/strict";
import { setupGpu } from "./_helpers.ts";
import { canSpawn, ROOT, runCli } from "./_cli.ts";
import { writeSmallCts } from "./_fixtures.ts";
import {
  caseHash,
  inShard,
  parseShard,
  ShardError,
  shardFromEnv,
  shardOf,
  shardTag,
} from "../src/util/shard.ts";
import { CsvError, csvLine, parseCsv } from "../src/util/csv.ts";
import { caseName, discoverCases, readManifest } from "../src/io/inputs.ts";
import { VolumeError } from "../src/volume/errors.ts";
import {
  type CaseRecord,
  mergeRecords,
  parseSummaryLines,
  summaryCsv,
  summaryCsvHeader,
  summaryCsvRow,
} from "../src/report/summary.ts";
import { mergeSummaries, SummaryFiles, summaryPaths } from "../src/io/summary-files.ts";
import { outputPath, planBatch, runBatch } from "../src/io/batch.ts";
import { DEMO_MODEL_DIR, loadCascade } from "../src/io/models.ts";
import { readLabels } from "../src/io/volumes.ts";

Deno.test("case hashes are pinned (FNV-1a + murmur3 finaliser, checked against a Python reference)", () => {
  // changing the hash would move cases between the shards of runs under way
  assert.equal(caseHash(""), 2872998923);
  assert.equal(caseHash("s0001"), 3167651765);
  assert.equal(caseHash("s0001/ct"), 946461703);
  assert.equal(caseHash("ct0"), 2629548976);
  assert.equal(caseHash("Ünïcode"), 3302131466);
  assert.equal(shardOf("s0001/ct", 3), 946461703 % 3);
});

Deno.test("shards are disjoint, cover every case, and are roughly even", () => {
  const names = Array.from({ length: 2000 }, (_, i) => `case-${i}`);
  for (const count of [1, 2, 3, 7]) {
    const parts = Array.from(
      { length: count },
      (_, index) => inShard(names, (n) => n, { index, count, source: "" }),
    );
    const union = parts.flat().sort();
    assert.deepEqual(union, [...names].sort(), `N=${count}: the union is every case, each once`);
    for (const p of parts) assert.ok(p.length > (2000 / count) * 0.85, `N=${count}: a shard of ${p.length}`);
  }
  // a case's shard does not depend on the other cases
  const few = inShard(names.slice(0, 10), (n) => n, { index: 1, count: 3, source: "" });
  const many = inShard(names, (n) => n, { index: 1, count: 3, source: "" });
  assert.deepEqual(few, many.filter((n) => names.slice(0, 10).includes(n)));
  assert.deepEqual(inShard(names, (n) => n, null), names);
});

Deno.test("--shard I/N is parsed and checked", () => {
  assert.deepEqual(parseShard("2/5"), { index: 2, count: 5, source: "--shard 2/5" });
  assert.equal(shardTag(parseShard("0/3")), "shard-0-of-3");
  for (const bad of ["5/5", "1", "a/3", "-1/3", "1/0", "1.5/3"]) {
    assert.throws(() => parseShard(bad), ShardError, bad);
  }
});

Deno.test("Slurm arrays and Kubernetes Indexed Jobs pick the shard", () => {
  assert.equal(shardFromEnv({}), null);
  const slurm = shardFromEnv({
    SLURM_ARRAY_TASK_ID: "2",
    SLURM_ARRAY_TASK_COUNT: "3",
    SLURM_ARRAY_TASK_MIN: "0",
  });
  assert.deepEqual([slurm?.index, slurm?.count], [2, 3]);
  assert.match(slurm!.source, /Slurm array task 2 .*SLURM_ARRAY_TASK_ID/);
  // --array=1-4: ids 1..4 are shards 0..3
  const fromOne = shardFromEnv({
    SLURM_ARRAY_TASK_ID: "1",
    SLURM_ARRAY_TASK_COUNT: "4",
    SLURM_ARRAY_TASK_MIN: "1",
  });
  assert.deepEqual([fromOne?.index, fromOne?.count], [0, 4]);
  // --array=0-8:2 (ids 0,2,4,6,8); the count from MIN/MAX/STEP when COUNT is missing
  const stepped = shardFromEnv({
    SLURM_ARRAY_TASK_ID: "6",
    SLURM_ARRAY_TASK_MIN: "0",
    SLURM_ARRAY_TASK_MAX: "8",
    SLURM_ARRAY_TASK_STEP: "2",
  });
  assert.deepEqual([stepped?.index, stepped?.count], [3, 5]);
  // --array=1,5,7: not evenly spaced
  assert.throws(
    () => shardFromEnv({ SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "3", SLURM_ARRAY_TASK_MIN: "1" }),
    (e) => e instanceof ShardError && /--shard I\/N/.test(e.message),
  );
  const k8s = shardFromEnv({ JOB_COMPLETION_INDEX: "4", JOB_COMPLETIONS: "6" });
  assert.deepEqual([k8s?.index, k8s?.count], [4, 6]);
  assert.match(k8s!.source, /Kubernetes Indexed Job/);
  assert.throws(
    () => shardFromEnv({ JOB_COMPLETION_INDEX: "4" }),
    (e) => e instanceof ShardError && /JOB_COMPLETIONS/.test(e.message),
  );
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: "6", JOB_COMPLETIONS: "6" }), ShardError);
});

Deno.test("CSV: quoted fields with commas, quotes and line breaks round-trip", () => {
  const rows = [["path", "name"], ['a,"b".nii.gz', "x\ny"], [" lead", ""], ["plain", "z"]];
  const text = rows.map(csvLine).join("\r\n") + "\n\n";
  assert.deepEqual(parseCsv(text), rows);
  assert.deepEqual(parseCsv("a,b\n\n1,2"), [["a", "b"], ["1", "2"]]);
  assert.throws(() => parseCsv('path\n"open'), (e) => e instanceof CsvError && /line 2/.test(e.message));
});

Deno.test("a case's name depends on its path alone: adding cases renames none", async () => {
  assert.equal(caseName("/d/a/s1/ct.nii.gz", "/d/a"), "s1/ct");
  assert.equal(caseName("/d/b.nii"), "b");
  assert.equal(caseName("/d/series/"), "series");
  assert.equal(caseName("/elsewhere/x.nii.gz", "/d"), "x", "outside its root: the last component");
  const dir = await Deno.makeTempDir();
  const add = async (p: string) => {
    await Deno.mkdir(`${dir}/${p}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${p}`, "x");
  };
  await add("s1/ct.nii.gz");
  await add("s2/scan.nii.gz");
  const before = await discoverCases([dir]);
  await add("s3/ct.nii.gz"); // another "ct": the first keeps its name (and so its output and shard)
  const after = await discoverCases([dir]);
  for (const c of before) assert.ok(after.some((d) => d.path === c.path && d.name === c.name), c.name);
});

Deno.test("cases from files, folders (nested, labels and hidden files left out) and manifests", async () => {
  const dir = await Deno.makeTempDir();
  const touch = async (p: string) => {
    await Deno.mkdir(`${dir}/${p}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${p}`, "x");
  };
  for (
    const p of [
      "a/s1/ct.nii.gz",
      "a/s2/ct.nii.gz",
      "a/s2/ct.labels.nii.gz",
      "a/x.seg.nii.gz",
      "a/.tmp.nii.gz",
      "a/notes.txt",
      "b.nii",
      "series/1.dcm",
    ]
  ) {
    await touch(p);
  }
  const cases = await discoverCases([`${dir}/a`, `${dir}/b.nii`]);
  assert.deepEqual(cases.map((c) => [c.name, c.path.slice(dir.length)]), [
    ["s1/ct", "/a/s1/ct.nii.gz"],
    ["s2/ct", "/a/s2/ct.nii.gz"],
    ["b", "/b.nii"],
  ]);
  // a series folder is one case (where a DICOM reader plugs in)
  const withSeries = await discoverCases([dir], { isSeries: (d) => Promise.resolve(d.endsWith("/series")) });
  assert.deepEqual(withSeries.map((c) => [c.name, c.kind]), [
    ["a/s1/ct", "nifti"],
    ["a/s2/ct", "nifti"],
    ["b", "nifti"],
    ["series", "series"],
  ]);
  // manifests: relative to their folder; a CSV's name column; a missing file is still a case
  await Deno.writeTextFile(`${dir}/list.txt`, "# CTs\na/s1/ct.nii.gz\n\n/elsewhere/gone.nii.gz\n");
  assert.deepEqual(await readManifest(`${dir}/list.txt`), [
    { path: `${dir}/a/s1/ct.nii.gz` },
    { path: "/elsewhere/gone.nii.gz" },
  ]);
  await Deno.writeTextFile(`${dir}/list.csv`, 'id,PATH,name\n1,"a/s1/ct.nii.gz",first\n2,b.nii,\n');
  const fromCsv = await discoverCases([], { manifest: `${dir}/list.csv` });
  assert.deepEqual(fromCsv.map((c) => [c.name, c.path]), [["first", `${dir}/a/s1/ct.nii.gz`], [
    "b",
    `${dir}/b.nii`,
  ]]);
  // the same file twice counts once
  assert.equal((await discoverCases([`${dir}/b.nii`, `${dir}/./b.nii`])).length, 1);
  await Deno.writeTextFile(`${dir}/bad.csv`, "file\nb.nii\n");
  await assert.rejects(
    () => discoverCases([], { manifest: `${dir}/bad.csv` }),
    (e) => e instanceof VolumeError && /no "path" column/.test(e.message),
  );
  await Deno.writeTextFile(`${dir}/dup.csv`, "path,name\na/s1/ct.nii.gz,same\nb.nii,same\n");
  await assert.rejects(() => discoverCases([], { manifest: `${dir}/dup.csv` }), /two cases are named "same"/);
  await Deno.writeTextFile(`${dir}/escape.csv`, "path,name\nb.nii,../../etc/x\n");
  await assert.rejects(() => discoverCases([], { manifest: `${dir}/escape.csv` }), /not a relative path/);
  await Deno.mkdir(`${dir}/empty`);
  await assert.rejects(() => discoverCases([`${dir}/empty`]), /no CT in this folder/);
});

function record(name: string, finished: string, status: "ok" | "failed" = "ok"): CaseRecord {
  return {
    case: name,
    status,
    input: `${name}.nii.gz`,
    output: `out/${name}.seg.nii.gz`,
    shard: null,
    host: "h",
    finished,
    seconds: status === "ok" ? { read: 1, stage1: 2, stage2: 3, write: 0.5, total: 6.5 } : null,
    organs: status === "ok"
      ? [{ label: 3, name: "liver", voxels: 10, ml: 1.5, touches_edge: true, hu_mean: 55, hu_sd: 9 }]
      : null,
    warnings: status === "ok" ? ['one, "quoted"'] : [],
    error: status === "failed" ? "bad.nii.gz: broken" : null,
  };
}

Deno.test("summary records: CSV columns line up, the latest record of a case wins, half lines are dropped", () => {
  const a = record("a", "2026-01-01T00:00:01Z"), b = record("b", "2026-01-01T00:00:02Z", "failed");
  const header = parseCsv(summaryCsvHeader())[0];
  for (const r of [a, b]) assert.equal(parseCsv(summaryCsvRow(r))[0].length, header.length);
  const row = Object.fromEntries(header.map((h, i) => [h, parseCsv(summaryCsvRow(a))[0][i]]));
  assert.equal(row.liver_ml, "1.5");
  assert.equal(row.liver_cut, "1");
  assert.equal(row.spleen_ml, "");
  assert.equal(row.warnings, 'one, "quoted"');
  assert.equal(parseCsv(summaryCsv([a, b])).length, 3);
  const later = record("b", "2026-01-01T00:00:03Z");
  assert.deepEqual(mergeRecords([later, a, b]).map((r) => [r.case, r.status]), [["a", "ok"], ["b", "ok"]]);
  const text = JSON.stringify(a) + "\n" + JSON.stringify(b) + "\n" + JSON.stringify(later).slice(0, 40);
  const parsed = parseSummaryLines(text);
  assert.equal(parsed.records.length, 2);
  assert.equal(parsed.dropped, 1);
});

Deno.test("summary files: appended as cases finish, compacted on open, shards merged once per case", async () => {
  const dir = await Deno.makeTempDir();
  const s = await SummaryFiles.open(dir, "shard-0-of-2");
  await s.add(record("a", "2026-01-01T00:00:01Z", "failed"));
  await s.add(record("a", "2026-01-01T00:00:02Z"));
  const p = summaryPaths(dir, "shard-0-of-2");
  assert.equal((await Deno.readTextFile(p.jsonl)).trim().split("\n").length, 2, "appended");
  // a run killed while writing a line
  await Deno.writeTextFile(p.jsonl, '{"case": "half', { append: true });
  const again = await SummaryFiles.open(dir, "shard-0-of-2");
  assert.equal(again.get("a")?.status, "ok");
  assert.equal((await Deno.readTextFile(p.jsonl)).trim().split("\n").length, 1, "compacted");
  assert.equal((await Deno.readTextFile(p.csv)).trim().split("\n").length, 2, "header + one row");
  const other = await SummaryFiles.open(dir, "shard-1-of-2");
  await other.add(record("b", "2026-01-01T00:00:03Z"));
  const merged = await mergeSummaries(dir);
  assert.deepEqual(merged.records.map((r) => r.case), ["a", "b"]);
  assert.equal(merged.files.length, 2);
  // merging again (summary.jsonl is now one of the inputs) changes nothing
  assert.deepEqual((await mergeSummaries(dir)).records, merged.records);
});

await setupGpu();
const { stage1, stage2 } = await loadCascade(DEMO_MODEL_DIR);
// no tile overlap: fewer tiles, and these tests compare runs with each other, not with a reference
const opts = { stage1, stage2, overlap: 0 };

Deno.test("a batch: a bad case is recorded and the rest segmented; shards together equal one run; a rerun skips", async () => {
  const input = await Deno.makeTempDir();
  await writeSmallCts(input, 3);
  await Deno.writeTextFile(`${input}/broken.nii.gz`, "not a CT");
  const cases = await discoverCases([input]);
  assert.equal(cases.length, 4);

  const whole = await Deno.makeTempDir();
  const plan = await planBatch(cases, whole);
  const seen: string[] = [];
  const result = await runBatch(plan, { ...opts, onCase: (c) => seen.push(c.name) });
  assert.deepEqual(seen, cases.map((c) => c.name));
  assert.deepEqual([result.segmented, result.failed, result.skipped], [3, 1, 0]);
  const records = (await SummaryFiles.open(whole, null)).records();
  assert.deepEqual(records.map((r) => [r.case, r.status]), [
    ["broken", "failed"],
    ["ct0", "ok"],
    ["ct1", "ok"],
    ["ct2", "ok"],
  ]);
  assert.match(records[0].error!, /broken\.nii\.gz/);
  await assert.rejects(
    () => Deno.stat(outputPath(whole, cases.find((c) => c.name === "broken")!)),
    Deno.errors.NotFound,
  );
  for (const r of records.slice(1)) {
    const labels = await readLabels(r.output);
    const counts = new Map<number, number>();
    for (const v of labels.data) counts.set(v, (counts.get(v) ?? 0) + 1);
    for (const o of r.organs!) assert.equal(o.voxels, counts.get(o.label) ?? 0, `${r.case} ${o.name}`);
    assert.ok(r.seconds!.total > 0);
  }
  assert.ok(records.some((r) => r.organs?.some((o) => o.voxels > 0)), "the demo model found organs");

  // two shards without prefetching, in one folder: same labels, voxel for voxel, each case once
  const sharded = await Deno.makeTempDir();
  for (let index = 0; index < 2; index++) {
    const p = await planBatch(cases, sharded, { shard: { index, count: 2, source: "test" } });
    assert.ok(p.mine.length > 0 && p.mine.length < cases.length, "both shards have cases");
    await runBatch(p, { ...opts, prefetch: false });
  }
  const merged = await mergeSummaries(sharded);
  assert.deepEqual(merged.records.map((r) => r.case), records.map((r) => r.case));
  for (const r of records.slice(1)) {
    const a = await readLabels(r.output),
      b = await readLabels(outputPath(sharded, cases.find((c) => c.name === r.case)!));
    assert.deepEqual(b.data, a.data, r.case);
  }

  // a rerun segments only the failed case; the others keep their records
  const rerun = await planBatch(cases, whole);
  assert.deepEqual(rerun.todo.map((c) => c.name), ["broken"]);
  const again: string[] = [];
  const r2 = await runBatch(rerun, { ...opts, onCase: (c) => again.push(c.name) });
  assert.deepEqual(again, ["broken"]);
  assert.deepEqual([r2.segmented, r2.skipped, r2.failed], [0, 3, 1]);
  const kept = (await SummaryFiles.open(whole, null)).records();
  assert.deepEqual(kept.slice(1), records.slice(1), "records of skipped cases unchanged");

  // outputs without records (a run killed between its write and its summary line) are measured
  await Deno.remove(`${whole}/summary.jsonl`);
  await runBatch(await planBatch(cases.filter((c) => c.name !== "broken"), whole), opts);
  const measured = (await SummaryFiles.open(whole, null)).records();
  for (const [i, r] of measured.entries()) {
    assert.equal(r.seconds, null, "not segmented again");
    assert.deepEqual(r.organs, records[i + 1].organs, r.case);
  }
});

Deno.test({
  name:
    "deno task segment on a folder: one line per case, the bad one on stderr, exit 1; a killed run resumes",
  ignore: !canSpawn,
  async fn() {
    const input = await Deno.makeTempDir(), out = await Deno.makeTempDir();
    await writeSmallCts(input, 3);
    await Deno.writeFile(`${input}/zero.nii.gz`, new Uint8Array(10));
    const args = [input, "-o", out, "--progress", "off", "--overlap", "0"];
    const r = await runCli("segment.ts", args);
    assert.equal(r.code, 1, r.stderr);
    const errors = r.stderr.trim().split("\n");
    assert.equal(errors.length, 2, r.stderr);
    assert.match(errors[0], /^error: \[4\/4\] zero: .*zero\.nii\.gz/);
    assert.match(errors[1], /^error: 1 of 4 cases failed/);
    assert.match(r.stdout, /cases: 4; 0 already segmented, 4 to segment/);
    assert.equal(r.stdout.match(/^\[\d\/4\] ct\d: [\d.]+ s; /gm)?.length, 3, r.stdout);
    const csv = parseCsv(await Deno.readTextFile(`${out}/summary.csv`));
    assert.deepEqual(csv.slice(1).map((row) => [row[0], row[1]]), [["ct0", "ok"], ["ct1", "ok"], [
      "ct2",
      "ok",
    ], ["zero", "failed"]]);

    // kill a run once its first output is written: the next run does the rest, and the outputs are whole
    await Deno.remove(`${input}/zero.nii.gz`);
    const out2 = await Deno.makeTempDir();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}cli/segment.ts`, input, "-o", out2, "--progress", "off", "--overlap", "0"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const written = () => [...Deno.readDirSync(out2)].some((e) => e.name.endsWith(".seg.nii.gz"));
    while (!written()) await new Promise((ok) => setTimeout(ok, 20));
    child.kill("SIGKILL");
    await child.status;
    const resumed = await runCli("segment.ts", [input, "-o", out2, "--progress", "off", "--overlap", "0"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const done = Number(resumed.stdout.match(/cases: 3; (\d) already segmented/)?.[1]);
    assert.ok(done >= 1 && done < 3, resumed.stdout);
    assert.equal(resumed.stdout.match(/^\[\d\/\d\] ct\d: /gm)?.length, 3 - done, resumed.stdout);
    for (const name of ["ct0", "ct1", "ct2"]) {
      const a = await readLabels(`${out}/${name}.seg.nii.gz`),
        b = await readLabels(`${out2}/${name}.seg.nii.gz`);
      assert.deepEqual(b.data, a.data, name);
    }
    // all done: nothing to segment, no GPU or model needed
    const nothing = await runCli("segment.ts", [input, "-o", out2, "--progress", "off"]);
    assert.equal(nothing.code, 0, nothing.stderr);
    assert.match(
      nothing.stdout,
      /cases: 3; 3 already segmented \(skipped; --overwrite redoes them\), 0 to segment/,
    );
    assert.doesNotMatch(nothing.stdout, /adapter:/);
    const summary = parseCsv(await Deno.readTextFile(`${out2}/summary.csv`));
    assert.deepEqual(summary.slice(1).map((row) => row[0]), ["ct0", "ct1", "ct2"]);
    const after = await runCli("segment.ts", [...args, "--json", "x.json"]);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /--json is for one CT/);
  },
});
