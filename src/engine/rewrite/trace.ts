/**
 * Tracing: runs a function of Variables on inputs that have a shape but no data, and turns what
 * it recorded into the graph IR. No kernel runs on real data: for the length of the call the
 * context's backend is a TracingBackend, whose tensors are shape-only (shapes.ts); only the
 * constants the function makes (`ctx.constant`, a number lifted to a scalar) are real tensors.
 *
 * The recorded Variables give the ops and where gradients flow. What the autograd does not record
 * (comparisons and sign, whose outputs are constants, and ops run under noGrad or on a detached
 * value) is recovered from the backend's provenance of each shape-only tensor; a value computed
 * that way from the inputs becomes `detach(...)`, so gradients stop there as they did in `f`.
 *
 * Variables created before the trace (a model's parameters, data the function closes over) are
 * captured by reference: the compiled function reads their value at each call.
 */
import type { Backend } from '../backend.js';
import type { Tensor, Shape, DType, TypedArray } from '../tensor.js';
import { Variable, type Context } from '../variable.js';
import { CompileError, TraceError } from './errors.js';
import { Graph, GraphBuilder, planConstants, type Node } from './ir.js';
import { inlineProgram, type FusedProgram } from './fusion.js';
import { ShapeBackend, isSymbolic, provenanceOf } from './shapes.js';

/** A shape-only backend over a real one: constants the traced function makes are real tensors of `real`. */
export class TracingBackend extends ShapeBackend {
  override readonly name = 'trace';
  private readonly own = new WeakSet<Tensor>();

  constructor(readonly real: Backend) {
    super();
  }

  /** Whether the traced function made this (real) tensor, so that nothing else can change it. */
  owns(t: Tensor): boolean {
    return this.own.has(t);
  }

  override fromData(data: ArrayLike<number>, shape: Shape, dtype: DType): Tensor {
    const t = this.real.fromData(data, shape, dtype);
    this.own.add(t);
    return t;
  }

  override full(shape: Shape, value: number, dtype: DType): Tensor {
    const t = this.real.full(shape, value, dtype);
    this.own.add(t);
    return t;
  }

  override read(x: Tensor): TypedArray {
    return isSymbolic(x) ? super.read(x) : this.real.read(x);
  }

  override allFinite(x: Tensor): boolean {
    return isSymbolic(x) ? true : this.real.allFinite(x);
  }
}

/** A function that can be traced: Variables in, one Variable or a list out. */
export type Traceable = (...xs: Variable[]) => Variable | readonly Variable[];

export interface Traced {
  graph: Graph;
  /** `f` returned one Variable (not a list). */
  single: boolean;
}

/** The backend a context computes on, beneath any trace in progress. */
export function realBackend(ctx: Context): Backend {
  return ctx.backend instanceof TracingBackend ? ctx.backend.real : ctx.backend;
}

/** The one context of `examples`, checked. */
export function contextOf(examples: readonly Variable[], what: string): Context {
  const first = examples[0];
  if (!(first instanceof Variable)) throw new CompileError(`${what}: give at least one Variable argument (its context is where the graph runs)`);
  for (const e of examples) {
    if (!(e instanceof Variable)) throw new CompileError(`${what}: every argument must be a Variable, got ${typeof e}; make numbers and arrays constants with ctx.constant()`);
    if (e.ctx !== first.ctx) throw new CompileError(`${what}: arguments of two contexts, ${first.ctx} and ${e.ctx}; create them in one context`);
  }
  return first.ctx;
}

/**
 * Records `f` on shape-only inputs shaped like `examples` (their values are never read) and
 * returns its graph: nodes for the ops, leaves for the inputs, constants and captured variables.
 */
export function trace(f: Traceable, examples: readonly Variable[]): Graph {
  return traceFunction(f, examples).graph;
}

export function traceFunction(f: Traceable, examples: readonly Variable[]): Traced {
  const ctx = contextOf(examples, 'trace');
  const tracer = new TracingBackend(realBackend(ctx));
  // The context's backend is swapped for the call only (JS runs it to the end uninterrupted):
  // variables created before the trace keep their real tensors and are captured by reference.
  const swap = ctx as unknown as { backend: Backend };
  const saved = { backend: ctx.backend, recording: ctx.recording, profiler: ctx.profiler };
  swap.backend = tracer;
  ctx.recording = true;
  ctx.profiler = null;
  let inputs: Variable[];
  let out: Variable | readonly Variable[];
  try {
    inputs = examples.map((e) => {
      // requiresGrad on every input, so that every op that depends on one is recorded.
      const v = new Variable(ctx, tracer.symbol(e.shape, e.dtype), null, null, null, true);
      v.name = e.name;
      return v;
    });
    out = f(...inputs);
  } finally {
    swap.backend = saved.backend;
    ctx.recording = saved.recording;
    ctx.profiler = saved.profiler;
  }
  const single = out instanceof Variable;
  const outputs = single ? [out as Variable] : [...(out as readonly Variable[])];
  for (const o of outputs) {
    if (!(o instanceof Variable) || o.ctx !== ctx) throw new TraceError('a traced function must return a Variable or a list of Variables of its inputs\' context');
  }
  return { graph: toGraph(ctx.dtype, tracer, inputs, outputs), single };
}

