/**
 * The graph IR the rewrite rules work on: nodes (op, params, inputs) and leaves (the traced
 * function's inputs, captured variables, constants), with the shape and dtype of each.
 *
 * Nodes are hash-consed: a GraphBuilder keeps one node per (op, params, inputs), so building
 * `exp(x)` twice gives the same node, common subexpressions are shared by construction, and two
 * patterns bound to the same node are equal exactly when they are the same object. Node ids grow
 * as nodes are made and a node is made after its inputs, so sorting by id is a topological order.
 */
import { rules, type Op } from '../primitives.js';
import { formatShape, sameShape, type DType, type Shape, type Tensor } from '../tensor.js';
import type { Variable } from '../variable.js';
import { shapes } from './shapes.js';
import { letterName } from '../printing.js';

/** The primitives, plus the IR's own: `fused` (a chain of elementwise ops in one loop) and `detach` (a stop-gradient). */
export type IROp = Op | 'fused' | 'detach';

/**
 * input: the traced function's argument `index`; capture: a variable the function closed over,
 * used by reference (its current value at each call); const: every element equal to `value`;
 * tensor: a constant tensor, by reference; op: `op` applied to `inputs`.
 */
export type NodeKind = 'input' | 'capture' | 'const' | 'tensor' | 'op';

/** What a fused node's params provide to the IR (fusion.ts defines the program). */
export interface FusedParams {
  readonly key: string;
  readonly expr: string;
  readonly shape: readonly number[];
}

interface NodeInit {
  kind: NodeKind;
  op?: IROp;
  params?: unknown;
  inputs?: readonly Node[];
  shape: Shape;
  dtype: DType;
  index?: number;
  value?: number;
  tensor?: Tensor;
  variable?: Variable;
  name?: string;
  /** A tensor the function did not create (a captured variable's): it may change in place, so it is never folded. */
  external?: boolean;
}

export class Node {
  readonly kind: NodeKind;
  readonly op: IROp | null;
  readonly params: unknown;
  readonly inputs: readonly Node[];
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** input: the argument position (-1 otherwise). */
  readonly index: number;
  /** const: the value of every element (null otherwise). */
  readonly value: number | null;
  readonly tensor: Tensor | null;
  readonly variable: Variable | null;
  readonly name: string | undefined;
  readonly external: boolean;

  constructor(readonly id: number, readonly key: string, init: NodeInit) {
    this.kind = init.kind;
    this.op = init.op ?? null;
    this.params = init.params ?? null;
    this.inputs = init.inputs ?? [];
    this.shape = init.shape;
    this.dtype = init.dtype;
    this.index = init.index ?? -1;
    this.value = init.value ?? null;
    this.tensor = init.tensor ?? null;
    this.variable = init.variable ?? null;
    this.name = init.name;
    this.external = init.external ?? false;
  }

  get isLeaf(): boolean {
    return this.kind !== 'op';
  }

  /** A constant: a `const` splat or a constant tensor the function made. */
  get isConstant(): boolean {
    return this.kind === 'const' || (this.kind === 'tensor' && !this.external);
  }

  get size(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }
}

/**
 * Variables a Plan made for constant nodes, and their tensors (execute.ts): they never change,
 * so a trace that meets one made before it started (a cached plan run inside the trace) takes
 * it as a constant it can fold, not as a captured variable or a tensor that may change.
 */
export const planConstants = new WeakSet<object>();

/** A stable text for params, so equal params give equal keys. */
export function paramsKey(p: unknown): string {
  if (p === null || p === undefined) return '';
  if (typeof p !== 'object') return String(p);
  if (p instanceof Int32Array || Array.isArray(p)) return `[${Array.from(p as ArrayLike<unknown>, paramsKey).join(',')}]`;
  const key = (p as { key?: unknown }).key;
  if (typeof key === 'string') return key;
  return `{${Object.entries(p as Record<string, unknown>).map(([k, v]) => `${k}:${paramsKey(v)}`).join(',')}}`;
}

