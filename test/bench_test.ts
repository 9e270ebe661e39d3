/**
 * Smoke test of `deno task bench`: a tiny `--quick` subset end to end, checking the JSON's structure
 * (never its timings), plus the pieces that need no GPU: statistics, the shape list, the table.
 */
import assert from "node:assert/strict";
import {
  Check,
  compareOutputs,
  Estimator,
  GRADIENT_TOLERANCE,
  isWarmMedian,
  measure,
  median,
  MIN_WARM_RUNS,
  progressLine,
  relError,
  type Row,
  SMALL_ROW_OPTIMISM,
  table,
  TOLERANCE,
  warmRuns,
} from "../bench/harness.ts";
import { type Case, cases, type OpName, OPS } from "../bench/shapes.ts";
import {
  type Backend,
  type BackendName,
  BACKENDS,
  type CaseData,
  type CaseOutput,
  type Parts,
} from "../bench/backends/types.ts";
import { oneNodeModel } from "../bench/backends/onnx.ts";
import { OursBackend } from "../bench/backends/ours.ts";
import { findTorch, stepParts, TorchBackend } from "../bench/backends/torch.ts";
import { caseData } from "../bench/data.ts";
import { FAST_UNET, UNet3D } from "../src/nn/unet3d.ts";
import { setupGpu } from "./_helpers.ts";
import { parseReport, tableOf } from "../bench/report.ts";
import { parseArgs } from "node:util";

Deno.test("bench --quick: one op on ours and the TypeScript floor gives a well-formed report", async () => {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const cli = new URL("../cli/bench.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run",
        "--allow-ffi",
        "--allow-sys",
        cli,
        "--quick",
        "--only",
        "conv3d_forward",
        "--filter",
        "13x14x15",
        "--backends",
        "ours,typescript",
        "--reps",
        "2",
        "--json",
        json,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const report = JSON.parse(await Deno.readTextFile(json));
    assert.equal(typeof report.adapter, "string");
    assert.equal(typeof report.commit, "string");
    assert.ok(!Number.isNaN(Date.parse(report.date)), "date is ISO");
    assert.ok(Array.isArray(report.results));
    // one shape matches the filter
    assert.deepEqual(report.results.map((r: { backend: string }) => r.backend), ["ours", "typescript"]);
    for (const r of report.results) {
      assert.equal(r.op, "conv3d_forward");
      assert.equal(typeof r.shape, "object");
      assert.ok(BACKENDS.includes(r.backend));
      if (r.error === undefined) {
        assert.ok(r.ms > 0 && r.gflops > 0, JSON.stringify(r));
        assert.ok(r.reps >= 1 && r.reps <= 2);
      } else {
        assert.equal(typeof r.error, "string");
        assert.equal(r.ms, undefined);
      }
    }
    const ts = report.results[1];
    if (ts.error === undefined) assert.ok(ts.relError < 1e-3, "the floor agrees with ours");
    // progress: one line per row
    assert.equal(stderr.split("\n").filter((l) => l.startsWith("conv3d_forward")).length, 2);
    assert.match(new TextDecoder().decode(out.stdout), /\| conv3d_forward \|/);
  } finally {
    await Deno.remove(json);
  }
});

