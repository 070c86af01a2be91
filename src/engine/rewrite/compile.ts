/**
 * `compile(f)`: a function of Variables traced once per input shapes, rewritten, fused and run
 * through the engine's own ops. The compiled function returns what `f` returns, differentiable
 * exactly like `f` (the same gradients at every order, up to float rounding where a rule
 * replaced a formula by a more accurate one).
 *
 *   const loss = compile((x, y) => lossFn(model.forward(x), y));
 *   const l = loss(x, y);            // traced on the first call for these shapes, then cached
 *   l.grad().wrt(model.parameters()[0].variable);
 *
 * Tracing semantics (as JAX's jit): `f` must compose ops only (no `item()` or branch on a value);
 * variables it closes over are read at each call; constants it makes while traced are kept.
 */
import type { Context, Variable } from '../variable.js';
import { CompileError } from './errors.js';
import './execute.js';
import { Plan } from './execute.js';
import type { Graph } from './ir.js';
import { optimize, type OptimizeOptions, type OptimizeReport } from './optimize.js';
import { contextOf, realBackend, traceFunction, type Traceable } from './trace.js';

export type CompileOptions = OptimizeOptions;

/** One compiled specialisation: the traced graph, the optimised graph, and what the rules did. */
export interface Compiled {
  readonly traced: Graph;
  readonly graph: Graph;
  readonly report: OptimizeReport;
  readonly plan: Plan;
}

export interface CompiledFunction<R> {
  (...xs: Variable[]): R;
  /** The compiled graph for arguments like these (their context, shapes and dtype), compiling it if needed. */
  compiled(...xs: Variable[]): Compiled;
  /** How many specialisations have been compiled (those of contexts since collected included). */
  readonly cacheSize: number;
}

/** Traces `f` on the first call for each context and list of input shapes, optimises it, and runs the result. */
export function compile(f: (...xs: Variable[]) => Variable, options?: CompileOptions): CompiledFunction<Variable>;
export function compile(f: (...xs: Variable[]) => readonly Variable[], options?: CompileOptions): CompiledFunction<Variable[]>;
export function compile(f: Traceable, options: CompileOptions = {}): CompiledFunction<Variable | Variable[]> {
  // Per context (collected with it), then per input shapes.
  const cache = new WeakMap<Context, Map<string, Compiled & { single: boolean }>>();
  let size = 0;
  const get = (xs: readonly Variable[]) => {
    const ctx = contextOf(xs, 'compile');
    let byShape = cache.get(ctx);
    if (!byShape) cache.set(ctx, (byShape = new Map()));
    const key = xs.map((x) => `[${x.shape.join(',')}]`).join('');
    let c = byShape.get(key);
    if (!c) {
      const { graph: traced, single } = traceFunction(f, xs);
      const { graph, report } = optimize(traced, { backend: realBackend(ctx), ...options });
      byShape.set(key, (c = { traced, graph, report, plan: new Plan(graph), single }));
      size++;
    }
    return c;
  };
  const fn = ((...xs: Variable[]) => {
    const c = get(xs);
    const outs = c.plan.run(xs);
    return c.single ? outs[0]! : outs;
  }) as CompiledFunction<Variable | Variable[]>;
  Object.defineProperty(fn, 'compiled', { value: (...xs: Variable[]) => get(xs) });
  Object.defineProperty(fn, 'cacheSize', { get: () => size });
  return fn;
}

export interface ValueAndGrad {
  /** f's value (a constant Variable). */
  value: Variable;
  /** Its gradient with respect to each of `wrt`, in order. */
  grads: Variable[];
}

/**
 * A training step compiled whole: the value of `f` (a single number) and its gradients with
 * respect to `wrt` (variables `f` closes over: a model's parameters), as one graph. The forward
 * pass is compiled first, so the backward pass is that of the rewritten forward (the gradient
 * of c σ(x), not of c / (1 + e^-x)); then the forward and backward together are rewritten and
 * fused again. Runs without recording: the results are values, for an optimizer.
 */
export function compileValueAndGrad(f: (...xs: Variable[]) => Variable, wrt: readonly Variable[], options: CompileOptions = {}): CompiledFunction<ValueAndGrad> {
  const forward = compile(f, options);
  const both = compile((...xs: Variable[]) => {
    const y = forward(...xs);
    if (y.size !== 1) throw new CompileError(`compileValueAndGrad: f must return a single value, it returned shape [${y.shape.join(',')}]; reduce it (sum, mean)`);
    const g = y.grad({ createGraph: true });
    return [y, ...wrt.map((p) => g.variable(p))];
  }, options);
  const fn = ((...xs: Variable[]) => {
    const ctx = contextOf(xs, 'compileValueAndGrad');
    const [value, ...grads] = ctx.noGrad(() => both(...xs));
    return { value: value!, grads };
  }) as CompiledFunction<ValueAndGrad>;
  // The report covers both compilations: the rules that fired on the forward pass alone, then on the whole step.
  const compiled = (...xs: Variable[]): Compiled => {
    const whole = both.compiled(...xs);
    const first = forward.compiled(...xs).report;
    const fired = new Map(first.fired);
    for (const [rule, n] of whole.report.fired) fired.set(rule, (fired.get(rule) ?? 0) + n);
    const report = { ...whole.report, fired, steps: first.steps + whole.report.steps, limitReached: first.limitReached || whole.report.limitReached };
    return { ...whole, report };
  };
  Object.defineProperty(fn, 'compiled', { value: compiled });
  Object.defineProperty(fn, 'cacheSize', { get: () => both.cacheSize });
  return fn;
}
