/**
 * The backends by name, each loaded on first use (so that a reference library that fails to load
 * costs only its own rows).
 */
import type { Backend, BackendName } from "./types.ts";

/** Creates the backend `name` (its module is imported here, its device started by `init`). */
export async function createBackend(name: BackendName): Promise<Backend> {
  switch (name) {
    case "ours":
      return new (await import("./ours.ts")).OursBackend();
    case "ours-f16":
      return new (await import("./ours_f16.ts")).OursF16Backend();
    case "typescript":
      return new (await import("./typescript.ts")).TypeScriptBackend();
    case "jax-js":
      return new (await import("./jax.ts")).JaxBackend("webgpu");
    case "jax-js-wasm":
      return new (await import("./jax.ts")).JaxBackend("wasm");
    case "tfjs-webgpu":
      return new (await import("./tfjs.ts")).TfjsBackend("webgpu");
    case "tfjs-cpu":
      return new (await import("./tfjs.ts")).TfjsBackend("cpu");
    case "onnxruntime":
      return new (await import("./onnx.ts")).OnnxBackend();
    case "pytorch-cpu":
      return new (await import("./torch.ts")).TorchBackend("cpu");
    case "pytorch-f64":
      return new (await import("./torch.ts")).TorchBackend("f64");
    case "pytorch-fp32":
      return new (await import("./torch.ts")).TorchBackend("fp32");
    case "pytorch-tf32":
      return new (await import("./torch.ts")).TorchBackend("tf32");
  }
}
