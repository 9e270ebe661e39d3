/**
 * `deno task bench [--quick] [--json FILE] [...]`: times our forward and backward kernels and the whole
 * U-Net against reference backends on the layer shapes of the U-Net presets. See `--help`.
 */
import { parseArgs } from "node:util";
import { runCli, UsageError } from "./_errors.ts";
import { type Case, cases, type OpName, OPS } from "../bench/shapes.ts";
import { caseData } from "../bench/data.ts";
import {
  Check,
  Estimator,
  measure,
  MIN_WARM_RUNS,
  progressLine,
  type Row,
  table,
  type TimingOptions,
} from "../bench/harness.ts";
import {
  type BenchReport,
  labelSelected,
  parseReport,
  ReportError,
  type Selection,
  tableOf,
} from "../bench/report.ts";
import { type Backend, type BackendName, BACKENDS, DEFAULT_BACKENDS } from "../bench/backends/types.ts";
import { createBackend } from "../bench/backends/index.ts";
import { startGpu } from "../src/io/gpu.ts";

const HELP = `deno task bench [options]

Times our WebGPU kernels (forward and backward) and a whole U-Net training step and inference tile
against reference backends, on the layer shapes of the U-Net presets (the paper's 132x132x116 tile,
each level halving). Every backend's result is checked against the baseline (ours, or the first
backend of the row that gives a result) before it is timed: relative error, tensor by tensor for a
training step (its loss and every parameter's gradient); a time is the median of at least
${MIN_WARM_RUNS} warm runs, each awaited until the device is done. A time from fewer runs (a single
cold run past --max-run, or --reps below ${MIN_WARM_RUNS}) says so in the table and gets no ratio.
Progress goes to stderr, one line per row; the table (Markdown) to stdout.

Options:
  --quick             small shapes (about a minute on a software adapter) instead of the real ones
  --json FILE         also write the results as JSON: {adapter, commit, date, results: [{op, shape,
                      backend, ms, gflops, ...}]}; rows that could not run have "error" instead of "ms"
  --only OPS          comma-separated ops (default: all): ${OPS.join(", ")}
  --backends LIST     comma-separated backends, the first that gives a result being the baseline
                      (default: all but pytorch-f64): ${BACKENDS.join(", ")}
  --filter TEXTS      only the shapes whose label contains one of the comma-separated TEXTS
                      (e.g. "32->64" or "64->8,128->256")
  --reps N            timed runs per row at most (default 5; --quick: 3)
  --warmup N          untimed runs before timing, the correctness run included (default 2; --quick: 1)
  --budget S          seconds of timed runs per row; repetitions stop past it, but never before
                      ${MIN_WARM_RUNS} (default 10; --quick: 2)
  --max-run S         skip a row whose single run is estimated (from the backend's speed on the rows
                      before it) to take longer than S seconds; a row whose correctness run alone
                      takes longer keeps it as a cold time (default 120; --quick: 20)
  --table FILES       measure nothing: print the table of earlier --json files (comma-separated;
                      a later file's row replaces an earlier one of the same op, shape and backend),
                      with the rules above; --only, --backends and --filter select its rows
  -h, --help          this text

Backends: ours (src/ops on its WebGPU adapter), ours-f16 (our half-precision path, where the engine
and adapter have one), typescript (plain float32 loops, the floor), jax-js (WebGPU) and jax-js-wasm,
tfjs-webgpu and tfjs-cpu (TensorFlow.js 4.22), onnxruntime (onnxruntime-node, CPU, forward ops),
pytorch-cpu / pytorch-fp32 / pytorch-tf32 (bench/torch_ref.py in a python3 subprocess, when torch
imports; CUDA rows need a CUDA device), and pytorch-f64, PyTorch on the CPU in float64: named first
in --backends, it is the reference every other result is checked against. A backend that cannot run
an op says so in its row.

Environment: BENCH_CONV=direct|tiled picks our convolution kernels (default: what conv3d dispatches
to); BENCH_PYTHON names the python3 that has torch; BENCH_TORCH_THREADS sets pytorch-cpu's threads (2).`;

function list<T extends string>(value: string | undefined, all: readonly T[], what: string): T[] {
  if (value === undefined) return [...all];
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const i of items) {
    if (!all.includes(i as T)) throw new UsageError(`unknown ${what} "${i}"; one of: ${all.join(", ")}`);
  }
  return items as T[];
}

function num(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n >= 0)) throw new UsageError(`--${what} wants a non-negative number, got "${value}"`);
  return n;
}

