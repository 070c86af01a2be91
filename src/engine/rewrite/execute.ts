/**
 * Running a graph of the IR on real inputs, through the engine's own ops: each node is `apply`d
 * as the eager code would have, so the outputs are Variables differentiable exactly like the
 * function that was traced, to any order. Where nothing will be differentiated (no input needs a
 * gradient, or the context is not recording) the kernels run directly on tensors, with no
 * Variables in between.
 *
 * This file also makes `fused` an op of the engine (the one addition to its primitives table):
 * its forward is the fused loop; its backward is the chain's own gradient, traced once per
 * fused program from the chain's ops and optimised and fused in turn, so the backward pass runs
 * as fused loops too, and differentiating it again (createGraph) works as for any op.
 */
import { apply, Variable, type Context } from '../variable.js';
import { rules, type Grads, type Op, type Params, type Rule } from '../primitives.js';
import type { Backend } from '../backend.js';
import { sameShape, type Tensor } from '../tensor.js';
import { CompileError } from './errors.js';
import { runFused, type FusedProgram } from './fusion.js';
import { planConstants, type Graph, type Node } from './ir.js';
import { optimize } from './optimize.js';
import { realBackend, trace } from './trace.js';

interface PlanStep {
  op: Op | 'fused' | 'detach';
  params: unknown;
  ins: number[];
  out: number;
  /** Slots no later step reads: released after this step, so intermediate tensors can be collected. */
  free: number[];
  /**
   * On an add: one input is the product op(A) op(B) of a skipped matmul step, the other (`acc`)
   * a fresh tensor nothing reads afterwards, so the product is added into that tensor's storage
   * inside the kernel where the backend can (Backend.addMatmulInPlace).
   */
  product?: { acc: number; a: number; b: number; params: Params['matmul'] };
  /** A matmul whose product an add takes into its sum. */
  skip?: boolean;
}

/** Ops whose kernels write a tensor of their own, so that it may be added into in place. */
const FRESH = new Set<string>(['matmul', 'linear', 'add', 'sub', 'mul']);

/** A graph ready to run: nodes in slots, op nodes as steps in topological order. */
export class Plan {
  private readonly leaves: { node: Node; slot: number }[] = [];
  private readonly steps: PlanStep[] = [];
  private readonly outputs: number[];
  private readonly slots: number;
  private readonly constants = new WeakMap<Context, Map<Node, Variable>>();

  constructor(readonly graph: Graph) {
    const nodes = graph.nodes();
    const slot = new Map<Node, number>();
    nodes.forEach((n, i) => slot.set(n, i));
    this.slots = nodes.length;
    const lastUse = new Array<number>(nodes.length).fill(-1);
    for (const n of nodes) {
      if (n.kind !== 'op') {
        this.leaves.push({ node: n, slot: slot.get(n)! });
        continue;
      }
      const s: PlanStep = { op: n.op!, params: n.params, ins: n.inputs.map((x) => slot.get(x)!), out: slot.get(n)!, free: [] };
      for (const i of s.ins) lastUse[i] = this.steps.length;
      this.steps.push(s);
    }
    this.outputs = graph.outputs.map((o) => slot.get(o)!);
    const kept = new Set(this.outputs);
    lastUse.forEach((k, i) => {
      if (k >= 0 && !kept.has(i) && nodes[i]!.kind === 'op') this.steps[k]!.free.push(i);
    });
    this.sumProducts(nodes, lastUse, kept);
  }

