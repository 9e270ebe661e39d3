/**
 * The kernel tests of test/ (every kernel family, forward and backward, against the float64
 * references) run again inside headless Chromium: a second WGSL compiler (Tint) and a second software
 * driver (SwiftShader), with Chromium's adapter features (it has `subgroups`, Deno's has not). Each
 * test file is bundled unchanged for the page with web/test/shim/ standing in for `Deno.test`, the
 * few file reads and `node:assert/strict`, and each of its tests is reported back here as a step.
 *
 * The files whose kernels depend on the convolution tiling run under both blockings `chooseTiles`
 * can pick (the fallback adapter's, `cpu`, and a hardware GPU's, `gpu`, forced with `?tiling=`); the
 * others never reach the chooser and run once.
 */
import assert from "node:assert/strict";
import { bundle, launchChromium, modulePage, ROOT, serveAssets, watchPage } from "./_browser.ts";
import type { TestResult } from "./shim/deno.ts";

/** Test files (under test/) and the blockings each runs under. */
const FILES: { file: string; tilings: ("cpu" | "gpu" | "auto")[] }[] = [
  { file: "conv3d_fast_test.ts", tilings: ["cpu", "gpu"] },
  { file: "conv3d_test.ts", tilings: ["cpu", "gpu"] },
  { file: "norm_test.ts", tilings: ["cpu", "gpu"] },
  { file: "conv_transpose3d_test.ts", tilings: ["auto"] },
  { file: "pool3d_test.ts", tilings: ["auto"] },
  { file: "softmax_ce_test.ts", tilings: ["auto"] },
  { file: "elementwise_test.ts", tilings: ["auto"] },
  { file: "reduce_test.ts", tilings: ["auto"] },
  { file: "layout_test.ts", tilings: ["auto"] },
  { file: "optim_test.ts", tilings: ["auto"] },
  { file: "volume/gpu_test.ts", tilings: ["auto"] },
];

/** No file may run longer than this in the page. */
const FILE_TIMEOUT_MS = 8 * 60_000;

const bundles = new Map<string, Promise<string>>();

/** The test file bundled for the page, behind the shim (built once per file). */
function testBundle(file: string): Promise<string> {
  let b = bundles.get(file);
  if (!b) {
    b = (async () => {
      const entry = await Deno.makeTempFile({ suffix: ".ts" });
      try {
        await Deno.writeTextFile(
          entry,
          `import { runTests } from ${JSON.stringify(`file://${ROOT}web/test/shim/deno.ts`)};\n` +
            `import ${JSON.stringify(`file://${ROOT}test/${file}`)};\n` +
            `const page = globalThis as unknown as Record<string, (r?: unknown) => Promise<void>>;\n` +
            `await runTests((r) => page.__report(r));\n` +
            `await page.__done();\n`,
        );
        return await bundle(entry, `${ROOT}web/test/shim/bundle.json`);
      } finally {
        await Deno.remove(entry);
      }
    })();
    bundles.set(file, b);
  }
  return b;
}

/** A queue of what the page reports, read in order with a deadline. */
class Reports {
  #items: (TestResult | { done: true } | { error: string })[] = [];
  #wake: (() => void) | null = null;
  push(item: TestResult | { done: true } | { error: string }): void {
    this.#items.push(item);
    this.#wake?.();
  }
  async next(deadline: number): Promise<TestResult | { done: true } | { error: string }> {
    while (!this.#items.length) {
      const left = deadline - performance.now();
      if (left <= 0) return { error: `no result within ${FILE_TIMEOUT_MS / 60_000} minutes` };
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = null;
    }
    return this.#items.shift()!;
  }
}

async function runFile(t: Deno.TestContext, file: string, tiling: string): Promise<void> {
  const js = await testBundle(file);
  const dir = `/test/${file.slice(0, file.lastIndexOf("/") + 1)}`;
  const name = file.slice(file.lastIndexOf("/") + 1).replace(/\.ts$/, "");
  // the bundle sits where its test file does, so paths made from import.meta.url find data/
  const server = serveAssets(
    new Map([
      [`${dir}${name}.html`, { body: modulePage(`${name}.js`), type: "text/html" }],
      [`${dir}${name}.js`, { body: js, type: "text/javascript" }],
    ]),
    ["/data/"],
  );
  const chromium = await launchChromium();
  try {
    const page = await chromium.browser.newPage();
    const log = watchPage(page);
    const reports = new Reports();
    await page.exposeFunction("__report", (r: TestResult) => reports.push(r));
    await page.exposeFunction("__done", () => reports.push({ done: true }));
    page.on("pageerror", (e) => reports.push({ error: e instanceof Error ? e.message : String(e) }));
    await page.goto(`${server.url}${dir}${name}.html?tiling=${tiling}`);
    // the shim is the bundle's first module: if it never ran, the bundle did not load
    await page.waitForFunction("globalThis.__shimStarted === true", { timeout: 60_000 }).catch(() => {
      throw new Error(`${file}: the bundle did not start in the page:\n${log.console.join("\n")}`);
    });
    const deadline = performance.now() + FILE_TIMEOUT_MS;
    let count = 0;
    for (;;) {
      const r = await reports.next(deadline);
      if ("done" in r) break;
      if (!("name" in r)) {
        throw new Error(`${file} in Chromium: ${r.error}\n${log.console.slice(-20).join("\n")}`);
      }
      count++;
      await t.step({
        name: r.name,
        ignore: r.status === "ignored",
        fn: () => {
          for (const line of r.output) console.log(line);
          if (r.status === "ok") console.log(`(${(r.ms / 1000).toFixed(1)} s in the page)`);
          if (r.status === "failed") throw new Error(`${r.error} (in Chromium, ${r.ms.toFixed(0)} ms)`);
        },
      });
    }
    assert.ok(count > 0, `${file}: no test ran in the page`);
    assert.deepEqual(log.errors, [], "uncaught errors in the page");
  } finally {
    await chromium.close();
    await server.close();
  }
}

for (const { file, tilings } of FILES) {
  for (const tiling of tilings) {
    Deno.test({
      name: `test/${file} in Chromium${tiling === "auto" ? "" : ` (${tiling} blocking)`}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: (t) => runFile(t, file, tiling),
    });
  }
}
