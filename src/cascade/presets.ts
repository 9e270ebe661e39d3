/**
 * Cascade presets: `paper` (Roth et al.: a 4-level valid-padding U-Net with batch norm, 132x132x116
 * tiles, stage 1 at twice the stage-2 voxel size) and `fast` (a small same-padding network at 6 mm and
 * 3 mm that trains on a software adapter). Each is one flag away in `deno task train --preset`.
 */
import { FAST_UNET, PAPER_UNET } from "../nn/unet3d.ts";
import type { StageSpec } from "./stage.ts";

/**
 * How an organ-centred patch picks its centre: `voxel`, any organ voxel alike (each organ as often
 * as its size); `class`, an organ class alike among those present in the case, then one of its voxels.
 */
export type ForegroundSampling = "voxel" | "class";

/** The ways of weighing the classes in the cross-entropy (see {@link TrainSettings}). */
export const CLASS_WEIGHTINGS = ["paper", "uniform", "inverse"] as const;
export type ClassWeighting = typeof CLASS_WEIGHTINGS[number];

/** The cap of `inverse` class weights when a preset names none. */
export const DEFAULT_WEIGHT_CAP = 10;

/** How a stage is trained. */
export interface TrainSettings {
  /** Iterations (one batch each). */
  iterations: number;
  /** Patches per iteration. */
  batch: number;
  /** `adam` (AdamW, no decay) or `sgd` (momentum 0.9). */
  optimizer: "adam" | "sgd";
  /** Peak learning rate; a polynomial decay takes it towards 0 by the last iteration. */
  lr: number;
  /** Validate (Dice per organ) and checkpoint every this many iterations. */
  validateEvery: number;
  /** Fraction of patches centred on an organ voxel (the rest anywhere in the candidate region). */
  foregroundFraction: number;
  /**
   * How that organ voxel is drawn: `voxel` (any organ voxel alike, the default) or `class` (an organ
   * class present in the case alike, then one of its voxels, as nnU-Net oversamples rare classes).
   */
  foregroundSampling?: ForegroundSampling;
  /**
   * Class weights of the cross-entropy: `paper` (Roth et al., lambda_i = (1 - N_i / N_C) / (K - 1),
   * which favours recall), `uniform` (plain cross-entropy in the candidate region, which favours
   * precision and converges in fewer iterations) or `inverse` (N_max / N_i, capped at
   * `classWeightCap`, which keeps rare classes such as a thin vessel from dying out).
   */
  classWeights: ClassWeighting;
  /** The largest `inverse` class weight (that of the commonest class is 1); default {@link DEFAULT_WEIGHT_CAP}. */
  classWeightCap?: number;
}

/** Both stages of a cascade and how to train them. */
export interface CascadePreset {
  name: string;
  stages: [StageSpec, StageSpec];
  train: [TrainSettings, TrainSettings];
}

/**
 * An abdominal soft-tissue window: organs differ by tens of HU, which a [-1000, 1000] window would
 * squeeze into a few hundredths of the network's input range.
 */
const HU = { min: -200, max: 300 };

/** The paper's training of each stage: SGD, 50,000 iterations, its class weights. */
const PAPER_TRAIN = {
  iterations: 50_000,
  batch: 1,
  optimizer: "sgd",
  lr: 0.01,
  validateEvery: 1000,
  foregroundFraction: 2 / 3,
  classWeights: "paper",
} as const;

/** The paper's configuration (needs a real GPU: about 527 GFLOP per forward tile). */
export const PAPER_PRESET: CascadePreset = {
  name: "paper",
  stages: [
    { stage: 1, spacing: [2, 2, 2], patch: [132, 132, 116], unet: PAPER_UNET, hu: HU },
    { stage: 2, spacing: [1, 1, 1], patch: [132, 132, 116], unet: PAPER_UNET, hu: HU, c2MarginMm: 3 },
  ],
  train: [PAPER_TRAIN, PAPER_TRAIN],
};

const SMALL = { ...FAST_UNET, baseChannels: 8 };

/** What the fast preset's stages share: AdamW at 2e-3 (polynomial decay), 2/3 of patches on organs. */
const FAST_TRAIN = { batch: 1, optimizer: "adam", lr: 2e-3, foregroundFraction: 2 / 3 } as const;

/** A small cascade that trains on the sample CT without a GPU (the default there). */
export const FAST_PRESET: CascadePreset = {
  name: "fast",
  stages: [
    { stage: 1, spacing: [6, 6, 6], patch: [32, 32, 32], unet: SMALL, hu: HU },
    { stage: 2, spacing: [3, 3, 3], patch: [40, 40, 40], unet: SMALL, hu: HU, c2MarginMm: 9 },
  ],
  train: [
    { ...FAST_TRAIN, iterations: 600, validateEvery: 100, classWeights: "paper" },
    // about 3000 patches before the spleen passes Dice 0.8 on the sample CT (models/demo/README.md).
    // With plain cross-entropy the aorta, a thin vessel of about 2% of C2's organ voxels, died out in
    // stage 2 (Dice 0 from 0.33 after stage 1); each organ class present is centred alike and weighs
    // up to ten times the background (inverse frequency, capped), as nnU-Net oversamples rare classes
    {
      ...FAST_TRAIN,
      iterations: 3000,
      validateEvery: 200,
      classWeights: "inverse",
      foregroundSampling: "class",
    },
  ],
};

/** Presets by name. */
export const PRESETS: Record<string, CascadePreset> = { paper: PAPER_PRESET, fast: FAST_PRESET };

/**
 * The preset a run takes when none is named, with the reason in one line: the paper's configuration
 * needs a real GPU and CTs fine enough for its 1 mm grid (it would only upsample coarser scans);
 * everything else trains the fast preset.
 */
export function defaultPreset(
  o: { software: boolean; voxelMm: number },
): { preset: CascadePreset; why: string } {
  const mm = `${Math.round(o.voxelMm * 100) / 100} mm`;
  if (o.software) {
    return { preset: FAST_PRESET, why: "a software adapter is too slow for the paper's network" };
  }
  if (o.voxelMm > 1.5) {
    return {
      preset: FAST_PRESET,
      why: `the CTs have ${mm} voxels, and the paper preset's 1 mm grid would only upsample them`,
    };
  }
  return { preset: PAPER_PRESET, why: `a GPU and CTs of ${mm} voxels: the paper's configuration` };
}
