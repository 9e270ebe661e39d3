/**
 * A batch's summary files in its output folder: `summary.jsonl` and `summary.csv` for a whole run, or
 * `summary.shard-I-of-N.*` for one shard. Each finished case is appended to both at once (a killed run
 * loses at most the line it was writing), and the files are rewritten whole, atomically, one record
 * per case, when a run starts and ends. {@link mergeSummaries} joins the shards' files.
 */
import { join } from "node:path";
import {
  type CaseRecord,
  mergeRecords,
  parseSummaryLines,
  summaryCsv,
  summaryCsvRow,
  summaryJsonLines,
} from "../report/summary.ts";
import { FileWriteError, writeFileAtomic } from "./atomic.ts";
import { listDir, readTextIfExists } from "./fs.ts";

/** Paths of the summary files with a given tag (`null` for a whole run). */
export function summaryPaths(outDir: string, tag: string | null): { jsonl: string; csv: string } {
  const base = join(outDir, tag ? `summary.${tag}` : "summary");
  return { jsonl: `${base}.jsonl`, csv: `${base}.csv` };
}

async function append(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text, { append: true });
  } catch (e) {
    throw new FileWriteError(path, e instanceof Error ? e.message.split("\n")[0] : String(e), { cause: e });
  }
}

/** The summary files of one run (or shard), with the records they hold. */
export class SummaryFiles {
  readonly paths: { jsonl: string; csv: string };
  #records: Map<string, CaseRecord>;

  private constructor(paths: { jsonl: string; csv: string }, records: CaseRecord[]) {
    this.paths = paths;
    this.#records = new Map(records.map((r) => [r.case, r]));
  }

  /** Opens (and compacts) the files with `tag` in `outDir`, keeping the records of earlier runs. */
  static async open(outDir: string, tag: string | null): Promise<SummaryFiles> {
    const paths = summaryPaths(outDir, tag);
    const text = await readTextIfExists(paths.jsonl);
    const files = new SummaryFiles(paths, text === null ? [] : mergeRecords(parseSummaryLines(text).records));
    await files.compact();
    return files;
  }

  /** The record of a case from this or an earlier run. */
  get(name: string): CaseRecord | undefined {
    return this.#records.get(name);
  }

  /** Every record, one per case, sorted by case. */
  records(): CaseRecord[] {
    return mergeRecords([...this.#records.values()]);
  }

  /** Adds a finished case to both files. */
  async add(r: CaseRecord): Promise<void> {
    this.#records.set(r.case, r);
    await append(this.paths.jsonl, JSON.stringify(r) + "\n");
    await append(this.paths.csv, summaryCsvRow(r) + "\n");
  }

  /** Rewrites both files atomically, one record per case, sorted. */
  async compact(): Promise<void> {
    const records = this.records();
    await writeFileAtomic(this.paths.jsonl, summaryJsonLines(records));
    await writeFileAtomic(this.paths.csv, summaryCsv(records));
  }
}

/**
 * Merges every `summary*.jsonl` in `outDir` (the shards' and a whole run's) into `summary.jsonl` and
 * `summary.csv`: one record per case, the latest winning. Returns the records and the files read.
 */
export async function mergeSummaries(
  outDir: string,
): Promise<
  { records: CaseRecord[]; files: string[]; dropped: number; paths: { jsonl: string; csv: string } }
> {
  const files = (await listDir(outDir))
    .filter((e) => !e.isDirectory && /^summary(\..+)?\.jsonl$/.test(e.name))
    .map((e) => join(outDir, e.name));
  const all: CaseRecord[] = [];
  let dropped = 0;
  for (const f of files) {
    const parsed = parseSummaryLines((await readTextIfExists(f)) ?? "");
    all.push(...parsed.records);
    dropped += parsed.dropped;
  }
  const records = mergeRecords(all);
  const paths = summaryPaths(outDir, null);
  await writeFileAtomic(paths.jsonl, summaryJsonLines(records));
  await writeFileAtomic(paths.csv, summaryCsv(records));
  return { records, files, dropped, paths };
}
