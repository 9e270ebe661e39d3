/** `deno task info` run as a subprocess: summaries, and one-line errors with exit code 1 for bad input. */

import assert from "node:assert/strict";
import { gzip } from "../../src/volume/gzip.ts";
import { canSpawn, runCli } from "../_cli.ts";
import { niftiBytes, SAMPLE_CT, SAMPLE_LABELS, tempDir, view, writeBytes } from "./_synth.ts";

const canRun = canSpawn;

/** Runs `deno run cli/info.ts ...args` with the info task's permissions. */
const info = (...args: string[]) => runCli("info.ts", args, { permissions: ["--allow-read", "--allow-env"] });

Deno.test({
  name: "info prints the sample CT's grid and the label table with organ names",
  ignore: !canRun,
  async fn() {
    const image = await info(SAMPLE_CT);
    assert.equal(image.code, 0, image.stderr);
    assert.match(image.stdout, /dimensions +122 x 101 x 112 \(1380064 voxels\)/);
    assert.match(image.stdout, /spacing +3 x 3 x 3 mm/);
    assert.match(image.stdout, /orientation +RAS/);
    assert.match(image.stdout, /datatype +int16/);
    assert.match(image.stdout, /intensity +-1207 \.\. 3382/);
    assert.doesNotMatch(image.stdout, /labels/);
    const pair = await info(SAMPLE_CT, SAMPLE_LABELS);
    assert.equal(pair.code, 0, pair.stderr);
    assert.match(pair.stdout, /3 +liver +41692 +1125\.7/);
    assert.match(pair.stdout, /7 +pancreas +695 +18\.8/);
    const help = await info("--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: deno task info/);
    assert.match(help.stdout, /--remap SPEC/);
  },
});

Deno.test({
  name: "info on bad input: exit 1, one line `error: ...` naming the file, no stack, no file written",
  ignore: !canRun,
  async fn() {
    const { dir, cleanup } = await tempDir();
    try {
      const good = () => niftiBytes([0, 1, 2, 3, 4, 5, 6, 7], [2, 2, 2]);
      const patch = (f: (v: DataView, b: Uint8Array) => void) => {
        const b = good();
        f(view(b), b);
        return b;
      };
      const gz = await gzip(good());
      const files: Record<string, Uint8Array<ArrayBuffer>> = {
        "plain.nii.gz": good(),
        "magic.nii.gz": patch((_, b) => b.set([0x41, 0x42, 0x43, 0], 344)),
        "size.nii.gz": patch((v) => v.setInt32(0, 400, true)),
        "zero.nii.gz": patch((v) => v.setInt16(42, 0, true)),
        "4d.nii.gz": patch((v) => [4, 2, 2, 2, 5].forEach((d, i) => v.setInt16(40 + 2 * i, d, true))),
        "huge.nii.gz": patch((v) => [1, 2, 3].forEach((a) => v.setInt16(40 + 2 * a, 30000, true))),
        "rgb.nii.gz": patch((v) => v.setInt16(70, 128, true)),
        "nan.nii.gz": niftiBytes([0, NaN, 2, 3, 4, 5, 6, 7], [2, 2, 2]),
        "img.nii.gz": good(),
        "other.labels.nii.gz": niftiBytes(new Uint8Array(12), [3, 2, 2]),
        "labels.nii.gz": niftiBytes([0, 1, 2, 0, 0, 0, 0, 0], [2, 2, 2], { datatype: "uint8" }),
      };
      for (const [name, bytes] of Object.entries(files)) {
        await writeBytes(dir, name, bytes, name !== "plain.nii.gz");
      }
      await writeBytes(dir, "cut.nii.gz", gz.slice(0, gz.length >> 1), false);
      const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();

      const cases: [string[], RegExp][] = [
        [[`${dir}/missing.nii.gz`], /missing\.nii\.gz: file not found$/],
        [[`${dir}/plain.nii.gz`], /plain\.nii\.gz: named \.gz but not gzip-compressed/],
        [[`${dir}/cut.nii.gz`], /cut\.nii\.gz: truncated or corrupt gzip data/],
        [[`${dir}/magic.nii.gz`], /magic\.nii\.gz: bad magic "ABC\\u0000"/],
        [[`${dir}/size.nii.gz`], /size\.nii\.gz: header size field is 400/],
        [[`${dir}/zero.nii.gz`], /zero\.nii\.gz: dimension dim\[1\]=0 is not positive/],
        [[`${dir}/4d.nii.gz`], /4d\.nii\.gz: 4D image with 5 volumes/],
        [
          [`${dir}/huge.nii.gz`],
          /huge\.nii\.gz: dimensions 30000x30000x30000 = 27000000000000 voxels exceed/,
        ],
        [[`${dir}/rgb.nii.gz`], /rgb\.nii\.gz: unsupported datatype 128 \(rgb24\)/],
        [[`${dir}/nan.nii.gz`], /nan\.nii\.gz: 1 NaN\/Inf voxel, the first at voxel \(1,0,0\)/],
        [[`${dir}/img.nii.gz`, `${dir}/other.labels.nii.gz`], /other\.labels\.nii\.gz: label grid differs/],
        [
          ["--remap", "1:9", `${dir}/labels.nii.gz`],
          /label remap "1:9": labels outside 0\.\.7 after remapping/,
        ],
        [["--bogus", `${dir}/img.nii.gz`], /Unknown option '--bogus' \(see --help\)/],
        [[], /expected FILE \[LABELS\], got 0 arguments/],
      ];
      const results = await Promise.all(cases.map(([args]) => info(...args)));
      results.forEach(({ code, stdout, stderr }, n) => {
        const [args, pattern] = cases[n];
        const what = `info ${args.join(" ")}`;
        assert.equal(code, 1, what);
        assert.equal(stdout, "", what);
        const lines = stderr.trimEnd().split("\n");
        assert.equal(lines.length, 1, `${what}: ${stderr}`);
        assert.ok(lines[0].startsWith("error: "), `${what}: ${stderr}`);
        assert.match(lines[0], pattern, what);
        assert.doesNotMatch(stderr, /\n\s+at |rerun with DEBUG/, what);
      });
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), before);
    } finally {
      await cleanup();
    }
  },
});

Deno.test("errorLine: known errors as they are, unknown ones flagged with the DEBUG hint, always one line", async () => {
  const { errorLine, UsageError } = await import("../../cli/_errors.ts");
  const { VolumeError } = await import("../../src/volume/errors.ts");
  assert.equal(errorLine(new VolumeError("a.nii", "dims", "bad")), "a.nii: bad");
  assert.equal(errorLine(new UsageError("two\nlines")), "two lines");
  assert.equal(
    errorLine(new RangeError("boom\n  at x")),
    "RangeError: boom at x (unexpected; rerun with DEBUG=1 for the stack trace)",
  );
  class GpuLost extends Error {}
  assert.equal(errorLine(new GpuLost("device lost"), [GpuLost]), "device lost");
});