Deno.test("bench: shape list covers every op; statistics; table marks wrong and missing rows", () => {
  for (const quick of [true, false]) {
    const ops = new Set(cases(quick).map((c) => c.op));
    for (const op of OPS) assert.ok(ops.has(op), `${op} in ${quick ? "--quick" : "default"} shapes`);
    for (const c of cases(quick)) assert.ok(c.flops > 0, c.label);
  }
  const est = new Estimator();
  const [small, big] = cases(false).filter((c) => c.op === "conv3d_forward");
  assert.equal(est.seconds("ours", big), null, "no basis before the first row");
  const row = (gflops: number, ms: number) => ({
    op: "conv3d_weight_grad" as const,
    shape: small.shape,
    label: "",
    backend: "ours" as const,
    gflops,
    ms,
  });
  est.add(row(0.5, 50));
  assert.equal(
    est.seconds("ours", big),
    big.flops / (0.5 * SMALL_ROW_OPTIMISM * 1e9),
    "small rows: optimistic",
  );
  for (const g of [2, 0.1]) est.add(row(g, 2000));
  assert.equal(est.seconds("ours", big), big.flops / 2e9, "the best rate of the family's long rows");
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(relError([1, 2.5], [1, 2]), 0.25);
  assert.equal(relError([NaN], [1]), Infinity);
  const shape = { kind: "pool" as const, n: 1, c: 1, d: 2, h: 2, w: 2 };
  const base = { op: "max_pool3d_forward" as const, shape, label: "p" };
  const t = table([
    { ...base, backend: "ours", ms: 2, gflops: 1, reps: 3 },
    { ...base, backend: "jax-js", ms: 4, gflops: 0.5, reps: 3, relError: 0, checkedAgainst: "ours" },
    { ...base, backend: "typescript", error: "wrong result: relative error 1.0e+0 > 0.001", relError: 1 },
    { ...base, backend: "onnxruntime", error: "unsupported: no" },
  ], ["ours", "jax-js", "typescript", "onnxruntime"]);
  assert.match(t, /\(x2\.0\)/);
  assert.match(t, /WRONG \(rel\.err 1\.0\)/);
  assert.match(t, /n\/a \[1\]/);
});

Deno.test("bench: the hand-encoded ONNX model starts with ir_version and names its op", () => {
  const m = oneNodeModel("MaxPool", [{ name: "x", type: 1, shape: [1, 1, 2, 2, 2] }], [
    { name: "y", type: 1, shape: [1, 1, 1, 1, 1] },
  ], []);
  assert.deepEqual([...m.slice(0, 2)], [0x08, 8]);
  assert.ok(new TextDecoder().decode(m).includes("MaxPool"));
});

Deno.test("bench: two references that agree with each other overrule a wrong baseline", () => {
  const check = new Check();
  const right = new Float32Array([1, 2]), wrong = new Float32Array([5, 5]);
  assert.ok(check.verify(wrong, "ours", 1e-3).ok, "the first result is the baseline");
  const first = check.verify(right, "typescript", 1e-3);
  assert.ok(!first.ok, "a lone dissent is marked wrong");
  const second = check.verify(right, "pytorch-cpu", 1e-3);
  assert.ok(second.ok && second.against === "typescript");
  assert.ok(check.verify(right, "tfjs-cpu", 1e-3).ok, "later checks use the consensus");
  const shape = { kind: "pool" as const, n: 1, c: 1, d: 2, h: 2, w: 2 };
  const base = { op: "max_pool3d_forward" as const, shape, label: "p" };
  const rows: Row[] = [
    { ...base, backend: "ours", ms: 1, gflops: 1, reps: 1 },
    { ...base, backend: "typescript", error: "wrong result", relError: 0.6, checkedAgainst: "ours" },
    {
      ...base,
      backend: "pytorch-cpu",
      ms: 2,
      gflops: 0.5,
      reps: 1,
      relError: 0,
      checkedAgainst: "typescript",
    },
  ];
  check.settle(rows);
  assert.match(rows[0].error!, /^wrong result/);
  assert.equal(rows[0].ms, undefined);
  assert.match(rows[1].error!, /^not timed/);
  assert.equal(rows[2].error, undefined);
});

/** A row of a made-up case, for the table's rules. */
function timed(backend: BackendName, ms: number, reps: number, extra: Partial<Row> = {}): Row {
  const shape = { kind: "pool" as const, n: 1, c: 1, d: 2, h: 2, w: 2 };
  const checked = backend === "ours" ? {} : { relError: 0, checkedAgainst: "ours" as const };
  return {
    op: "max_pool3d_forward",
    shape,
    label: "p",
    backend,
    ms,
    gflops: 1,
    reps,
    warm: true,
    ...checked,
    ...extra,
  };
}

/** The cell of `backend` on the first line of a table (columns in the order given to `table`). */
function cellOf(t: string, backends: BackendName[], backend: BackendName): string {
  const line = t.split("\n")[2].split("|").map((c) => c.trim());
  return line[3 + backends.indexOf(backend)];
}

