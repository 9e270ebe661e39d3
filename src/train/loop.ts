/**
 * Training one cascade stage: patches from the training volumes, the paper's weighted cross-entropy
 * inside the candidate region (class weights from the training volumes' candidate regions), AdamW or SGD with a polynomially decaying rate, validation Dice per
 * organ, the best model kept, checkpoints written atomically, and an exact resume. Every random draw
 * of iteration i comes from a generator seeded by (seed, stage, i), so a resumed run repeats the
 * uninterrupted one.
 */
import { UNet3D } from "../nn/unet3d.ts";
import { saveModel } from "../io/models.ts";
import { Adam } from "../optim/adam.ts";
import { SGD } from "../optim/sgd.ts";
import type { Optimizer } from "../optim/sgd.ts";
import { polyLr } from "../optim/schedule.ts";
import { backward } from "../autograd.ts";
import { weightedCrossEntropy } from "../ops/loss.ts";
import { Tensor, tidy, untrack } from "../tensor.ts";
import { Rng } from "../util/random.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { pathExists } from "../io/fs.ts";
import { predictInside } from "../cascade/infer.ts";
import type { StageSpec } from "../cascade/stage.ts";
import { DEFAULT_WEIGHT_CAP, type TrainSettings } from "../cascade/presets.ts";
import { LABEL_NAMES } from "../volume/labels.ts";
import { addDiceCounts, diceFromCounts, emptyDiceCounts, type LabelDice, meanDice } from "./dice.ts";
import { type Patch, samplePatch, type TrainingVolume } from "./sampler.ts";
import { type CaseStore, memoryStore, WorkingSet } from "./working-set.ts";
import { loadCheckpoint, type LoopState, saveCheckpoint } from "./checkpoint.ts";
import { type MetricRecord, readMetrics, writeCurves } from "./metrics.ts";

/** Training stopped because it could not go on (NaN loss, an existing run without --resume, ...). */
export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingError";
  }
}

/** Files of one stage in the model directory. */
export function stageFiles(dir: string, stage: number) {
  return {
    model: `${dir}/stage${stage}.safetensors`,
    checkpoint: `${dir}/stage${stage}.checkpoint.safetensors`,
    metrics: `${dir}/stage${stage}.metrics.jsonl`,
    curves: `${dir}/stage${stage}.curves.png`,
  };
}

/** Everything `trainStage` needs. */
export interface StageTrainOptions {
  spec: StageSpec;
  settings: TrainSettings;
  train: CaseStore;
  /** Held-out cases; when empty the training cases are used (and `validationIsTraining` says so). */
  validation: CaseStore;
  /** Training cases held in memory at once, and iterations between replacing one (see WorkingSet). */
  memory?: { cases: number; refreshEvery: number };
  outDir: string;
  seed: number;
  resume: boolean;
  augment?: boolean;
  /** After each iteration. */
  onIteration?: (stage: number, iteration: number, total: number, loss: number, lr: number) => void;
  /** After each validation. */
  onValidation?: (stage: number, iteration: number, dice: LabelDice[], isBest: boolean) => void;
  /** Checked after each iteration: when aborted, a checkpoint is written and training returns. */
  signal?: AbortSignal;
  /** Further metadata for the model files (e.g. `training`, the training CTs' profile). */
  metadata?: Record<string, string>;
}

/** What a stage's training produced. */
export interface StageTrainResult {
  /** The best model (by mean validation Dice). */
  modelPath: string;
  iterations: number;
  seconds: number;
  bestScore: number;
  bestIteration: number;
  /** Dice of the best model at its validation. */
  bestDice: LabelDice[];
  /** Whether validation ran on the training volumes. */
  validationIsTraining: boolean;
  /** True when stopped by the signal before the last iteration. */
  interrupted: boolean;
  /** Most training volumes held in memory at once (the working set and its read-ahead). */
  peakCasesInMemory: number;
}

