/**
 * The web app on a DICOM series, end to end in headless Chromium, built and served as `deno task
 * web` does: the sample series (data/dicom/abdomen-ct-c: 20 slices of 512 x 512, JPEG 2000) with a
 * non-DICOM file beside it, dropped as a folder, is segmented; its label map equals what `deno task
 * segment` writes for the same folder, voxel for voxel, and its DICOM Segmentation is a valid SEG
 * (read back onto the series by the core's decodeDicomSeg: the label map) and the CLI's SEG byte for
 * byte once the UIDs and dates generated per run are set aside. A series with a slice missing (and a
 * non-DICOM file), picked or dropped as a folder, a lone DICOM file and an empty folder give state
 * `error` and one line in #status.
 *
 * No organ labels exist for this series: the CLI's output is the reference.
 */
import assert from "node:assert/strict";
import dicomParser from "dicom-parser";
import type { Page } from "puppeteer-core";
import { launchChromium, ROOT, watchPage } from "./_browser.ts";
import { gunzip, linkBytes, serveDist, statusText, waitReady, waitState } from "./_page.ts";
import { buildIfNeeded } from "../build.ts";
import { decodeDicomSeg, organLabels, readDicomSeries } from "../../src/volume/dicom/mod.ts";
import { IMPLEMENTATION_CLASS_UID } from "../../src/volume/dicom/write.ts";
import { decodeLabels } from "../../src/volume/nifti-read.ts";

const SERIES = `${ROOT}data/dicom/abdomen-ct-c`;

/** A copy of the sample series in `dir`/`name`, less the slices `drop` says, plus a text file. */
async function seriesFolder(dir: string, name: string, drop = (_: string) => false): Promise<string[]> {
  const folder = `${dir}/${name}`;
  await Deno.mkdir(folder);
  const names = [...Deno.readDirSync(SERIES)].map((e) => e.name).sort();
  const paths = [];
  for (const n of names.filter((n) => !drop(n))) {
    await Deno.copyFile(`${SERIES}/${n}`, `${folder}/${n}`);
    paths.push(`${folder}/${n}`);
  }
  await Deno.writeTextFile(`${folder}/README.txt`, "Series exported from the archive. Not a DICOM file.\n");
  return [...paths, `${folder}/README.txt`];
}

/** Drops the folder `path` on the page, as a user drags it from a file manager (DevTools' drag events). */
async function dropFolder(page: Page, path: string): Promise<void> {
  const cdp = await page.createCDPSession();
  const data = { items: [], files: [path], dragOperationsMask: 1 };
  for (const type of ["dragEnter", "dragOver", "drop"] as const) {
    await cdp.send("Input.dispatchDragEvent", { type, x: 300, y: 300, data });
  }
  await cdp.detach();
}

/**
 * Does `act` (a pick or a drop), then waits for the page to take it (its status line changes: a
 * dropped folder is walked before the state moves) and to reach one of `states`; returns that state.
 */
async function after(page: Page, act: () => Promise<void>, states: string[], timeoutMs: number) {
  const before = await statusText(page);
  await act();
  await page.waitForFunction((s) => document.getElementById("status")!.textContent !== s, {}, before);
  return await waitState(page, states, timeoutMs);
}

/** Tags whose values a SEG generates per run: the creation date and time. */
const DATE_TAGS = new Set(["x00080021", "x00080023", "x00080031", "x00080033"]);

/**
 * A SEG as a list of (tag path, value) with its generated parts replaced: every `2.25.` UID (but the
 * constant ImplementationClassUID) by `UID#n` in order of first use (so that where each UID is used must still agree), the creation
 * dates and times, and the file meta's group length (which counts a UID's bytes). Sequence and item
 * lengths are left out for the same reason; every other value is kept as bytes.
 */
