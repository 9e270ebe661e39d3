/** DICOM UIDs: new ones under the `2.25.` root (a UUID as one decimal integer, PS3.5 B.2). */

/** A new UID: `2.25.` followed by a random (version 4) UUID written as a decimal integer. */
export function generateUid(): string {
  const hex = crypto.randomUUID().replaceAll("-", "");
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

/** True for a syntactically valid UID: dot-separated numbers without leading zeros, at most 64 characters. */
export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(uid);
}
