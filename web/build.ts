/**
 * `deno task web:build`: the static web app in web/dist/ (index.html, style.css, app.js with niivue,
 * worker.js with the engine, and the demo model in models/). Built in a temporary folder next to it
 * and renamed into place, so that a failed build never leaves half an app. `buildIfNeeded` rebuilds
 * only when a source is newer than the last build.
 */
import { parseArgs } from "node:util";
import { runCli, UsageError } from "../cli/_errors.ts";

const WEB = new URL("./", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
/** The built app. */
export const DIST = `${WEB}dist`;

/** A build step failed; the message says which. */
export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuildError";
  }
}

/** Files copied as they are: [source under the repository, name under dist/]. */
const COPIED: [string, string][] = [
  ["web/index.html", "index.html"],
  ["web/style.css", "style.css"],
  ["models/demo/stage1.safetensors", "models/stage1.safetensors"],
  ["models/demo/stage2.safetensors", "models/stage2.safetensors"],
  ["models/demo/README.md", "models/README.md"],
];
/** Bundled modules: [entry under the repository, name under dist/]. */
const BUNDLED: [string, string][] = [
  ["web/src/app.ts", "app.js"],
  ["web/src/worker.ts", "worker.js"],
];
/** What a build reads: a change under any of these makes `buildIfNeeded` build again. */
const SOURCES = [
  "web/src",
  "web/index.html",
  "web/style.css",
  "web/deno.json",
  "src",
  "shaders",
  "models/demo",
];

async function bundle(entry: string, out: string): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--config",
      `${WEB}deno.json`,
      entry,
      "-o",
      out,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (r.code !== 0) {
    const msg = new TextDecoder().decode(r.stderr).trim().split("\n").slice(0, 3).join(" ");
    throw new BuildError(`bundling ${entry.slice(ROOT.length)} failed: ${msg}`);
  }
}

/** Builds web/dist/ from scratch; returns the sizes of what it wrote. */
export async function build(): Promise<{ file: string; bytes: number }[]> {
  const tmp = `${WEB}.dist-${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.mkdir(`${tmp}/models`, { recursive: true });
    await Promise.all(BUNDLED.map(([entry, name]) => bundle(`${ROOT}${entry}`, `${tmp}/${name}`)));
    for (const [src, name] of COPIED) await Deno.copyFile(`${ROOT}${src}`, `${tmp}/${name}`);
    const sizes = [];
    for (const [, name] of [...BUNDLED, ...COPIED]) {
      sizes.push({ file: name, bytes: (await Deno.stat(`${tmp}/${name}`)).size });
    }
    await Deno.remove(DIST, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.rename(tmp, DIST);
    return sizes;
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (e instanceof BuildError) throw e;
    throw new BuildError(`web build failed: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
  }
}

/** The newest modification time under `path` (a file or a folder), in ms. */
async function newest(path: string): Promise<number> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return info.mtime?.getTime() ?? Infinity;
  let t = 0;
  for await (const e of Deno.readDir(path)) t = Math.max(t, await newest(`${path}/${e.name}`));
  return t;
}

/** Builds web/dist/ unless it is there and newer than every source; returns whether it built. */
export async function buildIfNeeded(): Promise<boolean> {
  try {
    const built = (await Deno.stat(`${DIST}/index.html`)).mtime?.getTime() ?? 0;
    const sources = Math.max(...await Promise.all(SOURCES.map((s) => newest(`${ROOT}${s}`))));
    if (built >= sources && (await Promise.all(BUNDLED.map(([, n]) => Deno.stat(`${DIST}/${n}`)))).length) {
      return false;
    }
  } catch {
    // no build yet
  }
  await build();
  return true;
}

const HELP =
  `Build the web app into web/dist/ (static files: serve them with deno task web or any web server).

Usage: deno task web:build

  -h, --help   this help`;

async function main() {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) return console.log(HELP);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"; see --help`);
  const t0 = performance.now();
  const sizes = await build();
  for (const s of sizes) console.log(`  ${s.file.padEnd(28)} ${(s.bytes / 1024).toFixed(0).padStart(6)} KiB`);
  console.log(`web/dist/ built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (import.meta.main) await runCli(main, [BuildError]);
