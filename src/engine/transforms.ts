/**
 * Function transforms, JAX style: `grad(f)` is a function that returns the derivative of `f`,
 * and it composes: `grad(grad(f))` is the second derivative. Called with plain numbers or
 * tensors it works in a fresh float64 context and returns plain values; called with Variables
 * (as an enclosing transform does) it returns a differentiable Variable.
 */
import { OpError } from './errors.js';
import { describeValue, Tensor, type DType, type NestedArray } from './tensor.js';
import { Variable, newContext, type Context, type Value } from './variable.js';

export type Fn = (...xs: Variable[]) => Variable;
type Arg = Variable | NestedArray | Tensor;

export interface GradFn {
  (...xs: Variable[]): Variable;
  (...xs: (NestedArray | Tensor)[]): Value;
}

export interface TransformOptions {
  /** Which argument to differentiate with respect to (default 0). */
  argnum?: number;
  /** The dtype of the context made for plain arguments (default float64). */
  dtype?: DType;
}

function asValue(v: Variable): Value {
  return v.rank === 0 ? v.item() : v.tensor;
}

/** Wraps the arguments as Variables: in the context of any Variable among them, else a new one. */
function bind(args: readonly Arg[], dtype: DType): { ctx: Context; vars: Variable[]; nested: boolean } {
  const outer = args.find((a): a is Variable => a instanceof Variable);
  const ctx = outer ? outer.ctx : newContext(dtype);
  const vars = args.map((a) => (a instanceof Variable ? a : ctx.variable(a)));
  return { ctx, vars, nested: outer !== undefined };
}

/** What `f` returned: one value, as a Variable (what a number or nothing would mean is unclear). */
function checkScalar(y: unknown, what: string): asserts y is Variable {
  if (!(y instanceof Variable)) {
    throw new TypeError(`${what}: the function returned ${y === undefined ? 'nothing' : describeValue(y)}; it must return a Variable computed from its arguments`);
  }
  if (y.size !== 1) throw new OpError(`${what}: the function must return a single value, it returned shape [${y.shape.join(',')}]; reduce it (sum, mean) or use vjp`);
}

function checkArgnum(argnum: number, count: number, what: string): void {
  if (!Number.isInteger(argnum) || argnum < 0 || argnum >= count) {
    throw new RangeError(`${what}: argnum is ${argnum}, but the function was called with ${count} argument${count === 1 ? '' : 's'}; it must be in [0, ${count - 1}]`);
  }
}

/** The gradient of a function returning one value. */
export function grad(f: Fn, options: TransformOptions = {}): GradFn {
  const argnum = options.argnum ?? 0;
  return ((...args: Arg[]) => {
    checkArgnum(argnum, args.length, 'grad');
    const { vars, nested } = bind(args, options.dtype ?? 'float64');
    const y = f(...vars);
    checkScalar(y, 'grad');
    const g = y.grad({ createGraph: nested }).variable(vars[argnum]!);
    return nested ? g : asValue(g);
  }) as GradFn;
}

/** The value and the gradient together (one forward pass). */
export function valueAndGrad(f: Fn, options: TransformOptions = {}) {
  const argnum = options.argnum ?? 0;
  return (...args: (NestedArray | Tensor)[]): { value: Value; grad: Value } => {
    checkArgnum(argnum, args.length, 'valueAndGrad');
    const { vars } = bind(args, options.dtype ?? 'float64');
    const y = f(...vars);
    checkScalar(y, 'valueAndGrad');
    return { value: asValue(y), grad: asValue(y.grad().variable(vars[argnum]!)) };
  };
}

/**
 * Vector-Jacobian product: the gradients of sum(f(xs) * pull) with respect to every x,
 * as Variables that stay differentiable when `createGraph` is set.
 */
export function vjp(f: Fn, xs: readonly Variable[], pull: Variable | number | Tensor, createGraph = false): { value: Variable; grads: Variable[] } {
  const y = f(...xs);
  const g = y.grad(pull, { createGraph });
  return { value: y, grads: xs.map((x) => (x.requiresGrad ? g.variable(x) : x.ctx.constant(x.ctx.backend.full(x.shape, 0, x.dtype)))) };
}
