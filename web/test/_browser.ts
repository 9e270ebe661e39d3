/**
 * Headless Chromium for the browser tests: launched with exactly the flags its WebGPU needs
 * (SwiftShader, the fallback adapter) and a fresh profile, driven over the DevTools protocol by
 * puppeteer-core (no browser download: Debian's chromium, or the one named by $CHROMIUM); a static
 * server on the loopback address for the pages (WebGPU needs a secure context, which 127.0.0.1 is);
 * and `deno bundle` for the modules the pages load.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** The repository's root folder, with a trailing slash. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** The Chromium binary. */
export const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/lib/chromium/chromium";

/** Whether a Chromium binary is there (the tests say so plainly when it is not). */
export function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** A launched Chromium and the way to close it (profile folder included). */
export interface Chromium {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with a new, empty profile and WebGPU on (`webgpu: false` leaves out the
 * flag that enables it, so that the page gets no adapter, like a browser without WebGPU).
 */
export async function launchChromium(opts: { webgpu?: boolean } = {}): Promise<Chromium> {
  if (!chromiumInstalled()) {
    throw new Error(`${CHROMIUM}: no Chromium (Debian: apt-get install chromium; or set CHROMIUM)`);
  }
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    // puppeteer's own defaults would turn the GPU process's WebGPU off: only these flags
    ignoreDefaultArgs: true,
    pipe: true,
    // long GPU work (a compile, a whole segmentation) runs inside one evaluate call
    protocolTimeout: 900_000,
    args: [
      "--headless=new",
      "--no-sandbox",
      ...(opts.webgpu === false ? [] : ["--enable-unsafe-webgpu"]),
      "--disable-background-networking",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** What the static server answers for one path. */
export interface Asset {
  body: string | Uint8Array<ArrayBuffer>;
  type: string;
}

/** A static server on 127.0.0.1: fixed `assets` by path, then files under `root` for the `allow`ed prefixes. */
export interface TestServer {
  url: string;
  /** Every path asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
};

/** Serves `assets` and, read-only, the files of the repository under the `allow`ed prefixes. */
export function serveAssets(assets: Map<string, Asset>, allow: string[] = []): TestServer {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requests.push(path);
    const asset = assets.get(path);
    if (asset) return new Response(asset.body, { headers: { "content-type": asset.type } });
    if (!path.includes("..") && allow.some((p) => path.startsWith(p))) {
      try {
        const bytes = await Deno.readFile(ROOT + path.slice(1));
        const ext = path.slice(path.lastIndexOf("."));
        return new Response(req.method === "HEAD" ? null : bytes, {
          headers: {
            "content-type": TYPES[ext] ?? "application/octet-stream",
            "content-length": `${bytes.length}`,
          },
        });
      } catch {
        // not found below
      }
    }
    return new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}

/** Bundles `entry` for a browser (`deno bundle --platform browser`), with `config`'s import map if given. */
export async function bundle(entry: string, config?: string): Promise<string> {
  const out = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        ...(config ? ["--config", config] : []),
        entry,
        "-o",
        out,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).output();
    if (r.code !== 0) throw new Error(`deno bundle ${entry}: ${new TextDecoder().decode(r.stderr)}`);
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

/** A page of a test HTML that loads one module, with its console and errors kept. */
export function modulePage(script: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>test</title>` +
    `<link rel="icon" href="data:,"></head>` +
    `<body><script type="module" src="${script}"></script></body></html>`;
}

/** Console lines and uncaught errors of a page, as they come. */
export interface PageLog {
  console: string[];
  errors: string[];
}

/** Keeps the page's console lines and uncaught errors (and echoes errors when `echo`). */
export function watchPage(page: Page, echo = false): PageLog {
  const log: PageLog = { console: [], errors: [] };
  page.on("console", (m) => {
    const line = `${m.type()}: ${m.text()}`;
    log.console.push(line);
    if (echo) console.log(`  [page] ${line}`);
  });
  page.on("pageerror", (e) => {
    const line = e instanceof Error ? e.message : String(e);
    log.errors.push(line);
    if (echo) console.log(`  [page error] ${line}`);
  });
  return log;
}
