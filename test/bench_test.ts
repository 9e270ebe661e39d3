/**
 * Smoke test of `deno task bench`: a tiny `--quick` subset end to end, checking the JSON's structure
 * (never its timings), plus the pieces that need no GPU: statistics, the shape list, the table.
 */
import assert from "node:assert/strict";
import { Check, Estimator, median, relError, type Row, SMALL_ROW_OPTIMISM, table } from "../bench/harness.ts";
import { cases, OPS } from "../bench/shapes.ts";
import { BACKENDS } from "../bench/backends/types.ts";
import { oneNodeModel } from "../bench/backends/onnx.ts";

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
    { ...base, backend: "ours", ms: 2, gflops: 1, reps: 1 },
    { ...base, backend: "jax-js", ms: 4, gflops: 0.5, reps: 1, relError: 0 },
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