Deno.test("bench table: only warm medians of 3 runs enter a ratio; other times say how many runs they are", () => {
  assert.equal(MIN_WARM_RUNS, 3);
  const names: BackendName[] = ["ours", "jax-js", "typescript", "tfjs-cpu", "pytorch-cpu"];
  const t = table([
    timed("ours", 2, 3),
    timed("jax-js", 9, 1, { warm: false, times: [9] }),
    timed("typescript", 4, 2),
    timed("tfjs-cpu", 6, 1),
    timed("pytorch-cpu", 1, 5),
  ], names);
  assert.equal(cellOf(t, names, "ours"), "2.00 ms, 1.00");
  assert.equal(cellOf(t, names, "jax-js"), "9.00 ms, 1.00 (cold, 1 run)");
  assert.equal(cellOf(t, names, "typescript"), "4.00 ms, 1.00 (2 runs)");
  assert.equal(cellOf(t, names, "tfjs-cpu"), "6.00 ms, 1.00 (1 run)");
  assert.equal(cellOf(t, names, "pytorch-cpu"), "1.00 ms, 1.00 (x0.50)");
  assert.match(t, /A time from fewer than 3 warm runs says so/);

  // ours itself from too few runs: nobody on its line gets a ratio, and a note says why
  const t2 = table([timed("ours", 2, 2), timed("pytorch-cpu", 1, 5)], ["ours", "pytorch-cpu"]);
  assert.equal(cellOf(t2, ["ours", "pytorch-cpu"], "ours"), "2.00 ms, 1.00 (2 runs)");
  assert.equal(cellOf(t2, ["ours", "pytorch-cpu"], "pytorch-cpu"), "1.00 ms, 1.00 [1]");
  assert.match(t2, /\[1\] no ratio: ours' time on this line is not a median of 3 warm runs/);
  assert.doesNotMatch(t2, /\(x\d/);

  // reports written before `warm` was recorded: the harness's note of that time marks a cold run
  const old = timed("jax-js", 9, 1, { note: "one cold run (over the time budget)" });
  delete old.warm;
  assert.equal(warmRuns(old), 0);
  assert.equal(warmRuns({ ...old, note: "the first run took 21 s (set-up)" }), 1);
  assert.ok(!isWarmMedian(old) && isWarmMedian(timed("ours", 1, 3)));
  assert.equal(
    cellOf(table([timed("ours", 2, 3), old], ["ours", "jax-js"]), ["ours", "jax-js"], "jax-js"),
    "9.00 ms, 1.00 (cold, 1 run)",
  );
});

Deno.test("bench table: a result that nothing checked says so", () => {
  const names: BackendName[] = ["ours", "jax-js", "typescript"];
  const t = table([
    { ...timed("ours", 0, 0), error: "failed: too big", ms: undefined },
    timed("jax-js", 9, 3, { relError: undefined, checkedAgainst: undefined }),
  ], names);
  assert.match(cellOf(t, names, "jax-js"), /^9\.00 ms, 1\.00 \[2\]$/);
  assert.match(t, /\[2\] unchecked: no other backend gave a result/);
  // a later backend that agreed with it checks it
  const t2 = table([
    { ...timed("ours", 0, 0), error: "failed: too big", ms: undefined },
    timed("jax-js", 9, 3, { relError: undefined, checkedAgainst: undefined }),
    timed("typescript", 4, 3, { checkedAgainst: "jax-js" }),
  ], names);
  assert.equal(cellOf(t2, names, "jax-js"), "9.00 ms, 1.00");
});

/** A backend whose every run sleeps `ms[i]` (the last entry repeats) and returns `out`. */
function sleeper(
  name: BackendName,
  ms: number[],
  out: CaseOutput = Float32Array.of(1),
): Backend & { runs: number } {
  const b = {
    name,
    runs: 0,
    init: () => Promise.resolve(),
    device: () => "test",
    prepare: () =>
      Promise.resolve({
        run: () => new Promise<void>((ok) => setTimeout(ok, ms[Math.min(b.runs++, ms.length - 1)])),
        output: () => Promise.resolve(out),
        dispose: () => {},
      }),
  };
  return b;
}

Deno.test("bench measure: at least 3 warm runs whatever the budget; a correctness run past --max-run is one cold run", async () => {
  const c = cases(true)[0];
  const data = {} as CaseData;
  const t = { warmup: 1, reps: 5, budgetS: 0.001, maxRunS: 60 };
  const fast = sleeper("ours", [5]);
  const r = await measure(fast, c, data, new Check(), t, null);
  assert.equal(r.error, undefined);
  assert.equal(r.reps, 3, "the budget was spent after one run, yet three were timed");
  assert.equal(fast.runs, 4, "the correctness run and three timed runs");
  assert.equal(r.warm, true);
  assert.ok(isWarmMedian(r));
  assert.match(r.note!, /time budget reached after 3 of 5 runs/);

  // --reps 2 asks for fewer: the row has them, and says so in the table
  const two = await measure(sleeper("ours", [5]), c, data, new Check(), { ...t, reps: 2 }, null);
  assert.equal(two.reps, 2);
  assert.ok(!isWarmMedian(two));

  // a first run of 40 ms against --max-run 0.02 s: kept, cold, and nothing more is run
  const slow = sleeper("ours", [40, 5]);
  const cold = await measure(slow, c, data, new Check(), { ...t, maxRunS: 0.02 }, null);
  assert.equal(slow.runs, 1);
  assert.equal(cold.warm, false);
  assert.equal(cold.reps, 1);
  assert.equal(warmRuns(cold), 0);
  assert.match(progressLine(cold), /\(cold, 1 run\)/);
  assert.match(cellOf(table([cold], ["ours"]), ["ours"], "ours"), /\(cold, 1 run\)$/);

  // a backend that times itself is asked for the same minimum
  let asked: number[] = [];
  const self = sleeper("pytorch-cpu", [1]);
  const prepare = self.prepare;
  self.prepare = async (cc, dd) => ({
    ...await prepare(cc, dd),
    measure: (reps: number, budgetMs: number, warmup: number, minReps: number) => {
      asked = [reps, budgetMs, warmup, minReps];
      return Promise.resolve([1, 1, 1]);
    },
  });
  const m = await measure(self, c, data, new Check(), t, null);
  assert.deepEqual(asked, [5, 1, 1, 3]);
  assert.ok(isWarmMedian(m));
});

/** Parts of a made-up training step: a loss, two real gradients and a bias gradient of rounding noise. */
function stepResult(scale = 1, noise = 1e-9): Parts {
  return new Map([
    ["loss", Float32Array.of(2.08)],
    ["grad:a.weight", Float32Array.of(0.01, -0.02, 0.03).map((v) => v * scale)],
    ["grad:a.bias", Float32Array.of(noise, -noise)],
    ["grad:b.weight", Float32Array.of(0.001, 0.004)],
  ]);
}

Deno.test("bench check: a training step is checked tensor by tensor, gradients included", () => {
  const base = stepResult();
  // rounding noise on a gradient that is zero in exact arithmetic is no error
  const c = compareOutputs(stepResult(1, -3e-9), base);
  assert.ok(c.relError < 1e-3, `noise: ${c.relError}`);
  assert.equal(Object.keys(c.relErrors!).length, 4);
  // the same loss with one gradient 10% off: wrong, and the tensor is named
  const off = compareOutputs(stepResult(1.1), base);
  assert.ok(!off.ok);
  assert.ok(Math.abs(off.relError - 0.1) < 1e-6, String(off.relError));
  assert.equal(off.worst, "grad:a.weight");
  assert.equal(off.tolerance, GRADIENT_TOLERANCE);
  assert.equal(off.relErrors!.loss, 0, "the loss alone would pass");
  // gradients are held to GRADIENT_TOLERANCE (float32 loses digits there), the loss to the backend's
  assert.ok(compareOutputs(stepResult(1.01), base).ok, "1% on a gradient is float32's own error at 64^3");
  const loss = new Map(base).set("loss", Float32Array.of(2.08 * 1.01));
  assert.ok(!compareOutputs(loss, base).ok);
  assert.equal(compareOutputs(loss, base).worst, "loss");
  assert.equal(compareOutputs(stepResult(1.1), base, 0.2).tolerance, 0.2, "a looser backend tolerance wins");
  // a loss without gradients, a missing tensor, an extra one
  assert.equal(compareOutputs(Float32Array.of(2.08), base).relError, Infinity);
  assert.match(compareOutputs(Float32Array.of(2.08), base).worst!, /lacks loss, grad:a\.weight/);
  const missing = new Map(base);
  missing.delete("grad:b.weight");
  assert.equal(compareOutputs(missing, base).worst, "grad:b.weight (missing)");
  assert.equal(compareOutputs(base, missing).worst, "grad:b.weight (not in the reference)");
  const nan = new Map(base).set("grad:b.weight", Float32Array.of(NaN, 0.004));
  assert.equal(compareOutputs(nan, base).relError, Infinity);

  const check = new Check();
  assert.ok(check.verify(base, "ours", 1e-3).ok);
  const v = check.verify(stepResult(1.1), "pytorch-cpu", 1e-3);
  assert.ok(!v.ok);
  assert.equal(v.worst, "grad:a.weight");
  const t = table([
    timed("ours", 2, 3),
    {
      ...timed("pytorch-cpu", 0, 0),
      ms: undefined,
      error: "wrong result",
      relError: v.relError,
      worst: v.worst,
    },
  ], ["ours", "pytorch-cpu"]);
  assert.equal(cellOf(t, ["ours", "pytorch-cpu"], "pytorch-cpu"), "WRONG (rel.err 0.10 in grad:a.weight)");
});

Deno.test("bench: the PyTorch step's flat result splits into the loss and each parameter's gradient", () => {
  const parts = stepParts(Float32Array.of(2, 1, 2, 3, 4, 5, 6, 7), [["w", [2, 3]], ["b", [1]]]);
  assert.deepEqual([...parts.keys()], ["loss", "grad:w", "grad:b"]);
  assert.deepEqual([...parts.get("grad:w")!], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...parts.get("grad:b")!], [7]);
  assert.throws(
    () => stepParts(Float32Array.of(2, 1), [["w", [2]]]),
    /has 2 values, the loss and gradients 3/,
  );
});

/** A tiny U-Net training step (fast preset on an 8x8x16 tile), the case of the GPU checks below. */
const STEP: Case = {
  op: "unet_train_step",
  shape: { kind: "unet", preset: "fast", n: 1, d: 8, h: 8, w: 16 },
  label: "fast 8x8x16",
  flops: 1e6,
};
const ONE_RUN = { warmup: 1, reps: 1, budgetS: 0, maxRunS: 600 };

/** Our backend with one tensor of its training step's result multiplied by `factor` after the run. */
function perturbed(ours: Backend, tensor: string, factor: number): Backend {
  return {
    ...ours,
    name: "typescript", // a stand-in name: the check only needs a second backend
    init: () => ours.init(),
    device: () => ours.device(),
    prepare: async (c, d) => {
      const r = await ours.prepare(c, d);
      return {
        ...r,
        output: async () => {
          const parts = new Map(await r.output() as Parts);
          parts.set(tensor, parts.get(tensor)!.map((v) => v * factor));
          return parts;
        },
      };
    },
  };
}

Deno.test("bench check: our training step with one wrong gradient is WRONG, though its loss is right", async () => {
  await setupGpu();
  const ours = new OursBackend();
  await ours.init();
  const data = caseData(STEP);
  const check = new Check();
  const base = await measure(ours, STEP, data, check, ONE_RUN, null);
  assert.equal(base.error, undefined, base.error);
  const parts = check.output as Parts;
  const model = new UNet3D(FAST_UNET, 0);
  const names = [...model.params.keys()];
  model.dispose();
  assert.deepEqual([...parts.keys()], ["loss", ...names.map((n) => `grad:${n}`)]);
  for (const [name, v] of parts) assert.ok(v.every(Number.isFinite), name);

  // the same step again agrees with itself: the check does not flag a right answer
  const again = await measure(perturbed(ours, "loss", 1), STEP, data, check, ONE_RUN, null);
  assert.equal(again.error, undefined, again.error);
  assert.ok(again.relError! < 1e-5, String(again.relError));

  const wrong = await measure(
    perturbed(ours, "grad:down1.conv0.weight", 1.1),
    STEP,
    data,
    check,
    ONE_RUN,
    null,
  );
  assert.match(
    wrong.error!,
    /^wrong result: relative error 1\.00e-1 \(grad:down1\.conv0\.weight\) > 0\.05$/,
  );
  assert.equal(wrong.relErrors!.loss, 0, "the loss agrees: a loss-only check would have passed it");
  assert.equal(wrong.ms, undefined, "a wrong result is not timed");
  const t = table([base, wrong], ["ours", "typescript"]);
  assert.match(t, /WRONG \(rel\.err 0\.10 in grad:down1\.conv0\.weight\)/);
});

const torch = (await findTorch()) !== null;

Deno.test({
  name:
    "bench check: PyTorch's training step agrees with ours, loss and every gradient (where torch imports)",
  ignore: !torch,
  fn: async () => {
    await setupGpu();
    const ours = new OursBackend();
    await ours.init();
    const data = caseData(STEP);
    const check = new Check();
    assert.equal((await measure(ours, STEP, data, check, ONE_RUN, null)).error, undefined);
    const pytorch = new TorchBackend("cpu");
    await pytorch.init();
    try {
      const row = await measure(pytorch, STEP, data, check, ONE_RUN, null);
      assert.equal(row.error, undefined, row.error);
      assert.equal(Object.keys(row.relErrors!).length, (check.output as Parts).size);
      // on this small tile float32 keeps its digits: the gradients agree far inside the tolerance
      for (const [name, e] of Object.entries(row.relErrors!)) assert.ok(e < 10 * TOLERANCE, `${name}: ${e}`);
    } finally {
      await pytorch.close();
    }
  },
});

/** A Markdown table block with layout, line breaks and padding taken out, rows cell by cell. */
function normalised(text: string): string {
  return text.split("\n").map((l) => l.trim())
    .filter((l) => l && !/^\|[\s:|-]+\|$/.test(l))
    .map((l) => l.startsWith("|") ? `\n${l.split("|").map((c) => c.trim()).join("|")}\n` : l)
    .join(" ").replace(/[ \t]+/g, " ").replace(/ ?\n ?/g, "\n");
}

Deno.test("bench/RESULTS.md: every table is what its JSON prints under the current rules, commit included", async () => {
  const root = new URL("../", import.meta.url);
  const md = await Deno.readTextFile(new URL("bench/RESULTS.md", root));
  const blocks = [...md.matchAll(/<!-- deno task bench --table (.+?) -->\n([\s\S]*?)<!-- end of table -->/g)];
  assert.ok(blocks.length >= 6, `${blocks.length} tables`);
  for (const [, command, shown] of blocks) {
    const args = [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
    const { values, positionals } = parseArgs({
      args,
      options: { only: { type: "string" }, backends: { type: "string" }, filter: { type: "string" } },
      allowPositionals: true,
    });
    assert.equal(positionals.length, 1, command);
    const reports = [];
    for (const file of positionals[0].split(",")) {
      reports.push({ file, report: parseReport(await Deno.readTextFile(new URL(file, root)), file) });
    }
    const printed = tableOf(reports, {
      ...values.only ? { ops: values.only.split(",") as OpName[] } : {},
      ...values.backends ? { backends: values.backends.split(",") as BackendName[] } : {},
      ...values.filter ? { filters: values.filter.split(",") } : {},
    });
    assert.equal(normalised(shown), normalised(printed), `the table of --table ${command}`);
    // the commit it cites is the one its JSON records
    for (const { report } of reports) {
      assert.ok(normalised(shown).includes(`commit ${report.commit};`), command);
    }
  }
  // nothing points at a design document that is not in the repository
  for (const m of md.matchAll(/[\w./-]*DESIGN\.md/g)) {
    assert.ok(await Deno.stat(new URL(m[0], new URL("bench/", root))).catch(() => null), m[0]);
  }
});

Deno.test("bench --table: a file that is not a report gets one line naming it", async () => {
  const bad = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(bad, "{not json");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        new URL("../cli/bench.ts", import.meta.url).pathname,
        "--table",
        bad,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 1);
    assert.equal(err.split("\n").length, 1, err);
    assert.ok(err.startsWith(`error: ${bad}: not JSON`), err);
  } finally {
    await Deno.remove(bad);
  }
});
