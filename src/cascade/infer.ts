/**
 * Sliding-window inference of one stage over a region of a volume: overlapping tiles, softmax
 * probabilities blended with a Gaussian weight, arg-max per voxel. Tiles are visited slab by slab
 * along z and each z-plane is resolved as soon as no later tile touches it, so host memory holds only
 * a slab of probabilities and GPU memory only one tile, however large the volume. A kernel counts the
 * non-finite probabilities of every tile on the GPU, read back once per region: a network that gives
 * NaN or infinity stops inference with a `NonFiniteError` instead of turning them into background.
 */
import { stageOutput, type StageSpec } from "./stage.ts";
import { blendWeights, planTiles } from "./tiles.ts";
import { noGrad } from "../autograd.ts";
import { NonFiniteFlag } from "../ops/finite.ts";
import { softmax } from "../ops/softmax.ts";
import { WeightsError } from "../nn/safetensors.ts";
import { Tensor, tidy } from "../tensor.ts";
import { boundingBox, type Box, boxSize, extractBox } from "../volume/bbox.ts";
import type { Vec3 } from "../volume/types.ts";

/** What inference needs of a network: logits [N, classes, ...] for an input [N, 1, D, H, W]. */
export interface Segmenter {
  forward(x: Tensor): Tensor;
  training: boolean;
}

/** Options of {@link predictRegion}. */
export interface PredictOptions {
  /** Fraction of a tile shared with its neighbour, in [0, 1) (default 0.5). */
  overlap?: number;
  /** Called after each tile with (done, total). */
  onTile?: (done: number, total: number) => void;
  /** The model's file, named by the error when the network gives non-finite values. */
  source?: string;
}

/**
 * The network gave NaN or infinite probabilities (weights that hold them, or that overflow on this
 * input): a bad model, named by its file (or "the stage-N model" when it has none) and its stage.
 */
export class NonFiniteError extends WeightsError {
  constructor(source: string, stage: number, count: number, tiles: number) {
    super(
      source,
      `stage ${stage} gave ${count} non-finite probabilities (NaN or infinity) over ${tiles} tile(s): ` +
        `its weights hold such values or overflow on this input; stopped without labels`,
    );
    this.name = "NonFiniteError";
  }
}

/** Number of tiles {@link predictRegion} will run. */
export function tileCount(spec: StageSpec, region: Box, overlap = 0.5): number {
  return planTiles(region, stageOutput(spec), overlap).length;
}

/**
 * Labels for every voxel of `region` (0 elsewhere) of a normalised image on the stage's grid.
 * Input patches that reach outside the volume replicate its edge voxels. Throws `NonFiniteError` when
 * the network gives a NaN or an infinity anywhere in the region.
 */
export async function predictRegion(
  model: Segmenter,
  spec: StageSpec,
  image: Float32Array,
  dims: Vec3,
  region: Box,
  opts: PredictOptions = {},
): Promise<Uint8Array> {
  const k = spec.unet.classes;
  const [rx, ry] = boxSize(region);
  const planeSize = rx * ry;
  const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
  // the blend's weight sum is the same for every class, so the arg-max needs no division by it; the
  // training loss's class weights, when the spec says so, are divided out (see StageSpec.lossWeights)
  const scale = spec.lossWeights ? spec.lossWeights.map((w) => 1 / w) : new Array(k).fill(1);
  await blendRegion(model, spec, image, dims, region, opts, (z, acc) => {
    for (let i = 0; i < planeSize; i++) {
      let best = 0, bestP = -1;
      for (let c = 0; c < k; c++) {
        const v = acc ? acc[c * planeSize + i] * scale[c] : 0;
        if (v > bestP) [best, bestP] = [c, v];
      }
      const x = region.min[0] + (i % rx), y = region.min[1] + Math.floor(i / rx);
      labels[x + dims[0] * (y + dims[1] * z)] = best;
    }
  });
  return labels;
}

/**
 * The sliding-window blend under {@link predictRegion}: for each z-plane of `region`, in order, calls
 * `onPlane(z, acc)` as soon as no later tile touches it, with `acc` [classes][plane] (x fastest, over the
 * region's x and y) holding the sum over the tiles covering each voxel of the tile's Gaussian weight
 * there times its softmax probabilities (undefined for a plane no tile reached). Checks every tile's
 * probabilities for non-finite values on the GPU and throws `NonFiniteError` after the last tile.
 */
