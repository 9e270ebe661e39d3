/**
 * Page module of web/test/compile_test.ts: compiles every shader (and variant) and every pipeline of
 * the convolution tilings that `chooseTiles` can pick, in the browser's own WGSL compiler and driver.
 */
import { initGpu, type PipelineSpec, shaderCode } from "../../../src/gpu/runtime.ts";
import { type ShaderName, SHADERS } from "../../../src/gpu/shaders.ts";
import {
  conv3dForwardFast,
  conv3dInputGradFast,
  conv3dWeightGradFast,
  type GemmTiles,
} from "../../../src/ops/conv3d_fast.ts";
import { allTilings } from "../_tilings.ts";
import { Tensor } from "../../../src/tensor.ts";

/** Compiler messages of one shader variant. */
export interface ShaderResult {
  shader: string;
  variant: string;
  errors: string[];
}

/** Every shader module and its variants through createShaderModule; the errors of each. */
async function compileShaders(): Promise<{ adapter: string; results: ShaderResult[]; skipped: string[] }> {
  const g = await initGpu();
  const results: ShaderResult[] = [];
  const skipped: string[] = [];
  for (const name of Object.keys(SHADERS) as ShaderName[]) {
    const variants: (undefined | "f16" | "vec4")[] = [undefined];
    for (const v of ["f16", "vec4"] as const) if (SHADERS[name].includes(`// ${v}: `)) variants.push(v);
    for (const variant of variants) {
      if (variant === "f16" && !g.hasF16) {
        skipped.push(`${name}#f16`);
        continue;
      }
      const module = g.device.createShaderModule({ code: shaderCode(name, variant) });
      const info = await module.getCompilationInfo();
      results.push({
        shader: name,
        variant: variant ?? "",
        errors: info.messages.filter((m) => m.type === "error").map((m) =>
          `${m.lineNum}:${m.linePos} ${m.message}`
        ),
      });
    }
  }
  return { adapter: g.adapterName, results, skipped };
}

/** A pipeline to build, with a readable name. */
export interface NamedPipeline {
  name: string;
  spec: PipelineSpec;
}

/**
 * The pipelines of every tiling (forward and input gradient with KS = 1 and 3, weight gradient) that
 * fit this adapter, as the kernels launch them: recorded from dry runs of the three functions.
 */
async function tilingPipelines(): Promise<NamedPipeline[]> {
  const g = await initGpu();
  const lim = g.device.limits;
  const { conv, wgrad } = allTilings([16384, lim.maxComputeWorkgroupStorageSize]);
  const fits = (t: GemmTiles) =>
    (t.bm / (4 * t.qm)) * (t.bn / (4 * t.qn)) <= lim.maxComputeInvocationsPerWorkgroup &&
    (t.bm + t.bn) * 48 <= lim.maxComputeWorkgroupStorageSize;
  const specs = g.recordPipelines(() => {
    for (const k of [1, 3]) {
      const pad = (k - 1) / 2;
      const x = Tensor.empty([1, 2, 4, 4, 4]), w = Tensor.empty([3, 2, k, k, k]), b = Tensor.empty([3]);
      const gy = Tensor.empty([1, 3, 4, 4, 4]);
      for (const t of conv.filter(fits)) {
        conv3dForwardFast(x, w, b, pad, t).dispose();
        conv3dInputGradFast(gy, w, x.shape, pad, t).dispose();
      }
      for (const t of wgrad.filter(fits)) conv3dWeightGradFast(x, gy, k, pad, t).dispose();
      for (const t of [x, w, b, gy]) t.dispose();
    }
  }).filter((s) => s.shader === "conv3d_gemm.wgsl" && (s.entry === "conv" || s.entry === "wgrad"));
  return specs.map((spec) => {
    const c = spec.constants;
    const name = `${spec.entry} BM=${c.BM} BN=${c.BN} QM=${c.QM} QN=${c.QN} KS=${c.KS}` +
      (spec.entry === "conv" ? ` FLIP=${c.FLIP}` : "") + ` (${c.WG} invocations)`;
    return { name, spec };
  });
}

/** Builds one pipeline (createComputePipelineAsync); resolves to the milliseconds it took. */
async function compileOne(spec: PipelineSpec): Promise<number> {
  const g = await initGpu();
  const t0 = performance.now();
  await g.precompile([spec]);
  return performance.now() - t0;
}

Object.assign(globalThis, { compileApi: { compileShaders, tilingPipelines, compileOne } });