/**
 * Training cases in memory at once, and iterations between replacing one: enough cases to vary the
 * patches of neighbouring iterations, few enough that memory does not grow with the data set.
 */
export const DEFAULT_MEMORY = { cases: 4, refreshEvery: 20 };

/** Seed of iteration `it` of a stage. */
function iterationSeed(seed: number, stage: number, it: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stage * 1_000_003 + it, 0xc2b2ae35)) >>> 0;
}

/** Seed of the initial weights of a stage's network (He initialisation). */
export function modelSeed(seed: number, stage: number): number {
  return seed * 31 + stage;
}

/** The stage's model written with its spec and provenance, so segmentation needs nothing else. */
function modelMetadata(spec: StageSpec, extra: Record<string, string>): Record<string, string> {
  return { ...extra, stage: JSON.stringify(spec), labels: JSON.stringify(LABEL_NAMES) };
}

/**
 * Validation Dice per organ of the current model over the validation cases (pooled voxels), loading
 * one case at a time (`held` offers volumes already in memory).
 */
export async function validate(
  model: UNet3D,
  spec: StageSpec,
  cases: CaseStore,
  held?: (i: number) => Promise<TrainingVolume> | undefined,
): Promise<LabelDice[]> {
  const counts = emptyDiceCounts(spec.unet.classes);
  for (let i = 0; i < cases.ids.length; i++) {
    const v = await (held?.(i) ?? cases.load(i));
    addDiceCounts(counts, await predictInside(model, spec, v.image, v.dims, v.candidate), v.labels);
  }
  return diceFromCounts(counts);
}

/** Voxels of each class inside the candidate regions of a store's cases (from its kept counts). */
function candidateCounts(cases: CaseStore, classes: number): Float64Array {
  const counts = new Float64Array(classes);
  for (let i = 0; i < cases.ids.length; i++) {
    const c = cases.counts(i, classes);
    for (let k = 0; k < classes; k++) counts[k] += c[k];
  }
  return counts;
}

const asStore = (cases: CaseStore | TrainingVolume[]) => Array.isArray(cases) ? memoryStore(cases) : cases;

/**
 * The class weights of Roth et al., lambda_i = (1 - N_i / N_C) / (K - 1), with N_C the voxels of the
 * training volumes' candidate regions and N_i those of class i. Counted over whole volumes rather
 * than per patch: a patch of background alone would otherwise weigh its background 0 and teach
 * nothing, and the weights would jump from patch to patch. A store's kept counts load no volume.
 */
export function volumeClassWeights(cases: CaseStore | TrainingVolume[], classes: number): Float32Array {
  const counts = candidateCounts(asStore(cases), classes);
  const total = counts.reduce((a, b) => a + b, 0);
  return Float32Array.from(counts, (n) => (total ? (1 - n / total) / (classes - 1) : 0));
}

/**
 * Inverse-frequency class weights with a cap, w_i = min(cap, N_max / N_i), counted like
 * {@link volumeClassWeights}: the commonest class weighs 1, a class ten times rarer 10, and none more
 * than `cap`, so that a thin vessel is not drowned by the background and the liver without its
 * weight growing so large that the network paints it everywhere. A class absent from every volume
 * gets the cap (no voxel uses it).
 */
export function cappedInverseWeights(
  cases: CaseStore | TrainingVolume[],
  classes: number,
  cap: number,
): Float32Array {
  if (!(cap >= 1)) throw new RangeError(`cappedInverseWeights: the cap must be at least 1, got ${cap}`);
  const counts = candidateCounts(asStore(cases), classes);
  const most = Math.max(...counts);
  return Float32Array.from(counts, (n) => (n > 0 ? Math.min(cap, most / n) : cap));
}

/** The class weights a stage's settings ask for. */
export function stageClassWeights(
  s: TrainSettings,
  cases: CaseStore | TrainingVolume[],
  classes: number,
): Float32Array {
  switch (s.classWeights) {
    case "uniform":
      return new Float32Array(classes).fill(1);
    case "paper":
      return volumeClassWeights(cases, classes);
    case "inverse":
      return cappedInverseWeights(cases, classes, s.classWeightCap ?? DEFAULT_WEIGHT_CAP);
  }
}

