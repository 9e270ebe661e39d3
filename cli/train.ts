/**
 * `deno task train --data DIR --out MODEL_DIR [--stage 1|2|both] [--preset paper|fast] ...`: trains
 * the cascade on labelled CTs. Argument parsing and printing only; the work is in src/train/.
 */
import { parseArgs } from "node:util";
import { runCli, UsageError } from "./_errors.ts";
import { startGpu } from "../src/io/gpu.ts";
import { stderrWriter } from "../src/io/terminal.ts";
import { CLASS_WEIGHTINGS, type ClassWeighting, PRESETS } from "../src/cascade/presets.ts";
import { casesProfile, checkPresetName, pickPreset } from "./_preset.ts";
import { listCases } from "../src/io/dataset.ts";
import { ADAPTER_CHOICES, type AdapterChoice } from "../src/gpu/runtime.ts";
import { trainCascade } from "../src/train/cascade.ts";
import { TrainingError } from "../src/train/loop.ts";
import { loadLabelRemap } from "../src/io/labels.ts";
import { Progress, type ProgressMode } from "../src/report/progress.ts";
import { formatTable } from "../src/report/table.ts";
import { labelName } from "../src/volume/labels.ts";
import type { LabelDice } from "../src/train/dice.ts";
import { DEFAULT_MEMORY } from "../src/train/loop.ts";
import { CacheError } from "../src/train/cache.ts";

/** A preset's default iterations per stage, "N1 / N2". */
const defaults = (name: string) => PRESETS[name].train.map((t) => t.iterations).join(" / ");

