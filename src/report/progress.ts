/**
 * A progress indicator for long loops (training epochs, inference tiles, benchmarks). On a terminal
 * it is a bar redrawn in place; elsewhere (CI logs, pipes) it is silent unless plain lines are asked
 * for, so logs do not fill with carriage-return frames.
 */

/**
 * Where progress goes: anything with a synchronous write, e.g. src/io/terminal.ts's standard error
 * (a web page supplies its own).
 */
export interface ProgressWriter {
  writeSync(p: Uint8Array): number;
  isTerminal?(): boolean;
  /** The terminal's width in characters, when it is one. */
  columns?(): number;
}

/**
 * How progress is shown: `bar` redraws one line in place; `lines` prints a plain line at each 10% step
 * and at least every 30 s; `off` prints nothing; `auto` (default) is `bar` when the writer is a
 * terminal and `lines` otherwise (logs of long runs still show how far they got).
 */
export type ProgressMode = "auto" | "bar" | "lines" | "off";

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Where the bar or lines go. */
  writer: ProgressWriter;
  mode?: ProgressMode;
  /** Name of one step in the rate, default "it" (it/s, s/it). */
  unit?: string;
  /** Line width for the bar; default the terminal's width, else 80. */
  columns?: number;
  /** Clock in milliseconds (tests inject one); default performance.now. */
  now?: () => number;
  /** Least time between bar redraws in ms (default 100, ~10 redraws/s). */
  redrawMs?: number;
  /** Longest time between plain lines in ms while progress continues (default 30000). */
  lineMs?: number;
}

/** Seconds as m:ss, or h:mm:ss from an hour on; "?" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}

const encoder = new TextEncoder();

function writeAll(w: ProgressWriter, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(w.writeSync(bytes));
}

/**
 * Progress of `total` steps (0 or less: unknown total, no percentage or ETA). Call `tick` after each
 * step (optionally with extra text such as the current loss) and `done` at the end.
 */
export class Progress {
  readonly label: string;
  readonly total: number;
  #count = 0;
  #extra = "";
  #mode: "bar" | "lines" | "off";
  #writer: ProgressWriter;
  #unit: string;
  #columns: number;
  #now: () => number;
  #redrawMs: number;
  #lineMs: number;
  #start: number;
  #lastDraw = -Infinity;
  #lastLine: number;
  #lastDecile = 0;
  #finished = false;

  constructor(label: string, total: number, opts: ProgressOptions) {
    this.label = label;
    this.total = total > 0 && Number.isFinite(total) ? total : 0;
    this.#writer = opts.writer;
    const tty = this.#writer.isTerminal?.() ?? false;
    const mode = opts.mode ?? "auto";
    this.#mode = mode === "auto" ? (tty ? "bar" : "lines") : mode;
    this.#unit = opts.unit ?? "it";
    this.#columns = opts.columns ?? (tty ? this.#writer.columns?.() || 80 : 80);
    this.#now = opts.now ?? (() => performance.now());
    this.#redrawMs = opts.redrawMs ?? 100;
    this.#lineMs = opts.lineMs ?? 30000;
    this.#start = this.#now();
    this.#lastLine = this.#start;
    if (this.#mode === "bar") this.#draw(this.#start);
  }

  /** Steps completed so far. */
  get count(): number {
    return this.#count;
  }

  /** Records `n` more completed steps; `extra` (if given) replaces the trailing text. */
  tick(n = 1, extra?: string): void {
    this.#count += n;
    if (extra !== undefined) this.#extra = extra;
    if (this.#finished || this.#mode === "off") return;
    const now = this.#now();
    if (this.#mode === "bar") {
      if (now - this.#lastDraw >= this.#redrawMs) this.#draw(now);
      return;
    }
    const decile = this.total > 0 ? Math.floor((10 * Math.min(this.#count, this.total)) / this.total) : 0;
    if (decile > this.#lastDecile || now - this.#lastLine >= this.#lineMs) {
      this.#lastDecile = Math.max(decile, this.#lastDecile);
      this.#lastLine = now;
      if (this.total > 0 && this.#count >= this.total) return; // done() prints the final line
      writeAll(this.#writer, this.#line(now) + "\n");
    }
  }

  /** Finishes: the final state is drawn (and the bar's line ended); later calls do nothing. */
  done(extra?: string): void {
    if (this.#finished) return;
    if (extra !== undefined) this.#extra = extra;
    this.#finished = true;
    const now = this.#now();
    if (this.#mode === "bar") {
      this.#draw(now);
      writeAll(this.#writer, "\n");
    } else if (this.#mode === "lines") {
      writeAll(this.#writer, this.#line(now) + "\n");
    }
  }

  #stats(now: number) {
    const elapsed = (now - this.#start) / 1000;
    // a rate from under a tenth of a second (a step that was cached or trivial) would read as
    // thousands per second and mean nothing
    const rate = elapsed >= 0.1 ? this.#count / elapsed : NaN;
    let rateText = "?";
    if (rate > 0 && Number.isFinite(rate)) {
      rateText = rate >= 1
        ? `${rate.toFixed(rate < 100 ? 2 : 0)} ${this.#unit}/s`
        : `${(1 / rate).toFixed(2)} s/${this.#unit}`;
    }
    const eta = this.total > 0 && rate > 0 ? Math.max(0, this.total - this.#count) / rate : NaN;
    const pct = this.total > 0 ? Math.floor((100 * Math.min(this.#count, this.total)) / this.total) : NaN;
    return { elapsed, rateText, eta, pct };
  }

  /** A plain log line: `label: 45/100 (45%), 3.75 it/s, elapsed 0:12, ETA 0:15, extra`. */
  #line(now: number): string {
    const { elapsed, rateText, eta, pct } = this.#stats(now);
    const parts = [this.total > 0 ? `${this.#count}/${this.total} (${pct}%)` : `${this.#count}`];
    if (rateText !== "?") parts.push(rateText);
    parts.push(`elapsed ${formatDuration(elapsed)}`);
    if (this.total > 0 && !this.#finished) parts.push(`ETA ${formatDuration(eta)}`);
    if (this.#extra) parts.push(this.#extra);
    return `${this.label}: ${this.#finished ? "done " : ""}${parts.join(", ")}`;
  }

  /** Redraws the bar line in place: `label  45% |####----| 45/100 [0:12<0:15, 3.75 it/s] extra`. */
  #draw(now: number): void {
    this.#lastDraw = now;
    const { elapsed, rateText, eta, pct } = this.#stats(now);
    const counts = this.total > 0 ? `${this.#count}/${this.total}` : `${this.#count}`;
    const times = this.total > 0
      ? `[${formatDuration(elapsed)}<${formatDuration(eta)}, ${rateText}]`
      : `[${formatDuration(elapsed)}, ${rateText}]`;
    const head = this.total > 0 ? `${this.label} ${String(pct).padStart(3)}% ` : `${this.label} `;
    const tail = ` ${counts} ${times}${this.#extra ? " " + this.#extra : ""}`;
    let bar = "";
    if (this.total > 0) {
      const room = this.#columns - 1 - head.length - tail.length - 2;
      const width = Math.max(10, Math.min(40, room));
      const filled = Math.round((width * Math.min(this.#count, this.total)) / this.total);
      bar = `|${"#".repeat(filled)}${"-".repeat(width - filled)}|`;
    }
    // Never wider than the terminal: a wrapped line would defeat the carriage return.
    const line = [...(head + bar + tail)].slice(0, Math.max(1, this.#columns - 1)).join("");
    writeAll(this.#writer, `\r${line}\x1b[K`);
  }
}
