/**
 * PyTorch in a python3 subprocess (bench/torch_ref.py), where `import torch` works: on the CPU with
 * 2 threads (`pytorch-cpu`), the same in float64 (`pytorch-f64`, a reference: put it first in
 * `--backends` and every other result is checked against it), and on CUDA in float32 with TF32 off
 * (`pytorch-fp32`) and with TF32 (`pytorch-tf32`). Inputs travel as raw files in a temporary folder; the subprocess times its own
 * runs (each ended by `torch.cuda.synchronize()`) so that no pipe round trip is timed. For a whole
 * U-Net, our engine makes the weights (same seed) and hands them over, so the first training step's
 * loss and gradients and the inference logits are comparable with ours.
 */
import { fileURLToPath } from "node:url";
import type { Case } from "../shapes.ts";
import { presetConfig } from "../shapes.ts";
import { type Backend, type CaseData, type Parts, type Runner, Unsupported } from "./types.ts";

type Mode = "cpu" | "f64" | "fp32" | "tf32";
// deno-lint-ignore no-explicit-any
type Answer = { ok: boolean; error?: string; unsupported?: boolean; [k: string]: any };

const SCRIPT = fileURLToPath(new URL("../torch_ref.py", import.meta.url));

/** The Python interpreters tried, in order: $BENCH_PYTHON, python3 on the PATH, the system's. */
function pythons(): string[] {
  const env = Deno.env.get("BENCH_PYTHON");
  return [...(env ? [env] : []), "python3", "/usr/bin/python3"];
}

/** The first interpreter that imports torch, with torch's version; null when none does. */
export async function findTorch(): Promise<{ python: string; version: string } | null> {
  for (const python of pythons()) {
    try {
      const o = await new Deno.Command(python, {
        args: ["-c", "import torch; print(torch.__version__)"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (o.success) return { python, version: new TextDecoder().decode(o.stdout).trim() };
    } catch {
      // not installed
    }
  }
  return null;
}

/** PyTorch in one mode, through one long-lived subprocess. */
export class TorchBackend implements Backend {
  readonly name: "pytorch-cpu" | "pytorch-f64" | "pytorch-fp32" | "pytorch-tf32";
  readonly tolerance?: number;
  #proc: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #lines: AsyncIterator<string> | null = null;
  #device = "";
  #dir = "";
  #next = 0;

  constructor(readonly mode: Mode) {
    this.name = `pytorch-${mode}` as const;
    // TF32 keeps 10 mantissa bits: errors near 1e-3 are expected, not a fault
    if (mode === "tf32") this.tolerance = 1e-2;
  }

  async init(): Promise<void> {
    const found = await findTorch();
    if (!found) throw new Error(`no python3 that imports torch (tried ${pythons().join(", ")})`);
    const threads = Deno.env.get("BENCH_TORCH_THREADS") ?? "2";
    this.#proc = new Deno.Command(found.python, {
      args: [SCRIPT, "--mode", this.mode, "--threads", threads],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#proc.stdin.getWriter();
    this.#lines = lines(this.#proc.stdout);
    const hello = await this.#ask({ cmd: "hello" });
    if (!hello.ok) throw new Error(hello.error);
    this.#device = `${hello.device} (torch ${hello.torch})`;
    this.#dir = await Deno.makeTempDir({ prefix: "bench-torch-" });
  }

  device(): string {
    return this.#device;
  }

  async #ask(req: Record<string, unknown>): Promise<Answer> {
    await this.#writer!.write(new TextEncoder().encode(JSON.stringify(req) + "\n"));
    const r = await this.#lines!.next();
    if (r.done) throw new Error("the PyTorch subprocess ended");
    return JSON.parse(r.value);
  }

  async prepare(c: Case, data: CaseData): Promise<Runner> {
    const id = `c${this.#next++}`;
    const files: Record<string, string> = {};
    const put = async (name: string, a: Float32Array | Uint32Array) => {
      const path = `${this.#dir}/${id}-${name.replaceAll(/[^A-Za-z0-9_.-]/g, "_")}.bin`;
      await Deno.writeFile(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      files[name] = path;
    };
    for (const k of ["x", "w", "b", "dy", "labels"] as const) if (data[k]) await put(k, data[k]!);
    let plan: UNetPlan | undefined = undefined;
    if (c.shape.kind === "unet") plan = await this.#unetWeights(c.shape.preset, data.seed ?? 0, put);
    const setup = await this.#ask({ cmd: "setup", id, op: c.op, shape: c.shape, inputs: files, plan });
    const cleanup = async () => {
      for (const f of Object.values(files)) await Deno.remove(f).catch(() => {});
    };
    if (!setup.ok) {
      await cleanup();
      throw setup.unsupported ? new Unsupported(setup.error) : new Error(setup.error);
    }
    const output = `${this.#dir}/${id}-out.bin`;
    const check = (a: Answer) => {
      if (!a.ok) throw new Error(a.error);
      return a;
    };
    return {
      run: async () => void check(await this.#ask({ cmd: "run", id, output })),
      output: async () => {
        const b = await Deno.readFile(output);
        const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
        return c.op === "unet_train_step" ? stepParts(all, plan!.params) : all;
      },
      measure: async (reps, budgetMs, warmup, minReps) => {
        const req = { cmd: "time", id, reps, warmup, budget_ms: budgetMs, min_reps: minReps };
        return check(await this.#ask(req)).times_ms;
      },
      dispose: async () => {
        await this.#ask({ cmd: "free", id });
        await cleanup();
        await Deno.remove(output).catch(() => {});
      },
    };
  }

  /** Our U-Net's initial weights for `seed`, written for the subprocess; returns its plan. */
  async #unetWeights(
    preset: "paper" | "fast",
    seed: number,
    put: (name: string, a: Float32Array) => Promise<void>,
  ): Promise<UNetPlan> {
    let m, g;
    try {
      g = await import("../../src/io/gpu.ts");
      await g.startGpu();
      m = await import("../../src/nn/unet3d.ts");
    } catch (e) {
      throw new Unsupported(
        `our engine makes the U-Net's weights, and it could not start: ${(e as Error).message}`,
      );
    }
    const config = presetConfig(preset);
    const net = new m.UNet3D(config, seed);
    const params: [string, readonly number[]][] = [];
    try {
      for (const [name, t] of net.params) {
        await put(`param:${name}`, await t.read());
        params.push([name, t.shape]);
      }
    } finally {
      net.dispose();
    }
    return { ...m.channelPlan(config), config, params };
  }

  async close(): Promise<void> {
    try {
      await this.#writer?.close();
      await this.#proc?.status;
    } catch {
      // already gone
    }
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** What the subprocess is told about a U-Net: our channel plan, the configuration, the parameters. */
interface UNetPlan {
  params: [string, readonly number[]][];
  [k: string]: unknown;
}

/**
 * A training step's result as the subprocess writes it (the loss, then every parameter's gradient in
 * the plan's order, all flat) split into the named `Parts` that ours gives.
 */
export function stepParts(all: Float32Array, params: readonly [string, readonly number[]][]): Parts {
  const parts = new Map<string, Float32Array>([["loss", all.subarray(0, 1)]]);
  let at = 1;
  for (const [name, shape] of params) {
    const n = shape.reduce((a, b) => a * b, 1);
    parts.set(`grad:${name}`, all.subarray(at, at + n));
    at += n;
  }
  if (at !== all.length) {
    throw new Error(`the training step's result has ${all.length} values, the loss and gradients ${at}`);
  }
  return parts;
}

/** The lines of a byte stream. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}
