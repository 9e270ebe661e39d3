/** Typed errors for volume input/output; only cli/ turns them into one-line messages. */

/** What kind of problem a {@link VolumeError} reports, for callers and tests that branch on it. */
export type VolumeErrorCode =
  | "not-found"
  | "read"
  | "gzip"
  | "truncated"
  | "header"
  | "dims"
  | "too-large"
  | "datatype"
  | "non-finite"
  | "grid"
  | "labels"
  | "dataset"
  | "dicom"
  | "write";

/** A problem with one input or output file. The message is one line: `<file>: <problem>`. */
export class VolumeError extends Error {
  /** The file (or folder) the problem is about. */
  readonly file: string;
  /** The kind of problem. */
  readonly code: VolumeErrorCode;
  /** The problem alone, without the file name. */
  readonly problem: string;

  /** `problem` should be one line without the file name; it is prefixed here. */
  constructor(file: string, code: VolumeErrorCode, problem: string, options?: ErrorOptions) {
    super(`${file}: ${problem}`, options);
    this.name = "VolumeError";
    this.file = file;
    this.code = code;
    this.problem = problem;
  }
}

/** A label remapping specification (`52:1,64:2` or a JSON file) that cannot be used. */
export class LabelRemapError extends Error {
  /** The specification as given (a string or a JSON file path). */
  readonly spec: string;

  /** The message is one line naming the specification. */
  constructor(spec: string, problem: string, options?: ErrorOptions) {
    super(`label remap ${JSON.stringify(spec)}: ${problem}`, options);
    this.name = "LabelRemapError";
    this.spec = spec;
  }
}
