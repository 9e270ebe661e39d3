// A real scheduler: a private Slurm cluster on this machine (slurmctld, slurmd and munged started
// here) runs the shipped array script, deploy/slurm/segment-array.sbatch, as 3 tasks over 5 small
// CTs (crops of the sample CT, a real scan) with the shipped demo model. Each task picks its shard
// from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT and says so; the union of their outputs equals a
// single-process run voxel for voxel, and deno task summarize lists every case once. Skipped, with the
// reason printed, where Slurm is not installed or the tests do not run as root.
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { canSpawn, ROOT, runCli } from "./_cli.ts";
import { writeSmallCts } from "./_fixtures.ts";
import { type Slurm, slurmMissing, startSlurm } from "./_slurm.ts";
import { readLabels } from "../src/io/volumes.ts";
import { parseCsv } from "../src/util/csv.ts";

const missing = canSpawn ? await slurmMissing() : "needs --allow-run";
if (missing) console.log(`slurm_test: skipped: ${missing}`);

Deno.test({
  name:
    "a Slurm job array of 3 tasks over 5 CTs gives the labels of one process, and one summary line per case",
  ignore: missing !== null,
  async fn() {
    const t0 = performance.now();
    const input = await Deno.makeTempDir(),
      viaSlurm = await Deno.makeTempDir(),
      single = await Deno.makeTempDir();
    await writeSmallCts(input, 5, { name: (i) => `patient-${i}/ct` });
    const options = ["--overlap", "0"];
    let slurm: Slurm | null = null;
    try {
      slurm = await startSlurm(Math.min(2, navigator.hardwareConcurrency));
      const started = (performance.now() - t0) / 1000;
      const job = await slurm.submitArray(`${ROOT}deploy/slurm/segment-array.sbatch`, [
        input,
        "-o",
        viaSlurm,
        ...options,
      ], {
        array: "0-2",
        output: `${slurm.dir}/task-%a.log`,
        env: {
          PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH")}`,
          SEGMENT_HOME: ROOT,
          HOME: Deno.env.get("HOME") ?? "/root",
        },
      });
      await slurm.waitJob(job, 600);
      const logs = await Promise.all([0, 1, 2].map((i) => Deno.readTextFile(`${slurm!.dir}/task-${i}.log`)));
      console.log(
        `slurm up in ${started.toFixed(1)} s; array job ${job} done at ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
      );
      for (const [i, log] of logs.entries()) {
        console.log(`--- task ${i} ---\n${log.trim()}`);
        assert.match(
          log,
          new RegExp(`Slurm array task ${i} \\(SLURM_ARRAY_TASK_ID\\), shard ${i}/3`),
          `task ${i}`,
        );
        assert.match(log, /done in .*: \d segmented, 0 skipped, 0 failed/, `task ${i}`);
      }
    } finally {
      await slurm?.stop();
    }

    const one = await runCli("segment.ts", [input, "-o", single, "--progress", "off", ...options]);
    assert.equal(one.code, 0, one.stderr);
    for (let i = 0; i < 5; i++) {
      const name = `patient-${i}/ct.seg.nii.gz`;
      const a = await readLabels(`${single}/${name}`), b = await readLabels(`${viaSlurm}/${name}`);
      assert.ok(a.data.some((v) => v > 0), `${name}: no organ at all`);
      assert.deepEqual(b.data, a.data, name);
    }
    const merged = await runCli("summarize.ts", [viaSlurm]);
    assert.equal(merged.code, 0, merged.stderr);
    console.log(`--- summarize ---\n${merged.stdout.trim()}`);
    assert.match(merged.stdout, /^5 cases from 3 file\(s\): 5 ok, 0 failed/);
    const rows = parseCsv(await Deno.readTextFile(`${viaSlurm}/summary.csv`)).slice(1);
    assert.deepEqual(rows.map((r) => r[0]), [0, 1, 2, 3, 4].map((i) => `patient-${i}/ct`));
    assert.deepEqual(new Set(rows.map((r) => r.at(-3))).size, 3, "three shards");
    console.log(`slurm test: ${((performance.now() - t0) / 1000).toFixed(1)} s in all`);
  },
});
