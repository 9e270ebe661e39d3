/**
 * Preparing training cases into the cache (src/train/cache.ts) and reading them back as stores that
 * load one case at a time: the stage grids of every case in one pass (each case read at most once),
 * then, for stage 2, the candidate regions C2 from the trained stage-1 model.
 */
import type { CascadePreset } from "../cascade/presets.ts";
import type { Stage1 } from "../cascade/pipeline.ts";
import type { StageSpec } from "../cascade/stage.ts";
import type { TrainingCase } from "../io/dataset.ts";
import type { LabelRemap } from "../volume/labels.ts";
import type { StageVolume } from "../cascade/prepare.ts";
import { type EntryInfo, type GridEntry, type GridSpec, gridSpecOf, type TrainingCache } from "./cache.ts";
import { trainingVolume } from "./sampler.ts";
import type { CaseStore } from "./working-set.ts";

/** Where the cache goes unless told otherwise: a hidden folder in the data folder. */
export function defaultCacheDir(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}/.train-cache`;
}

/** Progress of a preparation pass: cases done, of how many, and whether this one needed work. */
export type PrepareProgress = (done: number, total: number, id: string, prepared: boolean) => void;

/**
 * The grids the stages need: stage 1's (with C1) for stage 1, and for stage 2 its own grid and stage
 * 1's (on which the stage-1 model predicts C2).
 */
export function gridSpecsFor(preset: CascadePreset, stages: readonly (1 | 2)[]): GridSpec[] {
  return stages.includes(2)
    ? [gridSpecOf(preset.stages[0]), gridSpecOf(preset.stages[1])]
    : [gridSpecOf(preset.stages[0])];
}

/** The image and grid of an entry. */
function stageVolumeOf(g: GridEntry): StageVolume {
  return { image: g.image, dims: g.dims, spacing: g.spacing, affine: g.affine };
}

/** Counts of an entry's header as an array by label. */
function countArray(counts: Record<string, number>, classes: number): Float64Array {
  const out = new Float64Array(classes);
  for (const [label, n] of Object.entries(counts)) if (Number(label) < classes) out[Number(label)] = n;
  return out;
}

/** Makes sure every case has the given grids; returns each case's grid files (case, then grid). */
export async function prepareGrids(
  cache: TrainingCache,
  cases: readonly TrainingCase[],
  grids: GridSpec[],
  opts: { remap?: LabelRemap; onCase?: PrepareProgress } = {},
): Promise<string[][]> {
  const files: string[][] = [];
  for (const c of cases) {
    const r = await cache.ensureGrids(c, grids, { remap: opts.remap });
    files.push(r.files);
    opts.onCase?.(files.length, cases.length, c.id, r.prepared);
  }
  return files;
}

/** Stage 1's cases from their grid entries (image, labels, C1). */
export async function stage1Store(
  cache: TrainingCache,
  cases: readonly TrainingCase[],
  spec: StageSpec,
  opts: { remap?: LabelRemap; onCase?: PrepareProgress } = {},
): Promise<CaseStore> {
  const files = (await prepareGrids(cache, cases, [gridSpecOf(spec)], opts)).map((f) => f[0]);
  const infos: EntryInfo[] = [];
  for (const f of files) infos.push(await cache.info(f));
  return {
    ids: cases.map((c) => c.id),
    load: async (i) => {
      const g = await cache.loadGrid(files[i]);
      return trainingVolume(cases[i].id, stageVolumeOf(g), g.labels, g.c1!);
    },
    counts: (i, classes) => countArray(infos[i].counts, classes),
  };
}

/**
 * Stage 2's cases: the stage-2 grid entries with C2 from the stage-1 model (`hash`: its weights'),
 * prepared where missing.
 */
export async function stage2Store(
  cache: TrainingCache,
  cases: readonly TrainingCase[],
  spec: StageSpec,
  stage1: Stage1 & { hash: string },
  opts: { remap?: LabelRemap; onCase?: PrepareProgress } = {},
): Promise<CaseStore> {
  const entries: { grid2: string; c2: string; counts: Record<string, number> }[] = [];
  for (const c of cases) {
    const r = await cache.ensureC2(c, spec, stage1, { remap: opts.remap });
    entries.push({ ...r, counts: (await cache.info(r.c2)).counts });
    opts.onCase?.(entries.length, cases.length, c.id, r.prepared);
  }
  return {
    ids: cases.map((c) => c.id),
    load: async (i) => {
      const g = await cache.loadGrid(entries[i].grid2);
      const { c2 } = await cache.loadC2(entries[i].c2, g.labels.length);
      return trainingVolume(cases[i].id, stageVolumeOf(g), g.labels, c2);
    },
    counts: (i, classes) => countArray(entries[i].counts, classes),
  };
}

/** One case of {@link prepareCache}. */
export interface PreparedCase {
  id: string;
  /** True when something was computed, false when the cache had it all. */
  prepared: boolean;
  seconds: number;
  /** Why the case could not be prepared (then the others still are). */
  error?: unknown;
}

/** Errors after which no case can be prepared (a lost GPU, an unwritable cache): the pass stops. */
export type IsFatal = (e: unknown) => boolean;

/**
 * Prepares cases ahead of training (`deno task prepare`): every stage grid of the preset and, given
 * the trained stage-1 model, stage 2's C2. A case that fails is reported through `onCase` and the
 * others go on, unless `isFatal` says the error stops everything.
 */
export async function prepareCache(o: {
  cache: TrainingCache;
  cases: readonly TrainingCase[];
  preset: CascadePreset;
  remap?: LabelRemap;
  stage1?: Stage1 & { hash: string };
  isFatal: IsFatal;
  onCase?: (r: PreparedCase, done: number, total: number) => void;
}): Promise<PreparedCase[]> {
  const grids = gridSpecsFor(o.preset, [1, 2]);
  const out: PreparedCase[] = [];
  for (const c of o.cases) {
    const t0 = performance.now();
    const r: PreparedCase = { id: c.id, prepared: false, seconds: 0 };
    try {
      r.prepared = (await o.cache.ensureGrids(c, grids, { remap: o.remap })).prepared;
      if (o.stage1) {
        const c2 = await o.cache.ensureC2(c, o.preset.stages[1], o.stage1, { remap: o.remap });
        r.prepared ||= c2.prepared;
      }
    } catch (e) {
      if (o.isFatal(e)) throw e;
      r.error = e;
    }
    r.seconds = (performance.now() - t0) / 1000;
    out.push(r);
    o.onCase?.(r, out.length, o.cases.length);
  }
  return out;
}
