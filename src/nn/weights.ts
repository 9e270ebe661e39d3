/**
 * Saving and loading a U-Net as safetensors, with its configuration (and any caller metadata) in the
 * header. Loading checks every tensor's name and shape against the configuration before touching
 * the GPU, so a corrupt or mismatched file is refused by name and never loaded half.
 */
import { decodeSafetensors, encodeSafetensors, type HostTensor, WeightsError } from "./safetensors.ts";
import { UNet3D, type UNetConfig, validateConfig } from "./unet3d.ts";
import { gpu } from "../gpu/runtime.ts";

/** Host copies of a model's parameters and buffers, by name. */
export async function modelTensors(model: UNet3D): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of [...model.params, ...model.buffers]) {
    out.set(name, { shape: [...t.shape], data: await t.read() });
  }
  return out;
}

/** The model as safetensors bytes; `metadata` values are stored as strings next to `config`. */
export async function encodeModel(
  model: UNet3D,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  return encodeSafetensors(await modelTensors(model), { ...metadata, config: JSON.stringify(model.config) });
}

/**
 * Decodes a model file's bytes (`path` names it in messages): the network with its weights, and the
 * file's metadata.
 */
export function decodeModel(
  bytes: Uint8Array,
  path: string,
): { model: UNet3D; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  let config: UNetConfig;
  try {
    config = JSON.parse(metadata.config);
    validateConfig(config);
  } catch (e) {
    throw new WeightsError(
      path,
      `no valid U-Net configuration in the file's metadata (${(e as Error).message})`,
    );
  }
  const model = new UNet3D(config);
  try {
    loadInto(model, tensors, path);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, metadata };
}

/** Copies host tensors into a model after checking that names and shapes match exactly. */
export function loadInto(model: UNet3D, tensors: Map<string, HostTensor>, file: string): void {
  const targets = new Map([...model.params, ...model.buffers]);
  for (const [name, t] of targets) {
    const src = tensors.get(name);
    if (!src) throw new WeightsError(file, `tensor ${name} is missing`);
    if (src.shape.join("x") !== t.shape.join("x")) {
      throw new WeightsError(file, `tensor ${name} has shape [${src.shape}], the model needs [${t.shape}]`);
    }
  }
  for (const name of tensors.keys()) {
    if (!targets.has(name)) throw new WeightsError(file, `unexpected tensor ${name}`);
  }
  for (const [name, t] of targets) gpu().write(t.buffer, tensors.get(name)!.data);
}
