import assert from "node:assert/strict";
import { setupGpu } from "./_helpers.ts";
import { splitGrid } from "../src/gpu/runtime.ts";
import { BufferPool, sizeClass } from "../src/gpu/pool.ts";
import { GpuLimitError, GpuValidationError } from "../src/gpu/errors.ts";
import { Tensor } from "../src/tensor.ts";

const g = await setupGpu();

Deno.test("the adapter is named and its real binding limit is used", () => {
  assert.ok(g.adapterName.length > 0);
  const limit = Math.min(g.device.limits.maxStorageBufferBindingSize, g.device.limits.maxBufferSize);
  assert.equal(g.maxBinding, Math.floor(limit / 4) * 4);
  assert.equal(g.pool.maxBytes, g.maxBinding, "the pool may round buffers past one binding");
});

Deno.test("size classes never round a buffer that fits the device's largest past it", () => {
  // a device whose largest buffer, 100 MiB + 4 KiB + 2 bytes, is not a size-class boundary (lavapipe's
  // maxBufferSize, 2^31 - 1, is not one either); it records what a real one would refuse
  const max = 100 * 2 ** 20 + 4098;
  const refused: number[] = [];
  const device = {
    limits: { maxBufferSize: max },
    createBuffer: ({ size, usage }: GPUBufferDescriptor) => {
      if (size > max || size % 4) refused.push(size);
      return { size, usage, destroy() {} };
    },
  } as unknown as GPUDevice;
  const pool = new BufferPool(device);
  const usage = GPUBufferUsage.STORAGE;
  assert.ok(sizeClass(max - 2) > max, "the test's limit should sit inside a size class");
  for (const bytes of [max - 2, max - 6, 100 * 2 ** 20 + 8, 1000]) {
    const b = pool.acquire(bytes, usage);
    assert.ok(b.size >= bytes, `${bytes} bytes got a buffer of ${b.size}`);
    pool.release(b);
  }
  assert.deepEqual(refused, [], "buffers over the device's limit were created");
  assert.throws(() => pool.acquire(max + 2, usage), GpuLimitError);
});

Deno.test("a lowered binding limit (the test hook) refuses larger tensors by name and restores", () => {
  const cap = 10_000 + 6;
  g.capBinding(cap);
  try {
    assert.equal(g.maxBinding, 10_004);
    const t = Tensor.empty([2501]); // 10,004 bytes: its size class (10,240) is past the cap
    assert.ok(t.buffer.size >= 10_004);
    t.dispose();
    assert.throws(
      () => Tensor.empty([2502]),
      (e) => e instanceof GpuLimitError && /a tensor of 9\.8 KiB exceeds .* \(9\.8 KiB\)/.test(e.message),
    );
  } finally {
    g.capBinding(null);
  }
  assert.equal(g.maxBinding, g.pool.maxBytes);
});

Deno.test("grids over 65535 workgroups are split into two dimensions that cover them", () => {
  assert.deepEqual(splitGrid(10), [10, 1]);
  assert.deepEqual(splitGrid(65535), [65535, 1]);
  for (const n of [65536, 200_000, 65535 * 3 + 1]) {
    const [x, y] = splitGrid(n);
    assert.ok(x <= 65535 && y <= 65535 && x * y >= n && x * (y - 1) < n, `${n} -> ${x}x${y}`);
  }
});

Deno.test("pool size classes round up by at most an eighth", () => {
  for (const b of [1, 255, 257, 65536, 65537, 1e6, 3e7]) {
    const c = sizeClass(b);
    assert.ok(c >= b && (b < 65536 ? c - b < 256 : c <= b * 1.125 + 256), `${b} -> ${c}`);
  }
});

Deno.test("a tensor larger than one storage binding is refused with the sizes", () => {
  const words = Math.ceil(g.maxBinding / 4) + 1;
  assert.throws(() => Tensor.empty([words]), (e) => e instanceof GpuLimitError && /MiB/.test(e.message));
});

Deno.test("a buffer freed while recorded work still reads it, with the pool full, outlives that work", async () => {
  // past the pool's room (1 GiB normally: the paper's U-Net frees more in one tile) a freed buffer is
  // destroyed, which must wait until the work recorded with it is submitted
  const room = g.pool.maxPooledBytes;
  g.pool.maxPooledBytes = 0;
  try {
    const x = Tensor.full([1000], 3), y = Tensor.empty([1000]);
    g.run({
      shader: "elementwise.wgsl",
      entry: "scale",
      params: [1000, 2],
      paramTypes: "uf",
      inputs: [x.buffer],
      outputs: [y.buffer],
      invocations: 1000,
    });
    x.dispose(); // before the batch is submitted
    assert.deepEqual([...(await y.read()).slice(0, 2)], [6, 6]);
    await g.sync();
    y.dispose();
  } finally {
    g.pool.maxPooledBytes = room;
  }
});

Deno.test("a validation error surfaces as a typed error at the next sync, not as zeros", async () => {
  const t = Tensor.zeros([4]);
  g.run({ shader: "elementwise.wgsl", entry: "no_such_entry", outputs: [t.buffer], invocations: 4 });
  await assert.rejects(() => g.sync(), GpuValidationError);
  // the runtime stays usable afterwards
  g.fill(t.buffer, 5, 4);
  assert.deepEqual([...await t.read()], [5, 5, 5, 5]);
});

Deno.test({
  name: "the profiler times every launch per kernel, across batches, and stops cleanly",
  ignore: !g.device.features.has("timestamp-query"),
  fn: async () => {
    const x = Tensor.full([1000], 2), y = Tensor.empty([1000]);
    g.startProfile();
    assert.ok(g.profiling);
    // 300 fills: more than one batch of recorded launches (a submission every 256)
    for (let i = 0; i < 300; i++) g.fill(x.buffer, i);
    g.run({
      shader: "elementwise.wgsl",
      entry: "scale",
      params: [1000, 3],
      paramTypes: "uf",
      inputs: [x.buffer],
      outputs: [y.buffer],
      invocations: 1000,
    });
    const rows = await g.stopProfile();
    assert.ok(!g.profiling);
    const byName = new Map(rows.map((r) => [r.kernel, r]));
    assert.equal(byName.get("elementwise:fill")?.launches, 300);
    assert.equal(byName.get("elementwise:scale")?.launches, 1);
    assert.ok(rows.every((r) => r.ms >= 0 && Number.isFinite(r.ms)));
    // work after the profile runs normally, with its results
    g.fill(x.buffer, 5);
    assert.deepEqual([...(await x.read()).slice(0, 3)], [5, 5, 5]);
    assert.deepEqual([...(await y.read()).slice(0, 3)], [897, 897, 897]); // 3 * the last profiled fill
    x.dispose();
    y.dispose();
  },
});
