/**
 * Segmenting many CTs in one process: the model is loaded once by the caller, cases go through one at
 * a time (the next one read while the GPU works on the current), each output is written atomically,
 * a case whose output exists is skipped (so a killed run resumes where it stopped), a case that fails
 * is recorded and the batch goes on, and the summary files are updated as cases finish.
 */
import { dirname, join } from "node:path";
import { segmentVolume, type StageModel, type TileProgress } from "../cascade/pipeline.ts";
import { inputFitWarnings, outputFitWarnings } from "../cascade/fit.ts";
import { GpuDeviceLostError, GpuUnavailableError } from "../gpu/errors.ts";
import { organStats } from "../report/organs.ts";
import type { CaseRecord } from "../report/summary.ts";
import { inShard, type Shard, shardTag } from "../util/shard.ts";
import type { Volume } from "../volume/types.ts";
import { firstLine, isFile, makeDir } from "./fs.ts";
import type { InputCase } from "./inputs.ts";
import { SummaryFiles } from "./summary-files.ts";
import { readLabels, readNifti, writeNifti } from "./volumes.ts";

/** Where a case's label map goes. */
export function outputPath(outDir: string, c: InputCase): string {
  return join(outDir, `${c.name}.seg.nii.gz`);
}

/** What a batch will do: its share of the cases, and which of them are still to segment. */
export interface BatchPlan {
  outDir: string;
  shard: Shard | null;
  /** Every case given, before sharding. */
  all: InputCase[];
  /** This shard's cases. */
  mine: InputCase[];
  /** Cases to segment (no output yet, or `overwrite`). */
  todo: InputCase[];
  /** Cases whose output exists. */
  skip: InputCase[];
}

/** Takes this shard's share of `cases` and finds the outputs that already exist. */
export async function planBatch(
  cases: InputCase[],
  outDir: string,
  opts: { shard?: Shard | null; overwrite?: boolean } = {},
): Promise<BatchPlan> {
  const shard = opts.shard ?? null;
  const mine = inShard(cases, (c) => c.name, shard);
  const todo: InputCase[] = [], skip: InputCase[] = [];
  for (const c of mine) {
    if (!opts.overwrite && (await isFile(outputPath(outDir, c)))) skip.push(c);
    else todo.push(c);
  }
  return { outDir, shard, all: cases, mine, todo, skip };
}

/** What the caller hears while a batch runs. */
export interface BatchEvents {
  /** A case starts (index among the cases to segment). */
  onCase?: (c: InputCase, index: number) => void;
  /** Tiles of the current case. */
  onTile?: TileProgress;
  /** A case is finished (`ok` or `failed`); `skipped` when its output was there before the run. */
  onRecord?: (r: CaseRecord, skipped: boolean) => void;
}

/** Options of {@link runBatch}. */
export interface BatchOptions extends BatchEvents {
  /** The models (unused, and may be absent, when every case is skipped). */
  stage1: StageModel;
  stage2: StageModel | null;
  overlap?: number;
  /**
   * Reads a case's CT (default: NIfTI), with the reader's notes (e.g. which DICOM series of several
   * was taken), which become the case's warnings; a DICOM reader plugs in here.
   */
  read?: (c: InputCase) => Promise<{ volume: Volume<Float32Array>; notes?: string[] }>;
  /** Read the next case while the current one is segmented (default true). */
  prefetch?: boolean;
  /** The one-line message of an error (default: its message's first line). */
  describe?: (e: unknown) => string;
  /** The host named in the records (default: none). */
  host?: string;
}

/** Counts of a finished batch. */
export interface BatchResult {
  segmented: number;
  skipped: number;
  failed: number;
  summary: { jsonl: string; csv: string };
}

/** Errors after which no further case can succeed (no GPU any more): a batch stops. */
export function isFatal(e: unknown): boolean {
  return e instanceof GpuDeviceLostError || e instanceof GpuUnavailableError;
}
const seconds = (t0: number) => (performance.now() - t0) / 1000;

