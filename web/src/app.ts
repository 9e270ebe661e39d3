/**
 * The page: a CT from the file picker or a drop (a NIfTI file, or a DICOM series: its files picked
 * together, or its folder dropped) goes to the segmentation worker; its progress, the adapter and one
 * line of status show as it runs; the result opens in the viewer, with the organ legend, the table
 * of volumes and the downloads (the DICOM Segmentation too, for a DICOM series). `document.body.dataset.state` is idle, running,
 * done or error, and `#status` says why in one line (the contract the tests rely on).
 */
// the page's own script takes only names and colours: the engine (and its codecs) is the worker's
import { LABEL_NAMES } from "../../src/volume/labels.ts";
import { ORGAN_COLORS } from "../../src/report/preview.ts";
import type { OrganStats } from "../../src/engine.ts";
import type { DoneMessage, FromWorker } from "./protocol.ts";
import { droppedFiles } from "./dropped.ts";
import type { ChosenFile } from "./read_ct.ts";
import { Viewer } from "./viewer.ts";

type State = "idle" | "running" | "done" | "error";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const input = $<HTMLInputElement>("file");
const status = $("status");
const adapter = $("adapter");
const downloads = $("downloads");
const seg = $<HTMLAnchorElement>("download-seg");
const report = $<HTMLAnchorElement>("download-report");
const dicomSeg = $<HTMLAnchorElement>("download-dicom-seg");

let viewer: Viewer | null = null;
const urls: string[] = [];
/** Set when the worker can never segment (no WebGPU, no model): every later try says so at once. */
let fatal: string | null = null;
let ready = false;

function setState(state: State, message: string): void {
  document.body.dataset.state = state;
  status.textContent = message;
  input.disabled = state === "running";
}

function setProgress(step: "compile" | 1 | 2, done: number, total: number): void {
  const id = step === "compile" ? "compile" : `stage${step}`;
  const bar = $<HTMLProgressElement>(`progress-${id}`);
  bar.max = Math.max(1, total);
  bar.value = done;
  $(`progress-${id}-text`).textContent = `${done} / ${total}${step === "compile" ? " kernels" : " tiles"}`;
}

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  const running = document.body.dataset.state === "running";
  switch (m.type) {
    case "adapter":
      adapter.textContent = `WebGPU adapter: ${m.name}${m.software ? " (software: slow)" : ""}; ` +
        `convolutions in ${m.precision}`;
      break;
    case "status":
      if (running || !ready) status.textContent = m.text;
      break;
    case "progress":
      setProgress(m.step, m.done, m.total);
      break;
    case "ready":
      ready = true;
      // a result or an error already on show stays there
      if (document.body.dataset.state === "idle") {
        setState(
          "idle",
          `Ready: open or drop a CT (${m.pipelines} kernels compiled in ${m.compileSeconds.toFixed(1)} s)`,
        );
      }
      break;
    case "done":
      showResult(m).catch((err) =>
        setState("error", `The viewer failed: ${err instanceof Error ? err.message : err}`)
      );
      break;
    case "error":
      if (m.fatal) {
        fatal = m.message;
        adapter.textContent = "WebGPU: not available";
      }
      setState("error", m.message);
      break;
  }
};
worker.onerror = (e) => {
  e.preventDefault();
  fatal = `The segmentation worker failed to start: ${e.message || "unknown error"}`;
  setState("error", fatal);
};

/** Sends the chosen files to the worker (refused while one CT is running). */
function open(files: ChosenFile[]): void {
  if (document.body.dataset.state === "running" || files.length === 0) return;
  if (fatal) {
    setState("error", fatal);
    return;
  }
  for (const step of [1, 2] as const) setProgress(step, 0, 0);
  setState("running", `Reading ${files.length === 1 ? files[0].path : `${files.length} files`}...`);
  worker.postMessage({ type: "segment", files });
}

input.addEventListener("change", () => {
  open([...input.files ?? []].map((file) => ({ file, path: file.webkitRelativePath || file.name })));
  input.value = "";
});
document.addEventListener("dragover", (e) => {
  e.preventDefault();
  document.body.classList.add("dragging");
});
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (e) => {
  e.preventDefault();
  document.body.classList.remove("dragging");
  if (document.body.dataset.state === "running") return;
  // a dropped folder is walked here (its entries cannot go to the worker); its files then go
  droppedFiles(e.dataTransfer).then(
    (files) => {
      if (files.length > 0) open(files);
      else setState("error", "Nothing to read: what was dropped holds no file");
    },
    (err) => setState("error", err instanceof Error ? err.message : String(err)),
  );
});

/** A download link for bytes, named `name`. */
function link(a: HTMLAnchorElement, data: BlobPart, type: string, name: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  urls.push(url);
  a.href = url;
  a.download = name;
}

async function showResult(m: DoneMessage): Promise<void> {
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  link(seg, m.seg, "application/gzip", m.segName);
  link(report, JSON.stringify(m.report, null, 2) + "\n", "application/json", m.reportName);
  if (m.dicomSeg && m.dicomSegName) link(dicomSeg, m.dicomSeg, "application/dicom", m.dicomSegName);
  dicomSeg.hidden = !m.dicomSeg;
  downloads.hidden = false;
  $("notes").replaceChildren(
    ...m.notes.map((n) => Object.assign(document.createElement("li"), { textContent: n })),
  );
  organTable(m.report.organs);
  const warnings = $("warnings");
  warnings.replaceChildren(
    ...m.report.warnings.map((w) => Object.assign(document.createElement("li"), { textContent: w })),
  );
  viewer ??= new Viewer($<HTMLCanvasElement>("viewer"));
  $("viewer-empty").hidden = true;
  await viewer.show(m.ct, m.ctName, m.seg.slice(0), m.segName, m.focusMm);
  const s = m.report.seconds;
  const found = m.report.organs.filter((o) => o.voxels > 0).length;
  setState(
    "done",
    `Done: ${found} of ${m.report.organs.length} organs found in ${m.report.input} in ${
      s.total.toFixed(1)
    } s ` +
      `(stage 1 ${s.stage1.toFixed(1)} s, stage 2 ${s.stage2.toFixed(1)} s); nothing left this computer`,
  );
}

function organTable(organs: OrganStats[]): void {
  const rows = organs.map((o) => {
    const tr = document.createElement("tr");
    const cells = [
      o.name,
      o.ml.toFixed(1),
      o.hu_mean === null ? "-" : o.hu_mean.toFixed(0),
      o.touches_edge && o.voxels > 0 ? "cut" : "",
    ];
    for (const c of cells) tr.append(Object.assign(document.createElement("td"), { textContent: c }));
    tr.lastElementChild!.className = "cut";
    return tr;
  });
  $("organs").querySelector("tbody")!.replaceChildren(...rows);
  $("cut-note").hidden = !organs.some((o) => o.touches_edge && o.voxels > 0);
}

/** The legend: one toggle per organ, in its colour. */
function legend(): void {
  const items = LABEL_NAMES.slice(1).map((name, k) => {
    const label = k + 1;
    const li = document.createElement("li");
    const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: true });
    box.dataset.label = String(label);
    box.addEventListener("change", () => viewer?.setVisible(label, box.checked));
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `rgb(${ORGAN_COLORS[label].join(",")})`;
    const text = document.createElement("label");
    text.append(box, swatch, `${label} ${name}`);
    li.append(text);
    return li;
  });
  $("legend").replaceChildren(...items);
}

legend();
setState("idle", "Loading the model and compiling the kernels...");
