/**
 * The tape, micrograd style: an op that sees an input requiring gradients stores a `Node` on its
 * result; `backward` walks the graph in reverse topological order, accumulates gradients, and frees
 * every intermediate (and its gradient) as soon as no remaining step needs it.
 */
import { Tensor, untrack } from "./tensor.ts";
import { accumulate, add, clone } from "./ops/elementwise.ts";

/** How an op's result was made: its inputs and how to map the output gradient onto them. */
export interface Node {
  /** Op name, for messages. */
  name: string;
  /** The op's tensor inputs, in the order `backward` returns their gradients. */
  inputs: readonly Tensor[];
  /** Gradients for each input (null where an input needs none); may return `grad` itself. */
  backward(grad: Tensor): (Tensor | null)[];
  /** Frees tensors the op kept for its backward pass beyond its inputs and output. */
  release?(): void;
}

let gradEnabled = true;

/** Whether ops currently record onto the tape. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording (inference, optimiser updates, the backward pass itself). */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/**
 * Attaches a node to `out` when recording is on and some input requires gradients; otherwise frees
 * what the op kept. Returns `out`.
 */
export function record(out: Tensor, node: Node): Tensor {
  if (gradEnabled && node.inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = node;
  } else {
    node.release?.();
  }
  return out;
}

/** Tensors reachable from `root` through nodes, producers after consumers. */
function reverseTopological(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, k] = top;
    const inputs = t.node?.inputs ?? [];
    if (k < inputs.length) {
      top[1]++;
      const next = inputs[k];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Back-propagates from `root` (a scalar unless `seed` is given). Leaf tensors that require gradients
 * get `.grad` (accumulated across calls); intermediates not marked `retain()` are disposed, and the
 * graph is released.
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) throw new Error("backward: the tensor does not require gradients");
  noGrad(() => {
    const order = reverseTopological(root);
    const grads = new Map<Tensor, Tensor>();
    const uses = new Map<Tensor, number>();
    const hold = (g: Tensor) => uses.set(g, (uses.get(g) ?? 0) + 1);
    const drop = (g: Tensor) => {
      const n = (uses.get(g) ?? 0) - 1;
      if (n > 0) uses.set(g, n);
      else {
        uses.delete(g);
        g.dispose();
      }
    };
    const start = seed ?? Tensor.full(root.shape, 1);
    grads.set(root, start);
    hold(start);
    if (seed) hold(seed); // never dispose the caller's seed
    for (const t of order) {
      const node = t.node;
      const g = grads.get(t);
      if (!node) continue; // a leaf: handled below
      if (g) {
        const gs = node.backward(g);
        node.inputs.forEach((input, k) => {
          const gi = gs[k];
          if (!gi || !input.requiresGrad) {
            if (gi && gi !== g) gi.dispose();
            return;
          }
          const prev = grads.get(input);
          if (!prev) {
            grads.set(input, gi);
            hold(gi);
          } else {
            const sum = add(prev, gi);
            grads.set(input, sum);
            hold(sum);
            drop(prev);
            if (gi !== g && !uses.has(gi)) gi.dispose();
          }
        });
        grads.delete(t);
        drop(g);
      }
      node.release?.();
      t.node = null;
      if (t !== root && !t.retained) t.dispose();
    }
    for (const [t, g] of grads) {
      if (t.node) continue;
      if (t.grad) {
        accumulate(t.grad, g);
        drop(g);
      } else if ((uses.get(g) ?? 0) > 1) {
        // the same tensor is the gradient of two leaves: give this one its own copy
        t.grad = clone(g);
        drop(g);
      } else {
        uses.delete(g);
        t.grad = g;
      }
      if (t.grad) untrack(t.grad);
    }
  });
}