  /**
   * Finds the sums acc + op(A) op(B) that can take the product inside the kernel, as the eager
   * walker sums a weight's gradient: the product read by the add alone, acc a fresh tensor of the
   * sum's shape that nothing reads afterwards, the matrices 2-d.
   */
  private sumProducts(nodes: readonly Node[], lastUse: readonly number[], kept: ReadonlySet<number>): void {
    const producer = new Map<number, number>();
    const uses = new Array<number>(nodes.length).fill(0);
    this.steps.forEach((s, k) => {
      producer.set(s.out, k);
      for (const i of s.ins) uses[i]!++;
    });
    const takes = (k: number, acc: number, prod: number): boolean => {
      const s = this.steps[k]!, m = producer.get(prod), a = producer.get(acc);
      if (m === undefined || a === undefined || acc === prod || kept.has(acc) || kept.has(prod)) return false;
      const mm = this.steps[m]!;
      if (mm.op !== 'matmul' || mm.skip || uses[prod] !== 1 || lastUse[acc] !== k || !FRESH.has(this.steps[a]!.op)) return false;
      const shape = nodes[s.out]!.shape;
      if (shape.length !== 2 || !sameShape(nodes[acc]!.shape, shape) || !sameShape(nodes[prod]!.shape, shape)) return false;
      if (!mm.ins.every((i) => nodes[i]!.shape.length === 2)) return false;
      s.product = { acc, a: mm.ins[0]!, b: mm.ins[1]!, params: mm.params as Params['matmul'] };
      mm.skip = true;
      // The product's operands are now read at the add.
      s.free.push(...mm.free);
      mm.free = [];
      return true;
    };
    this.steps.forEach((s, k) => {
      if (s.op === 'add' && s.ins.length === 2 && !takes(k, s.ins[0]!, s.ins[1]!)) takes(k, s.ins[1]!, s.ins[0]!);
    });
  }

  /** Runs the graph on `inputs` (in the order of the traced function's arguments). */
  run(inputs: readonly Variable[]): Variable[] {
    const ctx = this.check(inputs);
    let grads = ctx.recording && inputs.some((x) => x.requiresGrad);
    if (ctx.recording && !grads) for (const l of this.leaves) if (l.node.kind === 'capture' && l.node.variable!.requiresGrad) grads = true;
    return grads ? this.runVariables(ctx, inputs) : this.runTensors(ctx, inputs);
  }

  private check(inputs: readonly Variable[]): Context {
    const g = this.graph;
    if (inputs.length !== g.inputs.length) throw new CompileError(`the compiled graph takes ${g.inputs.length} inputs, got ${inputs.length}`);
    const ctx = inputs[0]?.ctx;
    if (!ctx) throw new CompileError('a compiled graph with no inputs cannot run: it has no context');
    if (ctx.dtype !== g.dtype) throw new CompileError(`the graph was compiled for ${g.dtype}, the inputs are ${ctx.dtype}: compile it again`);
    inputs.forEach((x, i) => {
      const want = g.inputs[i]!.shape;
      if (x.ctx !== ctx) throw new CompileError(`input ${i} belongs to ${x.ctx}, input 0 to ${ctx}; create them in one context`);
      if (x.shape.length !== want.length || x.shape.some((d, k) => d !== want[k])) {
        throw new CompileError(`input ${i} has shape [${x.shape.join(',')}], the graph was compiled for [${want.join(',')}]`);
      }
    });
    return ctx;
  }

  private leaf(ctx: Context, n: Node, inputs: readonly Variable[]): Variable {
    if (n.kind === 'input') return inputs[n.index]!;
    if (n.kind === 'capture') {
      const v = n.variable!;
      if (v.ctx !== ctx) throw new CompileError(`the graph captured ${v.describe()} of ${v.ctx} but runs in ${ctx}; compile it for this context`);
      return v;
    }
    // A tensor the traced function did not make may change in place: read it at every call.
    if (n.kind === 'tensor' && n.external) return ctx.constant(n.tensor!);
    let cache = this.constants.get(ctx);
    if (!cache) this.constants.set(ctx, (cache = new Map()));
    let c = cache.get(n);
    if (!c) {
      cache.set(n, (c = ctx.constant(n.kind === 'const' ? ctx.backend.full(n.shape, n.value!, ctx.dtype) : n.tensor!)));
      planConstants.add(c);
      planConstants.add(c.tensor);
    }
    return c;
  }

  /** acc + op(a) op(b), into acc's storage where the backend can. */
  private sumProduct(b: Backend, acc: Tensor, x: Tensor, y: Tensor, p: Params['matmul']): Tensor {
    if (b.addMatmulInPlace) {
      b.addMatmulInPlace(acc, x, y, p.transposeA, p.transposeB);
      return acc;
    }
    return rules.add.forward(b, [acc, rules.matmul.forward(b, [x, y], p)], null);
  }

