/**
 * onnxruntime-node on the CPU, forward ops only (it runs inference graphs: no gradients, no training
 * step). Each case is a one-node ONNX graph (Conv, ConvTranspose, MaxPool, SoftmaxCrossEntropyLoss)
 * whose ModelProto is encoded here by hand: a few protobuf fields, no schema library. Deno does not
 * run npm install scripts, which is what lets the package install (its CPU library ships inside it).
 */
import type { Case, CeShape, ConvShape, ConvTShape, PoolShape } from "../shapes.ts";
import {
  type Backend,
  type CaseData,
  convPad,
  convShapes,
  convTShapes,
  type Runner,
  Unsupported,
} from "./types.ts";

// deno-lint-ignore no-explicit-any
type Ort = any;

/** Minimal protobuf writer: varints, length-delimited fields, nested messages. */
class Pb {
  #bytes: number[] = [];

  #varint(v: number): void {
    while (v >= 0x80) {
      this.#bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.#bytes.push(v);
  }

  /** A varint field (int32, int64 and enums, non-negative). */
  int(field: number, v: number): this {
    this.#varint(field * 8);
    this.#varint(v);
    return this;
  }

  /** A length-delimited field: a string, bytes or a nested message. */
  bytes(field: number, v: string | Uint8Array | Pb): this {
    const b = typeof v === "string" ? new TextEncoder().encode(v) : v instanceof Pb ? v.finish() : v;
    this.#varint(field * 8 + 2);
    this.#varint(b.length);
    for (const x of b) this.#bytes.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

const FLOAT = 1, INT64 = 7;
const ATTR_INTS = 7, ATTR_STRING = 3;

/** ValueInfoProto of a tensor input or output. */
function valueInfo(name: string, elemType: number, shape: readonly number[]): Pb {
  const dims = new Pb();
  for (const d of shape) dims.bytes(1, new Pb().int(1, d));
  const tensor = new Pb().int(1, elemType).bytes(2, dims);
  return new Pb().bytes(1, name).bytes(2, new Pb().bytes(1, tensor));
}

/** An attribute of a list of ints, or a string. */
function attr(name: string, v: readonly number[] | string): Pb {
  const a = new Pb().bytes(1, name);
  if (typeof v === "string") return a.int(20, ATTR_STRING).bytes(4, v);
  for (const i of v) a.int(8, i);
  return a.int(20, ATTR_INTS);
}

interface Io {
  name: string;
  type: number;
  shape: readonly number[];
}

/** A ModelProto with one node of `opType` (opset 17). */
export function oneNodeModel(opType: string, inputs: Io[], outputs: Io[], attrs: Pb[]): Uint8Array {
  const node = new Pb();
  for (const i of inputs) node.bytes(1, i.name);
  for (const o of outputs) node.bytes(2, o.name);
  node.bytes(3, "node").bytes(4, opType);
  for (const a of attrs) node.bytes(5, a);
  const graph = new Pb().bytes(1, node).bytes(2, "bench");
  for (const i of inputs) graph.bytes(11, valueInfo(i.name, i.type, i.shape));
  for (const o of outputs) graph.bytes(12, valueInfo(o.name, o.type, o.shape));
  return new Pb()
    .int(1, 8) // ir_version
    .bytes(2, "bench") // producer_name
    .bytes(7, graph)
    .bytes(8, new Pb().bytes(1, "").int(2, 17)) // opset_import
    .finish();
}

const f32 = (name: string, shape: readonly number[]): Io => ({ name, type: FLOAT, shape });

/** onnxruntime-node's CPU execution provider. */
export class OnnxBackend implements Backend {
  readonly name = "onnxruntime";
  #ort: Ort = null;

  async init(): Promise<void> {
    const m = await import("onnxruntime-node");
    this.#ort = (m as { default?: Ort }).default ?? m;
  }

  device(): string {
    return `CPU (onnxruntime-node ${
      this.#ort?.env?.versions?.node ?? ""
    }, ${navigator.hardwareConcurrency} threads)`;
  }

  unsupported(c: Case): string | null {
    if (c.op === "conv3d_input_grad" || c.op === "conv3d_weight_grad" || c.op === "unet_train_step") {
      return "onnxruntime-node runs inference graphs only (no gradients)";
    }
    if (c.op === "unet_inference_tile") {
      return "no U-Net graph built for onnxruntime (its forward ops are timed one by one)";
    }
    return null;
  }

  async prepare(c: Case, data: CaseData): Promise<Runner> {
    const ort = this.#ort;
    const s = c.shape;
    let model: Uint8Array;
    // deno-lint-ignore no-explicit-any
    const feeds: Record<string, any> = {};
    const feed = (name: string, a: Float32Array, shape: readonly number[]) =>
      feeds[name] = new ort.Tensor("float32", a, shape);
    switch (c.op) {
      case "conv3d_forward": {
        const cs = s as ConvShape, sh = convShapes(cs), p = convPad(cs);
        feed("x", data.x, sh.x);
        feed("w", data.w!, sh.w);
        feed("b", data.b!, [cs.cout]);
        model = oneNodeModel(
          "Conv",
          [f32("x", sh.x), f32("w", sh.w), f32("b", [cs.cout])],
          [f32("y", sh.y)],
          [
            attr("kernel_shape", [cs.k, cs.k, cs.k]),
            attr("pads", [p, p, p, p, p, p]),
            attr("strides", [1, 1, 1]),
          ],
        );
        break;
      }
      case "conv_transpose3d_forward": {
        const ts = s as ConvTShape, sh = convTShapes(ts);
        feed("x", data.x, sh.x);
        feed("w", data.w!, sh.w);
        feed("b", data.b!, [ts.cout]);
        model = oneNodeModel(
          "ConvTranspose",
          [f32("x", sh.x), f32("w", sh.w), f32("b", [ts.cout])],
          [f32("y", sh.y)],
          [attr("kernel_shape", [2, 2, 2]), attr("strides", [2, 2, 2])],
        );
        break;
      }
      case "max_pool3d_forward": {
        const p = s as PoolShape, shape = [p.n, p.c, p.d, p.h, p.w];
        const out = [p.n, p.c, Math.floor(p.d / 2), Math.floor(p.h / 2), Math.floor(p.w / 2)];
        feed("x", data.x, shape);
        model = oneNodeModel("MaxPool", [f32("x", shape)], [f32("y", out)], [
          attr("kernel_shape", [2, 2, 2]),
          attr("strides", [2, 2, 2]),
        ]);
        break;
      }
      case "softmax_ce_forward": {
        const p = s as CeShape, shape = [p.n, p.k, p.d, p.h, p.w], ls = [p.n, p.d, p.h, p.w];
        feed("x", data.x, shape);
        feeds.labels = new ort.Tensor("int64", BigInt64Array.from(data.labels!, (v) => BigInt(v)), ls);
        model = oneNodeModel(
          "SoftmaxCrossEntropyLoss",
          [f32("x", shape), { name: "labels", type: INT64, shape: ls }],
          [f32("y", [])],
          [attr("reduction", "mean")],
        );
        break;
      }
      default:
        throw new Unsupported(this.unsupported(c) ?? `no graph for ${c.op}`);
    }
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
    });
    let out: Float32Array = new Float32Array(0);
    return {
      run: async () => {
        const r = await session.run(feeds);
        out = r.y.data as Float32Array;
      },
      output: () => Promise.resolve(out),
      dispose: () => session.release(),
    };
  }
}
