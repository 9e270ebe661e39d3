/**
 * A browser stand-in for the few parts of the Deno namespace that the project's kernel tests use, so
 * that the test files run unchanged in a page (web/test/kernels_test.ts bundles each with this module
 * first): `Deno.test` collects the tests, `runTests` runs them in order and reports each; files are
 * fetched from the test server (`readFile`, `readTextFile`, `stat`), and `env` is a map. The page's
 * query string may force the convolution blocking: `?tiling=cpu` or `?tiling=gpu`.
 */
import { gemmTiling } from "../../../src/ops/conv3d_fast.ts";

/** One test as `Deno.test` declares it. */
interface TestDefinition {
  name: string;
  fn: () => unknown;
  ignore?: boolean;
  only?: boolean;
}

/** One test's outcome, as the page reports it. */
export interface TestResult {
  name: string;
  status: "ok" | "failed" | "ignored";
  ms: number;
  error?: string;
  /** What the test printed. */
  output: string[];
}

const tests: TestDefinition[] = [];

function test(a: string | TestDefinition, b?: () => unknown): void {
  if (typeof a === "string") tests.push({ name: a, fn: b! });
  else tests.push(a);
}

class NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotFound";
  }
}

async function fetchFile(path: string | URL, method = "GET"): Promise<Response> {
  const r = await fetch(String(path), { method });
  if (r.status === 404) throw new NotFound(`No such file: ${path}`);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r;
}

const env = new Map<string, string>();

const shim = {
  test,
  errors: { NotFound },
  env: {
    get: (k: string) => env.get(k),
    set: (k: string, v: string) => void env.set(k, v),
    delete: (k: string) => void env.delete(k),
    has: (k: string) => env.has(k),
    toObject: () => Object.fromEntries(env),
  },
  async readFile(path: string | URL): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await (await fetchFile(path)).arrayBuffer());
  },
  async readTextFile(path: string | URL): Promise<string> {
    return await (await fetchFile(path)).text();
  },
  async stat(path: string | URL) {
    const r = await fetchFile(path, "HEAD");
    return {
      isFile: true,
      isDirectory: false,
      isSymlink: false,
      size: Number(r.headers.get("content-length")),
    };
  },
};
Reflect.set(globalThis, "Deno", shim);
Reflect.set(globalThis, "__shimStarted", true);

const tiling = new URLSearchParams(globalThis.location?.search ?? "").get("tiling");
if (tiling === "cpu" || tiling === "gpu") gemmTiling.blocking = tiling;

/**
 * Runs the collected tests in order (only the `only` ones if any), passing each outcome to `report`;
 * console output during a test is kept with its result (and still printed).
 */
export async function runTests(report: (r: TestResult) => Promise<void> | void): Promise<void> {
  const chosen = tests.some((t) => t.only) ? tests.filter((t) => t.only) : tests;
  for (const t of chosen) {
    if (t.ignore) {
      await report({ name: t.name, status: "ignored", ms: 0, output: [] });
      continue;
    }
    const output: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => {
      output.push(args.map(String).join(" "));
      log(...args);
    };
    const t0 = performance.now();
    try {
      await t.fn();
      await report({ name: t.name, status: "ok", ms: performance.now() - t0, output });
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e);
      await report({ name: t.name, status: "failed", ms: performance.now() - t0, error, output });
    } finally {
      console.log = log;
    }
  }
}
