/**
 * The measurement loop: for each case, every backend checks its result against the baseline (ours,
 * or the first backend that produced one) before it is timed; a time is the median of at least
 * `MIN_WARM_RUNS` warm runs (after the correctness run and any further warm-up), each awaited until the
 * device has finished; a per-row time budget caps further repetitions, and a row whose single run
 * would take far too long (estimated from the backend's throughput on the previous rows) is skipped
 * and says so. A time that is not such a median (a single cold run, or fewer runs because `--reps`
 * asked for fewer) says so in the table and takes part in no ratio.
 */
import type { Case, OpName, Shape } from "./shapes.ts";
import {
  type Backend,
  type BackendName,
  type CaseData,
  type CaseOutput,
  type Parts,
  Unsupported,
} from "./backends/types.ts";

/** One row of the results. */
export interface Row {
  op: OpName;
  shape: Shape;
  /** Human-readable shape. */
  label: string;
  backend: BackendName;
  /** Median time of one run, milliseconds. */
  ms?: number;
  /** Floating-point operations per second of the median run, in 1e9. */
  gflops?: number;
  /** Why there is no time: the backend lacks the op, failed, gave wrong numbers, or was skipped. */
  error?: string;
  /**
   * Normwise relative error against the baseline: max |a - b| / max |b|; for a result of several
   * tensors (a training step), that of the tensor furthest past (or nearest to) its tolerance (see
   * `compareOutputs`).
   */
  relError?: number;
  /** For a result of several tensors: the tensor `relError` belongs to. */
  worst?: string;
  /** For a result of several tensors: each one's relative error. */
  relErrors?: Record<string, number>;
  /** The backend the result was checked against (absent for the baseline itself). */
  checkedAgainst?: BackendName;
  /** Timed runs the median is taken over. */
  reps?: number;
  /** Times of the timed runs, milliseconds. */
  times?: number[];
  /**
   * Whether the timed runs came after a warm-up run (false: the time is the correctness run itself,
   * set-up included). Absent in reports written before it was recorded: see `warmRuns`.
   */
  warm?: boolean;
  /** Anything a reader should know (budget reached, a single cold run). */
  note?: string;
  /** For a skipped row: the estimated seconds of one run. */
  estimatedS?: number;
}

/** How hard to measure. */
export interface TimingOptions {
  /** Untimed runs before timing (the correctness run counts as the first). */
  warmup: number;
  /** Timed runs at most. */
  reps: number;
  /**
   * Seconds of timed runs per row, after which repetitions stop; never before `MIN_WARM_RUNS` runs
   * (or `reps`, when it asks for fewer).
   */
  budgetS: number;
  /**
   * Rows whose one run is estimated to take longer than this many seconds are skipped; a row whose
   * correctness run alone took longer keeps that run as its time ("cold, 1 run") and makes no more.
   */
  maxRunS: number;
}

/**
 * Warm runs a time must be the median of to appear as a plain time in a table and in a ratio; a time
 * from fewer says so ("cold, 1 run", "2 runs") and takes part in no ratio.
 */
export const MIN_WARM_RUNS = 3;

/**
 * Warm timed runs behind a row's time: 0 for a single cold run (the correctness run, set-up
 * included) or a row without a time. Reports written before `warm` was recorded mark a cold run only
 * in the note the harness wrote then ("one cold run").
 */
export function warmRuns(r: Row): number {
  if (r.ms === undefined) return 0;
  const cold = r.warm === false || (r.warm === undefined && /\bcold run\b/.test(r.note ?? ""));
  return cold ? 0 : r.reps ?? r.times?.length ?? 0;
}

/** Whether a row's time is a warm median of at least `MIN_WARM_RUNS` runs (so it may enter a ratio). */
export function isWarmMedian(r: Row): boolean {
  return warmRuns(r) >= MIN_WARM_RUNS;
}

