/**
 * `deno task web [--port N]`: builds the web app if needed and serves web/dist/ on this machine,
 * printing the URL to open. A static server only: every file is sent as it is, with a strict
 * Content-Security-Policy (nothing from other origins, no inline script), so the page can make no
 * request that leaves the machine. The segmentation worker's script alone may also compile
 * WebAssembly (the DICOM codecs); nothing may evaluate strings as code.
 */
import { parseArgs } from "node:util";
import { runCli, UsageError } from "../cli/_errors.ts";
import { BuildError, buildIfNeeded, DIST } from "./build.ts";

/** The page's policy: its own files only; blobs for the downloads; data: for niivue's fonts. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "connect-src 'self' blob:",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The worker's policy (a dedicated worker follows its own script's header): the page's, plus
 * 'wasm-unsafe-eval' to compile the DICOM codecs (JPEG 2000, JPEG-LS) from the WebAssembly bytes
 * inside its bundle. It allows WebAssembly only, not eval; the page itself does without.
 */
export const WORKER_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'");
/** The worker's script, served with {@link WORKER_CSP}. */
const WORKER_SCRIPT = "/worker.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".md": "text/markdown; charset=utf-8",
  ".safetensors": "application/octet-stream",
};

/** Answers GET and HEAD for the files under `root` (index.html for /); 404 for anything else. */
export function staticHandler(root: string): (req: Request) => Promise<Response> {
  return async (req) => {
    const headers = new Headers({
      "content-security-policy": CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    });
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed", { status: 405, headers });
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url).pathname);
    } catch {
      return new Response("bad request", { status: 400, headers });
    }
    if (path.endsWith("/")) path += "index.html";
    if (path === WORKER_SCRIPT) headers.set("content-security-policy", WORKER_CSP);
    if (path.split("/").some((p) => p === ".." || p.startsWith("."))) {
      return new Response("not found", { status: 404, headers });
    }
    try {
      const file = await Deno.open(`${root}${path}`, { read: true });
      const info = await file.stat();
      if (!info.isFile) {
        file.close();
        return new Response("not found", { status: 404, headers });
      }
      headers.set("content-type", TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream");
      headers.set("content-length", String(info.size));
      if (req.method === "HEAD") {
        file.close();
        return new Response(null, { headers });
      }
      return new Response(file.readable, { headers });
    } catch {
      return new Response("not found", { status: 404, headers });
    }
  };
}

const HELP = `Serve the web app on this machine (built first if needed): open the printed URL in Chrome or
Edge, then open or drop a CT: a .nii or .nii.gz file, or a DICOM series (all its files picked at
once, or its folder dropped). The CT is segmented in the browser, on its WebGPU
adapter; it is never sent anywhere, not even to this server.

Usage: deno task web [--port N] [--host ADDRESS]

  --port N        port to listen on (default 8000; 0 picks a free one)
  --host ADDRESS  address to listen on (default 127.0.0.1: this machine only)
  -h, --help      this help`;

async function main() {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      port: { type: "string", default: "8000" },
      host: { type: "string", default: "127.0.0.1" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return console.log(HELP);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"; see --help`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got "${values.port}"`);
  }
  if (await buildIfNeeded()) console.log("built web/dist/");
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: values.host, port, onListen() {} }, staticHandler(DIST));
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${port} is in use: pick another with --port`);
    }
    throw new UsageError(`cannot listen on ${values.host}:${port}: ${e instanceof Error ? e.message : e}`);
  }
  const host = server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname;
  console.log(`Serving web/dist/ at http://${host}:${server.addr.port}/ (Ctrl-C to stop)`);
  console.log("Open it in Chrome or Edge (WebGPU), then open or drop a CT; it never leaves the browser.");
  await server.finished;
}

if (import.meta.main) await runCli(main, [BuildError]);
