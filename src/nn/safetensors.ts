/**
 * safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
 * shape and byte range (plus string metadata), then the raw little-endian data. PyTorch, JAX and
 * others read them directly.
 */

/** A named float32 array with its shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Contents of a safetensors file. */
export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** A safetensors file that cannot be read; the message names the file and the problem. */
export class WeightsError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "WeightsError";
  }
}

/** A tensor to write: float32 (`F32`) or bytes (`U8`). */
export interface EncodableTensor {
  shape: number[];
  data: Float32Array | Uint8Array;
}

/**
 * Serialises tensors and string metadata. F32 tensors come first, then U8, each group by name, so
 * every F32 tensor starts 4-byte aligned whatever the byte tensors' lengths.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, EncodableTensor>,
  metadata: Record<string, string> = {},
): Uint8Array<ArrayBuffer> {
  const isU8 = (name: string) => Number(tensors.get(name)!.data instanceof Uint8Array);
  const names = [...tensors.keys()].sort((a, b) => isU8(a) - isU8(b) || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.byteLength;
    const dtype = t.data instanceof Float32Array ? "F32" : "U8";
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  // pad the header's UTF-8 bytes (not its UTF-16 length: metadata may hold any path) to keep the data
  // 8-byte aligned
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20);
  head.set(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/** Parses a safetensors file (float32 tensors only), checking every offset against the file size. */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  if (bytes.length < 8) throw new WeightsError(file, "not a safetensors file (shorter than its header)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) {
    throw new WeightsError(file, "not a safetensors file (bad header length)");
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new WeightsError(file, "not a safetensors file (header is not JSON)");
  }
  const dataStart = 8 + n;
  const tensors = new Map<string, HostTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (e.dtype !== "F32") throw new WeightsError(file, `tensor ${name} has dtype ${e.dtype}, expected F32`);
    const [begin, end] = e.data_offsets ?? [NaN, NaN];
    const count = (e.shape ?? []).reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end >= begin && dataStart + end <= bytes.length) || end - begin !== count * 4) {
      throw new WeightsError(file, `tensor ${name} is truncated or its offsets are wrong`);
    }
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { shape: e.shape ?? [], data });
  }
  return { tensors, metadata };
}
