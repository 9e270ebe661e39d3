/**
 * The batch side of `deno task segment`: several inputs, folders or a manifest, an output folder, the
 * shard of this process (from --shard, Slurm or Kubernetes), a progress bar over cases and one line
 * per case. Printing only; the work is in src/io/batch.ts.
 */
import { UsageError } from "./_errors.ts";
import { errorLine } from "./_errors.ts";
import { startGpu } from "../src/io/gpu.ts";
import { stderrWriter } from "../src/io/terminal.ts";
import { convKernels, inferencePrecision } from "../src/ops/conv3d.ts";
import type { ConvPrecision } from "../src/ops/conv3d_fast.ts";
import { DEMO_MODEL_DIR, loadCascade } from "../src/io/models.ts";
import { discoverCases } from "../src/io/inputs.ts";
import { holdsDicomFiles } from "../src/io/dicom-files.ts";
import { readCt } from "../src/io/read-ct.ts";
import { planBatch, runBatch } from "../src/io/batch.ts";
import { parseShard, type Shard, ShardError, shardFromEnv } from "../src/util/shard.ts";
import { formatDuration, Progress, type ProgressMode } from "../src/report/progress.ts";
import type { CaseRecord } from "../src/report/summary.ts";
import type { AdapterChoice } from "../src/gpu/runtime.ts";

/** Options of a batch, as parsed by cli/segment.ts. */
export interface BatchArgs {
  inputs: string[];
  manifest?: string;
  outDir: string;
  shard?: string;
  overwrite: boolean;
  model?: string;
  stage1Only: boolean;
  overlap: number;
  precision: "auto" | ConvPrecision;
  adapter: AdapterChoice;
  mode: ProgressMode;
}

/** Some cases of a batch failed (each was reported on its own line). */
export class BatchFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BatchFailedError";
  }
}

/** The errors this module's messages may come from, for runCli. */
export const BATCH_ERRORS = [ShardError, BatchFailedError];

/** The shard from --shard, else from a scheduler's environment (said on stdout), else none. */
export function chooseShard(spec: string | undefined): Shard | null {
  if (spec !== undefined) return parseShard(spec);
  // without --allow-env there is no scheduler to ask (and no prompt)
  if (Deno.permissions.querySync({ name: "env" }).state !== "granted") {
    return null;
  }
  return shardFromEnv(Deno.env.toObject());
}

/** The host name for the summary (empty without permission). */
function hostName(): string {
  // query first: asking for a permission not granted would prompt on a terminal
  if (
    Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state ===
      "granted"
  ) {
    return Deno.hostname();
  }
  if (
    Deno.permissions.querySync({ name: "env", variable: "HOSTNAME" }).state ===
      "granted"
  ) {
    return Deno.env.get("HOSTNAME") ?? "";
  }
  return "";
}

/** `liver 1502 mL, spleen 210 mL (cut)`: the organs found. */
function organLine(r: CaseRecord): string {
  const found = (r.organs ?? []).filter((o) => o.voxels > 0);
  if (!found.length) return "no organ found";
  return found.map((o) =>
    `${o.name.replace(/ \(.*\)/, "")} ${o.ml.toFixed(0)} mL${o.touches_edge ? " (cut)" : ""}`
  )
    .join(", ");
}

/** Runs a batch from parsed arguments; throws BatchFailedError when any case failed. */
export async function segmentBatch(a: BatchArgs): Promise<void> {
  if (/\.nii(\.gz)?$/i.test(a.outDir)) {
    throw new UsageError(
      `${a.outDir}: with several CTs, -o names an output folder, not a file`,
    );
  }
  const shard = chooseShard(a.shard);
  // a folder that directly holds DICOM files is one case (a series); the others hold cases
  const cases = await discoverCases(a.inputs, { manifest: a.manifest, isSeries: holdsDicomFiles });
  if (!cases.length) {
    throw new UsageError(
      "no CT to segment (give files, folders or --manifest)",
    );
  }
  const plan = await planBatch(cases, a.outDir, {
    shard,
    overwrite: a.overwrite,
  });
  const share = shard ? `; ${shard.source}: ${plan.mine.length} of them` : "";
  console.log(
    `cases: ${cases.length}${share}; ${plan.skip.length} already segmented` +
      (plan.skip.length ? " (skipped; --overwrite redoes them)" : "") +
      `, ${plan.todo.length} to segment`,
  );
  const t0 = performance.now();
  let stage1 = null, stage2 = null, prefetch = true;
  if (plan.todo.length) {
    const gpu = await startGpu(a.adapter);
    // reading the next CT ahead pays when a GPU does the work; on the software adapter the same
    // CPU cores would do both (bench/RESULTS.md, "Scale")
    prefetch = !gpu.isFallback;
    convKernels.inference = inferencePrecision(a.precision);
    console.log(
      `adapter: ${gpu.adapterName}${gpu.isFallback ? " (software: slow)" : ""}; ` +
        `convolutions in ${convKernels.inference}`,
    );
    const modelDir = a.model ?? DEMO_MODEL_DIR;
    if (!a.model) {
      console.log(
        `model: the shipped demo model (${modelDir}); train your own with deno task train`,
      );
    }
    ({ stage1, stage2 } = await loadCascade(modelDir, {
      stage1Only: a.stage1Only,
    }));
  }
  const bar = plan.todo.length
    ? new Progress("cases", plan.todo.length, {
      mode: a.mode,
      unit: "case",
      writer: stderrWriter,
    })
    : null;
  const barOnTerminal = a.mode === "bar" ||
    (a.mode === "auto" && stderrWriter.isTerminal?.());
  const say = (line: string, toErr = false) => {
    if (bar && barOnTerminal) {
      stderrWriter.writeSync(new TextEncoder().encode("\r\x1b[K"));
    }
    if (toErr) console.error(line);
    else console.log(line);
  };
  let current = "", n = 0;
  const result = await runBatch(plan, {
    read: (c) => readCt(c.path),
    stage1: stage1!,
    stage2,
    overlap: a.overlap,
    prefetch,
    describe: (e) => errorLine(e),
    host: hostName(),
    onCase: (c) => {
      current = c.name;
      bar?.tick(0, c.name);
    },
    onTile: (stage, done, total) => bar?.tick(0, `${current}: stage ${stage} tile ${done}/${total}`),
    onRecord: (r, skipped) => {
      if (skipped) {
        if (r.status === "failed") say(`error: ${r.case}: ${r.error}`, true);
        return;
      }
      const at = `[${++n}/${plan.todo.length}]`;
      if (r.status === "failed") {
        say(`error: ${at} ${r.case}: ${r.error}`, true);
      } else {
        say(
          `${at} ${r.case}: ${r.seconds!.total.toFixed(1)} s; ${organLine(r)}`,
        );
        for (const w of r.warnings) say(`  warning: ${w}`);
      }
      bar?.tick(1, r.case);
    },
  });
  bar?.done();
  const total = formatDuration((performance.now() - t0) / 1000);
  console.log(
    `done in ${total}: ${result.segmented} segmented, ${result.skipped} skipped, ${result.failed} failed ` +
      `(of ${plan.mine.length}); summary: ${result.summary.csv}`,
  );
  if (shard) {
    console.log("after every shard has run: deno task summarize " + a.outDir);
  }
  if (result.failed) {
    throw new BatchFailedError(
      `${result.failed} of ${plan.mine.length} cases failed (listed above and in ${result.summary.csv})`,
    );
  }
}
