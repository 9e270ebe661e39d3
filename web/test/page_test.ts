/**
 * The web app end to end in headless Chromium, built as `deno task web:build` builds it and served
 * as `deno task web` serves it: the page segments a small CT (a crop of the sample CT, made here)
 * with the network cut, and the label map it offers for download equals what `deno task segment`
 * writes for the same CT (same header, same voxels; where SwiftShader rounded differently from
 * lavapipe, every organ's Dice must still be at least 0.999, and the test says how many voxels
 * differ). Bad files and a browser without WebGPU give state `error` and one line in #status, and
 * the page stays usable. A screenshot of the viewer is written to a temporary folder.
 *
 * The sample CT's labels come from another model (TotalSegmentator); here they are not used at all:
 * the CLI's output is the reference.
 */
import assert from "node:assert/strict";
import { launchChromium, ROOT, watchPage } from "./_browser.ts";
import { gunzip, linkBytes, serveDist, state, statusText, waitReady, waitState } from "./_page.ts";
import { buildIfNeeded } from "../build.ts";
import { CSP } from "../serve.ts";
import { readNifti } from "../../src/io/volumes.ts";
import { extractBox } from "../../src/volume/bbox.ts";
import { makeVolume } from "../../src/volume/grid.ts";
import { encodeNiftiFile } from "../../src/volume/nifti-write.ts";
import { decodeLabels } from "../../src/volume/nifti-read.ts";
import type { Vec3 } from "../../src/volume/types.ts";
import { dicePerLabel } from "../../src/train/dice.ts";

/** The crop of the sample CT (voxels): the upper abdomen, with liver, spleen, stomach, gallbladder. */
const CROP = { min: [8, 20, 82] as Vec3, max: [108, 90, 112] as Vec3 };

/** Writes the crop as a .nii.gz (its affine moved to the crop's first voxel); returns its path. */
async function makeCrop(dir: string): Promise<string> {
  const ct = await readNifti(`${ROOT}data/abdomen-ct-a.nii.gz`);
  const data = extractBox(ct.data, ct.dims, CROP);
  const a = ct.affine.slice();
  const [x, y, z] = CROP.min;
  for (let i = 0; i < 3; i++) a[4 * i + 3] += a[4 * i] * x + a[4 * i + 1] * y + a[4 * i + 2] * z;
  const dims = [0, 1, 2].map((i) => CROP.max[i] - CROP.min[i]) as Vec3;
  const path = `${dir}/crop.nii.gz`;
  await Deno.writeFile(path, await encodeNiftiFile(makeVolume(data, dims, a), true));
  return path;
}

