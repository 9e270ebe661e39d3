/**
 * The tape, micrograd style: an op that sees an input requiring gradients stores a `Node` on its
 * result; `backward` walks the graph in reverse topological order, accumulates gradients, and frees
 * every intermediate (and its gradient) as soon as no remaining step needs it.
 */
import { Tensor, untrack } from "./tensor.ts";
import { accumulate, add, clone } from "./ops/elementwise.ts";
import { ShapeError } from "./gpu/errors.ts";

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

/** A backward that cannot be done: from a constant, or through a graph that was already freed. */
export class AutogradError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AutogradError";
  }
}

/**
 * Tensors reachable from `roots` through nodes, producers after consumers. Throws before any work when
 * the walk reaches a tensor whose node was freed (it would otherwise pass for a leaf) or a disposed leaf.
 */
function reverseTopological(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const visit = (t: Tensor) => {
    if (t.node) return;
    if (t.freedBy) {
      throw new AutogradError(
        `backward: trying to backward through the graph a second time: the ${t.freedBy} that made ` +
          `${t} was freed by an earlier backward (or disposed); give every root to one backward, ` +
          `or pass retainGraph: true to the earlier one`,
      );
    }
    if (t.disposed) throw new AutogradError(`backward: the leaf ${t} that needs a gradient was disposed`);
  };
  for (const root of roots) {
    if (seen.has(root)) continue;
    seen.add(root);
    visit(root);
    // depth first from every root with one shared `seen`: the reversed finishing order is topological
    const stack: [Tensor, number][] = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [t, k] = top;
      const inputs = t.node?.inputs ?? [];
      if (k < inputs.length) {
        top[1]++;
        const next = inputs[k];
        if (next.requiresGrad && !seen.has(next)) {
          seen.add(next);
          visit(next);
          stack.push([next, 0]);
        }
      } else {
        stack.pop();
        order.push(t);
      }
    }
  }
  return order.reverse();
}

/** Options of {@link backward}. */
export interface BackwardOptions {
  /**
   * The gradient of each root (its shape), in the order of the roots; ones where missing. The caller
   * keeps ownership of these tensors.
   */
  seed?: Tensor | readonly (Tensor | undefined)[];
  /**
   * Keep the graph (the ops' saved values and the intermediates) for a later backward through it, as
   * PyTorch's `retain_graph`; the last backward through it should leave this off so that it is freed.
   */
  retainGraph?: boolean;
}

/**
 * Back-propagates from one root or several (`backward([loss1, loss2])` gives the gradients of their
 * sum, as for deep supervision); each root is a scalar unless a seed of its shape is given (a tensor as
 * the second argument is the seed of a single root, like PyTorch's `y.backward(gradient)`). Leaf
 * tensors that require gradients get `.grad` (accumulated across calls). Unless `retainGraph`, the
 * graph is freed: intermediates not marked `retain()` are disposed, and a later backward that reaches
 * any tensor of this graph throws an `AutogradError` naming the op, as PyTorch does. A backward that
 * throws part way disposes the gradients it held, and assigns none.
 */
export function backward(roots: Tensor | readonly Tensor[], opts: Tensor | BackwardOptions = {}): void {
  const rootList = roots instanceof Tensor ? [roots] : [...roots];
  const o: BackwardOptions = opts instanceof Tensor ? { seed: opts } : opts;
  const seeds = o.seed === undefined ? [] : o.seed instanceof Tensor ? [o.seed] : [...o.seed];
  if (!rootList.length) throw new AutogradError("backward: no root tensor given");
  if (seeds.length > rootList.length) {
    throw new AutogradError(`backward: ${seeds.length} seeds for ${rootList.length} root(s)`);
  }
  rootList.forEach((root, i) => {
    if (!root.requiresGrad) throw new AutogradError("backward: the tensor does not require gradients");
    const s = seeds[i];
    if (s && (s.shape.length !== root.shape.length || s.shape.some((d, k) => d !== root.shape[k]))) {
      throw new ShapeError(`backward: the seed [${s.shape}] does not match its root [${root.shape}]`);
    }
  });
  const retain = o.retainGraph ?? false;
  const order = reverseTopological(rootList);
  const rootSet = new Set(rootList);
  const owned = new Set(seeds.filter((s): s is Tensor => !!s)); // the caller's: never disposed here
  const grads = new Map<Tensor, Tensor>();
  const uses = new Map<Tensor, number>();
  const hold = (g: Tensor) => uses.set(g, (uses.get(g) ?? 0) + 1);
  const drop = (g: Tensor) => {
    const n = (uses.get(g) ?? 0) - 1;
    if (n > 0) uses.set(g, n);
    else {
      uses.delete(g);
      if (!owned.has(g)) g.dispose();
    }
  };
  /** Adds `gi` to the gradient of `t`. */
  const give = (t: Tensor, gi: Tensor) => {
    const prev = grads.get(t);
    if (!prev) {
      grads.set(t, gi);
      hold(gi);
      return;
    }
    const sum = add(prev, gi);
    grads.set(t, sum);
    hold(sum);
    drop(prev);
  };
  // gradients an op returned that are not yet held (freed if something throws before they are)
  let pending: (Tensor | null)[] = [];
  const disposeLoose = (ts: (Tensor | null)[], keep?: Tensor) => {
    for (const gi of new Set(ts)) if (gi && gi !== keep && !uses.has(gi) && !owned.has(gi)) gi.dispose();
  };
  noGrad(() => {
    try {
      rootList.forEach((root, i) => {
        const s = seeds[i] ?? Tensor.full(root.shape, 1);
        pending = [s];
        give(root, s);
        disposeLoose(pending);
      });
      for (const t of order) {
        const node = t.node;
        if (!node) continue; // a leaf: handled below
        const g = grads.get(t);
        if (g) {
          pending = node.backward(g);
          node.inputs.forEach((input, k) => {
            const gi = pending[k];
            if (gi && input.requiresGrad) give(input, gi);
          });
          disposeLoose(pending, g); // what went to no input, or was added into an earlier gradient
          pending = [];
          grads.delete(t);
          drop(g);
        }
        if (!retain) {
          node.release?.();
          t.node = null;
          t.freedBy = node.name;
          if (!rootSet.has(t) && !t.retained) t.dispose();
        }
      }
      for (const [t, g] of grads) {
        if (t.grad) {
          accumulate(t.grad, g);
          drop(g);
        } else if ((uses.get(g) ?? 0) > 1 || owned.has(g)) {
          // the same tensor is the gradient of two leaves, or the caller's: give this one its own copy
          t.grad = clone(g);
          drop(g);
        } else {
          uses.delete(g);
          t.grad = g;
        }
        grads.delete(t);
        untrack(t.grad);
      }
    } catch (e) {
      disposeLoose(pending);
      for (const g of uses.keys()) if (!owned.has(g)) g.dispose();
      throw e;
    }
  });
}
