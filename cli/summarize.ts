/**
 * `deno task summarize OUT_DIR`: merges the summaries of a batch's shards (summary.shard-I-of-N.jsonl)
 * and of whole runs into OUT_DIR/summary.jsonl and summary.csv, one record per case, and prints the
 * counts and the failed cases. Argument parsing and printing only; the work is in src/io/summary-files.ts.
 */
import { parseArgs } from "node:util";
import { runCli, UsageError } from "./_errors.ts";
import { mergeSummaries } from "../src/io/summary-files.ts";
import { FileReadError, isDirectory } from "../src/io/fs.ts";
import { formatTable } from "../src/report/table.ts";
import { LABEL_NAMES } from "../src/volume/labels.ts";

const HELP = `Merge the summaries of a batch's shards into one.

Usage: deno task summarize OUT_DIR

Reads every summary*.jsonl in OUT_DIR (the shards' summary.shard-I-of-N.jsonl, and summary.jsonl of
a run without shards), keeps one record per case (the latest), and writes OUT_DIR/summary.jsonl and
OUT_DIR/summary.csv. Prints the number of cases, the failed ones, and the median volume of each
organ. Exit code 0 even when some cases failed (they are listed).

  -h, --help   this help`;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (positionals.length !== 1) throw new UsageError("give the batch's output folder; see --help");
  const dir = positionals[0];
  if (!(await isDirectory(dir))) throw new UsageError(`${dir}: no such folder`);
  const { records, files, dropped, paths } = await mergeSummaries(dir);
  if (!files.length) throw new UsageError(`${dir}: no summary*.jsonl here (is it a batch's output folder?)`);
  const ok = records.filter((r) => r.status === "ok"), failed = records.filter((r) => r.status === "failed");
  console.log(
    `${records.length} cases from ${files.length} file(s): ${ok.length} ok, ${failed.length} failed` +
      (dropped ? ` (${dropped} incomplete line(s) left out)` : ""),
  );
  for (const r of failed) console.log(`failed: ${r.case}: ${r.error}`);
  const rows = LABEL_NAMES.slice(1).map((name, i) => {
    const v = ok.flatMap((r) => r.organs?.filter((o) => o.label === i + 1 && o.voxels > 0) ?? []);
    return [
      name,
      v.length,
      v.length ? median(v.map((o) => o.ml)).toFixed(1) : "-",
      v.filter((o) => o.touches_edge).length,
    ];
  });
  if (ok.length) console.log(`\n${formatTable(["organ", "found in", "median mL", "cut"], rows)}\n`);
  console.log(`summary: ${paths.csv}, ${paths.jsonl}`);
}

if (import.meta.main) await runCli(main, [FileReadError]);