export async function blendRegion(
  model: Segmenter,
  spec: StageSpec,
  image: Float32Array,
  dims: Vec3,
  region: Box,
  opts: PredictOptions,
  onPlane: (z: number, acc: Float32Array | undefined) => void,
): Promise<void> {
  const out = stageOutput(spec);
  const margin = [0, 1, 2].map((a) => (spec.patch[a] - out[a]) / 2);
  const tiles = planTiles(region, out, opts.overlap ?? 0.5);
  const weights = blendWeights(out);
  const k = spec.unet.classes;
  const [rx, ry] = boxSize(region);
  const planeSize = rx * ry;
  // z-plane -> accumulated weighted probabilities [k][plane]
  const planes = new Map<number, Float32Array>();
  const resolve = (z: number) => {
    const acc = planes.get(z);
    planes.delete(z);
    onPlane(z, acc);
  };
  let nextZ = region.min[2]; // first plane not yet resolved
  const wasTraining = model.training;
  model.training = false;
  const flag = new NonFiniteFlag();
  try {
    for (let t = 0; t < tiles.length; t++) {
      const o = tiles[t];
      const inBox: Box = {
        min: [0, 1, 2].map((a) => o[a] - margin[a]) as Vec3,
        max: [0, 1, 2].map((a) => o[a] - margin[a] + spec.patch[a]) as Vec3,
      };
      const patch = extractBox(image, dims, inBox, "edge");
      const probT = tileProbabilities(
        model,
        Tensor.from(patch, [1, 1, spec.patch[2], spec.patch[1], spec.patch[0]]),
        flag,
      );
      const probs = await probT.read();
      probT.dispose();
      accumulate(probs, o, out, weights, region, k, planes, planeSize);
      opts.onTile?.(t + 1, tiles.length);
      const nextStart = t + 1 < tiles.length ? tiles[t + 1][2] : region.max[2];
      for (; nextZ < Math.min(nextStart, region.max[2]); nextZ++) resolve(nextZ);
    }
    const bad = await flag.count();
    if (bad > 0) {
      throw new NonFiniteError(opts.source ?? `the stage-${spec.stage} model`, spec.stage, bad, tiles.length);
    }
  } finally {
    flag.dispose();
    model.training = wasTraining;
  }
  for (; nextZ < region.max[2]; nextZ++) resolve(nextZ);
}

/**
 * One tile's class probabilities (softmax of the logits), checked for non-finite values into `flag`:
 * the work of every sliding-window step, which the warm-up (src/cascade/warmup.ts) also records.
 */
export function tileProbabilities(model: Segmenter, input: Tensor, flag: NonFiniteFlag): Tensor {
  const probs = tidy(() => noGrad(() => softmax(model.forward(input))));
  flag.check(probs);
  return probs;
}

/** Adds one tile's weighted probabilities into the planes of the region it overlaps. */
function accumulate(
  probs: Float32Array,
  origin: Vec3,
  out: Vec3,
  weights: Float32Array,
  region: Box,
  k: number,
  planes: Map<number, Float32Array>,
  planeSize: number,
): void {
  const [ox, oy, oz] = out;
  const tileSize = ox * oy * oz;
  const rx = region.max[0] - region.min[0];
  for (let z = 0; z < oz; z++) {
    const gz = origin[2] + z;
    if (gz < region.min[2] || gz >= region.max[2]) continue;
    let plane = planes.get(gz);
    if (!plane) planes.set(gz, plane = new Float32Array(k * planeSize));
    for (let y = 0; y < oy; y++) {
      const gy = origin[1] + y;
      if (gy < region.min[1] || gy >= region.max[1]) continue;
      for (let x = 0; x < ox; x++) {
        const gx = origin[0] + x;
        if (gx < region.min[0] || gx >= region.max[0]) continue;
        const ti = (z * oy + y) * ox + x;
        const pi = (gx - region.min[0]) + rx * (gy - region.min[1]);
        const w = weights[ti];
        for (let c = 0; c < k; c++) plane[c * planeSize + pi] += w * probs[c * tileSize + ti];
      }
    }
  }
}

/**
 * Labels inside a candidate region (C1 or C2) of a normalised image: the sliding windows cover the
 * region's bounding box, and every voxel outside the region is background.
 */
export async function predictInside(
  model: Segmenter,
  spec: StageSpec,
  image: Float32Array,
  dims: Vec3,
  candidate: Uint8Array,
  opts: PredictOptions = {},
): Promise<Uint8Array> {
  const box = boundingBox(candidate, dims);
  const labels = box
    ? await predictRegion(model, spec, image, dims, box, opts)
    : new Uint8Array(candidate.length);
  for (let i = 0; i < labels.length; i++) if (!candidate[i]) labels[i] = 0;
  return labels;
}