/**
 * Whether a checkpoint written for `savedStage` (its stage description) may continue as `spec`: the
 * same stage setup, or one whose recorded loss weights alone differ (`decision changed`: the scores
 * it recorded were measured with another arg-max). Anything else is refused by name.
 */
export function resumeRule(
  path: string,
  savedStage: string | undefined,
  spec: StageSpec,
): "same" | "decision changed" {
  if (savedStage === undefined) return "same"; // checkpoints of older versions recorded no stage
  let saved: StageSpec;
  try {
    saved = JSON.parse(savedStage);
  } catch {
    throw new TrainingError(`${path}: the checkpoint's stage description is not JSON`);
  }
  const { lossWeights: a, ...setup } = saved;
  const { lossWeights: b, ...now } = spec;
  if (JSON.stringify(setup) !== JSON.stringify(now)) {
    throw new TrainingError(
      `${path} was written for another stage setup (grid, patch, network or C2 margin): ` +
        "continue it with the settings it started with, or choose another --out",
    );
  }
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null) ? "same" : "decision changed";
}

function makeOptimizer(model: UNet3D, s: TrainSettings): Optimizer {
  const params = [...model.params.values()];
  return s.optimizer === "adam"
    ? new Adam(params, { lr: s.lr, decoupled: true })
    : new SGD(params, { lr: s.lr, momentum: 0.9 });
}

