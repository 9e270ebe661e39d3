/** The process's standard error as a progress sink (the Deno edge of src/report/progress.ts). */
import type { ProgressWriter } from "../report/progress.ts";

/** Standard error, with its terminal width when it is a terminal. */
export const stderrWriter: ProgressWriter = {
  writeSync: (p) => Deno.stderr.writeSync(p),
  isTerminal: () => Deno.stderr.isTerminal(),
  columns: () => {
    try {
      return Deno.consoleSize().columns;
    } catch {
      return 80;
    }
  },
};
