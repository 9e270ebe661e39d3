/**
 * Training the whole cascade from a data folder: stage 1 inside C1, then stage 2 inside C2 computed
 * by the trained stage-1 model on every case. Cases are split into training and validation (every
 * fifth case held out; a single case validates on itself, and the results say so). Every case is
 * prepared once into the training cache (src/train/cache.ts) and read back a few at a time, so memory
 * does not grow with the number of cases.
 */
import type { CascadePreset, TrainSettings } from "../cascade/presets.ts";
import { listCases, type TrainingCase } from "../io/dataset.ts";
import type { LabelRemap } from "../volume/labels.ts";
import { loadStage } from "../io/models.ts";
import { makeDir, pathExists } from "../io/fs.ts";
import type { Stage1 } from "../cascade/pipeline.ts";
import { TrainingCache } from "./cache.ts";
import {
  defaultCacheDir,
  gridSpecsFor,
  prepareGrids,
  type PrepareProgress,
  stage1Store,
  stage2Store,
} from "./prepare.ts";
import {
  stageFiles,
  type StageTrainOptions,
  type StageTrainResult,
  TrainingError,
  trainStage,
} from "./loop.ts";

/** Options of {@link trainCascade}. */
export interface CascadeTrainOptions {
  dataDir: string;
  outDir: string;
  preset: CascadePreset;
  stages: (1 | 2)[];
  resume: boolean;
  seed: number;
  remap?: LabelRemap;
  /** Overrides of the preset's settings, applied to both stages. */
  overrides?: Partial<TrainSettings>;
  augment?: boolean;
  /** The training cache (default: `.train-cache` in the data folder). */
  cacheDir?: string;
  /** Training cases in memory at once and iterations between replacing one (default DEFAULT_MEMORY). */
  memory?: StageTrainOptions["memory"];
  /** Called when a stage starts and when a preparation pass begins. */
  onStatus?: (message: string) => void;
  /** Called after each case of a preparation pass (`stage`: the stage it prepares for). */
  onPrepare?: (stage: number, ...progress: Parameters<PrepareProgress>) => void;
  onIteration?: StageTrainOptions["onIteration"];
  onValidation?: StageTrainOptions["onValidation"];
  signal?: AbortSignal;
  /** Further metadata for the model files (see `StageTrainOptions.metadata`). */
  metadata?: Record<string, string>;
}

/** Splits sorted cases: every fifth one is held out for validation (none when there is only one). */
export function splitCases(cases: TrainingCase[]): { train: TrainingCase[]; validation: TrainingCase[] } {
  if (cases.length < 2) return { train: cases, validation: [] };
  const validation = cases.filter((_, i) => i % 5 === 4);
  if (!validation.length) validation.push(cases.at(-1)!);
  return { train: cases.filter((c) => !validation.includes(c)), validation };
}

/** Loads the trained stage-1 model of a model directory. */
export async function loadStage1(outDir: string): Promise<Stage1 & { path: string }> {
  const path = stageFiles(outDir, 1).model;
  const exists = await pathExists(path);
  if (!exists) {
    throw new TrainingError(
      `stage 2 needs a trained stage 1: ${path} does not exist (train --stage 1 first)`,
    );
  }
  return { ...(await loadStage(path, 1)), path }; // the stage file's checks, lossWeights included
}

/** Trains the requested stages in order; returns one result per stage. */
export async function trainCascade(o: CascadeTrainOptions): Promise<StageTrainResult[]> {
  const cases = await listCases(o.dataDir); // bad data fails before anything is created
  await makeDir(o.outDir);
  const cache = await TrainingCache.open(o.cacheDir ?? defaultCacheDir(o.dataDir));
  const split = splitCases(cases);
  const stages = [...o.stages].sort();
  // every grid the stages need, in one pass: each case is read at most once
  o.onStatus?.(`preparing ${cases.length} case(s) in the cache ${cache.dir}`);
  await prepareGrids(cache, cases, gridSpecsFor(o.preset, stages), {
    remap: o.remap,
    onCase: (...p) => o.onPrepare?.(stages[0], ...p),
  });
  const results: StageTrainResult[] = [];
  for (const stage of stages) {
    const spec = o.preset.stages[stage - 1];
    const settings = { ...o.preset.train[stage - 1], ...o.overrides };
    const stage1 = stage === 2 ? await loadStage1(o.outDir) : undefined;
    try {
      const store = async (list: TrainingCase[]) => {
        const opts = {
          remap: o.remap,
          onCase: (...p: Parameters<PrepareProgress>) => o.onPrepare?.(stage, ...p),
        };
        // stage 1's grids were all made by the pass above: finding them again needs no report
        if (!stage1) return await stage1Store(cache, list, spec, { remap: o.remap });
        const hash = await cache.contentHash(stage1.path);
        return await stage2Store(cache, list, spec, { ...stage1, hash }, opts);
      };
      if (stage1) o.onStatus?.(`stage 2: C2 of each case from the stage-1 model`);
      const train = await store(split.train);
      const validation = await store(split.validation);
      o.onStatus?.(
        `stage ${stage}: ${train.ids.length} training case(s), ` +
          (validation.ids.length
            ? `${validation.ids.length} held out for validation`
            : "validating on the training case"),
      );
      results.push(
        await trainStage({
          spec,
          settings,
          train,
          validation,
          outDir: o.outDir,
          seed: o.seed,
          resume: o.resume,
          augment: o.augment,
          memory: o.memory,
          onIteration: o.onIteration,
          onValidation: o.onValidation,
          signal: o.signal,
          metadata: o.metadata,
        }),
      );
    } finally {
      (stage1?.model as { dispose?: () => void } | undefined)?.dispose?.();
    }
    if (results.at(-1)!.interrupted) break;
  }
  return results;
}