  private runVariables(ctx: Context, inputs: readonly Variable[]): Variable[] {
    const vals = new Array<Variable | null>(this.slots).fill(null);
    for (const l of this.leaves) vals[l.slot] = this.leaf(ctx, l.node, inputs);
    for (const s of this.steps) {
      const xs = s.ins.map((i) => vals[i]!);
      vals[s.out] = s.op === 'detach' ? xs[0]!.detach() : apply(s.op as Op, xs, s.params as never);
      for (const f of s.free) vals[f] = null;
    }
    return this.outputs.map((i) => vals[i]!);
  }

  private runTensors(ctx: Context, inputs: readonly Variable[]): Variable[] {
    const b = ctx.backend;
    const prof = ctx.profiler;
    const vals = new Array<Tensor | null>(this.slots).fill(null);
    const leafVars = new Map<number, Variable>();
    for (const l of this.leaves) {
      const v = this.leaf(ctx, l.node, inputs);
      leafVars.set(l.slot, v);
      vals[l.slot] = v.tensor;
    }
    for (const s of this.steps) {
      if (s.skip) continue;
      const xs = s.ins.map((i) => vals[i]!);
      if (s.op === 'detach') vals[s.out] = xs[0]!;
      else {
        const t0 = prof ? prof.now() : 0;
        const out = s.product ? this.sumProduct(b, vals[s.product.acc]!, vals[s.product.a]!, vals[s.product.b]!, s.product.params)
          : s.op === 'fused' ? runFused(b, xs, s.params as FusedProgram) : rules[s.op].forward(b, xs, s.params as never);
        if (prof) prof.record(s.op, prof.now() - t0, out);
        vals[s.out] = out;
      }
      for (const f of s.free) vals[f] = null;
    }
    return this.outputs.map((i) => leafVars.get(i) ?? ctx.constant(vals[i]!));
  }
}

/** The chain of a fused program as the engine's ops on Variables (recorded like any op). */
export function expandVariables(xs: readonly Variable[], p: FusedProgram): Variable {
  const ctx = xs[0]!.ctx;
  const vals: Variable[] = [];
  for (const s of p.steps) {
    const args = s.args.map((a) => (a.kind === 'input' ? xs[a.index]! : a.kind === 'step' ? vals[a.index]! : ctx.constant(ctx.backend.full(a.shape, a.value, p.dtype))));
    vals.push(apply(s.op as Op, args, s.params as never));
  }
  return vals[vals.length - 1]!;
}

/**
 * The gradients of a fused node's inputs: the chain's backward pass, traced from the chain's
 * own ops once per program and set of inputs that need a gradient, optimised (so it runs as
 * fused loops), then run like any graph: recorded when the walker records (createGraph).
 */
function fusedBackward(g: Variable, xs: readonly Variable[], p: FusedProgram, needs: readonly boolean[]): Grads {
  const which = needs.flatMap((n, i) => (n ? [i] : []));
  const backend = realBackend(g.ctx);
  const plan = p.cached(`backward:${backend.name}:${which.join(',')}`, () => {
    const graph = trace((gy, ...xx) => {
      const y = expandVariables(xx, p);
      const grads = y.grad(gy, { createGraph: true });
      return which.map((i) => grads.variable(xx[i]!));
    }, [g, ...xs]);
    return new Plan(optimize(graph, { backend }).graph);
  });
  const outs = plan.run([g, ...xs]);
  const result: Grads = xs.map(() => null);
  which.forEach((i, k) => (result[i] = outs[k]!));
  return result;
}

// Registered under the op name the walker and `apply` look up, but not enumerable: listing the
// primitives (Object.keys(rules)) still gives the engine's own, which gradcheck covers one by one.
if (!Object.hasOwn(rules, 'fused')) {
  const fused: Rule<Op> = {
    forward: (b, xs, p) => runFused(b, xs, p as unknown as FusedProgram),
    backward: (g, xs, _y, p, needs) => fusedBackward(g, xs, p as unknown as FusedProgram, needs),
  };
  Object.defineProperty(rules, 'fused', { value: fused, enumerable: false });
}