function normalisedSeg(
  bytes: Uint8Array,
): { elements: [string, string | Uint8Array][]; generatedAt: string[] } {
  const uids = new Map<string, string>();
  const elements: [string, string | Uint8Array][] = [];
  const generatedAt: string[] = [];
  const walk = (ds: dicomParser.DataSet, at: string) => {
    for (const tag of Object.keys(ds.elements).sort()) {
      const el = ds.elements[tag];
      const path = `${at}${tag}`;
      if (el.items) {
        el.items.forEach((item, i) => walk(item.dataSet!, `${path}[${i}].`));
        elements.push([path, `${el.items.length} items`]);
        continue;
      }
      const value = bytes.slice(el.dataOffset, el.dataOffset + el.length);
      // a UID is at most 64 characters (the pixel data is not text)
      const text = value.length <= 64 ? new TextDecoder().decode(value).replace(/[\0 ]+$/, "") : "";
      if (/^2\.25\.\d+$/.test(text) && text !== IMPLEMENTATION_CLASS_UID) {
        if (!uids.has(text)) uids.set(text, `UID#${uids.size + 1}`);
        elements.push([path, uids.get(text)!]);
        generatedAt.push(tag);
      } else if (DATE_TAGS.has(tag)) {
        elements.push([path, "<created>"]);
      } else if (tag === "x00020000") {
        elements.push([path, "<meta group length>"]);
      } else {
        elements.push([path, value]);
      }
    }
  };
  walk(dicomParser.parseDicom(bytes), "");
  return { elements, generatedAt: [...new Set(generatedAt)].sort() };
}

