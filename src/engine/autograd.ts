/**
 * The walker: reverse-mode differentiation over a recorded graph. It does, once for every
 * primitive, what no rule should repeat: the topological sort (iterative, so a chain of a
 * million ops does not overflow the stack), skipping inputs that need no gradient, summing
 * broadcast axes back to each input's shape, and accumulating gradients that meet at a node.
 * Only the part of the graph that leads to the output is walked: a variable the output does
 * not depend on gets exactly zero.
 */
import { AnomalyError, ContextMismatchError, FrozenError, VersionError } from './errors.js';
import { rules } from './primitives.js';
import { formatShape, sameShape, type Tensor } from './tensor.js';
import type { Operand, Value, Variable } from './variable.js';

export interface GradOptions {
  /** The seed gradient (default: ones of the output's shape). */
  pull?: Operand;
  /** Record the backward pass so that the gradients can be differentiated again. */
  createGraph?: boolean;
}

/** The gradients of one backward pass, looked up per variable. */
export class Gradients<T extends Value | Variable> {
  private index: Map<Variable, Variable> | null = null;

  constructor(
    private readonly root: Variable,
    /** The nodes the walk reached and their gradients (null: none arrived), side by side. */
    private readonly nodes: readonly Variable[],
    private readonly grads: readonly (Variable | null)[],
    private readonly asVariables: boolean,
    /** The walk's number: a node still marked with it knows its place in `nodes`. */
    private readonly walk = 0,
  ) {}

  private lookup(v: Variable): Variable | null {
    // Until a later walk passes through v, it carries its index from this one.
    if (v.walk === this.walk && this.walk !== 0) return this.grads[v.walkIndex]!;
    // A few lookups in a small graph are cheaper as a scan than as a map built first.
    if (this.nodes.length <= 32) {
      const i = this.nodes.indexOf(v);
      return i < 0 ? null : this.grads[i]!;
    }
    if (!this.index) {
      this.index = new Map();
      for (let i = 0; i < this.nodes.length; i++) {
        const g = this.grads[i];
        if (g) this.index.set(this.nodes[i]!, g);
      }
    }
    return this.index.get(v) ?? null;
  }

  /** d(output)/d(v): a Variable with createGraph, otherwise a number for 0-d and a Tensor else. */
  wrt(v: Variable): T {
    const g = this.variable(v);
    if (this.asVariables) return g as T;
    return (g.rank === 0 ? g.item() : g.tensor) as T;
  }

  /** The gradient as a Variable (a constant unless createGraph was set). */
  variable(v: Variable): Variable {
    if (typeof v !== 'object' || v === null || !('ctx' in v)) throw new TypeError(`wrt: ${String(v)} is not a Variable; ask for the gradient of a Variable the output was computed from`);
    if (v.ctx !== this.root.ctx) {
      throw new ContextMismatchError(`wrt: ${v.describe()} belongs to ${v.ctx}, the output to ${this.root.ctx}`);
    }
    if (!v.requiresGrad) {
      throw new FrozenError(
        v.isLeaf
          ? `wrt: ${v.describe()} is frozen (requiresGrad is false), so no gradient was computed for it; call unfreeze() before the forward pass to get one`
          : `wrt: ${v.describe()} does not require a gradient: nothing it was computed from does`,
      );
    }
    const g = this.lookup(v);
    if (g) return g;
    // Not on any path to the output: exactly zero.
    return v.ctx.constant(v.ctx.backend.full(v.shape, 0, v.dtype));
  }

  /** The gradient as a Tensor. */
  tensor(v: Variable): Tensor {
    return this.variable(v).tensor;
  }

  /** The gradient of a variable with one element, as a number. */
  scalar(v: Variable): number {
    return this.variable(v).item();
  }
}

/**
 * The nodes leading to `roots`, each after every node that consumes it (roots first): the order
 * the backward pass visits them in. Kahn's algorithm over consumer counts, so a node reached by
 * several paths is visited only once all of its gradient has arrived. `follow` chooses which
 * inputs to walk into.
 */
export function reverseTopological(roots: readonly Variable[], follow: (x: Variable) => boolean): Variable[] {
  const consumers = new Map<Variable, number>();
  const stack: Variable[] = [];
  for (const r of roots) {
    if (!consumers.has(r)) {
      consumers.set(r, 0);
      stack.push(r);
    }
  }
  while (stack.length > 0) {
    const v = stack.pop()!;
    for (const x of v.inputs ?? []) {
      if (!follow(x)) continue;
      const n = consumers.get(x);
      if (n === undefined) stack.push(x);
      consumers.set(x, (n ?? 0) + 1);
    }
  }
  const ready = roots.filter((r, i) => consumers.get(r) === 0 && roots.indexOf(r) === i);
  const order: Variable[] = [];
  while (ready.length > 0) {
    const v = ready.pop()!;
    order.push(v);
    for (const x of v.inputs ?? []) {
      if (!follow(x)) continue;
      const n = consumers.get(x)! - 1;
      consumers.set(x, n);
      if (n === 0) ready.push(x);
    }
  }
  return order;
}