/** Trains one stage; see the module comment. */
export async function trainStage(o: StageTrainOptions): Promise<StageTrainResult> {
  const { settings } = o;
  const k = o.spec.unet.classes;
  const weights = stageClassWeights(settings, o.train, k);
  // Inverse-frequency weights help rare classes learn; the model records them so that inference (and
  // validation here) divides them out at the arg-max instead of widening every organ by its weight.
  const spec: StageSpec = settings.classWeights === "inverse"
    ? { ...o.spec, lossWeights: Array.from(weights) }
    : o.spec;
  const files = stageFiles(o.outDir, spec.stage);
  const exists = await pathExists(files.checkpoint);
  if (exists && !o.resume) {
    throw new TrainingError(
      `${files.checkpoint} already exists: pass --resume to continue that run, or choose another --out`,
    );
  }
  const model = new UNet3D(spec.unet, modelSeed(o.seed, spec.stage));
  const optimizer = makeOptimizer(model, settings);
  const validationIsTraining = o.validation.ids.length === 0;
  const memory = o.memory ?? DEFAULT_MEMORY;
  const working = new WorkingSet(o.train, {
    size: memory.cases,
    refreshEvery: memory.refreshEvery,
    seed: o.seed,
    stage: spec.stage,
  });
  const validateNow = () =>
    validationIsTraining
      ? validate(model, spec, o.train, (i) => working.held(i))
      : validate(model, spec, o.validation);
  let loop: LoopState = { iteration: 0, bestScore: -1, bestIteration: 0, seconds: 0 };
  let history: MetricRecord[] = [];
  let bestDice: LabelDice[] = [];
  const classWeights = Tensor.from(weights, [k]);
  untrack(classWeights);
  try {
    if (exists) {
      const saved = await loadCheckpoint(files.checkpoint, model, optimizer);
      loop = saved.loop;
      const rule = resumeRule(files.checkpoint, saved.metadata.stage, spec);
      // Dice measured under another decision rule is no score to beat: the next validation saves
      if (rule === "decision changed") loop = { ...loop, bestScore: -1 };
      history = (await readMetrics(files.metrics)).filter((r) => r.iteration <= loop.iteration);
      bestDice = history.findLast((r) => r.dice && r.iteration === loop.bestIteration)?.dice ?? [];
    }
    const schedule = polyLr(settings.lr, settings.iterations);
    const metricsLines = () =>
      history.map((r) => JSON.stringify(r)).join("\n") + (history.length ? "\n" : "");
    const meta = modelMetadata(spec, { ...o.metadata, seed: String(o.seed) });
    const checkpoint = async () => {
      await saveCheckpoint(files.checkpoint, model, optimizer, loop, meta);
      await writeFileAtomic(files.metrics, metricsLines());
      await writeCurves(files.curves, history, spec.stage);
    };
    const n = settings.batch;
    let interrupted = false;
    let started = performance.now();
    while (loop.iteration < settings.iterations) {
      const it = loop.iteration;
      const rng = new Rng(iterationSeed(o.seed, spec.stage, it));
      const patches: Patch[] = [];
      const volumes = await working.volumesAt(it);
      for (let b = 0; b < n; b++) {
        const v = volumes[rng.int(volumes.length)];
        patches.push(
          await samplePatch(v, spec, rng, {
            foregroundFraction: settings.foregroundFraction,
            foregroundSampling: settings.foregroundSampling,
            augment: o.augment ?? true,
          }),
        );
      }
      const lr = schedule(it);
      optimizer.lr = lr;
      const loss = tidy(() => {
        const [px, py, pz] = spec.patch;
        const x = Tensor.from(concatArrays(patches.map((p) => p.image)), [n, 1, pz, py, px]);
        const logits = model.forward(x);
        const tileShape = [n, ...logits.shape.slice(2)];
        const labels = Tensor.from(concatArrays(patches.map((p) => p.labels)), tileShape, { dtype: "u32" });
        const mask = Tensor.from(concatArrays(patches.map((p) => p.mask)), tileShape, { dtype: "u32" });
        const l = weightedCrossEntropy(logits, labels, { mask, weights: classWeights });
        backward(l);
        optimizer.step();
        optimizer.zeroGrad();
        return l;
      });
      const value = (await loss.read())[0];
      loss.dispose();
      if (!Number.isFinite(value)) {
        throw new TrainingError(
          `stage ${spec.stage}: the loss became ${value} at iteration ${it + 1}; stopped without saving ` +
            `(the last checkpoint, iteration ${loop.iteration}${
              exists || loop.iteration ? "" : ": none yet"
            }, ` +
            `is intact): try a lower learning rate`,
        );
      }
      loop.iteration++;
      const now = performance.now();
      loop.seconds += (now - started) / 1000;
      started = now;
      history.push({ stage: spec.stage, iteration: loop.iteration, loss: value, lr, seconds: loop.seconds });
      o.onIteration?.(spec.stage, loop.iteration, settings.iterations, value, lr);
      const last = loop.iteration === settings.iterations;
      if (loop.iteration % settings.validateEvery === 0 || last) {
        const dice = await validateNow();
        const score = meanDice(dice);
        const isBest = score > loop.bestScore;
        history.push({ stage: spec.stage, iteration: loop.iteration, dice, meanDice: score });
        if (isBest) {
          loop.bestScore = score;
          loop.bestIteration = loop.iteration;
          bestDice = dice;
          await saveModel(files.model, model, {
            ...meta,
            iteration: String(loop.iteration),
            validation: JSON.stringify({ meanDice: score, onTrainingCases: validationIsTraining }),
          });
        }
        await checkpoint();
        o.onValidation?.(spec.stage, loop.iteration, dice, isBest);
        started = performance.now(); // validation time is not training time
      }
      if (o.signal?.aborted && !last) {
        await checkpoint();
        interrupted = true;
        break;
      }
    }
    return {
      modelPath: files.model,
      iterations: loop.iteration,
      seconds: loop.seconds,
      bestScore: loop.bestScore,
      bestIteration: loop.bestIteration,
      bestDice,
      validationIsTraining,
      interrupted,
      peakCasesInMemory: working.peak,
    };
  } finally {
    classWeights.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

function concatArrays<T extends Float32Array | Uint32Array>(parts: T[]): T {
  if (parts.length === 1) return parts[0];
  const out = new (parts[0].constructor as { new (n: number): T })(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
