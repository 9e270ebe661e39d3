/**
 * Tiny timing script for tuning the fast convolution kernels (src/ops/conv3d_fast.ts) on this machine's
 * adapter; the real benchmark suite is someone else's (bench/shapes.ts). Each row: the median over
 * `--reps` groups of 3 runs between `sync`s, after a warm-up, as wall time and GFLOP/s, and in brackets
 * the process's CPU time per run and the GFLOP/s it implies with all cores busy: on a shared machine the
 * wall time depends on the neighbours, the CPU time much less. Findings: bench/NOTES-conv.md.
 *
 *   deno run -A bench/conv_lavapipe.ts [--reps 5] [--only ref,fwd,fwd16,igrad,wgrad]
 *     [--bm 16 --bn 256 --qm 4 --qn 4]   (a tiling instead of the chooser's)
 *     [--shapes "1,16,16,32,3,1;1,32,32,16,3,0"]   (n, cin, cout, size, k, pad per row)
 */
import { startGpu } from "../src/io/gpu.ts";
import { Tensor } from "../src/tensor.ts";
import {
  conv3dForwardFast,
  conv3dInputGradFast,
  conv3dWeightGradFast,
  type GemmTiles,
} from "../src/ops/conv3d_fast.ts";
import { conv3d, convKernels } from "../src/ops/conv3d.ts";

const args = Deno.args;
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = Number(opt("reps", "5"));
const only = opt("only", "fwd,igrad,wgrad").split(",");
const tiles: GemmTiles | undefined = args.includes("--bm")
  ? {
    bm: Number(opt("bm", "16")),
    bn: Number(opt("bn", "256")),
    qm: Number(opt("qm", "4")),
    qn: Number(opt("qn", "4")),
  }
  : undefined;

const g = await startGpu();
const cores = navigator.hardwareConcurrency;
console.log(`adapter: ${g.adapterName}`);

/** [n, cin, cout, size, k, pad]: the U-Net presets' layer shapes, or `--shapes "1,16,16,32,3,1;..."`. */
const SHAPES: number[][] = args.includes("--shapes")
  ? opt("shapes", "").split(";").map((r) => r.split(",").map(Number))
  : [[1, 16, 16, 32, 3, 1], [1, 32, 32, 16, 3, 1], [1, 1, 16, 32, 3, 1]];

/** Busy fraction of all CPUs over `ms` milliseconds (from /proc/stat; 0 where unreadable). */
async function busy(ms: number): Promise<number> {
  const sample = () => {
    try {
      const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
      return [f[3] + f[4], f.reduce((a, b) => a + b, 0)];
    } catch {
      return [0, 0];
    }
  };
  const [i0, t0] = sample();
  await new Promise((r) => setTimeout(r, ms));
  const [i1, t1] = sample();
  return t1 > t0 ? 1 - (i1 - i0) / (t1 - t0) : 0;
}

/** Waits (up to 3 s) until other processes leave the CPUs idle: this machine is shared. */
async function waitIdle(): Promise<void> {
  for (let i = 0; i < 10 && (await busy(300)) > 0.15; i++);
}

/** CPU time of this process's threads in ms (Linux /proc schedstat; NaN elsewhere). */
function cpuMs(): number {
  try {
    let ns = 0;
    for (const t of Deno.readDirSync("/proc/self/task")) {
      ns += Number(Deno.readTextFileSync(`/proc/self/task/${t.name}/schedstat`).split(" ")[0]);
    }
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

/** Median over `reps` groups of the mean time of `inner` runs between syncs (ms), after a warm-up. */
async function time(f: () => Tensor, inner = 3): Promise<[number, number]> {
  f().dispose(); // warm-up: pipeline compilation
  await g.sync();
  const ts: number[] = [], cs: number[] = [];
  for (let r = 0; r < reps; r++) {
    await waitIdle();
    const t0 = performance.now(), c0 = cpuMs();
    for (let i = 0; i < inner; i++) f().dispose();
    await g.sync();
    ts.push((performance.now() - t0) / inner);
    cs.push((cpuMs() - c0) / inner);
  }
  const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
  return [median(ts), median(cs)];
}

function fill(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = Math.sin(i * 0.37);
  return Tensor.from(d, shape);
}

for (const [n, cin, cout, s, k, pad] of SHAPES) {
  const o = s + 2 * pad - k + 1;
  const x = fill([n, cin, s, s, s]);
  const w = fill([cout, cin, k, k, k]);
  const b = fill([cout]);
  const gy = fill([n, cout, o, o, o]);
  const flop = 2 * n * cout * cin * k ** 3 * o ** 3;
  const label = `N=${n} ${cin}->${cout} ${s}^3 k${k}`;
  const report = (what: string, [ms, cpu]: [number, number]) =>
    console.log(
      `${label.padEnd(24)} ${what.padEnd(12)} ${ms.toFixed(1).padStart(7)} ms ${
        (flop / ms / 1e6).toFixed(2).padStart(6)
      } GFLOP/s  (cpu ${cpu.toFixed(0).padStart(4)} ms: ${(flop / (cpu / cores) / 1e6).toFixed(2)} GFLOP/s)`,
    );
  if (only.includes("ref")) {
    // the reference module's one-output-per-invocation kernel (conv3d calls the fast one by default)
    convKernels.implementation = "direct";
    report("direct", await time(() => conv3d(x, w, b, { padding: pad ? "same" : "valid" })));
    convKernels.implementation = "tiled";
  }
  if (only.includes("fwd")) report("forward", await time(() => conv3dForwardFast(x, w, b, pad, tiles)));
  if (only.includes("fwd16")) {
    report("forward f16", await time(() => conv3dForwardFast(x, w, b, pad, tiles, "f16")));
  }
  if (only.includes("igrad")) {
    report("input grad", await time(() => conv3dInputGradFast(gy, w, x.shape, pad, tiles)));
  }
  if (only.includes("wgrad")) {
    report(
      "weight grad",
      await time(() => conv3dWeightGradFast(x, gy, k, pad, tiles)),
    );
  }
  for (const t of [x, w, b, gy]) t.dispose();
}
