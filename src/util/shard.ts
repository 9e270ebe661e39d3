/**
 * Shares of a list of cases for many machines: shard I of N takes the cases whose name hashes to I
 * modulo N, so the shards never overlap, their union is every case, and a case stays in its shard
 * whatever the other cases are (adding cases to an archive moves none of the old ones). The shard can
 * come from `--shard I/N` or from a scheduler's environment: a Slurm job array or a Kubernetes
 * Indexed Job.
 */

/** A shard that cannot be used (a bad `--shard`, or a scheduler environment that does not add up). */
export class ShardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShardError";
  }
}

/** Shard `index` (0-based) of `count`, and where that choice came from (for the user). */
export interface Shard {
  index: number;
  count: number;
  /** E.g. `--shard 1/3`, or `Slurm array task 4 of 0-8 (SLURM_ARRAY_TASK_ID)`. */
  source: string;
}

/** Environment variable the shipped Kubernetes manifest sets to the Job's `completions`. */
export const K8S_COUNT_VARIABLE = "JOB_COMPLETIONS";

const encoder = new TextEncoder();

/**
 * A stable 32-bit hash of a case name: FNV-1a over its UTF-8 bytes, then murmur3's finaliser so that
 * the low bits (which `% N` keeps) depend on every byte. Part of the on-disk contract: changing it
 * would move cases between the shards of runs already under way.
 */
export function caseHash(name: string): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(name)) h = Math.imul(h ^ b, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The shard (0..count-1) a case name falls in. */
export function shardOf(name: string, count: number): number {
  return caseHash(name) % count;
}

/** The items whose name falls in `shard` (all of them without a shard), in their order. */
export function inShard<T>(items: readonly T[], name: (item: T) => string, shard: Shard | null): T[] {
  if (!shard || shard.count === 1) return [...items];
  return items.filter((item) => shardOf(name(item), shard.count) === shard.index);
}

function wholeNumber(text: string | undefined): number | null {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return null;
  return Number(text);
}

/** Checks index < count, both whole, count >= 1. */
function checked(index: number | null, count: number | null, source: string, what: string): Shard {
  if (count === null || count < 1) throw new ShardError(`${what}: the number of shards must be 1 or more`);
  if (index === null || index >= count) {
    throw new ShardError(`${what}: the shard index must be a whole number from 0 to ${count - 1}`);
  }
  return { index, count, source };
}

/** Parses `--shard I/N` (I from 0 to N-1). */
export function parseShard(spec: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  if (!m) throw new ShardError(`--shard must be I/N (e.g. 0/4 for the first of 4 shards), got "${spec}"`);
  return checked(Number(m[1]), Number(m[2]), `--shard ${Number(m[1])}/${Number(m[2])}`, `--shard ${spec}`);
}

/**
 * The shard a scheduler gives this process, or null when none does:
 * - a Slurm job array: `SLURM_ARRAY_TASK_ID` among `SLURM_ARRAY_TASK_COUNT` tasks, the index counted
 *   from `SLURM_ARRAY_TASK_MIN` in steps of `SLURM_ARRAY_TASK_STEP` (so `--array=1-8` works too);
 * - a Kubernetes Indexed Job: `JOB_COMPLETION_INDEX`, with the number of completions in
 *   `JOB_COMPLETIONS` (Kubernetes does not expose it; the shipped manifest sets it).
 * Throws a ShardError when the variables are there but do not make a shard.
 */
export function shardFromEnv(env: Record<string, string | undefined>): Shard | null {
  const slurmId = env.SLURM_ARRAY_TASK_ID;
  if (slurmId !== undefined) {
    const id = wholeNumber(slurmId);
    const min = wholeNumber(env.SLURM_ARRAY_TASK_MIN ?? "0");
    const step = wholeNumber(env.SLURM_ARRAY_TASK_STEP ?? "1") || 1;
    let count = wholeNumber(env.SLURM_ARRAY_TASK_COUNT);
    const max = wholeNumber(env.SLURM_ARRAY_TASK_MAX);
    if (count === null && max !== null && min !== null) count = Math.floor((max - min) / step) + 1;
    const offset = id === null || min === null ? NaN : (id - min) / step;
    const index = Number.isInteger(offset) && offset >= 0 ? offset : null;
    const what = `Slurm array task SLURM_ARRAY_TASK_ID=${slurmId}`;
    if (index === null || count === null || index >= count) {
      throw new ShardError(
        `${what} (of ${env.SLURM_ARRAY_TASK_COUNT ?? "?"} tasks from ${env.SLURM_ARRAY_TASK_MIN ?? "?"}): ` +
          `not a shard of an evenly spaced array (e.g. --array=0-7); pass --shard I/N explicitly`,
      );
    }
    return checked(
      index,
      count,
      `Slurm array task ${slurmId} (SLURM_ARRAY_TASK_ID), shard ${index}/${count}`,
      what,
    );
  }
  const k8sIndex = env.JOB_COMPLETION_INDEX;
  if (k8sIndex !== undefined) {
    const what = `Kubernetes Indexed Job JOB_COMPLETION_INDEX=${k8sIndex}`;
    const countText = env[K8S_COUNT_VARIABLE];
    if (countText === undefined) {
      throw new ShardError(
        `${what}: ${K8S_COUNT_VARIABLE} is not set; set it to the Job's completions (the shipped ` +
          `manifest does) or pass --shard I/N`,
      );
    }
    const index = wholeNumber(k8sIndex), count = wholeNumber(countText);
    return checked(
      index,
      count,
      `Kubernetes Indexed Job (JOB_COMPLETION_INDEX=${k8sIndex}, ${K8S_COUNT_VARIABLE}=${countText})`,
      what,
    );
  }
  return null;
}

/** Names a shard in file names: `shard-1-of-3`. */
export function shardTag(shard: Shard): string {
  return `shard-${shard.index}-of-${shard.count}`;
}
