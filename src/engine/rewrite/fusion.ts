/**
 * Fusion: a chain (or tree) of elementwise ops whose intermediate values nothing else reads
 * becomes one `fused` node, run as one loop over the output: each element is loaded once, the
 * chain is computed in registers and stored once, where the unfused chain makes one pass and one
 * output array per op.
 *
 * A FusedProgram is the chain as steps over its inputs; its kernel is generated source (compiled
 * with `new Function`, as the CPU backend compiles its loops) specialised to how each input
 * broadcasts. In float32 each step is rounded to float32 (Math.fround) as the CPU backend's
 * loops store it, so a fused chain gives the same bits as its ops one by one. Which ops join a
 * loop depends on the backend (fusibleOn): the fast CPU backend's float32 SIMD kernels stay out.
 * Backends other than the CPU run the steps as their own kernels. The gradient of a fused node
 * is the chain's own (execute.ts).
 */
import type { Backend, UnaryOp } from '../backend.js';
import { CpuBackend, binaryExpr, broadcastIndex, compileElementwise, isTrailing, unarySource } from '../backends/cpu.js';
import { FastCpuBackend } from '../backends/fast-cpu.js';
import type { Comparison } from '../primitives.js';
import { arrayFor, sameShape, sizeOf, type DType, type Shape, type Tensor, type TypedArray } from '../tensor.js';
import { Graph, numberText, type FusedParams, type GraphBuilder, type IROp, type Node } from './ir.js';

const UNARY_OPS = new Set<string>([
  'neg', 'exp', 'log', 'sqrt', 'abs', 'sign', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan',
  'sinh', 'cosh', 'tanh', 'sigmoid', 'softplus', 'relu',
]);
const BINARY_OPS = new Set<string>(['add', 'sub', 'mul', 'div', 'pow']);

export type FusibleOp = UnaryOp | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'compare' | 'where';

/** Whether `op` computes each output element from the same element of its (broadcast) inputs. */
export function isElementwise(op: IROp | null): op is FusibleOp {
  return op !== null && (UNARY_OPS.has(op) || BINARY_OPS.has(op) || op === 'compare' || op === 'where');
}

/** An argument of a step: input `index` of the fused node, an earlier step's value, or a constant. */
export type StepArg =
  | { readonly kind: 'input'; readonly index: number }
  | { readonly kind: 'step'; readonly index: number }
  | { readonly kind: 'literal'; readonly value: number; readonly shape: readonly number[] };

export interface Step {
  readonly op: FusibleOp;
  readonly params: { readonly cmp: Comparison } | null;
  readonly args: readonly StepArg[];
}

/** How an input is read inside the loop over the output: all of it, one value, repeating rows, or by index. */
export type InputMode = 'same' | 'scalar' | 'trailing' | 'indexed';
/** A generated loop: `aux[k]` is input k's row length (trailing) or index array (indexed). */
export type FusedKernel = (ins: readonly TypedArray[], out: TypedArray, n: number, aux: readonly (number | Int32Array | null)[]) => void;
type Mode = InputMode;
type Kernel = FusedKernel;

/**
 * Kernels by dtype, chain and input modes, shared by every program of that chain: an unrolled
 * RNN has one chain per step, and one function run 50 times a step is optimised by V8 where 50
 * functions run once each linger in its lower tiers (measured on W5: the fused kernels' time per
 * step fell from 10.2 to 6.1 ms when the 50 copies became one).
 */
const kernels = new Map<string, Kernel>();
/**
 * Programs by key: the same chain at the same shapes is one program, with one backward plan.
 * Forgotten wholesale past a bound, so that a process compiling ever new shapes does not grow
 * without end (a forgotten program still works; only its sharing is lost).
 */
const programs = new Map<string, FusedProgram>();
const MAX_PROGRAMS = 4096;

/**
 * A fused chain: `steps` over `inputShapes.length` inputs; the last step is the output, of
 * `shape`. Its only enumerable property is `expr`, the readable chain graph printers show.
 * Make one with FusedProgram.of, which returns the existing program of an equal chain.
 */
export class FusedProgram implements FusedParams {
  /** The chain as an expression of its inputs x0, x1, ...: `mul(sigmoid(x0), 2.0)`. */
  readonly expr: string;
  readonly #key: string;
  readonly #ssa: string;
  readonly #steps: readonly Step[];
  readonly #inputShapes: readonly (readonly number[])[];
  readonly #shape: readonly number[];
  readonly #dtype: DType;
  readonly #cache = new Map<string, unknown>();

  static of(steps: readonly Step[], inputShapes: readonly Shape[], shape: Shape, dtype: DType): FusedProgram {
    const p = new FusedProgram(steps, inputShapes, shape, dtype);
    const known = programs.get(p.key);
    if (known) return known;
    if (programs.size >= MAX_PROGRAMS) programs.clear();
    programs.set(p.key, p);
    return p;
  }

