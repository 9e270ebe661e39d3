/** Slice-wise (axial) 2D hole filling of a mask. */

import type { Vec3 } from "./types.ts";

/**
 * Fills holes slice by slice along k (axial for RAS/LPS-like grids): in each slice, background
 * pixels not 4-connected to the slice border become 1. Iterative flood fill, no recursion.
 */
export function fillHolesSlicewise(mask: ArrayLike<number>, dims: Vec3): Uint8Array {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const out = new Uint8Array(plane * nz);
  const outside = new Uint8Array(plane);
  const stack = new Int32Array(plane);
  for (let k = 0; k < nz; k++) {
    const base = k * plane;
    outside.fill(0);
    let top = 0;
    const push = (p: number) => {
      if (outside[p] === 0 && mask[base + p] === 0) {
        outside[p] = 1;
        stack[top++] = p;
      }
    };
    for (let i = 0; i < nx; i++) {
      push(i);
      push(i + nx * (ny - 1));
    }
    for (let j = 0; j < ny; j++) {
      push(nx * j);
      push(nx - 1 + nx * j);
    }
    while (top > 0) {
      const p = stack[--top];
      const i = p % nx;
      if (i > 0) push(p - 1);
      if (i < nx - 1) push(p + 1);
      if (p >= nx) push(p - nx);
      if (p < plane - nx) push(p + nx);
    }
    for (let p = 0; p < plane; p++) out[base + p] = outside[p] ? 0 : 1;
  }
  return out;
}
