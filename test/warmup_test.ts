/**
 * Compiling ahead: `recordPipelines` lists what work would launch without launching it, `precompile`
 * builds those pipelines (createComputePipelineAsync) so that the work that follows builds none, and
 * `prepareInference` covers every pipeline of the demo model's sliding windows.
 */
import assert from "node:assert/strict";
import { setupGpu } from "./_helpers.ts";
import { GpuError } from "../src/gpu/errors.ts";
import { Tensor } from "../src/tensor.ts";
import { loadCascade } from "../src/io/models.ts";
import { DEMO_MODEL_DIR } from "../src/io/models.ts";
import { inferencePipelines, prepareInference } from "../src/cascade/warmup.ts";
import { predictRegion } from "../src/cascade/infer.ts";
import { scale } from "../src/ops/elementwise.ts";
import type { Vec3 } from "../src/volume/types.ts";

const g = await setupGpu();

Deno.test("recordPipelines lists the kernels of some work without running it, and refuses reads", async () => {
  const x = Tensor.full([300], 2);
  await g.sync();
  const specs = g.recordPipelines(() => {
    g.fill(x.buffer, 7);
    scale(x, 3).dispose();
  });
  assert.deepEqual(specs.map((s) => `${s.shader}:${s.entry}`).sort(), [
    "elementwise.wgsl:fill",
    "elementwise.wgsl:scale",
  ]);
  const scaleSpec = specs.find((s) => s.entry === "scale")!;
  assert.deepEqual([scaleSpec.hasParams, scaleSpec.inputs, scaleSpec.outputs], [true, 1, 1]);
  assert.ok(scaleSpec.constants.WG > 0);
  // nothing ran: x still holds 2
  assert.deepEqual([...(await x.read()).slice(0, 3)], [2, 2, 2]);
  let read: Promise<unknown> | null = null;
  g.recordPipelines(() => {
    read = x.read();
  });
  await assert.rejects(read!, GpuError);
  // and recording stops afterwards: work runs again
  g.fill(x.buffer, 5);
  assert.deepEqual([...(await x.read()).slice(0, 3)], [5, 5, 5]);
  x.dispose();
});

Deno.test("precompile builds the pipelines once; the work that follows builds none", async () => {
  const x = Tensor.full([64], 1);
  const specs = g.recordPipelines(() => scale(x, 0.25).dispose());
  let calls = 0, last = -1;
  await g.precompile(specs, (done, total) => {
    calls++;
    last = done;
    assert.ok(done <= total);
  });
  assert.ok(calls >= 1 && last >= 0);
  const count = g.pipelineCount;
  await g.precompile(specs); // nothing left to build
  assert.equal(g.pipelineCount, count);
  const y = scale(x, 0.25);
  assert.deepEqual([...(await y.read()).slice(0, 2)], [0.25, 0.25]);
  assert.equal(g.pipelineCount, count, "the launch used the precompiled pipeline");
  for (const t of [x, y]) t.dispose();
});

Deno.test("prepareInference builds every pipeline of the demo model's tiles before the first", async () => {
  const cascade = await loadCascade(DEMO_MODEL_DIR);
  const stages = [cascade.stage1, cascade.stage2!];
  const warm = await prepareInference(stages);
  assert.ok(warm.pipelines >= 5, `${warm.pipelines} pipelines`);
  assert.equal(warm.pipelines, inferencePipelines(stages).length);
  console.log(`warm-up: ${warm.pipelines} pipelines (${warm.built} built) in ${warm.seconds.toFixed(1)} s`);
  const count = g.pipelineCount;
  for (const { model, spec } of stages) {
    // a region of a few tiles, at the edge of a small volume (edge-replicated patches)
    const dims: Vec3 = [spec.patch[0] + 5, spec.patch[1], 6];
    const image = new Float32Array(dims[0] * dims[1] * dims[2]).map((_, i) => Math.sin(i));
    await predictRegion(model, spec, image, dims, { min: [0, 0, 0], max: dims });
  }
  assert.equal(g.pipelineCount, count, "a tile built a pipeline that the warm-up missed");
});
