/**
 * Every tiling `chooseTiles` can pick: `pickTiles` over a grid of shapes whose rows and columns fall
 * on both sides of each of its thresholds, for a CPU adapter and a GPU, for each workgroup-storage
 * size given. (compile_test.ts checks on random shapes that nothing outside this set comes out.)
 */
import { type GemmTiles, pickTiles } from "../../src/ops/conv3d_fast.ts";

/** Result rows and columns that straddle pickTiles' thresholds. */
export const ROWS = [1, 2, 3, 4, 5, 8, 9, 12, 16, 17, 24, 32, 33, 48, 64, 65, 128, 512, 2000];
/** See ROWS. */
export const COLS = [1, 4, 27, 32, 54, 63, 64, 65, 100, 256, 1000, 4096, 1e5, 1e7];

/** The distinct tilings of the conv and wgrad kernels. */
export function allTilings(workgroupStorage: number[]): { conv: GemmTiles[]; wgrad: GemmTiles[] } {
  const out = { conv: new Map<string, GemmTiles>(), wgrad: new Map<string, GemmTiles>() };
  for (const cpu of [true, false]) {
    for (const storage of workgroupStorage) {
      for (const kernel of ["conv", "wgrad"] as const) {
        for (const r of ROWS) {
          for (const c of COLS) {
            const t = pickTiles(r, c, kernel, { cpu, workgroupStorage: storage });
            out[kernel].set(JSON.stringify(t), t);
          }
        }
      }
    }
  }
  return { conv: [...out.conv.values()], wgrad: [...out.wgrad.values()] };
}
