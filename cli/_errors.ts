/**
 * The shared CLI wrapper: runs a command's main function and turns any error into one line on
 * stderr (`error: <message>`) and exit code 1, without a stack trace unless DEBUG=1.
 */

import { LabelRemapError, VolumeError } from "../src/volume/errors.ts";
import { GpuError, ShapeError } from "../src/gpu/errors.ts";
import { WeightsError } from "../src/nn/safetensors.ts";
import { FileWriteError } from "../src/io/atomic.ts";

/** A bad command line (unknown option, missing argument); its message is shown as is. */
export class UsageError extends Error {
  /** The message should say what is wrong and point at --help. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A class of errors whose messages are meant for users (one line, no stack needed). */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

/** Errors every CLI knows: input problems, usage mistakes, GPU and model-file problems. */
const KNOWN: ErrorClass[] = [
  VolumeError,
  LabelRemapError,
  UsageError,
  GpuError,
  ShapeError,
  WeightsError,
  FileWriteError,
];

/** True when DEBUG is set to something other than "" or "0" (false without env permission). */
function debugEnabled(): boolean {
  try {
    const v = Deno.env.get("DEBUG");
    return v !== undefined && v !== "" && v !== "0";
  } catch {
    return false;
  }
}

/** The one-line message printed for an error. */
export function errorLine(e: unknown, known: ErrorClass[] = []): string {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ").trim();
  if (e instanceof Error) {
    // parseArgs reports bad options as TypeErrors with an ERR_PARSE_ARGS_* code.
    const parseArgs = String((e as { code?: unknown }).code ?? "").startsWith("ERR_PARSE_ARGS");
    if (parseArgs) return `${oneLine(e.message).split(". ")[0]} (see --help)`;
    if ([...KNOWN, ...known].some((k) => e instanceof k) || e instanceof Deno.errors.NotCapable) {
      return oneLine(e.message);
    }
    return `${oneLine(`${e.name}: ${e.message}`)} (unexpected; rerun with DEBUG=1 for the stack trace)`;
  }
  return `${oneLine(String(e))} (unexpected; rerun with DEBUG=1 for the stack trace)`;
}

/**
 * Runs `main`; on error prints `error: <one line>` to stderr and exits with code 1. `known` adds
 * error classes (e.g. GPU errors) whose messages are shown without the "unexpected" hint. A number
 * that `main` returns is the exit code (e.g. 130 after an interruption).
 */
export async function runCli(
  main: () => Promise<void | number>,
  known: ErrorClass[] = [],
): Promise<void> {
  try {
    const code = await main();
    if (typeof code === "number" && code !== 0) Deno.exit(code);
  } catch (e) {
    console.error(`error: ${errorLine(e, known)}`);
    if (debugEnabled() && e instanceof Error && e.stack) console.error(e.stack);
    Deno.exit(1);
  }
}