  private constructor(steps: readonly Step[], inputShapes: readonly Shape[], shape: Shape, dtype: DType) {
    this.#steps = steps;
    this.#inputShapes = inputShapes.map((s) => [...s]);
    this.#shape = [...shape];
    this.#dtype = dtype;
    this.expr = describe(steps);
    this.#ssa = steps.map((s) => `${s.op}${s.params ? `:${s.params.cmp}` : ''}(${s.args.map(argKey).join(',')})`).join(';');
    this.#key = `fused:${dtype}:${this.#inputShapes.map((s) => `[${s.join(',')}]`).join('')}->[${shape.join(',')}]:${this.#ssa}`;
  }

  get key(): string { return this.#key; }
  get steps(): readonly Step[] { return this.#steps; }
  get inputShapes(): readonly (readonly number[])[] { return this.#inputShapes; }
  get shape(): readonly number[] { return this.#shape; }
  get dtype(): DType { return this.#dtype; }
  get arity(): number { return this.#inputShapes.length; }

  /** A per-program cache for derived things (the backward plans of execute.ts). */
  cached<T>(key: string, make: () => T): T {
    let v = this.#cache.get(key) as T | undefined;
    if (v === undefined) this.#cache.set(key, (v = make()));
    return v;
  }

  kernel(modes: readonly Mode[]): Kernel {
    const key = `${this.#dtype}|${modes.join(',')}|${this.#ssa}`;
    let k = kernels.get(key);
    if (!k) {
      if (kernels.size >= MAX_PROGRAMS) kernels.clear();
      kernels.set(key, (k = compileKernel(this.#steps, modes, this.#dtype)));
    }
    return k;
  }
}

function argKey(a: StepArg): string {
  if (a.kind === 'input') return `x${a.index}`;
  if (a.kind === 'step') return `t${a.index}`;
  return `${numberText(a.value)}[${a.shape.join(',')}]`;
}

function literalText(v: number): string {
  return Number.isInteger(v) && !Object.is(v, -0) ? v.toFixed(1) : numberText(v);
}

/** The steps as one expression; a step used twice is named once (`t0=exp(x0); mul(t0, t0)`). */
function describe(steps: readonly Step[]): string {
  const uses = new Array<number>(steps.length).fill(0);
  for (const s of steps) for (const a of s.args) if (a.kind === 'step') uses[a.index]!++;
  const text: string[] = [];
  const lets: string[] = [];
  steps.forEach((s, i) => {
    const args = s.args.map((a) => (a.kind === 'input' ? `x${a.index}` : a.kind === 'literal' ? literalText(a.value) : text[a.index]!));
    const name = s.op === 'compare' ? s.params!.cmp : s.op;
    const e = `${name}(${args.join(', ')})`;
    if (uses[i]! > 1) {
      lets.push(`t${i}=${e}`);
      text[i] = `t${i}`;
    } else text[i] = e;
  });
  return [...lets, text[steps.length - 1]!].join('; ');
}

// ------------------------------------------------------------------------------ kernels

function stepExpr(s: Step, a: readonly string[], dtype: DType): string {
  switch (s.op) {
    case 'add': case 'sub': case 'mul': case 'div': case 'pow': return binaryExpr[s.op](a[0]!, a[1]!);
    case 'compare': return binaryExpr[s.params!.cmp](a[0]!, a[1]!);
    case 'where': return `(${a[0]} !== 0 ? ${a[1]} : ${a[2]})`;
    default: return unarySource(s.op, dtype, a[0]!);
  }
}

function compileKernel(steps: readonly Step[], modes: readonly Mode[], dtype: DType): Kernel {
  const head: string[] = [];
  const load: string[] = [];
  modes.forEach((m, k) => {
    if (m === 'scalar') head.push(`const x${k} = ins[${k}][0];`);
    else if (m === 'same') {
      head.push(`const a${k} = ins[${k}];`);
      load.push(`const x${k} = a${k}[i];`);
    } else if (m === 'trailing') {
      // The input repeats every m elements of the output: a wrapping counter, not i % m.
      head.push(`const a${k} = ins[${k}], m${k} = aux[${k}]; let j${k} = 0;`);
      load.push(`const x${k} = a${k}[j${k}]; if (++j${k} === m${k}) j${k} = 0;`);
    } else {
      head.push(`const a${k} = ins[${k}], ix${k} = aux[${k}];`);
      load.push(`const x${k} = a${k}[ix${k}[i]];`);
    }
  });
  const round = (e: string) => (dtype === 'float32' ? `f(${e})` : e);
  const body = steps.map((s, i) => {
    const args = s.args.map((a) => (a.kind === 'input' ? `x${a.index}` : a.kind === 'step' ? `t${a.index}` : `(${numberText(a.value)})`));
    return `const t${i} = ${round(stepExpr(s, args, dtype))};`;
  });
  return compileElementwise<Kernel>(`function fused(ins, out, n, aux) {
  ${head.join('\n  ')}
  for (let i = 0; i < n; i++) {
    ${load.join('\n    ')}
    ${body.join('\n    ')}
    out[i] = t${steps.length - 1};
  }
}`);
}

/** Runs a fused node: one generated loop on a CPU backend, the steps' own kernels elsewhere. */
export function runFused(b: Backend, xs: readonly Tensor[], p: FusedProgram): Tensor {
  if (!(b instanceof CpuBackend)) return expandTensors(b, xs, p);
  const n = sizeOf(p.shape);
  const modes: Mode[] = [];
  const aux: (number | Int32Array | null)[] = [];
  for (const x of xs) {
    if (x.size === n) {
      modes.push('same');
      aux.push(null);
    } else if (x.size === 1) {
      modes.push('scalar');
      aux.push(null);
    } else if (isTrailing(x.shape, p.shape)) {
      modes.push('trailing');
      aux.push(x.size);
    } else {
      modes.push('indexed');
      aux.push(broadcastIndex(x.shape, p.shape));
    }
  }
  const out = arrayFor(p.dtype, n);
  p.kernel(modes)(xs.map((x) => b.read(x)), out, n, aux);
  return b.make(p.shape, p.dtype, out);
}

/** The steps as the backend's own kernels, one by one. */
export function expandTensors(b: Backend, xs: readonly Tensor[], p: FusedProgram): Tensor {
  const vals: Tensor[] = [];
  for (const s of p.steps) {
    const a = s.args.map((arg) => (arg.kind === 'input' ? xs[arg.index]! : arg.kind === 'step' ? vals[arg.index]! : b.full(arg.shape, arg.value, p.dtype)));
    if (s.op === 'compare') vals.push(b.binary(s.params!.cmp, a[0]!, a[1]!));
    else if (s.op === 'where') vals.push(b.where(a[0]!, a[1]!, a[2]!));
    else if (BINARY_OPS.has(s.op)) vals.push(b.binary(s.op as 'add', a[0]!, a[1]!));
    else vals.push(b.unary(s.op as UnaryOp, a[0]!));
  }
  return vals[vals.length - 1]!;
}

/** The steps as IR nodes over `inputs` (a fused node taken apart again). */
export function inlineProgram(builder: GraphBuilder, p: FusedProgram, inputs: readonly Node[]): Node {
  const vals: Node[] = [];
  for (const s of p.steps) {
    const args = s.args.map((a) => (a.kind === 'input' ? inputs[a.index]! : a.kind === 'step' ? vals[a.index]! : builder.constant(a.value, a.shape)));
    vals.push(builder.make(s.op, s.params, args));
  }
  return vals[vals.length - 1]!;
}

// ------------------------------------------------------------------------------ the pass

export interface FuseOptions {
  /** The most ops one fused node takes (default 48). */
  maxSteps?: number;
  /**
   * The most distinct inputs one fused node reads (default 8): each is a live array in the
   * loop, and V8 spills past a few (a sum of 49 gradients as one loop ran 4x slower than 48 adds).
   */
  maxInputs?: number;
  /** Which elementwise ops, at how many elements, may join a fused loop (default: all; see fusibleOn). */
  fusible?: (op: FusibleOp, size: number) => boolean;
}

/**
 * float32 ops the fast CPU backend runs as WebAssembly SIMD kernels (fast-cpu.ts's lists), and
 * the sizes from which it does (its MIN_UNARY and MIN_BINARY): below, it runs scalar loops too.
 */
const SIMD_F32_UNARY = new Set<string>(['exp', 'log', 'tanh', 'sigmoid']);
const SIMD_F32_BINARY = new Set<string>(['add', 'sub', 'mul', 'div']);
const SIMD_UNARY_FROM = 16;
const SIMD_BINARY_FROM = 128;

/**
 * The elementwise ops worth fusing on `backend`. A fused loop is scalar JavaScript; on the fast
 * CPU backend in float32, the ops it runs as SIMD kernels are faster one by one than any scalar
 * loop over them, so they stay out of fused loops at the sizes where it uses SIMD. Measured
 * (1e6 elements, bench/rewrite.ts): 2·σ(x) 3.6 ms as SIMD sigmoid and multiply, 16 ms as one
 * scalar loop; y·(1 - x²) over 4096 elements: 11 to 14 us as a scalar loop, under 2 us a SIMD op.
 * Every other op (relu, comparisons, where, neg, pow, ...) is a scalar loop on every backend, and
 * in float64 all of them are: those always fuse.
 */
export function fusibleOn(backend: Backend | undefined, dtype: DType): (op: FusibleOp, size: number) => boolean {
  if (backend instanceof FastCpuBackend && dtype === 'float32') {
    return (op, size) => !(SIMD_F32_UNARY.has(op) && size >= SIMD_UNARY_FROM) && !(SIMD_F32_BINARY.has(op) && size >= SIMD_BINARY_FROM);
  }
  return () => true;
}

export interface FuseResult {
  graph: Graph;
  /** Fused nodes made, and the op nodes they replaced. */
  groups: number;
  fusedOps: number;
}

/**
 * Groups elementwise nodes into fused nodes. A group grows from its root (the last op) into
 * inputs that are elementwise, of the root's shape (so no element is computed twice), and read
 * by nothing outside the group (so no intermediate value needs storing); a group of one op is
 * left alone. Scalar constants become literals of the generated loop.
 */
export function fuse(graph: Graph, options: FuseOptions = {}): FuseResult {
  const max = options.maxSteps ?? 48;
  const maxInputs = options.maxInputs ?? 8;
  const allowed = options.fusible ?? (() => true);
  const fusible = (n: Node) => n.kind === 'op' && isElementwise(n.op) && allowed(n.op, n.size);
  const nodes = graph.nodes();
  const consumers = new Map<Node, Node[]>();
  for (const n of nodes) for (const x of n.inputs) {
    let list = consumers.get(x);
    if (!list) consumers.set(x, (list = []));
    if (!list.includes(n)) list.push(n);
  }
  const outputs = new Set(graph.outputs);
  const inGroup = new Set<Node>();
  const groups = new Map<Node, Node[]>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const root = nodes[i]!;
    if (!fusible(root) || inGroup.has(root)) continue;
    const members = new Set<Node>([root]);
    for (let grew = true; grew && members.size < max; ) {
      grew = false;
      for (const m of [...members]) {
        for (const x of m.inputs) {
          if (members.size >= max) break;
          if (members.has(x) || inGroup.has(x) || outputs.has(x) || !fusible(x)) continue;
          if (!sameShape(x.shape, root.shape)) continue;
          if (!consumers.get(x)!.every((c) => members.has(c))) continue;
          members.add(x);
          if (externalInputs(members) > maxInputs) {
            members.delete(x);
            continue;
          }
          grew = true;
        }
      }
    }
    if (members.size < 2) continue;
    // A chain of constants alone has no input to take its context from (folding handles it).
    if (![...members].some((m) => m.inputs.some((x) => !members.has(x) && x.kind !== 'const'))) continue;
    for (const m of members) inGroup.add(m);
    groups.set(root, [...members].sort((a, b) => a.id - b.id));
  }

  const builder = graph.builder;
  const mapped = new Map<Node, Node>();
  let fusedOps = 0;
  for (const n of nodes) {
    if (n.kind !== 'op') {
      mapped.set(n, n);
      continue;
    }
    const members = groups.get(n);
    if (members) {
      const { program, inputs } = programOf(members, graph.dtype);
      mapped.set(n, builder.make('fused', program, inputs.map((x) => mapped.get(x)!)));
      fusedOps += members.length;
    } else if (!inGroup.has(n)) {
      mapped.set(n, builder.make(n.op!, n.params, n.inputs.map((x) => mapped.get(x)!)));
    }
  }
  const out = new Graph(builder, graph.inputs, graph.outputs.map((o) => mapped.get(o)!));
  return { graph: out, groups: groups.size, fusedOps };
}

/** How many distinct non-constant nodes outside the group its members read. */
function externalInputs(members: ReadonlySet<Node>): number {
  const outside = new Set<Node>();
  for (const m of members) for (const x of m.inputs) if (!members.has(x) && x.kind !== 'const') outside.add(x);
  return outside.size;
}

/** The program of a group (members in topological order, the root last) and its external inputs. */
function programOf(members: readonly Node[], dtype: DType): { program: FusedProgram; inputs: Node[] } {
  const stepOf = new Map<Node, number>();
  const inputs: Node[] = [];
  const steps: Step[] = members.map((m, i) => {
    const args: StepArg[] = m.inputs.map((x) => {
      const s = stepOf.get(x);
      if (s !== undefined) return { kind: 'step', index: s };
      if (x.kind === 'const') return { kind: 'literal', value: x.value!, shape: [...x.shape] };
      let k = inputs.indexOf(x);
      if (k < 0) k = inputs.push(x) - 1;
      return { kind: 'input', index: k };
    });
    stepOf.set(m, i);
    return { op: m.op as FusibleOp, params: (m.params as { cmp: Comparison } | null) ?? null, args };
  });
  const root = members[members.length - 1]!;
  return { program: FusedProgram.of(steps, inputs.map((x) => x.shape), root.shape, dtype), inputs };
}