Deno.test({
  name:
    "the page segments a dropped DICOM folder as deno task segment does, SEG included; bad series: one line",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const t0 = performance.now();
    await buildIfNeeded();
    const dir = await Deno.makeTempDir({ prefix: "web-dicom-test-" });
    const folder = `${dir}/abdomen-ct-c`;
    await seriesFolder(dir, "abdomen-ct-c");
    const names = [...Deno.readDirSync(SERIES)].map((e) => e.name).sort();
    const gap = await seriesFolder(dir, "gap", (n) => n === names[5]);
    const empty = `${dir}/empty`;
    await Deno.mkdir(empty);

    // the reference: the CLI on the same folder, running while the page loads and segments
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}cli/segment.ts`,
        folder,
        "-o",
        `${dir}/cli.seg.nii.gz`,
        "--dicom-seg",
        `${dir}/cli.seg.dcm`,
        "--json",
        `${dir}/cli.json`,
        "--progress",
        "off",
      ],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const cli = child.output();

    const server = serveDist();
    const chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      await page.setViewport({ width: 1400, height: 980 });
      const log = watchPage(page);
      await page.goto(`${server.origin}/`);
      await waitReady(page);
      const input = (await page.$("input[type=file]"))!;

      await t.step(
        "a lone DICOM file, a series with a slice missing (picked, or dropped as a folder): error, one line",
        async () => {
          const cases: [string, () => Promise<void>, RegExp][] = [
            [
              "one file picked",
              () => input.uploadFile(gap[0]),
              /^CT\.[\d.]+: is a single DICOM file: choose all/,
            ],
            [
              "20 files picked",
              () => input.uploadFile(...gap),
              /^the chosen DICOM files: missing slice: 4\.000 mm /,
            ],
            [
              "folder dropped",
              () => dropFolder(page, `${dir}/gap`),
              /^gap: missing slice: 4\.000 mm between /,
            ],
            [
              "empty folder dropped",
              () => dropFolder(page, empty),
              /^Nothing to read: what was dropped holds no file$/,
            ],
          ];
          for (const [what, act, re] of cases) {
            assert.equal(await after(page, act, ["error", "done"], 60_000), "error", what);
            const msg = await statusText(page);
            assert.match(msg, re);
            assert.doesNotMatch(msg, /\n|at .*\.js|undefined/, "one plain line");
            console.log(`${what}: ${msg}`);
          }
        },
      );

      await t.step("the sample series' folder, dropped with a text file in it, is segmented", async () => {
        const t1 = performance.now();
        const state = await after(page, () => dropFolder(page, folder), ["done", "error"], 600_000);
        assert.equal(state, "done", await statusText(page));
        console.log(`page: ${((performance.now() - t1) / 1000).toFixed(1)} s (${await statusText(page)})`);
        const notes = await page.$$eval("#notes li", (li) => li.map((l) => l.textContent ?? ""));
        assert.ok(notes.includes("skipped 1 non-DICOM file"), notes.join("; "));
        assert.deepEqual(
          await page.$$eval(
            "#downloads a",
            (as) => as.map((a) => [a.id, (a as HTMLAnchorElement).download, (a as HTMLElement).hidden]),
          ),
          [
            ["download-seg", "abdomen-ct-c.seg.nii.gz", false],
            ["download-report", "abdomen-ct-c.seg.json", false],
            ["download-dicom-seg", "abdomen-ct-c.seg.dcm", false],
          ],
        );
      });

      const r = await cli;
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      const { info } = await readDicomSeries(
        names.map((name) => ({ name, bytes: Deno.readFileSync(`${SERIES}/${name}`) })),
        { source: "abdomen-ct-c" },
      );

      await t.step("the label map equals the CLI's, header and voxels", async () => {
        const pageGz = await linkBytes(page, "#download-seg");
        const cliGz = await Deno.readFile(`${dir}/cli.seg.nii.gz`);
        await Deno.writeFile(`${dir}/page.seg.nii.gz`, pageGz);
        const [pageRaw, cliRaw] = [await gunzip(pageGz), await gunzip(cliGz)];
        assert.deepEqual(pageRaw.subarray(0, 352), cliRaw.subarray(0, 352), "NIfTI headers");
        const p = await decodeLabels(pageGz, "page"), c = await decodeLabels(cliGz, "cli");
        assert.deepEqual(p.dims, [512, 512, 20]);
        let differ = 0;
        for (let i = 0; i < p.data.length; i++) if (p.data[i] !== c.data[i]) differ++;
        assert.equal(differ, 0, `${differ} of ${p.data.length} voxels differ`);
      });

      await t.step("the SEG reads back onto the series as the label map, and is the CLI's SEG", async () => {
        const pageSeg = await linkBytes(page, "#download-dicom-seg");
        const cliSeg = await Deno.readFile(`${dir}/cli.seg.dcm`);
        await Deno.writeFile(`${dir}/page.seg.dcm`, pageSeg);
        const labels = await decodeLabels(await Deno.readFile(`${dir}/page.seg.nii.gz`), "page");
        const back = organLabels(decodeDicomSeg(pageSeg, info));
        assert.deepEqual(back.dims, labels.dims);
        assert.ok(back.data.some((v) => v > 0), "organs in the SEG");
        assert.deepEqual(back.data, labels.data);

        assert.deepEqual(pageSeg.subarray(0, 132), cliSeg.subarray(0, 132), "preamble and DICM");
        const p = normalisedSeg(pageSeg), c = normalisedSeg(cliSeg);
        assert.equal(p.elements.length, c.elements.length);
        for (let i = 0; i < c.elements.length; i++) {
          assert.deepEqual(p.elements[i], c.elements[i], c.elements[i][0]);
        }
        // only what is made per run was set aside: the SEG's own UIDs (instance, series, dimension
        // organisation, in the file meta too) and the study and source series UIDs that the sample
        // lacks; the slices' UIDs and the frame of reference are the source's and were compared
        assert.deepEqual(p.generatedAt, ["x00020003", "x00080018", "x0020000d", "x0020000e", "x00209164"]);
        console.log(
          `SEG: ${pageSeg.length} bytes (CLI ${cliSeg.length}), ${c.elements.length} elements equal`,
        );
      });

      await t.step("the report names the series and the SEG; organs and warnings are the CLI's", async () => {
        const report = JSON.parse(new TextDecoder().decode(await linkBytes(page, "#download-report")));
        const cliReport = JSON.parse(await Deno.readTextFile(`${dir}/cli.json`));
        assert.deepEqual(Object.keys(report), Object.keys(cliReport));
        assert.equal(report.input, "abdomen-ct-c");
        assert.equal(report.dicomSeg, "abdomen-ct-c.seg.dcm");
        assert.deepEqual(report.organs, cliReport.organs);
        assert.deepEqual(report.warnings, cliReport.warnings);
        console.log(
          `seconds: page ${JSON.stringify(report.seconds)}, CLI ${JSON.stringify(cliReport.seconds)}`,
        );
        await page.screenshot({ path: `${dir}/page-dicom.png` });
      });

      await t.step("no error in the console", () => {
        assert.deepEqual(log.errors, [], "uncaught errors");
        assert.deepEqual(log.console.filter((l) => l.startsWith("error:")), [], "console errors");
      });
    } finally {
      await chromium.close();
      await server.close();
      try {
        child.kill(); // when a step failed before its end
      } catch {
        // it had ended
      }
      await cli.catch(() => {});
      console.log(`(${((performance.now() - t0) / 1000).toFixed(0)} s in all; files in ${dir})`);
    }
  },
});
