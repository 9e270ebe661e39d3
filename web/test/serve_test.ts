/**
 * `deno task web` and `deno task web:build` as a user runs them: the build writes the app and the
 * model into web/dist/; the server prints its URL, answers with a strict Content-Security-Policy,
 * serves only what is under web/dist/, and refuses bad options in one line.
 */
import assert from "node:assert/strict";
import { ROOT } from "./_browser.ts";
import { buildIfNeeded, DIST } from "../build.ts";
import { CSP, staticHandler, WORKER_CSP } from "../serve.ts";

Deno.test("the build holds the page, both bundles and the demo model; an up-to-date build is kept", async () => {
  await buildIfNeeded();
  for (
    const f of [
      "index.html",
      "style.css",
      "app.js",
      "worker.js",
      "models/stage1.safetensors",
      "models/stage2.safetensors",
    ]
  ) {
    assert.ok((await Deno.stat(`${DIST}/${f}`)).size > 0, f);
  }
  const model = await Deno.readFile(`${ROOT}models/demo/stage2.safetensors`);
  assert.deepEqual(await Deno.readFile(`${DIST}/models/stage2.safetensors`), model);
  const worker = await Deno.readTextFile(`${DIST}/worker.js`);
  assert.match(worker, /@compute/, "the shaders are in the worker");
  assert.doesNotMatch(worker, /\bDeno\./);
  // the DICOM reader and its codecs' WebAssembly are in the worker (whose policy allows WebAssembly),
  // not in the page's script
  assert.match(worker, /dicom-parser/);
  assert.match(worker, /AGFzbQ/);
  assert.doesNotMatch(await Deno.readTextFile(`${DIST}/app.js`), /dicom-parser/);
  assert.equal(await buildIfNeeded(), false, "nothing changed: no rebuild");
  // no URL of another origin in the page or the bundles (the policy would block it anyway)
  const html = await Deno.readTextFile(`${DIST}/index.html`);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
});

Deno.test("the static handler: files of web/dist/ with the policy; nothing outside it", async () => {
  await buildIfNeeded();
  const handle = staticHandler(DIST);
  const get = (path: string, method = "GET") => handle(new Request(`http://127.0.0.1${path}`, { method }));
  const index = await get("/");
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("content-security-policy"), CSP);
  assert.match(index.headers.get("content-type")!, /text\/html/);
  assert.match(await index.text(), /<input type="file"/);
  const js = await get("/app.js", "HEAD");
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type")!, /javascript/);
  assert.equal(await js.text(), "");
  assert.equal(js.headers.get("content-security-policy"), CSP);
  // the worker alone may compile WebAssembly (the DICOM codecs), and nothing else is added
  const worker = await get("/worker.js", "HEAD");
  assert.equal(worker.status, 200);
  assert.equal(worker.headers.get("content-security-policy"), WORKER_CSP);
  assert.equal(WORKER_CSP, CSP.replace("script-src 'self';", "script-src 'self' 'wasm-unsafe-eval';"));
  assert.notEqual(WORKER_CSP, CSP);
  assert.doesNotMatch(WORKER_CSP, /'unsafe-eval'|unsafe-inline|https?:|\*/);
  for (
    const bad of [
      "/../deno.json",
      "/%2e%2e/deno.json",
      "/models/../../README.md",
      "/.hidden",
      "/nope.js",
      "/models",
    ]
  ) {
    const r = await get(bad);
    assert.equal(r.status, 404, bad);
    await r.body?.cancel();
  }
  const post = await get("/", "POST");
  assert.equal(post.status, 405);
  await post.body?.cancel();
  // the page carries the same policy (for any other server), less what only a header can say
  const html = await Deno.readTextFile(`${DIST}/index.html`);
  const meta = html.match(/http-equiv="Content-Security-Policy"\s+content="([^"]+)"/)![1];
  assert.equal(meta, CSP.replace("; frame-ancestors 'none'", ""));
  assert.match(CSP, /default-src 'self'/);
  assert.doesNotMatch(CSP, /unsafe-inline|unsafe-eval|https?:|\*/);
});

async function runTask(args: string[]) {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", `${ROOT}web/deno.json`, "-A", `${ROOT}web/serve.ts`, ...args],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("deno task web: bad options are one line and exit code 1", async () => {
  for (
    const [args, re] of [[["--port", "http"], /--port must be/], [["extra"], /unexpected argument/]] as const
  ) {
    const r = await runTask([...args]);
    assert.equal(r.code, 1);
    const err = new TextDecoder().decode(r.stderr).trim();
    assert.match(err, /^error: /);
    assert.match(err, re);
    assert.equal(err.split("\n").length, 1, err);
  }
});

Deno.test({
  name: "deno task web prints the URL and serves the app there",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--config", `${ROOT}web/deno.json`, "-A", `${ROOT}web/serve.ts`, "--port", "0"],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/http:\/\/\S+\//.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      const url = text.match(/http:\/\/\S+\//)![0];
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const r = await fetch(url);
      assert.equal(r.headers.get("content-security-policy"), CSP);
      assert.match(await r.text(), /id="status"/);
      reader.releaseLock();
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  },
});
