/**
 * The summary of a batch: one record per case (status, organ volumes, HU, edge flags, times), kept as
 * JSON lines (complete, one object a line) and as a CSV table (one row a case, one column per organ
 * and measure). Records of several runs or shards merge into one per case: the latest wins.
 */
import { csvLine } from "../util/csv.ts";
import { LABEL_NAMES } from "../volume/labels.ts";
import type { OrganStats } from "./organs.ts";

/** Seconds spent on one case. */
export interface CaseSeconds {
  read: number;
  stage1: number;
  stage2: number;
  write: number;
  total: number;
}

/** One case's line of the summary. */
export interface CaseRecord {
  case: string;
  /** `ok`: the output exists and the organs are measured; `failed`: see `error`. */
  status: "ok" | "failed";
  input: string;
  output: string;
  /** `I/N` when the run was a shard, else null. */
  shard: string | null;
  host: string;
  /** ISO time the case finished. */
  finished: string;
  /** Null when the output was there before this run (the organs are then measured on it). */
  seconds: CaseSeconds | null;
  organs: OrganStats[] | null;
  warnings: string[];
  error: string | null;
}

/** `artery (aorta)` -> `artery`, `portal vein (+ splenic vein)` -> `portal_vein`. */
export function organKey(name: string): string {
  return name.replace(/\s*\(.*\)\s*/g, "").trim().replace(/\s+/g, "_").toLowerCase();
}

const ORGANS = LABEL_NAMES.slice(1);
const TIMES = ["total", "read", "stage1", "stage2", "write"] as const;

/** The CSV header of {@link summaryCsvRow}. */
export function summaryCsvHeader(): string {
  const organCols = ["ml", "hu_mean", "hu_sd", "cut"].flatMap((m) =>
    ORGANS.map((o) => `${organKey(o)}_${m}`)
  );
  return csvLine([
    "case",
    "status",
    ...TIMES.map((t) => `${t}_s`),
    ...organCols,
    "warnings",
    "error",
    "input",
    "output",
    "shard",
    "host",
    "finished",
  ]);
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** One record as a CSV row: organ columns by label (empty when the case failed). */
export function summaryCsvRow(r: CaseRecord): string {
  const byLabel = new Map((r.organs ?? []).map((o) => [o.label, o]));
  const organ = (f: (o: OrganStats) => string | number | null) =>
    ORGANS.map((_, i) => {
      const o = byLabel.get(i + 1);
      return o ? f(o) : null;
    });
  return csvLine([
    r.case,
    r.status,
    ...TIMES.map((t) => (r.seconds ? r2(r.seconds[t]) : null)),
    ...organ((o) => o.ml),
    ...organ((o) => o.hu_mean),
    ...organ((o) => o.hu_sd),
    ...organ((o) => (o.voxels > 0 ? (o.touches_edge ? 1 : 0) : null)),
    r.warnings.join("; "),
    r.error,
    r.input,
    r.output,
    r.shard,
    r.host,
    r.finished,
  ]);
}

/** A whole CSV table of records, header first. */
export function summaryCsv(records: readonly CaseRecord[]): string {
  return [summaryCsvHeader(), ...records.map(summaryCsvRow)].join("\n") + "\n";
}

/** Records as JSON lines. */
export function summaryJsonLines(records: readonly CaseRecord[]): string {
  return records.map((r) => JSON.stringify(r) + "\n").join("");
}

function isRecord(x: unknown): x is CaseRecord {
  const r = x as CaseRecord;
  return typeof r === "object" && r !== null && typeof r.case === "string" &&
    (r.status === "ok" || r.status === "failed") && typeof r.finished === "string";
}

/**
 * Records of a JSON-lines text. Lines that are not a whole record (the last line of a run killed
 * while writing it) are counted in `dropped` and left out.
 */
export function parseSummaryLines(text: string): { records: CaseRecord[]; dropped: number } {
  const records: CaseRecord[] = [];
  let dropped = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line);
      if (isRecord(r)) records.push(r);
      else dropped++;
    } catch {
      dropped++;
    }
  }
  return { records, dropped };
}

/** One record per case, the latest (by `finished`, then by order) winning, sorted by case name. */
export function mergeRecords(records: readonly CaseRecord[]): CaseRecord[] {
  const latest = new Map<string, CaseRecord>();
  for (const r of records) {
    const old = latest.get(r.case);
    if (!old || r.finished >= old.finished) latest.set(r.case, r);
  }
  return [...latest.values()].sort((a, b) => (a.case < b.case ? -1 : a.case > b.case ? 1 : 0));
}
