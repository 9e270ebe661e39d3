/** The DICOM transfer syntaxes this reader knows, by UID: how the dataset and the pixels are encoded. */

/** How a transfer syntax stores pixel data. */
export type PixelEncoding =
  | "native"
  | "deflated"
  | "rle"
  | "jpeg-lossless"
  | "jpeg-ls"
  | "jpeg2000"
  | "unsupported";

/** What a transfer syntax means for the reader. */
export interface TransferSyntax {
  uid: string;
  name: string;
  /** Dataset encoding: explicit VR (true) or implicit VR (false). */
  explicitVr: boolean;
  littleEndian: boolean;
  pixels: PixelEncoding;
}

const TABLE: TransferSyntax[] = [
  {
    uid: "1.2.840.10008.1.2",
    name: "Implicit VR Little Endian",
    explicitVr: false,
    littleEndian: true,
    pixels: "native",
  },
  {
    uid: "1.2.840.10008.1.2.1",
    name: "Explicit VR Little Endian",
    explicitVr: true,
    littleEndian: true,
    pixels: "native",
  },
  {
    uid: "1.2.840.10008.1.2.1.99",
    name: "Deflated Explicit VR Little Endian",
    explicitVr: true,
    littleEndian: true,
    pixels: "deflated",
  },
  {
    uid: "1.2.840.10008.1.2.2",
    name: "Explicit VR Big Endian",
    explicitVr: true,
    littleEndian: false,
    pixels: "native",
  },
  { uid: "1.2.840.10008.1.2.5", name: "RLE Lossless", explicitVr: true, littleEndian: true, pixels: "rle" },
  {
    uid: "1.2.840.10008.1.2.4.57",
    name: "JPEG Lossless (process 14)",
    explicitVr: true,
    littleEndian: true,
    pixels: "jpeg-lossless",
  },
  {
    uid: "1.2.840.10008.1.2.4.70",
    name: "JPEG Lossless (process 14, selection value 1)",
    explicitVr: true,
    littleEndian: true,
    pixels: "jpeg-lossless",
  },
  {
    uid: "1.2.840.10008.1.2.4.80",
    name: "JPEG-LS Lossless",
    explicitVr: true,
    littleEndian: true,
    pixels: "jpeg-ls",
  },
  {
    uid: "1.2.840.10008.1.2.4.81",
    name: "JPEG-LS Near-Lossless",
    explicitVr: true,
    littleEndian: true,
    pixels: "jpeg-ls",
  },
  {
    uid: "1.2.840.10008.1.2.4.90",
    name: "JPEG 2000 Lossless",
    explicitVr: true,
    littleEndian: true,
    pixels: "jpeg2000",
  },
  {
    uid: "1.2.840.10008.1.2.4.91",
    name: "JPEG 2000",
    explicitVr: true,
    littleEndian: true,
    pixels: "jpeg2000",
  },
  {
    uid: "1.2.840.10008.1.2.4.50",
    name: "JPEG Baseline (lossy 8-bit)",
    explicitVr: true,
    littleEndian: true,
    pixels: "unsupported",
  },
  {
    uid: "1.2.840.10008.1.2.4.51",
    name: "JPEG Extended (lossy 12-bit)",
    explicitVr: true,
    littleEndian: true,
    pixels: "unsupported",
  },
  {
    uid: "1.2.840.10008.1.2.4.100",
    name: "MPEG2",
    explicitVr: true,
    littleEndian: true,
    pixels: "unsupported",
  },
  {
    uid: "1.2.840.10008.1.2.4.201",
    name: "HTJ2K Lossless",
    explicitVr: true,
    littleEndian: true,
    pixels: "unsupported",
  },
  {
    uid: "1.2.840.10008.1.2.4.202",
    name: "HTJ2K Lossless RPCL",
    explicitVr: true,
    littleEndian: true,
    pixels: "unsupported",
  },
  {
    uid: "1.2.840.10008.1.2.4.203",
    name: "HTJ2K",
    explicitVr: true,
    littleEndian: true,
    pixels: "unsupported",
  },
];

const BY_UID = new Map(TABLE.map((t) => [t.uid, t]));

/** Implicit VR Little Endian, the default when a file states no transfer syntax. */
export const IMPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2";
/** Explicit VR Little Endian, what the SEG writer uses. */
export const EXPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";
/** Deflated Explicit VR Little Endian. */
export const DEFLATED_EXPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99";

/** The transfer syntax of a UID; unknown UIDs come back as "unsupported" with the UID as the name. */
export function transferSyntax(uid: string): TransferSyntax {
  return BY_UID.get(uid) ??
    {
      uid,
      name: `unknown transfer syntax ${uid}`,
      explicitVr: true,
      littleEndian: true,
      pixels: "unsupported",
    };
}

/** "NAME (UID)", for messages. */
export function describeTransferSyntax(uid: string): string {
  const t = BY_UID.get(uid);
  return t ? `${t.name} (${uid})` : `unknown transfer syntax ${uid}`;
}