/** A number as source text that reads back to the same float: -0 stays -0. */
export function numberText(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

function bitsEqual(a: number, b: number): boolean {
  return Object.is(a, b) || (a !== a && b !== b);
}

/** Makes nodes, one per distinct (op, params, inputs) or leaf. */
export class GraphBuilder {
  private readonly table = new Map<string, Node>();
  private nextId = 0;
  private readonly objectIds = new WeakMap<object, number>();
  private nextObjectId = 0;

  constructor(readonly dtype: DType) {}

  private objectId(o: object): number {
    let id = this.objectIds.get(o);
    if (id === undefined) this.objectIds.set(o, (id = this.nextObjectId++));
    return id;
  }

  private intern(key: string, init: NodeInit): Node {
    let n = this.table.get(key);
    if (!n) this.table.set(key, (n = new Node(this.nextId++, key, init)));
    return n;
  }

  input(index: number, shape: Shape, name?: string): Node {
    return this.intern(`in|${index}`, { kind: 'input', shape: [...shape], dtype: this.dtype, index, name });
  }

  capture(v: Variable): Node {
    return this.intern(`cap|${this.objectId(v)}`, { kind: 'capture', shape: [...v.shape], dtype: v.dtype, variable: v, name: v.name });
  }

  /** A constant of `shape` with every element `value` (rounded to float32 in a float32 graph). */
  constant(value: number, shape: Shape = []): Node {
    const v = this.dtype === 'float32' ? Math.fround(value) : value;
    return this.intern(`c|${shape.join(',')}|${numberText(v)}`, { kind: 'const', shape: [...shape], dtype: this.dtype, value: v });
  }

  /**
   * A constant tensor. One the traced function made (`own`) whose elements are all equal becomes
   * a `const` splat, so rules can see its value; any other is kept by reference.
   */
  tensor(t: Tensor, own: boolean): Node {
    if (own && t.size > 0) {
      const data = t.data();
      const first = data[0]!;
      let uniform = true;
      for (let i = 1; i < data.length && uniform; i++) uniform = bitsEqual(data[i]!, first);
      if (uniform) return this.constant(first, t.shape);
    }
    return this.intern(`t|${this.objectId(t)}`, { kind: 'tensor', shape: [...t.shape], dtype: t.dtype, tensor: t, external: !own });
  }

  /** The node `op(inputs)` with `params`; its shape is inferred (a ShapeError if the inputs do not fit). */
  make(op: IROp, params: unknown, inputs: readonly Node[]): Node {
    const key = `${op}|${paramsKey(params)}|${inputs.map((n) => n.id).join(',')}`;
    const found = this.table.get(key);
    if (found) return found;
    return this.intern(key, { kind: 'op', op, params, inputs: [...inputs], shape: inferShape(op, params, inputs), dtype: this.dtype });
  }
}

/** The output shape of `op` on inputs of these shapes, by the same checks the kernels make. */
export function inferShape(op: IROp, params: unknown, inputs: readonly Node[]): number[] {
  if (op === 'detach') return [...inputs[0]!.shape];
  if (op === 'fused') return [...(params as FusedParams).shape];
  const symbols = inputs.map((n) => shapes.symbol(n.shape, n.dtype));
  return [...rules[op].forward(shapes, symbols, params as never).shape];
}

/** A traced or rewritten function: its input leaves (by argument position) and its outputs. */
export class Graph {
  private sorted: Node[] | null = null;

  constructor(readonly builder: GraphBuilder, readonly inputs: readonly Node[], readonly outputs: readonly Node[]) {}

  get dtype(): DType {
    return this.builder.dtype;
  }

  /** Every node the outputs depend on, inputs before the ops that use them. */
  nodes(): Node[] {
    if (this.sorted) return this.sorted;
    const seen = new Set<Node>();
    const stack = [...this.outputs];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      for (const x of n.inputs) if (!seen.has(x)) stack.push(x);
    }
    return (this.sorted = [...seen].sort((a, b) => a.id - b.id));
  }

  /** The op nodes (what runs a kernel). */
  ops(): Node[] {
    return this.nodes().filter((n) => n.kind === 'op');
  }

  /** Op nodes by op name, most frequent first. */
  countOps(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const n of this.ops()) counts.set(n.op!, (counts.get(n.op!) ?? 0) + 1);
    return new Map([...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  }
}

// ------------------------------------------------------------------------------ printing


function literal(v: number): string {
  return Number.isInteger(v) && !Object.is(v, -0) ? v.toFixed(1) : numberText(v);
}

function formatParams(n: Node): string {
  if (n.op === 'fused') return `{${(n.params as FusedParams).expr}}`;
  const p = n.params;
  if (p === null || typeof p !== 'object') return '';
  const parts = Object.entries(p as Record<string, unknown>).map(([k, v]) => `${k}=${v instanceof Int32Array || Array.isArray(v) ? `[${Array.from(v as ArrayLike<unknown>).join(',')}]` : String(v)}`);
  return parts.length ? `[${parts.join(' ')}]` : '';
}

export interface PrintIROptions {
  /** Names for nodes (inputs, captures, outputs); others get their own name or a, b, c, ... */
  names?: ReadonlyMap<Node, string>;
}

/**
 * The graph as jaxpr-like text, one line per op: `c:f32[4,16] = add a b`. Before `;`: constant
 * tensors and captured variables; after: the inputs. Scalar constants print inline as literals;
 * a constant of other shape as `name:f32[..]=value`.
 */
export function printIR(graph: Graph, options: PrintIROptions = {}): string {
  const names = new Map<Node, string>(options.names ?? []);
  const used = new Set(names.values());
  let counter = 0;
  const fresh = (preferred: string | undefined): string => {
    let name = preferred !== undefined && !used.has(preferred) ? preferred : undefined;
    while (name === undefined || used.has(name)) name = letterName(counter++);
    used.add(name);
    return name;
  };
  const nodes = graph.nodes();
  const inline = (n: Node) => n.kind === 'const' && n.shape.length === 0;
  for (const n of graph.inputs) if (!names.has(n)) names.set(n, fresh(n.name ?? `in${n.index}`));
  for (const n of nodes) if (!names.has(n) && !inline(n)) names.set(n, fresh(n.name));
  const name = (n: Node) => (inline(n) ? literal(n.value!) : names.get(n)!);
  const typed = (n: Node) => `${name(n)}:${formatShape(n.shape, n.dtype)}`;
  const consts = nodes.filter((n) => (n.kind === 'const' && !inline(n)) || n.kind === 'tensor' || n.kind === 'capture');
  const head = consts.map((n) => (n.kind === 'const' ? `${typed(n)}=${literal(n.value!)}` : typed(n)));
  const lines = [`{ lambda ${head.join(' ')} ; ${graph.inputs.map(typed).join(' ')} . let`];
  for (const n of nodes) {
    if (n.kind !== 'op') continue;
    lines.push(`    ${typed(n)} = ${n.op}${formatParams(n)} ${n.inputs.map(name).join(' ')}`);
  }
  lines.push(`  in ( ${graph.outputs.map(name).join(' ')} ) }`);
  return lines.join('\n');
}

/** Whether two nodes have the same shape. */
export function sameNodeShape(a: Node, b: Node): boolean {
  return sameShape(a.shape, b.shape);
}
