/** The training log (JSON lines) and the picture of its curves: loss, and Dice per organ. */
import type { LabelDice } from "./dice.ts";
import { lineChart } from "../report/chart.ts";
import { blit, createImage } from "../report/canvas.ts";
import { encodeImage } from "../report/png.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { readTextIfExists } from "../io/fs.ts";
import { labelName } from "../volume/labels.ts";

/** One line of the log: an iteration's loss, or a validation's Dice. */
export interface MetricRecord {
  stage: number;
  iteration: number;
  loss?: number;
  lr?: number;
  seconds?: number;
  dice?: LabelDice[];
  meanDice?: number;
}

/** Reads a JSON-lines log; a missing file is an empty log. */
export async function readMetrics(path: string): Promise<MetricRecord[]> {
  const text = await readTextIfExists(path);
  if (text === null) return [];
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** Mean of each run of `window` consecutive points (keeps the loss curve readable). */
function smooth(points: [number, number][], window: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += window) {
    const part = points.slice(i, i + window);
    out.push([part.at(-1)![0], part.reduce((s, p) => s + p[1], 0) / part.length]);
  }
  return out;
}

/** Draws the loss (log scale) above the validation Dice per organ, as one PNG. */
export async function writeCurves(path: string, history: MetricRecord[], stage: number): Promise<void> {
  const losses = history.filter((r) => r.loss !== undefined).map((r) =>
    [r.iteration, r.loss!] as [number, number]
  );
  const vals = history.filter((r) => r.dice);
  const width = 900, height = 420;
  const loss = lineChart({
    title: `Stage ${stage}: training loss`,
    series: [{ name: "loss", points: smooth(losses, Math.max(1, Math.floor(losses.length / 300))) }],
    xLabel: "iteration",
    yLabel: "loss",
    logY: true,
    width,
    height,
  });
  const labels = vals[0]?.dice?.map((d) => d.label) ?? [];
  const dice = lineChart({
    title: `Stage ${stage}: validation Dice`,
    series: [
      ...labels.map((label) => ({
        name: labelName(label),
        points: vals.map((r) =>
          [r.iteration, r.dice!.find((d) => d.label === label)?.dice ?? NaN] as [number, number]
        ),
      })),
      { name: "mean", points: vals.map((r) => [r.iteration, r.meanDice ?? NaN] as [number, number]) },
    ],
    xLabel: "iteration",
    yLabel: "Dice",
    yRange: [0, 1],
    markers: true,
    width,
    height,
  });
  const img = createImage(width, 2 * height);
  blit(img, loss, 0, 0);
  blit(img, dice, 0, height);
  await writeFileAtomic(path, await encodeImage(img));
}
