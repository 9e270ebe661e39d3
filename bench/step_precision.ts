/**
 * Where a U-Net training step's float32 gradients lose digits against float64, ours and PyTorch's:
 *
 *   deno run -A --config bench/deno.json bench/step_precision.ts [--size 32] [--labels input|random]
 *     [--base 16] [--seed 1] [--ulp N]
 *
 * Runs one training step of the fast U-Net (base channels `--base`) on a `--size`^3 tile of uniform
 * values in [-1, 1), with labels derived from the input (`input`: 8 equal bins of the value, the default)
 * or random ones, and hands the weights, input, labels, our gradients and the output of every
 * normalisation + activation to bench/step_precision.py, which runs the same step in PyTorch (float64 and
 * float32) and prints, for every gradient, the error of each float32 step against float64, and against
 * float64 given the same leaky-ReLU branches as that float32 step took; the voxels whose branch differs
 * from float64's, with their float64 pre-activation; and with `--ulp N`, how far the float64 step itself
 * moves, and how far PyTorch's float32 errs, for N random one-ulp changes of the input.
 * Findings: bench/NOTES-precision.md.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { startGpu } from "../src/io/gpu.ts";
import { channelPlan, FAST_UNET, UNet3D } from "../src/nn/unet3d.ts";
import { Tensor } from "../src/tensor.ts";
import { backward } from "../src/autograd.ts";
import { weightedCrossEntropy } from "../src/ops/loss.ts";
import { Rng } from "../src/util/random.ts";
import { findTorch } from "./backends/torch.ts";

/** What `stepPrecision` runs: a `size`^3 tile, its labels, the U-Net's base channels, the seed. */
export interface StepPrecisionOptions {
  size: number;
  labels: "input" | "random";
  base: number;
  seed: number;
  /** Random one-ulp changes of the input to try (0: none). */
  ulp?: number;
  /** Print bench/step_precision.py's table (true by default). */
  print?: boolean;
}

/** The float32 steps compared, each against float64 (`errors` keys). */
export type StepComparison =
  | "pytorch-f32"
  | "ours"
  | "pytorch-f32, same branches"
  | "ours, same branches";

/** What bench/step_precision.py found (its --json). */
export interface StepPrecisionReport {
  /** Per comparison, the harness-style error of the loss and of each gradient by parameter name. */
  errors: Record<StepComparison, Record<string, number>>;
  /** Gradients whose float64 value is below the harness's noise floor (exactly zero in exact arithmetic). */
  noise: string[];
  /** Per float32 step, the voxels whose leaky-ReLU branch differs from float64's: block, index, pre-activation. */
  flips: Record<"pytorch-f32" | "ours", [string, number[], number][]>;
  /** Per one-ulp change of the input: how far the float64 step moved, and PyTorch float32's error there. */
  ulp: {
    float64: Record<string, number>;
    "pytorch-f32": Record<string, number>;
  }[];
}

/** Our training step and PyTorch's (float64 and float32) on one tile; see the module's documentation. */
export async function stepPrecision(
  o: StepPrecisionOptions,
): Promise<StepPrecisionReport> {
  const { size, seed, labels: mode } = o;
  if (!(Number.isInteger(size) && size >= 4 && size % 4 === 0)) {
    throw new Error("size: a multiple of 4");
  }
  if (mode !== "input" && mode !== "random") {
    throw new Error("labels: input or random");
  }
  const config = { ...FAST_UNET, baseChannels: o.base };
  const torch = await findTorch();
  if (!torch) throw new Error("no python3 that imports torch");
  await startGpu();
  const dir = await Deno.makeTempDir({ prefix: "step-precision-" });
  try {
    const put = (name: string, a: Float32Array | Uint32Array) =>
      Deno.writeFile(
        `${dir}/${name}.bin`,
        new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
      );
    const n = size ** 3;
    const rng = new Rng(seed);
    const xh = new Float32Array(n);
    for (let i = 0; i < n; i++) xh[i] = 2 * rng.next() - 1;
    const lab = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      lab[i] = mode === "random" ? rng.int(8) : Math.min(7, Math.floor((xh[i] + 1) * 4));
    }
    await put("x", xh);
    await put("labels", lab);

    const net = new UNet3D(config, seed);
    const names = new Map<Tensor, string>();
    const params: [string, readonly number[]][] = [];
    for (const [k, v] of net.params) {
      names.set(v, k);
      params.push([k, v.shape]);
      await put(`param.${k}`, await v.read());
    }
    const x = Tensor.from(xh, [1, 1, size, size, size]);
    const labels = Tensor.from(lab, [1, size, size, size], { dtype: "u32" });
    const loss = weightedCrossEntropy(net.forward(x), labels);
    // the output of every normalisation (its leaky ReLU fused), named after its block
    const acts: [string, readonly number[]][] = [];
    const seen = new Set<Tensor>();
    const stack = [loss];
    while (stack.length) {
      const t = stack.pop()!;
      if (seen.has(t) || !t.node) continue;
      seen.add(t);
      const gamma = names.get(t.node.inputs[1]);
      if (t.node.name.endsWith("Norm3d") && gamma) {
        const block = gamma.replace(/\.norm\.weight$/, "");
        acts.push([block, t.shape]);
        await put(`act.${block}`, await t.read());
      }
      stack.push(...t.node.inputs.filter((i) => i.requiresGrad));
    }
    await put("loss", await loss.read());
    backward(loss);
    for (const [k, v] of net.params) {
      await put(`grad.${k}`, await v.grad!.read());
    }
    const meta = {
      size,
      labels: mode,
      config,
      plan: channelPlan(config),
      params,
      acts,
    };
    await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify(meta));
    for (const t of [x, labels, loss]) t.dispose();
    net.dispose();

    const script = fileURLToPath(
      new URL("./step_precision.py", import.meta.url),
    );
    const json = `${dir}/report.json`;
    const out = await new Deno.Command(torch.python, {
      args: [script, dir, "--ulp", String(o.ulp ?? 0), "--json", json],
      stdout: o.print === false ? "null" : "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error("bench/step_precision.py failed");
    return JSON.parse(await Deno.readTextFile(json));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", default: "32" },
      labels: { type: "string", default: "input" },
      base: { type: "string", default: "16" },
      seed: { type: "string", default: "1" },
      ulp: { type: "string", default: "0" },
    },
  });
  await stepPrecision({
    size: Number(values.size),
    labels: values.labels as "input" | "random",
    base: Number(values.base),
    seed: Number(values.seed),
    ulp: Number(values.ulp),
  });
}