/** How a time that is not a warm median of `MIN_WARM_RUNS` runs is qualified in a table. */
function runsLabel(r: Row): string {
  const n = warmRuns(r);
  if (n === 0) return "cold, 1 run";
  return n === 1 ? "1 run" : `${n} runs`;
}

/** Normwise relative error: max |a - e| / max |e| (NaN anywhere gives Infinity). */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= num)) num = Number.isNaN(d) ? Infinity : d;
    den = Math.max(den, Math.abs(expected[i]));
  }
  return den > 0 ? num / den : num;
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Default relative-error tolerance of a float32 backend. */
export const TOLERANCE = 1e-3;

/**
 * A tensor of a several-tensor result whose reference is smaller than this fraction of the result's
 * largest tensor is compared against that fraction instead of its own scale: the gradient of a bias
 * that a normalisation follows is zero in exact arithmetic, so both backends return rounding noise
 * there, and noise against noise is no error.
 */
export const NEGLIGIBLE = 1e-4;

/**
 * Relative error accepted on a gradient of a training step (at least; a looser backend tolerance
 * wins). A step's gradients jump where a leaky ReLU's pre-activation crosses zero, and float32 rounding
 * puts a few voxels within 1e-5 of zero on the other side: on the fast preset's 64^3 tile, against a
 * float64 PyTorch reference, ours' worst tensor erred by 9e-3 and PyTorch's own float32 CPU path by
 * 1.9e-2, both under 4e-5 given the same branches (bench/NOTES-precision.md). A wrong backward pass (a
 * missing term, a flipped kernel, a wrong scale) errs by order one.
 */
export const GRADIENT_TOLERANCE = 5e-2;

/** The tolerance of one tensor of a result, given the backend's tolerance `tol`. */
export function partTolerance(name: string, tol: number): number {
  return name.startsWith("grad:") ? Math.max(tol, GRADIENT_TOLERANCE) : tol;
}

/** The outcome of comparing one result with a reference. */
export interface Comparison {
  /** Whether every tensor is within its tolerance. */
  ok: boolean;
  /**
   * The relative error: `relError` for one tensor; for `Parts`, that of the tensor furthest past (or
   * nearest to) its tolerance.
   */
  relError: number;
  /** The tolerance `relError` was held to. */
  tolerance: number;
  /** For `Parts`: the tensor `relError` belongs to (or the one missing from either side). */
  worst?: string;
  /** For `Parts`: every tensor's error. */
  relErrors?: Record<string, number>;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Compares a result with a reference under the backend's tolerance `tol`: one tensor by `relError`;
 * `Parts` tensor by tensor, each by its own scale, `max |a - e| / max(max |e|, NEGLIGIBLE * s)` with `s`
 * the largest `max |e|` of all the reference's tensors, and each held to `partTolerance`. A tensor
 * missing from either side, or one tensor against `Parts`, is an infinite error that names what is
 * missing.
 */
export function compareOutputs(actual: CaseOutput, expected: CaseOutput, tol = TOLERANCE): Comparison {
  if (actual instanceof Float32Array && expected instanceof Float32Array) {
    const e = relError(actual, expected);
    return { ok: e <= tol, relError: e, tolerance: tol };
  }
  if (actual instanceof Float32Array || expected instanceof Float32Array) {
    const parts = (actual instanceof Float32Array ? expected : actual) as Parts;
    const which = actual instanceof Float32Array ? "this result" : "the reference";
    const worst = `${which} lacks ${[...parts.keys()].join(", ")}`;
    return { ok: false, relError: Infinity, tolerance: tol, worst };
  }
  const exp = expected as Parts, act = actual as Parts;
  let scale = 0;
  for (const e of exp.values()) scale = Math.max(scale, maxAbs(e));
  const floor = NEGLIGIBLE * scale;
  const relErrors: Record<string, number> = {};
  let worst = "", err = 0, worstTol = tol, excess = -1;
  const record = (name: string, e: number, t: number) => {
    relErrors[name] = e;
    if (!(e / t <= excess)) [worst, err, worstTol, excess] = [name, e, t, e / t];
  };
  for (const [name, e] of exp) {
    const a = act.get(name), t = partTolerance(name, tol);
    if (!a) record(`${name} (missing)`, Infinity, t);
    else if (a.length !== e.length) record(`${name} (${a.length} values, not ${e.length})`, Infinity, t);
    else {
      let num = 0;
      for (let i = 0; i < e.length; i++) {
        const d = Math.abs(a[i] - e[i]);
        if (!(d <= num)) num = Number.isNaN(d) ? Infinity : d;
      }
      const den = Math.max(maxAbs(e), floor);
      record(name, den > 0 ? num / den : num, t);
    }
  }
  for (const name of act.keys()) {
    if (!exp.has(name)) record(`${name} (not in the reference)`, Infinity, partTolerance(name, tol));
  }
  return { ok: excess <= 1, relError: err, tolerance: worstTol, ...worst ? { worst } : {}, relErrors };
}

const message = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).split("\n").map((l) => l.trim()).filter(Boolean).join(" ")
    .slice(0, 300);