type Read = { volume: Volume<Float32Array>; notes?: string[] } | { error: unknown };

/** Runs a plan (see the module comment); throws only for fatal errors (a lost GPU, an unwritable summary). */
export async function runBatch(plan: BatchPlan, o: BatchOptions): Promise<BatchResult> {
  const describe = o.describe ?? firstLine;
  const read = o.read ?? (async (c: InputCase) => ({ volume: await readNifti(c.path) }));
  await makeDir(plan.outDir);
  const summary = await SummaryFiles.open(plan.outDir, plan.shard ? shardTag(plan.shard) : null);
  const base = (c: InputCase) => ({
    case: c.name,
    input: c.path,
    output: outputPath(plan.outDir, c),
    shard: plan.shard ? `${plan.shard.index}/${plan.shard.count}` : null,
    host: o.host ?? "",
  });
  const finish = async (r: CaseRecord, skipped: boolean) => {
    await summary.add(r);
    o.onRecord?.(r, skipped);
  };

  /** A case's record before its outcome is known. */
  const pending = (c: InputCase): CaseRecord => ({
    ...base(c),
    status: "ok",
    finished: "",
    seconds: null,
    organs: null,
    warnings: [],
    error: null,
  });

  // Outputs from an earlier run: keep their records, or measure the organs on them when there is none.
  for (const c of plan.skip) {
    const old = summary.get(c.name);
    if (old?.status === "ok") {
      o.onRecord?.(old, true);
      continue;
    }
    const r = pending(c);
    try {
      const ct = (await read(c)).volume;
      const labels = await readLabels(r.output);
      r.organs = organStats(ct, labels);
    } catch (e) {
      if (isFatal(e)) throw e;
      Object.assign(r, {
        status: "failed",
        error: `existing output: ${describe(e)} (--overwrite redoes it)`,
      });
    }
    r.finished = new Date().toISOString();
    await finish(r, true);
  }

  const start = (c: InputCase): Promise<Read> => read(c).then((got) => got, (error) => ({ error }));
  let failed = 0, segmented = 0;
  let next = plan.todo.length ? start(plan.todo[0]) : null;
  for (let i = 0; i < plan.todo.length; i++) {
    const c = plan.todo[i];
    o.onCase?.(c, i);
    const t0 = performance.now();
    const got = await next!;
    const waited = seconds(t0);
    // the next read overlaps this case's GPU work (only one CT waits in memory)
    next = i + 1 < plan.todo.length && o.prefetch !== false ? start(plan.todo[i + 1]) : null;
    const r = pending(c);
    try {
      if ("error" in got) throw got.error;
      const ct = got.volume;
      const fine = o.stage2 ?? o.stage1;
      const fit = inputFitWarnings(ct, fine.spec, fine.training);
      const seg = await segmentVolume(ct, o.stage1, o.stage2, { overlap: o.overlap, onTile: o.onTile });
      const t1 = performance.now();
      await makeDir(dirname(r.output));
      await writeNifti(r.output, seg.labels);
      const write = seconds(t1);
      r.organs = organStats(ct, seg.labels);
      r.warnings = [...(got.notes ?? []), ...fit, ...outputFitWarnings(r.organs)];
      // read: the wait for the CT in this case's turn (a read done while the previous case ran is free)
      r.seconds = { read: waited, ...seg.seconds, write, total: seconds(t0) };
      segmented++;
    } catch (e) {
      if (isFatal(e)) throw e;
      Object.assign(r, { status: "failed", error: describe(e) });
      failed++;
    }
    if (!next && i + 1 < plan.todo.length) next = start(plan.todo[i + 1]);
    r.finished = new Date().toISOString();
    await finish(r, false);
  }
  await summary.compact();
  const skipFailed = plan.skip.filter((c) => summary.get(c.name)?.status === "failed").length;
  return { segmented, skipped: plan.skip.length, failed: failed + skipFailed, summary: summary.paths };
}
