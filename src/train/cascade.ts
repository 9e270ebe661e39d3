/**
 * Training the whole cascade from a data folder: stage 1 inside C1, then stage 2 inside C2 computed
 * by the trained stage-1 model on every case. Cases are split into training and validation (every
 * fifth case held out; a single case validates on itself, and the results say so).
 */
import type { CascadePreset, TrainSettings } from "../cascade/presets.ts";
import type { StageSpec } from "../cascade/stage.ts";
import { listCases, type TrainingCase } from "../io/dataset.ts";
import type { LabelRemap } from "../volume/labels.ts";
import { loadModel } from "../io/models.ts";
import { makeDir, pathExists } from "../io/fs.ts";
import { loadTrainingVolume } from "./cases.ts";
import type { Stage1 } from "../cascade/pipeline.ts";
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
  /** Called while cases are read and prepared, and when a stage starts. */
  onStatus?: (message: string) => void;
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
export async function loadStage1(outDir: string): Promise<Stage1> {
  const path = stageFiles(outDir, 1).model;
  const exists = await pathExists(path);
  if (!exists) {
    throw new TrainingError(
      `stage 2 needs a trained stage 1: ${path} does not exist (train --stage 1 first)`,
    );
  }
  const { model, metadata } = await loadModel(path);
  return { model, spec: JSON.parse(metadata.stage) as StageSpec };
}

/** Trains the requested stages in order; returns one result per stage. */
export async function trainCascade(o: CascadeTrainOptions): Promise<StageTrainResult[]> {
  const cases = await listCases(o.dataDir); // bad data fails before anything is created
  await makeDir(o.outDir);
  const split = splitCases(cases);
  const results: StageTrainResult[] = [];
  for (const stage of [...o.stages].sort()) {
    const spec = o.preset.stages[stage - 1];
    const settings = { ...o.preset.train[stage - 1], ...o.overrides };
    const stage1 = stage === 2 ? await loadStage1(o.outDir) : undefined;
    try {
      const load = async (list: TrainingCase[]) => {
        const out = [];
        for (const c of list) {
          o.onStatus?.(
            `stage ${stage}: preparing ${c.id}${stage === 2 ? " (C2 from the stage-1 model)" : ""}`,
          );
          out.push(await loadTrainingVolume(c, spec, { remap: o.remap, stage1 }));
        }
        return out;
      };
      const train = await load(split.train);
      const validation = await load(split.validation);
      o.onStatus?.(
        `stage ${stage}: ${train.length} training case(s), ` +
          (validation.length
            ? `${validation.length} held out for validation`
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
