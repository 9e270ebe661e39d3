// The page script of browser_test.ts, bundled for the browser: reads the sample series and the
// transfer-syntax files fetched from the test's server, round-trips a SEG, and writes a report into
// the page (one line per check) for the test to read back.
import { decodeDicomSeg, encodeDicomSeg, organLabels, readDicomSeries } from "../../src/volume/dicom/mod.ts";
import { parseDicomFile } from "../../src/volume/dicom/parse.ts";
import { decodeFrame, pixelFormat, rescaleOf, writeSlice } from "../../src/volume/dicom/pixels.ts";

/** The files the server lists under `dir`. */
async function get(dir: string) {
  const names: string[] = await (await fetch(`${dir}/list.json`)).json();
  return await Promise.all(
    names.map(async (name) => ({
      name,
      bytes: new Uint8Array(await (await fetch(`${dir}/${name}`)).arrayBuffer()),
    })),
  );
}

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};

const out: string[] = [];
try {
  const { volume, info } = await readDicomSeries(await get("series"), { source: "series" });
  out.push(`series ${volume.dims.join("x")} ${sum(volume.data)} ${volume.affine.join(",")}`);
  const labels = { ...volume, data: Uint8Array.from(volume.data, (v) => v > 100 ? 3 : v > 0 ? 4 : 0) };
  const back = organLabels(decodeDicomSeg(encodeDicomSeg(labels, info), info));
  out.push(`seg ${back.data.every((v, i) => v === labels.data[i])}`);
  for (const f of await get("syntaxes")) {
    const d = (await parseDicomFile(f.name, f.bytes))!;
    const format = pixelFormat(d);
    const hu = new Float32Array(d.rows * d.columns);
    writeSlice(await decodeFrame(d, format), format, rescaleOf(d), hu, 0);
    out.push(`${f.name} ${sum(hu)}`);
  }
} catch (e) {
  out.push(`error ${e}`);
}
// `document` is typed here by hand: the tests are type-checked without the DOM library.
const page = globalThis as unknown as { document: { body: { textContent: string } } };
page.document.body.textContent = out.join("\n");