const HELP = `Train the two-stage cascaded 3D U-Net on labelled CTs.

Usage: deno task train --data DIR --out MODEL_DIR [options]

  --data DIR          training data: pairs CASE.nii.gz + CASE.labels.nii.gz, or the nnU-Net /
                      Medical Segmentation Decathlon layout (imagesTr/, labelsTr/, dataset.json)
  --out MODEL_DIR     where the models, checkpoints, metrics log and curves go
  --stage 1|2|both    which stages to train (default both; stage 2 needs a trained stage 1 in
                      MODEL_DIR, because its candidate region C2 comes from stage-1 predictions)
  --preset NAME       fast (a small network at 6 mm / 3 mm) or paper (Roth et al.: 4-level valid
                      U-Net, 132x132x116 tiles at 2 mm / 1 mm); default: paper on a GPU with CTs of
                      1.5 mm voxels or finer, else fast (the run says which and why)
  --iterations N      iterations per stage (default: the preset's, stage 1 / stage 2:
                      fast ${defaults("fast")}, paper ${defaults("paper")})
  --lr RATE           peak learning rate (decays polynomially to 0)
  --batch N           patches per iteration
  --validate-every N  validation Dice and checkpoint every N iterations
  --class-weights W   paper (Roth et al.'s class weights, favouring recall), uniform (plain
                      cross-entropy, favouring precision) or inverse (inverse class frequency,
                      capped at 10, divided out again at the arg-max); default: the preset's,
                      per stage
  --labels SPEC       map the data's label ids to ours: "52:1,64:2,5:3,1:4,6:5,4:6,7:7"
                      (TotalSegmentator ids) or a JSON file {"52": 1, ...}; unlisted ids become 0
  --seed N            random seed (default 0): the same seed repeats a run exactly
  --cache DIR         the training cache: each case preprocessed once, keyed by its files'
                      contents, the labels and the preset (default: DIR/.train-cache; see
                      deno task prepare, which fills it ahead, on many machines if need be)
  --cases-in-memory N training cases held in memory at once (default ${DEFAULT_MEMORY.cases}); one is
                      replaced every ${DEFAULT_MEMORY.refreshEvery} iterations, so memory does not grow with the data
  --no-augment        no random deformation or rotation of the patches
  --resume            continue the run whose checkpoint is in MODEL_DIR, exactly where it stopped
  --adapter A         high-performance (default), low-power or software (the CPU)
  --progress MODE     bar, lines or off (default: a bar on a terminal, lines otherwise)
  -h, --help          this help

Labels: 0 background, 1 artery (aorta), 2 portal vein, 3 liver, 4 spleen, 5 stomach,
6 gallbladder, 7 pancreas. Ctrl-C (or SIGTERM, as Slurm and Kubernetes send) writes a
checkpoint and stops with exit code 130 (143 for SIGTERM); --resume continues.`;

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive whole number, got "${v}"`);
  }
  return n;
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      data: { type: "string" },
      out: { type: "string" },
      stage: { type: "string", default: "both" },
      preset: { type: "string" },
      iterations: { type: "string" },
      lr: { type: "string" },
      batch: { type: "string" },
      "validate-every": { type: "string" },
      labels: { type: "string" },
      "class-weights": { type: "string" },
      seed: { type: "string", default: "0" },
      cache: { type: "string" },
      "cases-in-memory": { type: "string" },
      "no-augment": { type: "boolean", default: false },
      resume: { type: "boolean", default: false },
      progress: { type: "string" },
      adapter: { type: "string", default: "high-performance" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (!values.data) throw new UsageError("--data DIR is required (see --help)");
  if (!values.out) throw new UsageError("--out MODEL_DIR is required (see --help)");
  const stages = ({ "1": [1], "2": [2], both: [1, 2] } as Record<string, (1 | 2)[]>)[values.stage];
  if (!stages) throw new UsageError(`--stage must be 1, 2 or both, got "${values.stage}"`);
  checkPresetName(values.preset);
  const lr = values.lr === undefined ? undefined : Number(values.lr);
  if (lr !== undefined && !(lr > 0)) {
    throw new UsageError(`--lr must be a positive number, got "${values.lr}"`);
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be a whole number, got "${values.seed}"`);
  const mode = values.progress ?? "auto";
  if (!["auto", "bar", "lines", "off"].includes(mode)) {
    throw new UsageError(`--progress must be bar, lines or off, got "${mode}"`);
  }
  const weights = values["class-weights"];
  if (weights !== undefined && !(CLASS_WEIGHTINGS as readonly string[]).includes(weights)) {
    throw new UsageError(`--class-weights must be ${CLASS_WEIGHTINGS.join(", ")}, got "${weights}"`);
  }
  const adapter = values.adapter as AdapterChoice;
  if (!ADAPTER_CHOICES.includes(adapter)) {
    throw new UsageError(`--adapter must be ${ADAPTER_CHOICES.join(", ")}, got "${values.adapter}"`);
  }
  const remap = values.labels ? await loadLabelRemap(values.labels) : undefined;
  // the data is checked (and its voxel size learnt) before the GPU starts
  const cases = await listCases(values.data);
  const profile = await casesProfile(cases);
  const inMemory = positiveInt("cases-in-memory", values["cases-in-memory"]);

  const gpu = await startGpu(adapter);
  const { preset, why } = pickPreset(values.preset, {
    software: gpu.isFallback,
    voxelMm: profile.typicalVoxelMm,
  });
  console.log(`adapter: ${gpu.adapterName}${gpu.isFallback ? " (software)" : ""}`);
  console.log(`preset: ${preset.name} (${why})`);
  const overrides = Object.fromEntries(
    Object.entries({
      iterations: positiveInt("iterations", values.iterations),
      batch: positiveInt("batch", values.batch),
      validateEvery: positiveInt("validate-every", values["validate-every"]),
      lr,
      classWeights: weights as ClassWeighting | undefined,
    }).filter(([, v]) => v !== undefined),
  );

  const stop = new AbortController();
  let exitCode = 0;
  const onSignal = (signal: "SIGINT" | "SIGTERM") => () => {
    if (stop.signal.aborted) Deno.exit(exitCode);
    exitCode = signal === "SIGINT" ? 130 : 143;
    console.error(
      `\n${signal}: stopping after this iteration (a checkpoint is written; again to quit at once)`,
    );
    stop.abort();
  };
  const listeners = { SIGINT: onSignal("SIGINT"), SIGTERM: onSignal("SIGTERM") };
  for (const [s, f] of Object.entries(listeners)) Deno.addSignalListener(s as Deno.Signal, f);
  const progressMode = mode as ProgressMode;
  const validationToStdout = mode === "lines" || mode === "off" || !Deno.stderr.isTerminal();
  let bar: Progress | null = null;
  let prep: Progress | null = null, prepared = 0;
  const results = await trainCascade({
    dataDir: values.data,
    outDir: values.out,
    preset,
    stages,
    resume: values.resume,
    seed,
    remap,
    overrides,
    augment: !values["no-augment"],
    cacheDir: values.cache,
    memory: inMemory ? { ...DEFAULT_MEMORY, cases: inMemory } : undefined,
    signal: stop.signal,
    metadata: {
      training: JSON.stringify({
        spacingMm: profile.spacingMm,
        extentZMm: profile.extentZMm,
        cases: profile.cases,
      }),
    },
    onStatus: (m) => console.log(m),
    onPrepare: (stage, done, total, id, work) => {
      prep ??= new Progress(`stage ${stage}: cases`, total, {
        mode: progressMode,
        unit: "case",
        writer: stderrWriter,
      });
      if (work) prepared++;
      prep.tick(1, `${id}${work ? "" : " (cached)"}`);
      if (done === total) {
        prep.done(`${prepared} prepared, ${total - prepared} from the cache`);
        prep = null;
        prepared = 0;
      }
    },
    onIteration: (stage, it, total, loss, rate) => {
      // a resumed run counts (and times) only the iterations it still has to do
      bar ??= new Progress(
        it > 1 ? `stage ${stage} (from iteration ${it - 1})` : `stage ${stage}`,
        total - it + 1,
        {
          mode: progressMode,
          writer: stderrWriter,
        },
      );
      bar.tick(1, `loss ${loss.toFixed(4)} lr ${rate.toExponential(1)}`);
      if (it === total) {
        bar.done();
        bar = null;
      }
    },
    onValidation: (stage, it, dice, best) => {
      const mean = dice.filter((d) => !Number.isNaN(d.dice));
      const text = mean.map((d) => `${labelName(d.label)} ${d.dice.toFixed(3)}`).join(", ");
      const line = `stage ${stage} validation at ${it}: ${text}${best ? " (best so far, saved)" : ""}`;
      if (validationToStdout) console.log(line);
      else console.error(`\r\x1b[K${line}`);
    },
  });
  for (const [s, f] of Object.entries(listeners)) Deno.removeSignalListener(s as Deno.Signal, f);
  for (const r of results) {
    const stage = r.modelPath.match(/stage(\d)/)?.[1];
    console.log(
      `\nstage ${stage}: ${r.iterations} iterations in ${r.seconds.toFixed(0)} s; best mean Dice ` +
        `${r.bestScore.toFixed(3)} at iteration ${r.bestIteration}` +
        (r.validationIsTraining ? " (on the training case: a check that training works, not accuracy)" : ""),
    );
    console.log(diceTable(r.bestDice));
    console.log(`model: ${r.modelPath}`);
  }
  if (results.some((r) => r.interrupted)) {
    console.log("interrupted: continue with the same command and --resume");
    return exitCode || 130;
  }
  return 0;
}

function diceTable(d: LabelDice[]): string {
  return formatTable(
    ["organ", "Dice", "voxels predicted", "voxels reference"],
    d.map((
      x,
    ) => [labelName(x.label), Number.isNaN(x.dice) ? "-" : x.dice.toFixed(3), x.predicted, x.reference]),
  );
}

if (import.meta.main) await runCli(main, [TrainingError, CacheError]);
