/**
 * The viewer: niivue (WebGL2) with the CT in grey and the organs as a label overlay, in axial,
 * coronal and sagittal slices plus a 3D rendering of the organs; each organ can be hidden.
 */
import { MULTIPLANAR_TYPE, Niivue, NVImage, SHOW_RENDER } from "@niivue/niivue";
import { LABEL_NAMES } from "../../src/volume/labels.ts";
import { ORGAN_COLORS } from "../../src/report/preview.ts";

/** Abdominal soft-tissue window, the CLI preview's. */
const WINDOW: [number, number] = [-160, 240];
/** Opacity of the organs over the CT in the slices. */
const LABEL_OPACITY = 0.6;

/** The niivue instance on `canvas`, with the CT and label map of one segmentation. */
export class Viewer {
  #nv: Niivue;
  #hidden = new Set<number>();
  #labels: NVImage | null = null;
  #ready: Promise<unknown>;

  constructor(canvas: HTMLCanvasElement) {
    this.#nv = new Niivue({
      backColor: [0, 0, 0, 1],
      show3Dcrosshair: false,
      isColorbar: false,
      dragAndDropEnabled: false,
      multiplanarShowRender: SHOW_RENDER.ALWAYS,
      multiplanarLayout: MULTIPLANAR_TYPE.GRID,
      crosshairColor: [0.2, 0.8, 1, 0.6],
      logLevel: "error",
    });
    this.#ready = this.#nv.attachToCanvas(canvas);
  }

  /**
   * Shows a CT (a NIfTI file's bytes) and its label map (a .nii.gz's bytes), the crosshair at `focusMm`
   * (world coordinates) when given.
   */
  async show(
    ct: ArrayBuffer,
    ctName: string,
    labels: ArrayBuffer,
    labelsName: string,
    focusMm: [number, number, number] | null,
  ): Promise<void> {
    await this.#ready;
    const nv = this.#nv;
    for (const v of [...nv.volumes]) nv.removeVolume(v);
    const image = await NVImage.loadFromUrl({
      url: ct,
      name: ctName,
      colormap: "gray",
      cal_min: WINDOW[0],
      cal_max: WINDOW[1],
      trustCalMinMax: false,
    });
    image.cal_min = WINDOW[0];
    image.cal_max = WINDOW[1];
    const seg = await NVImage.loadFromUrl({ url: labels, name: labelsName, opacity: LABEL_OPACITY });
    this.#labels = seg;
    seg.setColormapLabel(this.#colormap());
    nv.addVolume(image);
    nv.addVolume(seg);
    nv.setSliceType(nv.sliceTypeMultiplanar);
    if (focusMm) nv.scene.crosshairPos = nv.mm2frac(focusMm);
    nv.updateGLVolume();
  }

  /** Shows or hides organ `label`. */
  setVisible(label: number, visible: boolean): void {
    if (visible) this.#hidden.delete(label);
    else this.#hidden.add(label);
    if (!this.#labels) return;
    this.#labels.setColormapLabel(this.#colormap());
    this.#nv.updateGLVolume();
  }

  #colormap() {
    const n = LABEL_NAMES.length;
    const I = [...Array(n).keys()];
    return {
      R: I.map((i) => ORGAN_COLORS[i][0]),
      G: I.map((i) => ORGAN_COLORS[i][1]),
      B: I.map((i) => ORGAN_COLORS[i][2]),
      A: I.map((i) => (i === 0 || this.#hidden.has(i) ? 0 : 255)),
      I,
      labels: [...LABEL_NAMES],
    };
  }
}
