/** Label remaps by path: a `52:1,...` string or a JSON file (the Deno edge of src/volume/labels.ts). */
import { LabelRemapError } from "../volume/errors.ts";
import {
  isRemapFile,
  type LabelRemap,
  MAX_LABEL,
  parseLabelRemap,
  parseLabelRemapJson,
} from "../volume/labels.ts";
import { FileReadError, readTextFile } from "./fs.ts";

/**
 * A remap from either a `52:1,...` string or the path of a JSON file holding an object
 * `{"52": 1, ...}`. A spec is taken as a path when it ends in `.json` or contains no `:`.
 */
export async function loadLabelRemap(spec: string, maxLabel = MAX_LABEL): Promise<LabelRemap> {
  if (!isRemapFile(spec)) return parseLabelRemap(spec, maxLabel);
  let text: string;
  try {
    text = await readTextFile(spec);
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    throw new LabelRemapError(spec, e.problem, { cause: e });
  }
  return parseLabelRemapJson(text, spec, maxLabel);
}
