/**
 * The portability boundary: the computing core (src/ but src/io/ and src/train/) never touches the
 * file system or the Deno namespace, so that the same modules run in a browser page. Reading paths,
 * listing folders and writing files live in src/io/, the Deno edge; training (src/train/) is
 * Deno-only and may use it.
 */
import assert from "node:assert/strict";
import { ROOT } from "./_cli.ts";

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(path);
    else if (e.name.endsWith(".ts")) yield path;
  }
}

/** Code with comments blanked out (block comments and whole-line // comments). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

Deno.test("no Deno.* call and no file-system module under src/ outside src/io/", async () => {
  const offenders: string[] = [];
  for await (const path of walk(`${ROOT}src`)) {
    const rel = path.slice(ROOT.length);
    if (rel.startsWith("src/io/")) continue;
    const text = code(await Deno.readTextFile(path));
    if (/\bDeno\./.test(text)) offenders.push(`${rel}: Deno.*`);
    if (/from\s+"node:(fs|path|url|process|os|child_process)/.test(text)) {
      offenders.push(`${rel}: node: module`);
    }
    const core = !rel.startsWith("src/train/");
    if (core && /from\s+"(\.\.\/)+io\//.test(text)) offenders.push(`${rel}: imports src/io/`);
  }
  assert.deepEqual(offenders, [], "the computing core must take bytes, not paths");
});

Deno.test("the boundary test sees a Deno.* call (it can fail)", () => {
  assert.match(code('const x = await Deno.readFile("a");'), /\bDeno\./);
  assert.doesNotMatch(code("/** Deno.readFile in a comment */\n// Deno.stat\n"), /\bDeno\./);
});

/**
 * The one `node:` use the engine's bundle may hold: the Emscripten codecs of the DICOM reader
 * (@cornerstonejs/codec-openjpeg and codec-charls) load their .wasm from disk in a branch taken only
 * under Node, `if (ENVIRONMENT_IS_NODE) { var fs = __require("node:fs"); var nodePath =
 * __require("node:path"); ...`. The engine hands them the .wasm bytes instead, and a browser never
 * takes that branch. Exactly that guarded pattern is allowed, once per codec.
 */
const EMSCRIPTEN_NODE_BRANCH =
  /if \(ENVIRONMENT_IS_NODE\) \{\s*var fs = __require\("node:fs"\);\s*var nodePath = __require\("node:path"\);/g;

/** The Emscripten Node branches in a bundle, and every other `node:` string left once they are removed. */
function nodeReferences(js: string): { emscripten: number; others: string[] } {
  const emscripten = (js.match(EMSCRIPTEN_NODE_BRANCH) ?? []).length;
  const rest = js.replace(EMSCRIPTEN_NODE_BRANCH, "");
  return { emscripten, others: rest.match(/.{0,40}["']node:[^"']*["'].{0,20}/g) ?? [] };
}

Deno.test("the bundle check allows the codecs' guarded Node branch and nothing else", () => {
  const branch =
    'if (ENVIRONMENT_IS_NODE) {\n  var fs = __require("node:fs");\n  var nodePath = __require("node:path");';
  assert.deepEqual(nodeReferences(`a();\n${branch}\nb();`), { emscripten: 1, others: [] });
  for (
    const bad of [
      'import { readFile } from "node:fs/promises";',
      'var os = __require("node:os");',
      // the same calls outside the guard
      'var fs = __require("node:fs");',
      `${branch}\nvar cp = __require("node:child_process");`,
    ]
  ) {
    assert.notDeepEqual(nodeReferences(bad).others, [], bad);
  }
});

Deno.test("src/engine.ts bundles for a browser with no Deno.* and no node: module but the codecs' branch", async () => {
  const out = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", `${ROOT}src/engine.ts`, "-o", out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const js = await Deno.readTextFile(out);
    assert.ok(js.length > 100_000, "the bundle holds the engine");
    assert.doesNotMatch(js, /\bDeno\./);
    const node = nodeReferences(js);
    assert.deepEqual(node.others, [], "node: modules outside the codecs' Node-only branch");
    assert.equal(node.emscripten, 2, "the two DICOM codecs, each with its Node-only branch");
    assert.match(js, /fn main|@compute/, "the shaders are inlined as text");
    assert.ok((js.match(/__toBinary\("AGFzbQ/g) ?? []).length >= 2, "the DICOM codecs' .wasm embedded");
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("every kernel file under shaders/ is in the runtime's table of shaders", async () => {
  const { SHADERS } = await import("../src/gpu/shaders.ts");
  const files = [...Deno.readDirSync(`${ROOT}shaders`)].map((e) => e.name).filter((n) => n.endsWith(".wgsl"));
  assert.deepEqual(Object.keys(SHADERS).sort(), files.sort());
});
