/** The GPU as the command-line tools start it (the Deno edge of src/gpu/runtime.ts). */
import { type AdapterChoice, type Gpu, initGpu } from "../gpu/runtime.ts";

/** Mesa's Vulkan drivers complain on stderr when XDG_RUNTIME_DIR is unset; a compute-only user has none. */
export function quietMesa(): void {
  try {
    if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", Deno.env.get("TMPDIR") ?? "/tmp");
  } catch {
    // no --allow-env: the warning is harmless
  }
}

/** `initGpu` with Mesa kept quiet. */
export async function startGpu(adapter?: AdapterChoice): Promise<Gpu> {
  quietMesa();
  return await initGpu({ adapter });
}
