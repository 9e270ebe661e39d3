// The DICOM core runs in a browser: no Deno.* under src/volume/dicom/, `deno bundle --platform
// browser` embeds the WASM codecs, and the bundle in headless Chromium (where installed), under a
// content security policy without 'unsafe-eval', reads the sample series and every transfer syntax
// to the same numbers as Deno.
import assert from "node:assert/strict";
import { readDicomSeries } from "../../src/volume/dicom/mod.ts";
import { parseDicomFile } from "../../src/volume/dicom/parse.ts";
import { decodeFrame, pixelFormat, rescaleOf, writeSlice } from "../../src/volume/dicom/pixels.ts";
import { canSpawn, ROOT } from "../_cli.ts";
import { folderFiles, GE_DIR, SAMPLE_C, SYNTAX_DIR } from "./_files.ts";

const CHROMIUM = "/usr/lib/chromium/chromium";

Deno.test("no Deno.* in the DICOM core", async () => {
  const dir = `${ROOT}src/volume/dicom`;
  const files: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (e.name.endsWith(".ts")) files.push(`${d}/${e.name}`);
    }
  };
  await walk(dir);
  assert.ok(files.length > 10);
  for (const f of files) assert.doesNotMatch(await Deno.readTextFile(f), /\bDeno\./, f);
});

/** Bundles a module for the browser; returns its text. */
async function bundle(entry: string): Promise<string> {
  const out = await Deno.makeTempFile({ suffix: ".js" });
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--config", `${ROOT}deno.json`, entry, "-o", out],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return await Deno.readTextFile(out);
}

Deno.test({
  name: "the DICOM core bundles for the browser with the WASM codecs inside",
  ignore: !canSpawn,
  async fn() {
    const js = await bundle(`${ROOT}src/volume/dicom/mod.ts`);
    assert.doesNotMatch(js, /\bDeno\./);
    assert.ok((js.match(/__toBinary\("AGFzbQ/g) ?? []).length >= 2, "the two .wasm files embedded");
  },
});

/** The report the page should write, computed here in Deno. */
async function expectedReport(): Promise<string[]> {
  const { volume } = await readDicomSeries(await folderFiles(SAMPLE_C), { source: "series" });
  const sum = (a: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i];
    return s;
  };
  const lines = [
    `series ${volume.dims.join("x")} ${sum(volume.data)} ${volume.affine.join(",")}`,
    "seg true",
  ];
  for (const f of await syntaxFiles()) {
    const d = (await parseDicomFile(f.name, f.bytes))!;
    const format = pixelFormat(d);
    const hu = new Float32Array(d.rows * d.columns);
    writeSlice(await decodeFrame(d, format), format, rescaleOf(d), hu, 0);
    lines.push(`${f.name} ${sum(hu)}`);
  }
  return lines;
}

/** The transfer-syntax files and the original GE slice. */
async function syntaxFiles() {
  return [
    ...await folderFiles(GE_DIR, (n) => n === "ct-3slice_01.dcm"),
    ...await folderFiles(SYNTAX_DIR, (n) => n.endsWith(".dcm")),
  ];
}

const chromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

Deno.test({
  name: "the bundle in headless Chromium reads what Deno reads",
  ignore: !canSpawn || !chromium,
  async fn() {
    // The page, its script and the files in one folder, served by a process of its own.
    const site = await Deno.makeTempDir({ prefix: "dicom-page-" });
    await Deno.writeTextFile(`${site}/page.js`, await bundle(`${ROOT}test/dicom/_browser_page.ts`));
    await Deno.writeTextFile(
      `${site}/index.html`,
      `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" ` +
        `content="default-src 'self'; script-src 'self' 'wasm-unsafe-eval'"></head>` +
        `<body><script type="module" src="page.js"></script></body></html>`,
    );
    for (
      const [dir, files] of [["series", await folderFiles(SAMPLE_C)], [
        "syntaxes",
        await syntaxFiles(),
      ]] as const
    ) {
      await Deno.mkdir(`${site}/${dir}`);
      for (const f of files) await Deno.writeFile(`${site}/${dir}/${f.name}`, f.bytes);
      await Deno.writeTextFile(`${site}/${dir}/list.json`, JSON.stringify(files.map((f) => f.name)));
    }
    const server = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        `--allow-read=${site}`,
        `${ROOT}test/dicom/_static_server.ts`,
        site,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const port = Number((await reader.read()).value?.trim());
      await reader.cancel();
      assert.ok(port > 0, "the server printed no port");
      const profile = await Deno.makeTempDir();
      const r = await new Deno.Command(CHROMIUM, {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          `--user-data-dir=${profile}`,
          "--virtual-time-budget=120000",
          "--dump-dom",
          `http://127.0.0.1:${port}/`,
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      const dom = new TextDecoder().decode(r.stdout);
      const body = dom.match(/<body>([\s\S]*?)<script|<body>([\s\S]*?)<\/body>/);
      const text = (body?.[1] ?? body?.[2] ?? dom).trim();
      assert.deepEqual(text.split("\n"), await expectedReport(), dom.slice(0, 2000));
    } finally {
      server.kill("SIGTERM");
      await server.status;
    }
  },
});