/** Sums the axes along which `g` was broadcast from `shape`, then drops the extra leading axes. */
export function sumToShape(g: Variable, shape: readonly number[]): Variable {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? g.sum(axes, true) : g;
  return summed.reshape(shape);
}

/** Walks are numbered; a node's walk fields are valid while they carry the current number. */
let walkCounter = 0;

export function backward(root: Variable, pull: Variable | null, createGraph: boolean): Gradients<Value> & Gradients<Variable> {
  const ctx = root.ctx;
  type Result = Gradients<Value> & Gradients<Variable>;
  if (!root.requiresGrad) return new Gradients(root, [], [], createGraph) as Result;
  const seed = pull ? sumToShape(pull.broadcastTo(root.shape), root.shape) : ctx.constant(ctx.backend.full(root.shape, 1, root.dtype));

  // Pass 1: the nodes leading to the root, each with the number of its consumers among them.
  // The counts live on the nodes (no map): walks never interleave, rules do not start walks.
  const walk = ++walkCounter;
  const nodes: Variable[] = [root];
  root.walk = walk;
  root.walkConsumers = 0;
  root.walkGrad = null;
  root.walkOwned = false;
  root.walkIndex = 0;
  const stack: Variable[] = [root];
  while (stack.length > 0) {
    const inputs = stack.pop()!.inputs;
    if (!inputs) continue;
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i]!;
      if (!x.requiresGrad) continue;
      if (x.walk === walk) {
        x.walkConsumers++;
        continue;
      }
      x.walk = walk;
      x.walkConsumers = 1;
      x.walkGrad = null;
      x.walkOwned = false;
      x.walkIndex = nodes.length;
      nodes.push(x);
      stack.push(x);
    }
  }

  // Pass 2: a node propagates once every consumer has added its share (Kahn's algorithm).
  root.walkGrad = seed;
  const ready: Variable[] = [root];
  const was = ctx.recording;
  ctx.recording = createGraph;
  const prof = ctx.profiler;
  const phase = prof?.phase;
  if (prof) prof.phase = 'backward';
  try {
    while (ready.length > 0) {
      const node = ready.pop()!;
      const inputs = node.inputs;
      if (!inputs) continue;
      const g = node.walkGrad;
      if (g && node.op !== null) {
        const versions = node.inputVersions;
        const needs: boolean[] = new Array(inputs.length);
        let wanting = 0;
        for (let i = 0; i < inputs.length; i++) {
          const recorded = versions === null ? 0 : versions[i]!;
          if (inputs[i]!.version !== recorded) throw staleInput(inputs[i]!, node, recorded);
          needs[i] = inputs[i]!.requiresGrad;
          if (needs[i]) wanting++;
        }
        const rule = rules[node.op];
        // Only the first input wants a gradient, which is not differentiated again: the rule's
        // in-place adder or one-pass kernel where the backend has them, else its backward in ops.
        const single = !createGraph && wanting === 1 && needs[0]!;
        const adder = single ? rule.gradAdder?.(ctx.backend) : undefined;
        const kernel = single && !adder ? rule.gradKernel?.(ctx.backend) : undefined;
        if (kernel) {
          accumulate(inputs[0]!, gradByKernel(node, g, kernel), false);
        } else if (!adder || !addGradInto(node, g, adder)) {
          const inputAdder = createGraph || ctx.detectAnomaly ? undefined : rule.inputGradAdder?.(ctx.backend);
          if (inputAdder) {
            let tensors: Tensor[] | undefined;
            for (let i = 0; i < inputs.length; i++) {
              if (!needs[i] || !inputs[i]!.walkOwned) continue;
              tensors ??= inputs.map((x) => x.tensor);
              if (addInputGrad(node, i, g, tensors, inputAdder)) needs[i] = false;
            }
          }
          const inputGrads = rule.backward(g, inputs, node, node.params as never, needs);
          for (let i = 0; i < inputs.length; i++) {
            const gi = inputGrads[i];
            if (!gi || !needs[i]) continue;
            const x = inputs[i]!;
            const reduced = sumToShape(gi, x.shape);
            if (ctx.detectAnomaly && !ctx.backend.allFinite(reduced.tensor)) throw anomaly(node, i, reduced);
            accumulate(x, reduced, createGraph);
          }
        }
      }
      for (let i = 0; i < inputs.length; i++) {
        const x = inputs[i]!;
        if (x.requiresGrad && --x.walkConsumers === 0) ready.push(x);
      }
    }
  } finally {
    ctx.recording = was;
    if (prof) prof.phase = phase!;
  }
  // Move the gradients off the nodes, so the graph does not keep them alive.
  const grads: (Variable | null)[] = [];
  for (let i = 0; i < nodes.length; i++) {
    grads.push(nodes[i]!.walkGrad);
    nodes[i]!.walkGrad = null;
  }
  return new Gradients(root, nodes, grads, createGraph, walk) as Result;
}

