/**
 * The JSON report of a benchmark run and the tables printed from earlier reports (`--table`): which
 * rows a selection keeps, and the text that heads a table (each file's adapter and the commit it
 * records), so that a table in RESULTS.md can be printed again from its JSON, exactly.
 */
import { type Row, table } from "./harness.ts";
import type { OpName } from "./shapes.ts";
import { type BackendName, BACKENDS } from "./backends/types.ts";

/** The JSON document of a run. */
export interface BenchReport {
  adapter: string;
  /** `git rev-parse --short HEAD` of the tree measured, "-dirty" when it had uncommitted changes. */
  commit: string;
  date: string;
  quick: boolean;
  devices: Partial<Record<BackendName, string>>;
  results: Row[];
}

/** A report that cannot be read (not JSON, or not a benchmark report); the message names the file. */
export class ReportError extends Error {
  override name = "ReportError";
}

/** Which rows a run or a table keeps (every field absent: all). */
export interface Selection {
  ops?: readonly OpName[];
  backends?: readonly BackendName[];
  /** Shape labels: a row is kept when its label contains any of these. */
  filters?: readonly string[];
}

/** Whether a shape label passes the selection's filters. */
export function labelSelected(label: string, s: Selection): boolean {
  return !s.filters?.length || s.filters.some((f) => label.includes(f));
}

/** Parses the text of a report, or throws a `ReportError` naming `file`. */
export function parseReport(text: string, file: string): BenchReport {
  let r: BenchReport;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw new ReportError(`${file}: not JSON (${(e as Error).message})`);
  }
  if (typeof r !== "object" || r === null || !Array.isArray(r.results) || typeof r.commit !== "string") {
    throw new ReportError(`${file}: not a benchmark report (no "results" list and "commit")`);
  }
  return r;
}

/**
 * The merged table of earlier reports (`--table`): a line per file with its adapter, the commit it
 * records and its date, then `table` of the selected rows (a later file's row replaces an earlier one
 * of the same op, shape and backend), then the devices of the backends shown.
 */
export function tableOf(
  reports: readonly { file: string; report: BenchReport }[],
  s: Selection = {},
): string {
  const merged = new Map<string, Row>();
  const devices: Partial<Record<BackendName, string>> = {};
  const heads: string[] = [];
  for (const { file, report: r } of reports) {
    heads.push(`- ${file}: adapter ${r.adapter}; commit ${r.commit}; ${r.date}${r.quick ? "; --quick" : ""}`);
    Object.assign(devices, r.devices);
    for (const row of r.results) {
      if (s.ops && !s.ops.includes(row.op)) continue;
      if (s.backends && !s.backends.includes(row.backend)) continue;
      if (!labelSelected(row.label, s)) continue;
      merged.set(`${row.op}|${row.label}|${row.backend}`, row);
    }
  }
  const rows = [...merged.values()];
  const present = BACKENDS.filter((b) => rows.some((r) => r.backend === b));
  const devs = present.filter((b) => devices[b]).map((b) => `- ${b}: ${devices[b]}`);
  return [...heads, "", table(rows, present), "", "Devices:", ...devs].join("\n");
}
