/** NIfTI datatype codes: the ones this engine reads and writes, and names for the ones it refuses. */

/** Names of the supported voxel datatypes. */
export type DatatypeName = "uint8" | "int8" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64";

/** How one supported datatype is stored. */
export interface DatatypeInfo {
  /** NIfTI datatype code. */
  code: number;
  /** Short name. */
  name: DatatypeName;
  /** Bytes per voxel. */
  bytes: number;
  /** True for the integer types. */
  integer: boolean;
  /** Reads one voxel. */
  get(view: DataView, offset: number, littleEndian: boolean): number;
  /** Writes one voxel. */
  set(view: DataView, offset: number, value: number, littleEndian: boolean): void;
}

/** The supported datatypes by NIfTI code. */
export const DATATYPES: ReadonlyMap<number, DatatypeInfo> = new Map<number, DatatypeInfo>([
  [2, {
    code: 2,
    name: "uint8",
    bytes: 1,
    integer: true,
    get: (v, o) => v.getUint8(o),
    set: (v, o, x) => v.setUint8(o, x),
  }],
  [256, {
    code: 256,
    name: "int8",
    bytes: 1,
    integer: true,
    get: (v, o) => v.getInt8(o),
    set: (v, o, x) => v.setInt8(o, x),
  }],
  [4, {
    code: 4,
    name: "int16",
    bytes: 2,
    integer: true,
    get: (v, o, le) => v.getInt16(o, le),
    set: (v, o, x, le) => v.setInt16(o, x, le),
  }],
  [512, {
    code: 512,
    name: "uint16",
    bytes: 2,
    integer: true,
    get: (v, o, le) => v.getUint16(o, le),
    set: (v, o, x, le) => v.setUint16(o, x, le),
  }],
  [8, {
    code: 8,
    name: "int32",
    bytes: 4,
    integer: true,
    get: (v, o, le) => v.getInt32(o, le),
    set: (v, o, x, le) => v.setInt32(o, x, le),
  }],
  [768, {
    code: 768,
    name: "uint32",
    bytes: 4,
    integer: true,
    get: (v, o, le) => v.getUint32(o, le),
    set: (v, o, x, le) => v.setUint32(o, x, le),
  }],
  [16, {
    code: 16,
    name: "float32",
    bytes: 4,
    integer: false,
    get: (v, o, le) => v.getFloat32(o, le),
    set: (v, o, x, le) => v.setFloat32(o, x, le),
  }],
  [64, {
    code: 64,
    name: "float64",
    bytes: 8,
    integer: false,
    get: (v, o, le) => v.getFloat64(o, le),
    set: (v, o, x, le) => v.setFloat64(o, x, le),
  }],
]);

/** Names of known but unsupported codes, for error messages. */
const UNSUPPORTED: ReadonlyMap<number, string> = new Map([
  [0, "unknown"],
  [1, "binary (1 bit)"],
  [32, "complex64"],
  [128, "rgb24"],
  [1024, "int64"],
  [1280, "uint64"],
  [1536, "float128"],
  [1792, "complex128"],
  [2048, "complex256"],
  [2304, "rgba32"],
]);

/** The supported datatype with this code, or undefined. */
export function datatypeByCode(code: number): DatatypeInfo | undefined {
  return DATATYPES.get(code);
}

/** The supported datatype with this name (always defined: names are a closed set). */
export function datatypeByName(name: DatatypeName): DatatypeInfo {
  for (const dt of DATATYPES.values()) if (dt.name === name) return dt;
  throw new RangeError(`unknown datatype ${name}`);
}

/** A datatype code described for a message, e.g. `128 (rgb24)`. */
export function describeDatatypeCode(code: number): string {
  const name = DATATYPES.get(code)?.name ?? UNSUPPORTED.get(code);
  return name === undefined ? `${code}` : `${code} (${name})`;
}
