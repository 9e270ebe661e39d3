/**
 * `deno task prepare --data DIR [--shard I/N] ...`: preprocesses training cases into the training
 * cache ahead of `deno task train` (which would otherwise do it on its first run), on one machine or
 * in shards on many. Argument parsing and printing only; the work is in src/train/prepare.ts.
 */
import { parseArgs } from "node:util";
import { errorLine, runCli, UsageError } from "./_errors.ts";
import { BATCH_ERRORS, BatchFailedError, chooseShard } from "./_batch.ts";
import { startGpu } from "../src/io/gpu.ts";
import { stderrWriter } from "../src/io/terminal.ts";
import { listCases } from "../src/io/dataset.ts";
import { loadLabelRemap } from "../src/io/labels.ts";
import { FileWriteError } from "../src/io/atomic.ts";
import { casesProfile, checkPresetName, pickPreset } from "./_preset.ts";
import { ADAPTER_CHOICES, type AdapterChoice } from "../src/gpu/runtime.ts";
import { isFatal } from "../src/io/batch.ts";
import { CacheError, TrainingCache } from "../src/train/cache.ts";
import { loadStage1 } from "../src/train/cascade.ts";
import { TrainingError } from "../src/train/loop.ts";
import { defaultCacheDir, prepareCache } from "../src/train/prepare.ts";
import { inShard } from "../src/util/shard.ts";
import { formatDuration, Progress, type ProgressMode } from "../src/report/progress.ts";

const HELP = `Prepare training cases into the training cache ahead of deno task train.

Usage: deno task prepare --data DIR [options]

Each case is read once and put on each stage's grid (normalised image, labels, and the body mask
C1 of stage 1), in one file per case and grid. Entries are keyed by the contents of the case's
files, the label map and the preset, so a changed case or preset is prepared again and nothing
else is. deno task train reads the same cache (and prepares what is missing itself).

  --data DIR          training data (as for deno task train)
  --cache DIR         the cache folder (default: DIR/.train-cache; give the same to train)
  --preset NAME       fast or paper (default: as train: paper on a GPU with CTs of 1.5 mm voxels or
                      finer, else fast; the run says which and why)
  --adapter A         high-performance (default), low-power or software (the CPU)
  --labels SPEC       the label map used in training, as for deno task train
  --model MODEL_DIR   a model directory with a trained stage 1: also prepare stage 2's candidate
                      regions C2 (the stage-1 model's organs, dilated)
  --shard I/N         prepare shard I (0 to N-1) of N, by a stable hash of each case's id; without
                      it, a Slurm job array or a Kubernetes Indexed Job picks it (as for segment)
  --progress MODE     bar, lines or off (default: a bar on a terminal, lines otherwise)
  -h, --help          this help

A case that cannot be read is reported on one line and the others go on; the exit code is 1 if
any failed.`;

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      data: { type: "string" },
      cache: { type: "string" },
      preset: { type: "string" },
      labels: { type: "string" },
      model: { type: "string" },
      shard: { type: "string" },
      adapter: { type: "string", default: "high-performance" },
      progress: { type: "string", default: "auto" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (!values.data) throw new UsageError("--data DIR is required (see --help)");
  checkPresetName(values.preset);
  const adapter = values.adapter as AdapterChoice;
  if (!ADAPTER_CHOICES.includes(adapter)) {
    throw new UsageError(`--adapter must be ${ADAPTER_CHOICES.join(", ")}, got "${values.adapter}"`);
  }
  const mode = values.progress as ProgressMode;
  if (!["auto", "bar", "lines", "off"].includes(mode)) {
    throw new UsageError(`--progress must be bar, lines or off, got "${values.progress}"`);
  }
  const remap = values.labels ? await loadLabelRemap(values.labels) : undefined;
  const shard = chooseShard(values.shard);
  const all = await listCases(values.data);
  const cases = inShard(all, (c) => c.id, shard);
  const profile = await casesProfile(all);
  const gpu = await startGpu(adapter);
  const { preset, why } = pickPreset(values.preset, {
    software: gpu.isFallback,
    voxelMm: profile.typicalVoxelMm,
  });
  const cache = await TrainingCache.open(values.cache ?? defaultCacheDir(values.data));
  let stage1;
  if (values.model) {
    const s1 = await loadStage1(values.model);
    stage1 = { ...s1, hash: await cache.contentHash(s1.path) };
  }
  console.log(
    `cases: ${all.length}${
      shard ? `; ${shard.source}: ${cases.length} of them` : ""
    }; preset ${preset.name} (${why}; ${gpu.adapterName}); ` +
      `stage grids${stage1 ? " and stage 2's C2" : ""}; cache ${cache.dir}`,
  );
  const t0 = performance.now();
  const bar = new Progress("cases", cases.length, { mode, unit: "case", writer: stderrWriter });
  const onTerminal = mode === "bar" || (mode === "auto" && stderrWriter.isTerminal?.());
  const say = (line: string, toErr = false) => {
    if (onTerminal) stderrWriter.writeSync(new TextEncoder().encode("\r\x1b[K"));
    if (toErr) console.error(line);
    else console.log(line);
  };
  const results = await prepareCache({
    cache,
    cases,
    preset,
    remap,
    stage1,
    isFatal: (e) => isFatal(e) || e instanceof FileWriteError,
    onCase: (r, done, total) => {
      const at = `[${done}/${total}] ${r.id}`;
      if (r.error) say(`error: ${at}: ${errorLine(r.error, [CacheError])}`, true);
      else if (r.prepared) say(`${at}: prepared in ${r.seconds.toFixed(1)} s`);
      bar.tick(1, r.id);
    },
  });
  bar.done();
  const failed = results.filter((r) => r.error).length;
  const prepared = results.filter((r) => !r.error && r.prepared).length;
  console.log(
    `done in ${formatDuration((performance.now() - t0) / 1000)}: ${prepared} prepared, ` +
      `${results.length - prepared - failed} already in the cache, ${failed} failed (of ${results.length})`,
  );
  if (failed) throw new BatchFailedError(`${failed} of ${results.length} cases could not be prepared`);
}

if (import.meta.main) await runCli(main, [...BATCH_ERRORS, TrainingError, CacheError]);