type Item = Variable | Tensor;

/** The IR of what `outputs` were computed from. */
function toGraph(dtype: DType, tracer: TracingBackend, inputs: readonly Variable[], outputs: readonly Variable[]): Graph {
  const builder = new GraphBuilder(dtype);
  const inputNodes = inputs.map((v, i) => builder.input(i, v.shape, v.name));
  const inputOf = new Map<Item, Node>();
  inputs.forEach((v, i) => {
    inputOf.set(v, inputNodes[i]!);
    inputOf.set(v.tensor, inputNodes[i]!);
  });
  // Variables are numbered as they are made: those older than the trace's inputs were captured.
  const start = inputs[0]!.id;
  // A variable's tensor can also turn up in the provenance of an unrecorded value (the mask of
  // relu's backward reads the pre-activation): it must become that variable's node, the same
  // capture, or the op recorded, not a second computation of the value from the backend's calls.
  const capturedTensors = new Map<Tensor, Variable>();
  const recordedTensors = new Map<Tensor, Variable>();
  const seen = new Set<Variable>();
  const pending = [...outputs];
  while (pending.length > 0) {
    const v = pending.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (v.id < start) capturedTensors.set(v.tensor, v);
    else if (v.inputs) {
      if (!recordedTensors.has(v.tensor)) recordedTensors.set(v.tensor, v);
      pending.push(...v.inputs);
    }
  }
  // Nodes through which a gradient can reach an input or a captured variable (not through a
  // comparison or sign: their outputs are constants).
  const varying = new Set<Node>(inputNodes);

  const depsOf = (item: Item): readonly Item[] => {
    if (inputOf.has(item)) return [];
    if (item instanceof Variable) {
      if (item.id < start) return [];
      if (item.op !== null) return item.inputs!;
      return isSymbolic(item.tensor) ? [item.tensor] : [];
    }
    const recorded = recordedTensors.get(item);
    if (recorded) return [recorded];
    if (!isSymbolic(item)) return [];
    const made = provenanceOf(item);
    if (!made) throw new TraceError('a traced function used a value of an enclosing trace that is not its argument: pass it as an argument');
    return made.inputs;
  };

  const build = (item: Item, deps: readonly Node[]): Node => {
    const input = inputOf.get(item);
    if (input) return input;
    if (item instanceof Variable) {
      if (item.id < start && planConstants.has(item)) return builder.tensor(item.tensor, true);
      if (item.id < start) {
        if (isSymbolic(item.tensor)) {
          throw new TraceError(`a traced function used ${item.describe()}, whose value is traced but not an argument (assigned inside the trace, or from an enclosing trace): pass it as an argument and run updates outside`);
        }
        return builder.capture(item);
      }
      if ((item.op as string | null) === 'fused') return inlineProgram(builder, item.params as FusedProgram, deps);
      if (item.op !== null) return builder.make(item.op, item.params, deps);
      if (!isSymbolic(item.tensor)) return builder.tensor(item.tensor, tracer.owns(item.tensor));
      // Computed from the inputs but not recorded: the value is kept, gradients stop (unless no
      // gradient could flow anyway: a constant expression, or one through comparisons only).
      const n = deps[0]!;
      return varying.has(n) ? builder.make('detach', null, [n]) : n;
    }
    if (recordedTensors.has(item)) return deps[0]!;
    if (!isSymbolic(item)) {
      const v = capturedTensors.get(item);
      return v ? builder.capture(v) : builder.tensor(item, tracer.owns(item) || planConstants.has(item));
    }
    const made = provenanceOf(item)!;
    return builder.make(made.op, made.params, deps);
  };

  const memo = new Map<Item, Node>();
  const expanded = new Set<Item>();
  const stack: Item[] = [...outputs].reverse();
  // Iterative post-order: a chain of a million ops does not overflow the stack.
  while (stack.length > 0) {
    const item = stack[stack.length - 1]!;
    if (memo.has(item)) {
      stack.pop();
      continue;
    }
    const deps = depsOf(item);
    if (!expanded.has(item)) {
      expanded.add(item);
      for (let i = deps.length - 1; i >= 0; i--) if (!memo.has(deps[i]!)) stack.push(deps[i]!);
      continue;
    }
    stack.pop();
    const inputs = deps.map((d) => memo.get(d)!);
    const n = build(item, inputs);
    if (n.kind === 'capture' || (n.kind === 'op' && n.op !== 'compare' && n.op !== 'sign' && n.op !== 'detach' && n.inputs.some((x) => varying.has(x)))) varying.add(n);
    memo.set(item, n);
  }
  return new Graph(builder, inputNodes, outputs.map((o) => memo.get(o)!));
}
