/**
 * The ops as free functions, with a number allowed on either side: `add(2, x)`, `sigmoid(x)`,
 * `max(x, 0)`. Each is the Variable method of the same name; `concat` and `stack` take lists.
 */
import { OpError } from './errors.js';
import { ShapeError, normalizeAxes, sameShape, type Tensor } from './tensor.js';
import { Variable, apply, type Operand } from './variable.js';

function pick(a: Operand, b: Operand, op: string): Variable {
  if (a instanceof Variable) return a;
  if (b instanceof Variable) return b;
  throw new OpError(`${op}: at least one argument must be a Variable (numbers and Tensors alone have no context)`);
}

type Bin = (a: Operand, b: Operand) => Variable;
const lifted = (op: string, f: (a: Variable, b: Variable) => Variable): Bin => (a, b) => {
  const v = pick(a, b, op);
  return f(v.lift(a, op), v.lift(b, op));
};

export const add: Bin = lifted('add', (a, b) => a.add(b));
export const sub: Bin = lifted('sub', (a, b) => a.sub(b));
export const mul: Bin = lifted('mul', (a, b) => a.mul(b));
export const div: Bin = lifted('div', (a, b) => a.div(b));
export const pow: Bin = lifted('pow', (a, b) => a.pow(b));
export const max: Bin = lifted('max', (a, b) => a.max(b));
export const min: Bin = lifted('min', (a, b) => a.min(b));
export const maximum = max;
export const minimum = min;
export const matmul: Bin = lifted('matmul', (a, b) => a.matmul(b));

export const neg = (x: Variable): Variable => x.neg();
export const abs = (x: Variable): Variable => x.abs();
export const exp = (x: Variable): Variable => x.exp();
export const log = (x: Variable): Variable => x.log();
export const ln = (x: Variable): Variable => x.log();
export const log10 = (x: Variable): Variable => x.log10();
export const sqrt = (x: Variable): Variable => x.sqrt();
export const sin = (x: Variable): Variable => x.sin();
export const cos = (x: Variable): Variable => x.cos();
export const tan = (x: Variable): Variable => x.tan();
export const asin = (x: Variable): Variable => x.asin();
export const acos = (x: Variable): Variable => x.acos();
export const atan = (x: Variable): Variable => x.atan();
export const sinh = (x: Variable): Variable => x.sinh();
export const cosh = (x: Variable): Variable => x.cosh();
export const tanh = (x: Variable): Variable => x.tanh();
export const sigmoid = (x: Variable): Variable => x.sigmoid();
export const softplus = (x: Variable): Variable => x.softplus();
export const relu = (x: Variable): Variable => x.relu();
export const gelu = (x: Variable): Variable => x.gelu();
export const leakyRelu = (x: Variable, slope = 0.01): Variable => x.leakyRelu(slope);
export const softmax = (x: Variable, axis = -1): Variable => x.softmax(axis);
export const logSoftmax = (x: Variable, axis = -1): Variable => x.logSoftmax(axis);
export const logSumExp = (x: Variable, axes: number | number[] = -1, keepdims = false): Variable => x.logSumExp(axes, keepdims);
export const linear = (x: Variable, weight: Operand, bias: Operand, ...terms: (readonly [Operand, Operand])[]): Variable => x.linear(weight, bias, ...terms);
export const softmaxCrossEntropy = (logits: Variable, target: Operand): Variable => logits.softmaxCrossEntropy(target);
export const sum = (x: Variable, axes?: number | number[], keepdims = false): Variable => x.sum(axes, keepdims);
export const mean = (x: Variable, axes?: number | number[], keepdims = false): Variable => x.mean(axes, keepdims);
export const transpose = (x: Variable, perm?: number[]): Variable => x.transpose(perm);
export const reshape = (x: Variable, shape: number[] | number): Variable => x.reshape(shape);
export const clip = (x: Variable, lo: number, hi: number): Variable => x.clip(lo, hi);
export const where = (cond: Variable, a: Operand, b: Operand): Variable => cond.where(a, b);

/** Joins variables along an existing axis. */
export function concat(xs: readonly (Variable | Tensor)[], axis = 0): Variable {
  const first = xs.find((x): x is Variable => x instanceof Variable);
  if (!first) throw new OpError('concat: at least one argument must be a Variable');
  const vs = xs.map((x) => first.lift(x, 'concat'));
  const ax = normalizeAxes(axis, first.rank, 'concat')[0]!;
  for (const v of vs) {
    if (v.rank !== first.rank || v.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new ShapeError(`concat: shapes [${first.shape.join(',')}] and [${v.shape.join(',')}] differ outside axis ${ax}`);
    }
  }
  if (vs.length === 1) return vs[0]!;
  return apply('concat', vs, { axis: ax });
}

/** Joins variables of one shape along a new axis, at -(rank + 1) .. rank. */
export function stack(xs: readonly (Variable | Tensor)[], axis = 0): Variable {
  const first = xs.find((x): x is Variable => x instanceof Variable);
  if (!first) throw new OpError('stack: at least one argument must be a Variable');
  const vs = xs.map((x) => first.lift(x, 'stack'));
  const rank = first.rank;
  if (!Number.isInteger(axis) || axis < -(rank + 1) || axis > rank) {
    throw new ShapeError(`stack: axis ${axis} is out of range for stacking rank-${rank} variables (expected ${-(rank + 1)} to ${rank})`);
  }
  for (const v of vs) {
    if (!sameShape(v.shape, first.shape)) throw new ShapeError(`stack: shapes [${first.shape.join(',')}] and [${v.shape.join(',')}] differ; stack needs equal shapes`);
  }
  const ax = axis < 0 ? axis + rank + 1 : axis;
  const shape = [...first.shape.slice(0, ax), 1, ...first.shape.slice(ax)];
  return concat(vs.map((v) => v.reshape(shape)), ax);
}