/** What `Check.verify` concludes about one result. */
export interface Verdict {
  ok: boolean;
  /** Relative error against `against` (absent for the baseline itself). */
  relError?: number;
  /** The tolerance `relError` was held to. */
  tolerance?: number;
  /** For `Parts`: the tensor with the largest error, and every tensor's error. */
  worst?: string;
  relErrors?: Record<string, number>;
  against?: BackendName;
  note?: string;
}

/**
 * The correctness check of one case. The first result (ours, when it runs) is the baseline. A result
 * that disagrees with it is kept as a second opinion: when a later backend agrees with that one and not
 * with the baseline, the baseline is the wrong one; `settle` then marks the baseline's row wrong and
 * the checks that follow use the second opinion.
 */
export class Check {
  output: CaseOutput | null = null;
  backend: BackendName | null = null;
  #dissent: { output: CaseOutput; backend: BackendName } | null = null;
  /** Set once two backends agree with each other and not with the baseline. */
  baselineWrong: { by: [BackendName, BackendName]; relError: number; worst?: string } | null = null;

  /** Checks a result of `backend` against the baseline (or the consensus that replaced it). */
  verify(out: CaseOutput, backend: BackendName, tol: number): Verdict {
    if (!this.output) {
      this.output = out;
      this.backend = backend;
      return { ok: true };
    }
    const verdict = (ok: boolean, c: Comparison, against: BackendName, note?: string): Verdict => ({
      ...c,
      ok,
      against,
      ...note ? { note } : {},
    });
    if (this.baselineWrong) {
      const c = compareOutputs(out, this.#dissent!.output, tol);
      return verdict(c.ok, c, this.#dissent!.backend);
    }
    const c = compareOutputs(out, this.output, tol);
    if (c.ok) return verdict(true, c, this.backend!);
    if (this.#dissent) {
      const c2 = compareOutputs(out, this.#dissent.output, tol);
      if (c2.ok) {
        const base = compareOutputs(this.output, this.#dissent.output, tol);
        this.baselineWrong = {
          by: [this.#dissent.backend, backend],
          relError: base.relError,
          worst: base.worst,
        };
        const note = `disagrees with ${this.backend} (rel.err ${
          c.relError.toExponential(1)
        }), agrees with ${this.#dissent.backend}`;
        return verdict(true, c2, this.#dissent.backend, note);
      }
    } else this.#dissent = { output: out, backend };
    return verdict(false, c, this.backend!);
  }

  /** After the case: marks the baseline's row wrong and explains the untimed second opinion's row. */
  settle(rows: Row[]): void {
    const w = this.baselineWrong;
    if (!w) return;
    const base = rows.find((r) => r.backend === this.backend);
    if (base) {
      delete base.ms, delete base.gflops, delete base.times, delete base.reps, delete base.note;
      delete base.warm;
      base.relError = w.relError;
      if (w.worst !== undefined) base.worst = w.worst;
      base.checkedAgainst = w.by[0];
      base.error = `wrong result: relative error ${w.relError.toExponential(2)}${
        w.worst ? ` (${w.worst})` : ""
      } against ${w.by[0]} and ${w.by[1]}, which agree with each other`;
    }
    const first = rows.find((r) => r.backend === w.by[0]);
    if (first) {
      first.error = `not timed: checked against ${this.backend}, which was wrong here; it agrees with ${
        w.by[1]
      }`;
      first.checkedAgainst = w.by[1];
      first.relError = rows.find((r) => r.backend === w.by[1])?.relError;
    }
  }
}

/**
 * Runs one case on one backend: prepare, one run that `check` verifies (the first one becomes the
 * baseline), then warm-up and timed runs: at least `MIN_WARM_RUNS` (or `reps`, when fewer), at most
 * `reps`, more than the minimum only while the time budget lasts. A correctness run longer than
 * `maxRunS` is kept as the row's only time, marked cold. Never throws: failures become the row's
 * `error`.
 */
export async function measure(
  backend: Backend,
  c: Case,
  data: CaseData,
  check: Check,
  t: TimingOptions,
  estimateS: number | null,
): Promise<Row> {
  const row: Row = { op: c.op, shape: c.shape, label: c.label, backend: backend.name };
  const why = backend.unsupported?.(c);
  if (why) {
    row.error = `unsupported: ${why}`;
    return row;
  }
  if (estimateS !== null && estimateS > t.maxRunS) {
    row.error = `skipped: one run estimated at ${fmtSeconds(estimateS)} (> --max-run ${t.maxRunS} s)`;
    row.estimatedS = +estimateS.toPrecision(3);
    return row;
  }
  let runner;
  try {
    runner = await backend.prepare(c, data);
  } catch (e) {
    row.error = e instanceof Unsupported ? `unsupported: ${message(e)}` : `failed: ${message(e)}`;
    return row;
  }
  try {
    const t0 = performance.now();
    await runner.run();
    const first = performance.now() - t0;
    const out = await runner.output();
    const tol = backend.tolerance ?? TOLERANCE;
    const v = check.verify(out, backend.name, tol);
    if (v.against) {
      row.relError = v.relError;
      row.checkedAgainst = v.against;
      if (v.worst !== undefined) row.worst = v.worst;
      if (v.relErrors) row.relErrors = v.relErrors;
    }
    if (v.note) row.note = v.note;
    if (!v.ok) {
      row.error = `wrong result: relative error ${v.relError!.toExponential(2)}${
        v.worst ? ` (${v.worst})` : ""
      } > ${v.tolerance ?? tol}`;
      return row;
    }
    const budget = t.budgetS * 1000;
    const minReps = Math.min(MIN_WARM_RUNS, t.reps);
    let times: number[];
    let warm = true;
    if (first > t.maxRunS * 1000) {
      // one run took longer than a whole row may: it stays the only, cold, measurement
      times = [first];
      warm = false;
      addNote(row, `one cold run (the correctness run took over --max-run ${t.maxRunS} s)`);
    } else if (runner.measure) {
      times = await runner.measure(t.reps, budget, t.warmup, minReps);
    } else {
      // a first run far slower than the backend's throughput predicts was set-up (shader compilation):
      // it served as the warm-up
      if (first > budget && setupSuspected(first, estimateS)) {
        addNote(row, `the first run took ${fmtSeconds(first / 1000)} (set-up)`);
      } else for (let i = 1; i < t.warmup; i++) await runner.run();
      times = [];
      let spent = 0;
      while (times.length < t.reps && (times.length < minReps || spent < budget)) {
        const s = performance.now();
        await runner.run();
        const dt = performance.now() - s;
        times.push(dt);
        spent += dt;
      }
    }
    if (warm && times.length < t.reps) {
      addNote(row, `time budget reached after ${times.length} of ${t.reps} runs`);
    }
    row.times = times.map((x) => +x.toFixed(3));
    row.reps = times.length;
    row.warm = warm;
    row.ms = +median(times).toFixed(3);
    row.gflops = +(c.flops / (row.ms * 1e6)).toPrecision(4);
  } catch (e) {
    row.error = `failed: ${message(e)}`;
  } finally {
    try {
      await runner.dispose();
    } catch {
      // a backend that failed may not free cleanly; the next row gets a fresh setup
    }
  }
  return row;
}

/** Whether a first run of `firstMs` was mostly set-up: no prediction, or twice the predicted time. */
function setupSuspected(firstMs: number, estimateS: number | null): boolean {
  return estimateS === null || firstMs > 2000 * estimateS;
}

function addNote(row: Row, note: string): void {
  row.note = row.note ? `${row.note}; ${note}` : note;
}

/** Seconds as text, e.g. "12 s", "3.4 min", "2.1 h". */
export function fmtSeconds(s: number): string {
  if (s < 100) return `${s.toPrecision(2)} s`;
  if (s < 120) return `${s.toFixed(0)} s`;
  if (s < 7200) return `${(s / 60).toPrecision(2)} min`;
  return `${(s / 3600).toPrecision(2)} h`;
}

/**
 * Predicts how long a backend's run of a case takes from its best GFLOP/s on earlier rows of the same
 * family (the three convolution ops together; the two U-Net ops together). The best rate, not the
 * latest, and from rows of at least a second where there are any: small shapes are dominated by fixed
 * costs (a submission and a sync) and would make every larger row look hopeless, so a rate seen only
 * on sub-second rows is taken as `SMALL_ROW_OPTIMISM` times better.
 */
export class Estimator {
  #rates = new Map<string, { rate: number; reliable: boolean }>();

  static #family(op: OpName): string {
    return op.startsWith("conv3d_") ? "conv3d" : op.startsWith("unet_") ? "unet" : op;
  }

  /** Records a measured row. */
  add(r: Row): void {
    if (!r.gflops || !r.ms) return;
    const key = `${r.backend}|${Estimator.#family(r.op)}`;
    const reliable = r.ms >= 1000;
    const rate = reliable ? r.gflops : r.gflops * SMALL_ROW_OPTIMISM;
    const prev = this.#rates.get(key);
    if (!prev || (reliable && !prev.reliable) || (reliable === prev.reliable && rate > prev.rate)) {
      this.#rates.set(key, { rate, reliable });
    }
  }

  /** Estimated seconds of one run, or null without a basis (a U-Net falls back on the convolutions). */
  seconds(backend: BackendName, c: Case): number | null {
    const family = Estimator.#family(c.op);
    const r = this.#rates.get(`${backend}|${family}`) ??
      (family === "unet" ? this.#rates.get(`${backend}|conv3d`) : undefined);
    return r ? c.flops / (r.rate * 1e9) : null;
  }
}

/** How much faster than on sub-second rows a backend is assumed to run a large one. */
export const SMALL_ROW_OPTIMISM = 4;

/** One line of progress for a finished row. */
export function progressLine(r: Row): string {
  const what = `${r.op.padEnd(24)} ${r.label.padEnd(30)} ${r.backend.padEnd(12)}`;
  if (r.error) return `${what} ${r.error}`;
  const err = r.relError !== undefined ? `  rel.err ${r.relError.toExponential(1)}` : "  (baseline)";
  const runs = isWarmMedian(r) ? `x${r.reps}` : `(${runsLabel(r)})`;
  return `${what} ${fmtMs(r.ms!).padStart(10)} ${fmtRate(r.gflops!).padStart(9)} GFLOP/s  ${runs}${err}${
    r.note ? `  (${r.note})` : ""
  }`;
}

function fmtMs(ms: number): string {
  if (ms >= 10000) return `${(ms / 1000).toFixed(1)} s`;
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(3)} ms`;
}

function fmtRatio(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toPrecision(2);
}

function fmtRate(g: number): string {
  return g >= 100 ? g.toFixed(0) : g >= 1 ? g.toFixed(2) : g.toPrecision(2);
}

/**
 * The results as a Markdown table: one line per case, one column per backend with its time and
 * GFLOP/s, and its time relative to ours (`x2.0` = twice as slow as ours); "n/a" cells are explained
 * in the notes under the table. Only warm medians of `MIN_WARM_RUNS` runs enter a ratio: a time from
 * fewer runs says so ("cold, 1 run", "2 runs") and gets no ratio, and where ours is such a time, no
 * cell of its line gets one (a note says why). A time that nothing checked (the only result of its
 * line that is not ours) says so too.
 */
export function table(rows: readonly Row[], backends: readonly BackendName[]): string {
  // a backend that could not start at all gets a line under the table instead of a column of n/a
  const absent = backends.filter((b) => {
    const mine = rows.filter((r) => r.backend === b);
    return mine.length > 0 &&
      mine.every((r) => r.error?.startsWith("unavailable") && r.error === mine[0].error);
  });
  backends = backends.filter((b) => !absent.includes(b));
  const byCase = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.op}|${r.label}`;
    byCase.set(key, [...(byCase.get(key) ?? []), r]);
  }
  const notes: string[] = [];
  const noteOf = (text: string) => {
    let i = notes.indexOf(text);
    if (i < 0) i = notes.push(text) - 1;
    return `[${i + 1}]`;
  };
  const head = ["op", "shape", ...backends];
  const lines = [head, head.map(() => "---")];
  for (const group of byCase.values()) {
    const ours = group.find((r) => r.backend === "ours" && r.ms !== undefined);
    const cells = backends.map((b) => {
      const r = group.find((x) => x.backend === b);
      if (!r) return "";
      if (r.error?.startsWith("wrong result")) {
        return `WRONG (rel.err ${r.relError!.toPrecision(2)}${r.worst ? ` in ${r.worst}` : ""})`;
      }
      if (r.error?.startsWith("skipped")) {
        return `skipped ${r.estimatedS ? `(~${fmtSeconds(r.estimatedS)}) ` : ""}${
          noteOf("skipped: one run estimated over --max-run")
        }`;
      }
      if (r.error) return `n/a ${noteOf(`${b}: ${r.error}`)}`;
      const time = `${fmtMs(r.ms!)}, ${fmtRate(r.gflops!)}`;
      const checked = b === "ours" || r.checkedAgainst !== undefined ||
        group.some((x) => x.checkedAgainst === b && !x.error);
      const unchecked = checked
        ? ""
        : ` ${noteOf("unchecked: no other backend gave a result on this line to check it against")}`;
      if (!isWarmMedian(r)) return `${time} (${runsLabel(r)})${unchecked}`;
      if (!ours || b === "ours") return time + unchecked;
      if (!isWarmMedian(ours)) {
        return `${time} ${
          noteOf(`no ratio: ours' time on this line is not a median of ${MIN_WARM_RUNS} warm runs`)
        }`;
      }
      return `${time} (x${fmtRatio(r.ms! / ours.ms!)})`;
    });
    lines.push([group[0].op, group[0].label, ...cells]);
  }
  const body = lines.map((l) => `| ${l.join(" | ")} |`).join("\n");
  const legend = `Cells: median time of at least ${MIN_WARM_RUNS} warm runs, GFLOP/s, and (xR) its time ` +
    "relative to ours' (above 1: slower than ours; WRONG: failed the correctness check against the " +
    "baseline, naming the tensor that failed where a result has several). A time from fewer than " +
    `${MIN_WARM_RUNS} warm runs says so ("cold, 1 run": the correctness run itself, set-up included; ` +
    '"2 runs": warm, but too few for a median) and takes part in no ratio.';
  const missing = absent.map((b) => `Not run: ${b}: ${rows.find((r) => r.backend === b)!.error}`);
  return [body, "", legend, ...notes.map((n, i) => `[${i + 1}] ${n}`), ...missing].join("\n");
}
