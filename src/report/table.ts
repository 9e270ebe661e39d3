/** Plain-text tables for terminal output (organ volumes, benchmark results). */

/** Column alignment. */
export type Align = "left" | "right";

/** A table cell: numbers are shown with up to 6 significant digits; null/undefined are empty. */
export type Cell = string | number | null | undefined;

// A number, optionally with thousands separators and a short unit or percent sign: "12", "-3.5e-4",
// "1,234", "12.5 ms", "97%".
const NUMERIC =
  /^[-+]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?( ?(%|[a-zA-Zµ/]{1,6}))?$|^[-+]?(NaN|Infinity)$/;

function cellText(c: Cell): string {
  if (c === null || c === undefined) return "";
  if (typeof c === "number") return Number.isInteger(c) ? String(c) : String(parseFloat(c.toPrecision(6)));
  return c;
}

function isNumeric(c: Cell): boolean {
  return typeof c === "number" || (typeof c === "string" && NUMERIC.test(c.trim()));
}

/** Display width in characters (code points, so "µ" and "±" count once). */
function width(s: string): number {
  return [...s].length;
}

/**
 * Formats rows under a header line and a dashed rule, columns separated by two spaces. Columns whose
 * non-empty cells are all numbers (or numeric strings such as "1,234", "12.5 ms", "97%") are
 * right-aligned, others left-aligned, unless `align` says otherwise; headers follow their column's
 * alignment. Lines carry no trailing spaces and are joined with "\n" (no final newline). Rows
 * shorter than the header are padded with empty cells; longer ones throw RangeError.
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  align?: readonly Align[],
): string {
  rows.forEach((r, i) => {
    if (r.length > headers.length) {
      throw new RangeError(`table row ${i} has ${r.length} cells for ${headers.length} columns`);
    }
  });
  const cols = headers.map((_, c) => rows.map((r) => r[c]));
  const aligns: Align[] = headers.map((_, c) => {
    if (align?.[c]) return align[c];
    const cells = cols[c].filter((v) => cellText(v) !== "");
    return cells.length > 0 && cells.every(isNumeric) ? "right" : "left";
  });
  const text = rows.map((r) => headers.map((_, c) => cellText(r[c])));
  const widths = headers.map((h, c) => Math.max(width(h), ...text.map((r) => width(r[c]))));
  const pad = (s: string, c: number) => {
    const fill = " ".repeat(widths[c] - width(s));
    return aligns[c] === "right" ? fill + s : s + fill;
  };
  const line = (cells: string[]) => cells.map(pad).join("  ").trimEnd();
  return [line([...headers]), widths.map((w) => "-".repeat(w)).join("  "), ...text.map(line)].join("\n");
}