Deno.test({
  name: "the page segments a CT offline, as deno task segment does, and refuses bad files in one line",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const t0 = performance.now();
    await buildIfNeeded();
    const dir = await Deno.makeTempDir({ prefix: "web-page-test-" });
    const ctPath = await makeCrop(dir);

    // the reference: the CLI on the same CT (Deno, lavapipe), with the page's settings (its defaults)
    const tc = performance.now();
    const cli = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}cli/segment.ts`,
        ctPath,
        "-o",
        `${dir}/cli.seg.nii.gz`,
        "--json",
        `${dir}/cli.json`,
      ],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(cli.code, 0, new TextDecoder().decode(cli.stderr));
    const cliSeconds = (performance.now() - tc) / 1000;

    const server = serveDist();
    const chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      await page.setViewport({ width: 1400, height: 980 });
      const log = watchPage(page);
      const requests: string[] = [];
      page.on("request", (r) => void requests.push(r.url()));
      // how long the main thread went without running a timer while a CT was being segmented
      await page.evaluateOnNewDocument(() => {
        const w = globalThis as unknown as { __maxStall: number };
        w.__maxStall = 0;
        let last = performance.now();
        setInterval(() => {
          const now = performance.now();
          if (document.body?.dataset.state === "running") w.__maxStall = Math.max(w.__maxStall, now - last);
          last = now;
        }, 20);
      });
      const response = await page.goto(`${server.origin}/`);
      assert.equal(response?.headers()["content-security-policy"], CSP);

      await t.step(
        "one file input, state idle, the adapter named, the kernels compiled at load",
        async () => {
          assert.equal(await page.$$eval("input[type=file]", (e) => e.length), 1);
          assert.equal(await page.$eval("input[type=file]", (e) => (e as HTMLInputElement).multiple), true);
          await waitReady(page);
          assert.equal(await state(page), "idle");
          assert.match(await page.$eval("#adapter", (e) => e.textContent ?? ""), /swiftshader.*software/i);
          console.log(`${await statusText(page)}`);
          assert.match(await page.$eval("body", (e) => e.textContent ?? ""), /never leaves this computer/);
        },
      );

      const input = (await page.$("input[type=file]"))!;
      await t.step(
        "a file that is not NIfTI, and a truncated one: state error, one line naming the file",
        async () => {
          const cases: [string, Uint8Array<ArrayBuffer>, RegExp][] = [
            [
              "notes.nii",
              new TextEncoder().encode("this is not a NIfTI file at all, but it is long enough ".repeat(10)),
              /notes\.nii/,
            ],
            ["half.nii.gz", (await Deno.readFile(ctPath)).slice(0, 20000), /half\.nii\.gz/],
          ];
          for (const [name, bytes, re] of cases) {
            await Deno.writeFile(`${dir}/${name}`, bytes);
            await input.uploadFile(`${dir}/${name}`);
            assert.equal(await waitState(page, ["error", "done"], 60_000), "error");
            const msg = await statusText(page);
            assert.match(msg, re);
            assert.doesNotMatch(msg, /\n|at .*\.js|undefined/, "one plain line");
            console.log(`${name}: ${msg}`);
          }
        },
      );

      await t.step(
        "with the network cut, the CT is segmented (state done) and the main thread stays free",
        async () => {
          await page.setOfflineMode(true);
          const t1 = performance.now();
          await input.uploadFile(ctPath);
          assert.equal(await waitState(page, ["done", "error"], 600_000), "done", await statusText(page));
          console.log(`page: ${((performance.now() - t1) / 1000).toFixed(1)} s (${await statusText(page)})`);
          console.log(
            `CLI (lavapipe, in a subprocess, start-up and compilation included): ${cliSeconds.toFixed(1)} s`,
          );
          await page.setOfflineMode(false);
          const stall = await page.evaluate(() =>
            (globalThis as unknown as { __maxStall: number }).__maxStall
          );
          console.log(`longest main-thread stall while running: ${stall.toFixed(0)} ms`);
          assert.ok(stall < 1000, `the main thread froze for ${stall.toFixed(0)} ms`);
          for (const id of ["stage1", "stage2"]) {
            const [v, max] = await page.$eval(
              `#progress-${id}`,
              (e) => [(e as HTMLProgressElement).value, (e as HTMLProgressElement).max],
            );
            assert.ok(v === max && max >= 1, `progress of ${id}: ${v} / ${max}`);
          }
        },
      );

      await t.step("the downloaded label map equals the CLI's: same header, same voxels", async () => {
        assert.equal(
          await page.$eval("#download-seg", (a) => (a as HTMLAnchorElement).download),
          "crop.seg.nii.gz",
        );
        const pageGz = await linkBytes(page, "#download-seg");
        const cliGz = await Deno.readFile(`${dir}/cli.seg.nii.gz`);
        await Deno.writeFile(`${dir}/page.seg.nii.gz`, pageGz);
        const [pageRaw, cliRaw] = [await gunzip(pageGz), await gunzip(cliGz)];
        assert.equal(pageRaw.length, cliRaw.length);
        assert.deepEqual(pageRaw.subarray(0, 352), cliRaw.subarray(0, 352), "NIfTI headers");
        const p = await decodeLabels(pageGz, "page"), c = await decodeLabels(cliGz, "cli");
        let differ = 0;
        for (let i = 0; i < p.data.length; i++) if (p.data[i] !== c.data[i]) differ++;
        const dice = dicePerLabel(p.data, c.data, 8);
        console.log(
          `${differ} of ${p.data.length} voxels differ; gzip bytes ${
            pageGz.length === cliGz.length && pageGz.every((b, i) => b === cliGz[i]) ? "identical" : "differ"
          }; Dice per organ ${dice.map((d) => (Number.isNaN(d.dice) ? "-" : d.dice.toFixed(4))).join(" ")}`,
        );
        // voxel for voxel in practice; a near-tie that SwiftShader rounds the other way may flip a voxel
        for (const d of dice) {
          assert.ok(Number.isNaN(d.dice) || d.dice >= 0.999, `organ ${d.label}: Dice ${d.dice}`);
        }
        assert.ok(differ <= p.data.length * 1e-4, `${differ} voxels differ`);
      });

      await t.step("the JSON report has the CLI's fields, organs and warnings", async () => {
        const report = JSON.parse(new TextDecoder().decode(await linkBytes(page, "#download-report")));
        const cliReport = JSON.parse(await Deno.readTextFile(`${dir}/cli.json`));
        assert.deepEqual(Object.keys(report), Object.keys(cliReport));
        assert.deepEqual(Object.keys(report.seconds), Object.keys(cliReport.seconds));
        assert.deepEqual(report.organs, cliReport.organs);
        assert.deepEqual(report.warnings, cliReport.warnings);
        assert.equal(report.input, "crop.nii.gz");
        assert.equal(report.precision, "f32");
        // a NIfTI input has no DICOM Segmentation: its link stays out of sight
        assert.equal(report.dicomSeg, undefined);
        assert.equal(await page.$eval("#download-dicom-seg", (a) => getComputedStyle(a).display), "none");
        // the table shows the same volumes
        const rows = await page.$$eval("#organs tbody tr", (trs) => trs.map((tr) => tr.textContent ?? ""));
        assert.equal(rows.length, 7);
        for (const [i, o] of cliReport.organs.entries()) {
          assert.ok(rows[i].includes(o.ml.toFixed(1)), rows[i]);
        }
      });

      await t.step("the viewer shows the organs; hiding one works; a screenshot is written", async () => {
        await page.$eval("#legend input[data-label='3']", (e) => (e as HTMLInputElement).click());
        await page.$eval("#legend input[data-label='3']", (e) => (e as HTMLInputElement).click());
        await new Promise((r) => setTimeout(r, 1000));
        const shot = `${dir}/page.png`;
        await page.screenshot({ path: shot });
        console.log(`screenshot: ${shot}`);
        assert.ok((await Deno.stat(shot)).size > 50_000);
      });

      await t.step("no request left the page's origin; no error in the console", () => {
        const outside = requests.filter((u) => !u.startsWith(server.origin) && !/^(blob|data):/.test(u));
        assert.deepEqual(outside, []);
        assert.deepEqual(log.errors, [], "uncaught errors");
        assert.deepEqual(log.console.filter((l) => l.startsWith("error:")), [], "console errors");
      });
    } finally {
      await chromium.close();
      await server.close();
      console.log(`(${((performance.now() - t0) / 1000).toFixed(0)} s in all; files in ${dir})`);
    }
  },
});

Deno.test({
  name: "without WebGPU the page says so in one line, in state error, and stays usable",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await buildIfNeeded();
    const server = serveDist();
    const chromium = await launchChromium({ webgpu: false });
    try {
      const page = await chromium.browser.newPage();
      const log = watchPage(page);
      await page.goto(`${server.origin}/`);
      assert.equal(await waitState(page, ["error"], 60_000), "error");
      const msg = await statusText(page);
      assert.match(msg, /^Cannot segment here: no WebGPU adapter/);
      // a CT chosen now gets the same line, at once
      const input = (await page.$("input[type=file]"))!;
      assert.equal(await page.$eval("input[type=file]", (e) => (e as HTMLInputElement).disabled), false);
      await input.uploadFile(`${ROOT}data/abdomen-ct-a.labels.nii.gz`);
      assert.equal(await state(page), "error");
      assert.equal(await statusText(page), msg);
      assert.deepEqual(log.errors, []);
      assert.deepEqual(log.console.filter((l) => l.startsWith("error:")), []);
    } finally {
      await chromium.close();
      await server.close();
    }
  },
});
