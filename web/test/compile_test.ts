/**
 * Every kernel compiles in Chromium: each shader file and variant through its WGSL compiler (Tint,
 * stricter than Deno's about constant expressions), and every pipeline of every convolution tiling
 * that `chooseTiles` can pick on any adapter through its driver (SwiftShader), each within a limit:
 * a tiling that compiles in a second in Deno once took Chromium forever and 10 GB.
 */
import assert from "node:assert/strict";
import {
  bundle,
  type Chromium,
  launchChromium,
  modulePage,
  ROOT,
  serveAssets,
  watchPage,
} from "./_browser.ts";
import { allTilings, COLS, ROWS } from "./_tilings.ts";
import { pickTiles } from "../../src/ops/conv3d_fast.ts";
import { SHADERS } from "../../src/gpu/shaders.ts";
import { Rng } from "../../src/util/random.ts";
import type { NamedPipeline, ShaderResult } from "./pages/compile.ts";

/** Longest one pipeline may take to build (SwiftShader builds the largest in about 5 s on 2 busy cores). */
const PIPELINE_LIMIT_MS = 25_000;

const js = bundle(`${ROOT}web/test/pages/compile.ts`);

/** A Chromium with the compile page open. */
async function openPage(): Promise<
  { chromium: Chromium; page: import("puppeteer-core").Page; close(): Promise<void> }
> {
  const server = serveAssets(
    new Map([
      ["/", { body: modulePage("/compile.js"), type: "text/html" }],
      ["/compile.js", { body: await js, type: "text/javascript" }],
    ]),
  );
  const chromium = await launchChromium();
  const page = await chromium.browser.newPage();
  watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForFunction("globalThis.compileApi");
  return {
    chromium,
    page,
    async close() {
      await chromium.close();
      await server.close();
    },
  };
}

Deno.test({
  name: "every shader file and variant compiles in Chromium's WGSL compiler",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const p = await openPage();
    try {
      const r = await p.page.evaluate("compileApi.compileShaders()") as {
        adapter: string;
        results: ShaderResult[];
        skipped: string[];
      };
      console.log(
        `adapter: ${r.adapter}; not compiled (no shader-f16 here): ${r.skipped.join(", ") || "none"}`,
      );
      assert.equal(new Set(r.results.map((x) => x.shader)).size, Object.keys(SHADERS).length);
      const failed = r.results.filter((x) => x.errors.length)
        .map((x) => `${x.shader}${x.variant ? `#${x.variant}` : ""}: ${x.errors.join("; ")}`);
      assert.deepEqual(failed, [], "WGSL that Chromium refuses");
    } finally {
      await p.close();
    }
  },
});

Deno.test("the tilings compiled below are all that pickTiles gives, for any shape", () => {
  const storage = [16384, 32768, 49152, 65536];
  const { conv, wgrad } = allTilings(storage);
  const known = {
    conv: new Set(conv.map((t) => JSON.stringify(t))),
    wgrad: new Set(wgrad.map((t) => JSON.stringify(t))),
  };
  const rng = new Rng(11);
  for (let i = 0; i < 20000; i++) {
    const rows = 1 + rng.int(i % 2 ? 64 : 4096), cols = 1 + rng.int(i % 3 ? 300 : 1e7);
    for (const kernel of ["conv", "wgrad"] as const) {
      for (const cpu of [true, false]) {
        const t = pickTiles(rows, cols, kernel, { cpu, workgroupStorage: storage[i % storage.length] });
        assert.ok(
          known[kernel].has(JSON.stringify(t)),
          `${kernel} ${rows}x${cols}: ${JSON.stringify(t)} not listed`,
        );
      }
    }
  }
  assert.ok(ROWS.length > 10 && COLS.length > 10);
  // both blockings and both kernels have several tilings: the set is not trivially small
  assert.ok(conv.length >= 8 && wgrad.length >= 8, `${conv.length} conv, ${wgrad.length} wgrad tilings`);
});

Deno.test({
  name: "every convolution pipeline of every tiling chooseTiles can pick builds promptly in Chromium",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // two browsers (two GPU processes) share the list: SwiftShader builds one pipeline at a time
    const pages = await Promise.all([openPage(), openPage()]);
    try {
      const all = await pages[0].page.evaluate("compileApi.tilingPipelines()") as NamedPipeline[];
      assert.ok(all.length >= 40, `only ${all.length} pipelines`);
      const times: { name: string; ms: number }[] = [];
      const t0 = performance.now();
      await Promise.all(pages.map(async (p, half) => {
        for (const { name, spec } of all.filter((_, i) => i % 2 === half)) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const ms = await Promise.race([
            p.page.evaluate((s) => (globalThis as unknown as CompileApi).compileApi.compileOne(s), spec),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`${name}: still building after ${PIPELINE_LIMIT_MS / 1000} s`)),
                PIPELINE_LIMIT_MS,
              );
            }),
          ]).finally(() => clearTimeout(timer));
          times.push({ name, ms });
        }
      }));
      times.sort((a, b) => b.ms - a.ms);
      console.log(
        `${times.length} pipelines in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s on two GPU processes; ` +
          `slowest: ${times.slice(0, 3).map((t) => `${t.name} ${(t.ms / 1000).toFixed(1)} s`).join(", ")}`,
      );
    } finally {
      await Promise.all(pages.map((p) => p.close()));
    }
  },
});

interface CompileApi {
  compileApi: { compileOne(spec: NamedPipeline["spec"]): Promise<number> };
}
