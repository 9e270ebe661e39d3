/**
 * What a newcomer's first command downloads: `deno task segment` on an empty Deno cache fetches only
 * the packages segmentation uses (the DICOM parser and codecs, and a NIfTI reader the tests use as an
 * independent check), under 10 MB, with no warning. The benchmark's reference libraries and the web
 * app's viewer and test driver live in their own configurations (bench/deno.json, web/deno.json),
 * whose lock files a `deno task segment` never reads.
 */
import assert from "node:assert/strict";
import { canSpawn, ROOT } from "./_cli.ts";

/** Bytes of the files under a folder. */
async function bytesUnder(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) n += await bytesUnder(path);
    else if (e.isFile) n += (await Deno.stat(path)).size;
  }
  return n;
}

// It needs the npm registry (as the first `deno task` of every user does); OFFLINE=1 leaves it out.
Deno.test({
  name: "deno task segment on an empty cache downloads under 10 MB of packages and prints no warning",
  ignore: !canSpawn || Deno.env.get("OFFLINE") === "1",
  async fn() {
    const cache = await Deno.makeTempDir({ prefix: "deno-cache-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "segment", "--help"],
        cwd: ROOT,
        env: { DENO_DIR: cache, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      // only deno's own "Task segment ..." line: no boxed warning about build scripts, no error
      const other = stderr.split("\n").filter((l) => l.trim() && !/^Task segment /.test(l.trim()));
      assert.deepEqual(other.filter((l) => !/^Download /.test(l.trim())), []);
      const packages = [...Deno.readDirSync(`${cache}/npm/registry.npmjs.org`)].map((e) => e.name).sort();
      assert.deepEqual(packages, ["@cornerstonejs", "dicom-parser", "fflate", "nifti-reader-js"]);
      const mb = (await bytesUnder(`${cache}/npm`)) / 2 ** 20;
      assert.ok(mb < 10, `${mb.toFixed(1)} MB of packages`);
      console.log(`packages: ${mb.toFixed(1)} MB (${packages.join(", ")})`);
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  },
});
