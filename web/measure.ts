/**
 * `deno run -A --config web/deno.json web/measure.ts [CT] [--screenshot FILE]`: the page and the CLI on
 * the same CT (a NIfTI file, or a DICOM series' folder, whose files are then picked together), one
 * after the other on this machine: the page in headless Chromium (SwiftShader, its
 * fallback adapter) as `deno task web` serves it, the CLI as `deno task segment` runs it (Deno's
 * adapter). Prints the kernel compilation before the first tile, each stage's time, the totals, the
 * machine's load, whether the two label maps agree, and writes a screenshot of the page.
 */
import { parseArgs } from "node:util";
import { launchChromium, ROOT } from "./test/_browser.ts";
import { buildIfNeeded, DIST } from "./build.ts";
import { staticHandler } from "./serve.ts";
import { decodeLabels } from "../src/volume/nifti-read.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { screenshot: { type: "string", default: `${ROOT}docs/web.png` } },
});
const ct = positionals[0] ?? `${ROOT}data/abdomen-ct-a.nii.gz`;
// a DICOM folder: all its files, as a user picks them
const chosen = Deno.statSync(ct).isDirectory
  ? [...Deno.readDirSync(ct)].filter((e) => e.isFile).map((e) => `${ct}/${e.name}`).sort()
  : [ct];
const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const dir = await Deno.makeTempDir({ prefix: "web-measure-" });

await buildIfNeeded();
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, staticHandler(DIST));
const chromium = await launchChromium();
console.log(`load average before: ${load()}`);
let pageSeg: Uint8Array<ArrayBuffer>;
try {
  const page = await chromium.browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  const t0 = performance.now();
  await page.goto(`http://127.0.0.1:${server.addr.port}/`);
  await page.waitForFunction(() => /^Ready|Cannot/.test(document.getElementById("status")!.textContent!), {
    timeout: 300_000,
  });
  console.log(
    `page ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${await page.$eval(
      "#status",
      (e) => e.textContent,
    )}`,
  );
  const input = (await page.$("input[type=file]"))!;
  const t1 = performance.now();
  await input.uploadFile(...chosen);
  await page.waitForFunction(
    () => (document.getElementById("progress-stage1") as HTMLProgressElement).value >= 1,
    {
      timeout: 300_000,
      polling: 50,
    },
  );
  console.log(`first tile done ${((performance.now() - t1) / 1000).toFixed(1)} s after the CT was chosen`);
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state!), {
    timeout: 1_800_000,
  });
  console.log(`page: ${await page.$eval("#status", (e) => e.textContent)}`);
  console.log(`page: done ${((performance.now() - t1) / 1000).toFixed(1)} s after the CT was chosen`);
  const report = await page.$eval(
    "#download-report",
    async (a) => await (await fetch((a as HTMLAnchorElement).href)).text(),
  );
  console.log(`page seconds: ${JSON.stringify(JSON.parse(report).seconds)}`);
  const b64 = await page.$eval("#download-seg", async (a) => {
    const bytes = new Uint8Array(await (await fetch((a as HTMLAnchorElement).href)).arrayBuffer());
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  });
  pageSeg = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  await new Promise((r) => setTimeout(r, 1500));
  await page.screenshot({ path: values.screenshot });
  console.log(`screenshot: ${values.screenshot}`);
} finally {
  await chromium.close();
  await server.shutdown();
}
console.log(`load average between: ${load()}`);

const t2 = performance.now();
const cli = await new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    `${ROOT}cli/segment.ts`,
    ct,
    "-o",
    `${dir}/cli.seg.nii.gz`,
    "--json",
    `${dir}/cli.json`,
    "--progress",
    "off",
  ],
  stdout: "piped",
  stderr: "inherit",
}).output();
if (cli.code !== 0) throw new Error("the CLI failed");
console.log(`CLI: ${((performance.now() - t2) / 1000).toFixed(1)} s with Deno's start-up`);
console.log(`CLI seconds: ${JSON.stringify(JSON.parse(await Deno.readTextFile(`${dir}/cli.json`)).seconds)}`);
console.log(`load average after: ${load()}`);
const a = await decodeLabels(pageSeg, "page"),
  b = await decodeLabels(await Deno.readFile(`${dir}/cli.seg.nii.gz`), "cli");
let differ = 0;
for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) differ++;
console.log(`label maps: ${differ} of ${a.data.length} voxels differ`);
await Deno.remove(dir, { recursive: true });
