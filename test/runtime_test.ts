import assert from "node:assert/strict";
import { setupGpu } from "./_helpers.ts";
import { splitGrid } from "../src/gpu/runtime.ts";
import { sizeClass } from "../src/gpu/pool.ts";
import { GpuLimitError, GpuValidationError } from "../src/gpu/errors.ts";
import { Tensor } from "../src/tensor.ts";

const g = await setupGpu();

Deno.test("the adapter is named and its real binding limit is used", () => {
  assert.ok(g.adapterName.length > 0);
  assert.equal(
    g.maxBinding,
    Math.min(g.device.limits.maxStorageBufferBindingSize, g.device.limits.maxBufferSize),
  );
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

Deno.test("a validation error surfaces as a typed error at the next sync, not as zeros", async () => {
  const t = Tensor.zeros([4]);
  g.run({ shader: "elementwise.wgsl", entry: "no_such_entry", outputs: [t.buffer], invocations: 4 });
  await assert.rejects(() => g.sync(), GpuValidationError);
  // the runtime stays usable afterwards
  g.fill(t.buffer, 5, 4);
  assert.deepEqual([...await t.read()], [5, 5, 5, 5]);
});