/**
 * Adds a contribution to x's gradient. The first is kept as it is (it may be another node's
 * tensor); the second makes a new sum, which later ones add into in place where the backend
 * can, unless the sum is itself to be differentiated (createGraph).
 */
function accumulate(x: Variable, g: Variable, createGraph: boolean): void {
  const acc = x.walkGrad;
  if (!acc) {
    x.walkGrad = g;
    return;
  }
  const backend = x.ctx.backend;
  if (x.walkOwned && backend.addInPlace) {
    const prof = x.ctx.profiler;
    const t0 = prof ? prof.now() : 0;
    backend.addInPlace(acc.tensor, g.tensor);
    if (prof) prof.record('add', prof.now() - t0, acc.tensor);
    return;
  }
  x.walkGrad = acc.add(g);
  x.walkOwned = !createGraph;
}

/**
 * Adds the gradient of `node`'s only input into that input's sum in place with the rule's
 * `gradAdder` (no zeros built around a slice's gradient), making the sum the walker's own
 * first if it is not: zeros, plus what had arrived. False where the backend cannot copy that.
 */
function addGradInto(node: Variable, g: Variable, add: (acc: Tensor, g: Tensor, p: never) => void): boolean {
  const x = node.inputs![0]!;
  const ctx = x.ctx, backend = ctx.backend;
  let acc = x.walkGrad;
  if (acc && !x.walkOwned && !backend.addInPlace) return false;
  if (ctx.detectAnomaly && !backend.allFinite(g.tensor)) throw anomaly(node, 0, g);
  const prof = ctx.profiler;
  const t0 = prof ? prof.now() : 0;
  if (!acc || !x.walkOwned) {
    const sum = ctx.constant(backend.full(x.shape, 0, x.dtype));
    if (acc) backend.addInPlace!(sum.tensor, acc.tensor);
    acc = sum;
  }
  add(acc.tensor, g.tensor, node.params as never);
  x.walkGrad = acc;
  x.walkOwned = true;
  if (prof) prof.record(node.op!, prof.now() - t0, acc.tensor);
  return true;
}

/** Adds input i's gradient into the sum the walker owns with the rule's adder; false where it declines. */
function addInputGrad(
  node: Variable, i: number, g: Variable, inputs: readonly Tensor[],
  add: (i: number, acc: Tensor, g: Tensor, x: readonly Tensor[], p: never) => boolean,
): boolean {
  const prof = node.ctx.profiler;
  const t0 = prof ? prof.now() : 0;
  const acc = node.inputs![i]!.walkGrad!.tensor;
  if (!add(i, acc, g.tensor, inputs, node.params as never)) return false;
  if (prof) prof.record(node.op!, prof.now() - t0, acc);
  return true;
}

/** The gradient of `node`'s first input, from the rule's one-pass kernel. */
function gradByKernel(node: Variable, g: Variable, kernel: (g: Tensor, x: readonly Tensor[], y: Tensor) => Tensor): Variable {
  const ctx = node.ctx;
  const prof = ctx.profiler;
  const t0 = prof ? prof.now() : 0;
  const inputs = node.inputs!, tensors: Tensor[] = [];
  for (let i = 0; i < inputs.length; i++) tensors.push(inputs[i]!.tensor);
  const t = kernel(g.tensor, tensors, node.tensor);
  if (prof) prof.record(node.op!, prof.now() - t0, t);
  const grad = ctx.constant(t);
  if (ctx.detectAnomaly && !ctx.backend.allFinite(t)) throw anomaly(node, 0, grad);
  return grad;
}

function staleInput(input: Variable, node: Variable, saved: number): VersionError {
  return new VersionError(
    `grad: ${input.describe()} was modified after op '${node.op}' used it: recorded at version ${saved}, now version ${input.version}. ` +
      `Run the forward pass again after changing a value (a graph cannot be differentiated with values replaced behind its back)`,
  );
}

function anomaly(node: Variable, input: number, g: Variable): AnomalyError {
  const shapes = node.inputs!.map((x) => formatShape(x.shape, x.dtype)).join(', ');
  const data = g.data();
  const bad = data.find((v) => !Number.isFinite(v));
  return new AnomalyError(
    `anomaly: the backward of '${node.op}' (inputs ${shapes}, output ${formatShape(node.shape, node.dtype)}) produced ${bad} in the gradient of input ${input}`,
  );
}
