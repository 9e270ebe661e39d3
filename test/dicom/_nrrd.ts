/** A tiny NRRD reader for the tests: attached data, raw or gzip, little-endian integer types. */

/** What the tests need of an NRRD file. */
export interface Nrrd {
  sizes: number[];
  /** Header fields by name (e.g. "space origin"). */
  fields: Record<string, string>;
  /** The samples, first axis fastest. */
  data: Int32Array;
}

const TYPES: Record<string, [number, (v: DataView, o: number) => number]> = {
  "short": [2, (v, o) => v.getInt16(o, true)],
  "int16": [2, (v, o) => v.getInt16(o, true)],
  "ushort": [2, (v, o) => v.getUint16(o, true)],
  "unsigned short": [2, (v, o) => v.getUint16(o, true)],
  "uchar": [1, (v, o) => v.getUint8(o)],
  "unsigned char": [1, (v, o) => v.getUint8(o)],
  "int": [4, (v, o) => v.getInt32(o, true)],
};

/** Parses an NRRD file (header, blank line, data). */
export async function readNrrd(bytes: Uint8Array): Promise<Nrrd> {
  let end = -1;
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0x0a && bytes[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error("NRRD: no end of header");
  const header = new TextDecoder().decode(bytes.subarray(0, end));
  if (!header.startsWith("NRRD")) throw new Error("NRRD: no magic");
  const fields: Record<string, string> = {};
  for (const line of header.split("\n").slice(1)) {
    if (line.startsWith("#") || !line.includes(":")) continue;
    const at = line.indexOf(":");
    fields[line.slice(0, at).trim()] = line.slice(at + 1).replace(/^=/, "").trim();
  }
  const sizes = fields.sizes.split(/\s+/).map(Number);
  const type = TYPES[fields.type];
  if (!type) throw new Error(`NRRD: type ${fields.type} not handled`);
  if (fields.endian && fields.endian !== "little") throw new Error("NRRD: big endian not handled");
  let raw = bytes.subarray(end + 2);
  if (fields.encoding === "gzip" || fields.encoding === "gz") {
    const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    raw = new Uint8Array(await new Response(stream).arrayBuffer());
  } else if (fields.encoding !== "raw") throw new Error(`NRRD: encoding ${fields.encoding} not handled`);
  const n = sizes.reduce((a, b) => a * b, 1);
  const [size, get] = type;
  if (raw.length < n * size) throw new Error("NRRD: data truncated");
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = get(view, i * size);
  return { sizes, fields, data };
}
