/**
 * The segmentation worker: the engine on `navigator.gpu`, off the page's main thread. On start it
 * takes the adapter, loads the demo model served with the page and compiles every kernel the tiles
 * will launch (all at once, asynchronously); then it segments each CT it is sent with the settings of
 * `deno task segment` (overlap 0.5, precision auto) and returns the label map, the CT for the viewer
 * and the report.
 */
import {
  convKernels,
  decodeStage,
  encodeDicomSeg,
  encodeNiftiFile,
  inferencePrecision,
  initGpu,
  inputFitWarnings,
  organStats,
  outputFitWarnings,
  prepareInference,
  segmentReport,
  segmentVolume,
  type StageModel,
  type Volume,
} from "../../src/engine.ts";
import type { FromWorker, SegmentRequest } from "./protocol.ts";
import { type ChosenFile, readCt } from "./read_ct.ts";

/** The worker's global scope, as much of it as is used. */
const scope = globalThis as unknown as {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<SegmentRequest>) => void) | null;
};

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

/** Where the page's model comes from, as the report names it. */
const MODEL = "models/demo (the shipped demo model, served with this page)";
/** The CLI's default overlap of neighbouring tiles. */
const OVERLAP = 0.5;
/**
 * The algorithm a DICOM Segmentation names: the CLI's name for the shipped demo model
 * (`cascaded 3D U-Net (<model folder>)`), so that the page's SEG is the one the CLI writes.
 */
const SEG_ALGORITHM = "cascaded 3D U-Net (demo)";

/** The first line of an error's message. */
function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n").map((l) => l.trim()).find(Boolean) ?? "unknown error";
}

async function fetchModel(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(`models/${name}`, import.meta.url);
  const r = await fetch(url);
  if (!r.ok) {
    throw new Error(`models/${name}: not found next to the page (HTTP ${r.status}); run deno task web:build`);
  }
  return new Uint8Array(await r.arrayBuffer());
}

interface Engine {
  adapter: string;
  precision: string;
  stage1: StageModel;
  stage2: StageModel;
}

/** The adapter, the model and every kernel, compiled. */
async function start(): Promise<Engine> {
  const g = await initGpu();
  convKernels.inference = inferencePrecision("auto");
  post({ type: "adapter", name: g.adapterName, software: g.isFallback, precision: convKernels.inference });
  post({ type: "status", text: "Loading the model..." });
  const [b1, b2] = await Promise.all([fetchModel("stage1.safetensors"), fetchModel("stage2.safetensors")]);
  const stage1 = decodeStage(b1, "models/stage1.safetensors", 1);
  const stage2 = decodeStage(b2, "models/stage2.safetensors", 2);
  post({ type: "status", text: "Compiling the kernels..." });
  const warm = await prepareInference(
    [stage1, stage2],
    (done, total) => post({ type: "progress", step: "compile", done, total }),
  );
  post({ type: "ready", pipelines: warm.pipelines, compileSeconds: warm.seconds });
  return { adapter: g.adapterName, precision: convKernels.inference, stage1, stage2 };
}

const engine = start();
engine.catch((e) => post({ type: "error", message: `Cannot segment here: ${oneLine(e)}`, fatal: true }));

let busy = false;

async function segment(files: ChosenFile[]): Promise<void> {
  const t0 = performance.now();
  post({
    type: "status",
    text: `Reading ${files.length === 1 ? files[0].path : `${files.length} files`}...`,
  });
  const ct = await readCt(files);
  const read = (performance.now() - t0) / 1000;
  let e: Engine;
  try {
    e = await engine;
  } catch (err) {
    throw new Error(`Cannot segment here: ${oneLine(err)}`);
  }
  const fit = inputFitWarnings(ct.volume, e.stage2.spec);
  const what = ct.format === "dicom" ? ` (DICOM series, ${ct.volume.dims[2]} slices)` : "";
  post({ type: "status", text: `Segmenting ${ct.name}${what}...` });
  const { labels, seconds } = await segmentVolume(ct.volume, e.stage1, e.stage2, {
    overlap: OVERLAP,
    onTile: (stage, done, total) => post({ type: "progress", step: stage as 1 | 2, done, total }),
  });
  const t1 = performance.now();
  const seg = await encodeNiftiFile(labels, true);
  const organs = organStats(ct.volume, labels);
  const name = ct.stem;
  const notes = [...ct.notes];
  let dicomSeg: Uint8Array<ArrayBuffer> | null = null;
  if (ct.format === "dicom") {
    // a SEG holds one segment per organ found: with none there is nothing to write (the CLI refuses)
    if (organs.some((o) => o.voxels > 0)) {
      dicomSeg = new Uint8Array(encodeDicomSeg(labels, ct.info, { algorithmName: SEG_ALGORITHM }));
    } else {
      notes.push("no organ was found, so there is no DICOM Segmentation to download");
    }
  }
  const write = (performance.now() - t1) / 1000;
  const dicomSegName = dicomSeg ? `${name}.seg.dcm` : null;
  const report = segmentReport({
    input: ct.name,
    output: `${name}.seg.nii.gz`,
    ...(dicomSegName ? { dicomSeg: dicomSegName } : {}),
    adapter: e.adapter,
    precision: e.precision,
    model: MODEL,
    organs,
    warnings: [...fit, ...outputFitWarnings(organs)],
    seconds: {
      read,
      stage1: seconds.stage1,
      stage2: seconds.stage2,
      write,
      total: (performance.now() - t0) / 1000,
    },
  });
  post(
    {
      type: "done",
      ct: ct.viewerBytes.buffer,
      ctName: ct.viewerName,
      seg: seg.buffer,
      segName: `${name}.seg.nii.gz`,
      dicomSeg: dicomSeg?.buffer ?? null,
      dicomSegName,
      report,
      reportName: `${name}.seg.json`,
      notes,
      focusMm: organCentre(labels),
    },
    [ct.viewerBytes.buffer, seg.buffer, ...(dicomSeg ? [dicomSeg.buffer] : [])],
  );
}

/** The mean position of the organ voxels of a label map, in mm (world), or null without organs. */
function organCentre(labels: Volume<Uint8Array>): [number, number, number] | null {
  const [nx, ny] = labels.dims;
  let n = 0, si = 0, sj = 0, sk = 0;
  labels.data.forEach((l, v) => {
    if (l === 0) return;
    n++;
    si += v % nx;
    sj += Math.floor(v / nx) % ny;
    sk += Math.floor(v / (nx * ny));
  });
  if (n === 0) return null;
  const a = labels.affine, [i, j, k] = [si / n, sj / n, sk / n];
  return [0, 1, 2].map((r) => a[4 * r] * i + a[4 * r + 1] * j + a[4 * r + 2] * k + a[4 * r + 3]) as [
    number,
    number,
    number,
  ];
}

scope.onmessage = (e) => {
  if (e.data?.type !== "segment") return;
  if (busy) {
    post({
      type: "error",
      message: "A segmentation is already running: wait for it to finish",
      fatal: false,
    });
    return;
  }
  busy = true;
  segment(e.data.files)
    .catch((err) => post({ type: "error", message: oneLine(err), fatal: false }))
    .finally(() => busy = false);
};