async function commit(): Promise<string> {
  try {
    const git = (args: string[]) =>
      new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output().then((o) =>
        new TextDecoder().decode(o.stdout).trim()
      );
    const head = await git(["rev-parse", "--short", "HEAD"]);
    const dirty = await git(["status", "--porcelain", "--untracked-files=no"]);
    return head + (dirty ? "-dirty" : "");
  } catch {
    return "unknown";
  }
}

/** The `--table` output of report files. */
async function tableOfFiles(files: string[], only: Selection): Promise<string> {
  const reports = [];
  for (const file of files) {
    let text;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new ReportError(`${file}: cannot read (${(e as Error).message})`);
    }
    reports.push({ file, report: parseReport(text, file) });
  }
  return tableOf(reports, only);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "string" },
      only: { type: "string" },
      backends: { type: "string" },
      filter: { type: "string" },
      reps: { type: "string" },
      warmup: { type: "string" },
      budget: { type: "string" },
      "max-run": { type: "string" },
      table: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const ops = list<OpName>(values.only, OPS, "op");
  const names = values.backends === undefined
    ? [...DEFAULT_BACKENDS]
    : list<BackendName>(values.backends, BACKENDS, "backend");
  const filters = values.filter?.split(",").map((f) => f.trim()).filter(Boolean);
  if (values.table) {
    const files = values.table.split(",").map((f) => f.trim()).filter(Boolean);
    const only = {
      ...values.only ? { ops } : {},
      ...values.backends ? { backends: names } : {},
      ...filters ? { filters } : {},
    };
    console.log(await tableOfFiles(files, only));
    return;
  }
  const quick = values.quick!;
  const timing: TimingOptions = {
    reps: Math.max(1, Math.round(num(values.reps, quick ? 3 : 5, "reps"))),
    warmup: Math.max(1, Math.round(num(values.warmup, quick ? 1 : 2, "warmup"))),
    budgetS: num(values.budget, quick ? 2 : 10, "budget"),
    maxRunS: num(values["max-run"], quick ? 20 : 120, "max-run"),
  };
  const todo: Case[] = cases(quick).filter((c) => ops.includes(c.op) && labelSelected(c.label, { filters }));
  let adapter = "none";
  try {
    adapter = (await startGpu()).adapterName;
  } catch (e) {
    console.error(`no WebGPU adapter: ${(e as Error).message}`);
  }
  console.error(`adapter: ${adapter}; ${todo.length} shapes x ${names.length} backends`);

  // backends start on first use; one that cannot start explains every one of its rows
  const started = new Map<BackendName, Backend | Error>();
  const devices: Partial<Record<BackendName, string>> = {};
  const get = async (name: BackendName): Promise<Backend | Error> => {
    let b = started.get(name);
    if (!b) {
      try {
        const backend = await createBackend(name);
        await backend.init();
        devices[name] = backend.device();
        b = backend;
      } catch (e) {
        b = e instanceof Error ? e : new Error(String(e));
      }
      started.set(name, b);
    }
    return b;
  };

  const rows: Row[] = [];
  const estimator = new Estimator();
  const report: BenchReport = {
    adapter,
    commit: await commit(),
    date: new Date().toISOString(),
    quick,
    devices,
    results: rows,
  };
  // the JSON is rewritten after every row, so that a run cut short keeps what it measured
  const save = async () => {
    if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(report, null, 2) + "\n");
  };
  for (const c of todo) {
    const data = caseData(c);
    const check = new Check();
    const caseRows: Row[] = [];
    for (const name of names) {
      const b = await get(name);
      let row: Row;
      if (b instanceof Error) {
        const msg = b.message.split("\n")[0].slice(0, 300);
        row = { op: c.op, shape: c.shape, label: c.label, backend: name, error: `unavailable: ${msg}` };
      } else {
        row = await measure(b, c, data, check, timing, estimator.seconds(name, c));
      }
      estimator.add(row);
      rows.push(row);
      caseRows.push(row);
      console.error(progressLine(row));
      await save();
    }
    const wrong = check.baselineWrong;
    if (wrong) {
      check.settle(caseRows);
      for (const r of caseRows) {
        if (r.backend === check.backend || r.backend === wrong.by[0]) console.error(progressLine(r));
      }
      await save();
    }
  }
  for (const b of started.values()) if (!(b instanceof Error)) await b.close?.();

  console.log(`\nadapter: ${adapter}; commit ${report.commit}; ${report.date}${quick ? "; --quick" : ""}\n`);
  console.log(table(rows, names));
  console.log("\nDevices:");
  for (const [name, d] of Object.entries(devices)) console.log(`- ${name}: ${d}`);
  if (values.json) {
    await save();
    console.error(`wrote ${values.json}`);
  }
}

if (import.meta.main) {
  await runCli(main, [ReportError]);
  // reference libraries keep devices and worker threads alive; the run is over
  Deno.exit(0);
}
