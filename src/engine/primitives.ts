/**
 * The primitives: every op the autograd records, each defined once with its forward (a backend
 * kernel) and its backward (written in the engine's own differentiable ops, so gradients of
 * gradients work to any order). The table is a mapped type over the op names: a primitive
 * without a backward rule does not compile.
 *
 * Backward rules return the gradient of each input at the OUTPUT's shape for elementwise ops;
 * the walker sums broadcast axes away and accumulates (autograd.ts), so no rule repeats that.
 * A `null` gradient means "contributes nothing" (a constant input, or an op with no gradient).
 *
 * Rules index their inputs (`x[0]`) rather than destructure them (`[a, b]`): destructuring runs
 * the iterator protocol on every call, which V8's interpreter and baseline code, where a short
 * training run spends its first few hundred steps, run several times slower.
 */
import type { Activation, Backend, BinaryOp, UnaryOp } from './backend.js';
import { reducedShape, type Tensor } from './tensor.js';
import type { Variable } from './variable.js';

type Axes = { axes: number[]; keepdims: boolean };
export type Comparison = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

/** Each primitive's parameters (what is not an input tensor). */
export interface Params {
  add: null; sub: null; mul: null; div: null; pow: null;
  neg: null; exp: null; log: null; sqrt: null; abs: null; sign: null;
  sin: null; cos: null; tan: null; asin: null; acos: null; atan: null;
  sinh: null; cosh: null; tanh: null; sigmoid: null; softplus: null; relu: null;
  compare: { cmp: Comparison };
  where: null;
  sum: Axes;
  max: Axes;
  logSumExp: Axes;
  softmaxCrossEntropy: null;
  broadcastTo: { shape: number[] };
  matmul: { transposeA: boolean; transposeB: boolean };
  linear: null;
  transpose: { perm: number[] };
  reshape: { shape: number[] };
  slice: { begin: number[]; size: number[] };
  pad: { before: number[]; after: number[] };
  concat: { axis: number };
  gather: { indices: Int32Array; axis: number };
  scatterAdd: { indices: Int32Array; axis: number; shape: number[] };
}

export type Op = keyof Params;
export type Grads = (Variable | null)[];

export interface Rule<P extends Op> {
  forward(b: Backend, x: readonly Tensor[], p: Params[P]): Tensor;
  /**
   * `g` is the gradient of the output `y`; `x` the inputs; `needs[i]` whether input i wants a
   * gradient (a rule may skip work for the others).
   */
  backward(g: Variable, x: readonly Variable[], y: Variable, p: Params[P], needs: readonly boolean[]): Grads;
  /** The output is a constant whatever the inputs (comparisons, sign): nothing is recorded. */
  constant?: true;
  /**
   * Optional, for a one-input op whose gradient is mostly zeros (slice): on backends that can,
   * a function that adds the input's gradient into `acc` (of the input's shape) in place,
   * without building those zeros. The walker uses it for sums it owns that are not
   * differentiated again, and `backward` otherwise.
   */
  gradAdder?(b: Backend): ((acc: Tensor, g: Tensor, p: Params[P]) => void) | undefined;
  /**
   * Optional: on backends that can, a kernel that computes the first input's gradient from
   * `g`, the inputs and the output in one pass, giving what `backward` gives (bit for bit, or
   * within the backend's stated accuracy) without its intermediate tensors. The walker uses it
   * where the first input is the only one that wants a gradient and it is not differentiated
   * again.
   */
  gradKernel?(b: Backend): ((g: Tensor, x: readonly Tensor[], y: Tensor) => Tensor) | undefined;
  /**
   * Optional, for an op of several inputs: on backends that can, a function that adds input
   * i's gradient into `acc` (of that input's shape) in place and returns true, or returns
   * false for operands it does not take. The walker uses it for sums it owns that are not
   * differentiated again, before `backward`, which then skips that input.
   */
  inputGradAdder?(b: Backend): ((i: number, acc: Tensor, g: Tensor, x: readonly Tensor[], p: Params[P]) => boolean) | undefined;
}

type Rules = { [P in Op]: Rule<P> };

function unary<P extends Op>(op: UnaryOp, backward: (g: Variable, x: Variable, y: Variable) => Variable): Rule<P> {
  return { forward: (b, x) => b.unary(op, x[0]!), backward: (g, x, y) => [backward(g, x[0]!, y)] };
}

/** An activation's one-pass gradient kernel, where the backend has one (Backend.activationGrad). */
function activationGrad<P extends Op>(fn: Activation): Rule<P>['gradKernel'] {
  return (b) => b.activationGrad && ((g, x, y) => b.activationGrad!(fn, fn === 'relu' ? x[0]! : y, g));
}

function binary<P extends Op>(op: BinaryOp, backward: Rule<P>['backward']): Rule<P> {
  return { forward: (b, x) => b.binary(op, x[0]!, x[1]!), backward };
}

/** `g` reshaped so that it broadcasts against the reduced input again. */
function keepShape(g: Variable, x: Variable, p: Axes): Variable {
  if (p.keepdims) return g;
  return g.reshape(reducedShape(x.shape, p.axes, true));
}

export const rules: Rules = uniform({
  // d(a+b) = da + db
  add: binary('add', (g) => [g, g]),
  // d(a-b) = da - db
  sub: binary('sub', (g, _x, _y, _p, needs) => [g, needs[1] ? g.neg() : null]),
  // d(ab) = b da + a db
  mul: binary('mul', (g, x, _y, _p, needs) => [needs[0] ? g.mul(x[1]!) : null, needs[1] ? g.mul(x[0]!) : null]),
  // d(a/b) = da/b - (a/b²) db = da/b - y db/b
  div: binary('div', (g, x, y, _p, needs) => [
    needs[0] ? g.div(x[1]!) : null,
    needs[1] ? g.mul(y).div(x[1]!).neg() : null,
  ]),
  // d(a^b) = b a^(b-1) da + a^b ln(a) db; ln(a) is taken as 0 where a = 0 (the limit for b > 0).
  // Where b = 0, a^(b-1) is taken as a^0 = 1: da is then 0 (a^0 is constant), not 0 · 0^-1 = NaN
  // at a = 0, as in PyTorch and JAX, and so are its own derivatives (x^1's second at 0).
  pow: binary('pow', (g, x, y, _p, needs) => {
    const a = x[0]!, b = x[1]!;
    return [
      needs[0] ? g.mul(b).mul(a.pow(b.eq(0).where(0, b.sub(1)))) : null,
      needs[1] ? g.mul(y).mul(a.eq(0).where(0, a.log())) : null,
    ];
  }),
  // d(-x) = -dx
  neg: unary('neg', (g) => g.neg()),
  // d(e^x) = e^x dx
  exp: unary('exp', (g, _x, y) => g.mul(y)),
  // d(ln x) = dx / x
  log: unary('log', (g, x) => g.div(x)),
  // d(√x) = dx / (2√x)
  sqrt: unary('sqrt', (g, _x, y) => g.div(y.mul(2))),
  // d|x| = sign(x) dx (0 at 0, as PyTorch)
  abs: unary('abs', (g, x) => g.mul(x.sign())),
  sign: { forward: (b, x) => b.unary('sign', x[0]!), backward: () => [null], constant: true },
  // d sin x = cos x dx
  sin: unary('sin', (g, x) => g.mul(x.cos())),
  // d cos x = -sin x dx
  cos: unary('cos', (g, x) => g.mul(x.sin()).neg()),
  // d tan x = (1 + tan² x) dx
  tan: unary('tan', (g, _x, y) => g.mul(y.mul(y).add(1))),
  // d asin x = dx / √(1 - x²)
  asin: unary('asin', (g, x) => g.div(x.mul(x).rsub(1).sqrt())),
  // d acos x = -dx / √(1 - x²)
  acos: unary('acos', (g, x) => g.div(x.mul(x).rsub(1).sqrt()).neg()),
  // d atan x = dx / (1 + x²)
  atan: unary('atan', (g, x) => g.div(x.mul(x).add(1))),
  // d sinh x = cosh x dx
  sinh: unary('sinh', (g, x) => g.mul(x.cosh())),
  // d cosh x = sinh x dx
  cosh: unary('cosh', (g, x) => g.mul(x.sinh())),
  // d tanh x = (1 - tanh² x) dx
  tanh: { ...unary('tanh', (g, _x, y) => g.mul(y.mul(y).rsub(1))), gradKernel: activationGrad('tanh') },
  // d σ(x) = σ(x)(1 - σ(x)) dx
  sigmoid: { ...unary('sigmoid', (g, _x, y) => g.mul(y.mul(y.rsub(1)))), gradKernel: activationGrad('sigmoid') },
  // d softplus(x) = σ(x) dx
  softplus: unary('softplus', (g, x) => g.mul(x.sigmoid())),
  // d relu(x) = [x > 0] dx
  relu: { ...unary('relu', (g, x) => g.mul(x.gt(0))), gradKernel: activationGrad('relu') },
  compare: { forward: (b, x, p) => b.binary(p.cmp, x[0]!, x[1]!), backward: () => [null, null], constant: true },
  // d where(c, a, b) = where(c, da, 0) + where(c, 0, db)
  where: {
    forward: (b, x) => b.where(x[0]!, x[1]!, x[2]!),
    backward: (g, x, _y, _p, needs) => [null, needs[1] ? x[0]!.where(g, 0) : null, needs[2] ? x[0]!.where(0, g) : null],
  },
  // d Σx = broadcast(dy)
  sum: {
    forward: (b, x, p) => b.reduce('sum', x[0]!, p.axes, p.keepdims),
    backward: (g, x, _y, p) => [keepShape(g, x[0]!, p).broadcastTo(x[0]!.shape)],
  },
  // d max x = dy at the maxima, shared equally between ties
  max: {
    forward: (b, x, p) => b.reduce('max', x[0]!, p.axes, p.keepdims),
    backward: (g, x, y, p) => {
      const mask = x[0]!.eq(keepShape(y, x[0]!, p));
      return [keepShape(g, x[0]!, p).mul(mask).div(mask.sum(p.axes, true))];
    },
  },
  // d logΣe^x = softmax(x) dx = e^(x - y) dx
  logSumExp: {
    forward: (b, x, p) => b.reduce('logsumexp', x[0]!, p.axes, p.keepdims),
    backward: (g, x, y, p) => [keepShape(g, x[0]!, p).mul(x[0]!.sub(keepShape(y, x[0]!, p)).exp())],
  },
  // loss = Σ t (lse(z) - z) per row: dz = g (softmax(z) Σt - t), dt = g (lse(z) - z) = -g logSoftmax(z)
  softmaxCrossEntropy: {
    forward: (b, x) => {
      const z = x[0]!, t = x[1]!;
      if (b.softmaxCrossEntropy) return b.softmaxCrossEntropy(z, t);
      const last = [z.shape.length - 1];
      const logSoftmax = b.binary('sub', z, b.reduce('logsumexp', z, last, true));
      return b.unary('neg', b.reduce('sum', b.binary('mul', t, logSoftmax), last, false));
    },
    backward: (g, x, _y, _p, needs) => {
      const z = x[0]!, t = x[1]!;
      const gRow = g.reshape([...g.shape, 1]);
      const logSoftmax = z.logSoftmax(-1);
      return [
        needs[0] ? gRow.mul(logSoftmax.exp().mul(t.sum(-1, true)).sub(t)) : null,
        needs[1] ? gRow.mul(logSoftmax).neg() : null,
      ];
    },
    gradKernel: (b) => b.softmaxCrossEntropyGrad && ((g, x) => b.softmaxCrossEntropyGrad!(x[0]!, x[1]!, g)),
  },
  // the walker sums the broadcast axes of dy back to x's shape
  broadcastTo: {
    forward: (b, x, p) => b.broadcastTo(x[0]!, p.shape),
    backward: (g) => [g],
  },
  // C = op(A) op(B): dA and dB are products of dC with the other operand, transposed to match
  matmul: {
    forward: (b, x, p) => b.matmul(x[0]!, x[1]!, p.transposeA, p.transposeB),
    backward: (g, x, _y, p, needs) => {
      const a = x[0]!, b = x[1]!, ta = p.transposeA, tb = p.transposeB;
      return [
        needs[0] ? (ta ? b.matmul(g, tb, true) : g.matmul(b, false, !tb)) : null,
        needs[1] ? (tb ? g.matmul(a, true, ta) : a.matmul(g, !ta, false)) : null,
      ];
    },
    // The same products, added into the sums: a weight used at every step of a recurrence.
    inputGradAdder: (b) => b.addMatmulInPlace && ((i, acc, g, x, p) => {
      const a = x[0]!, w = x[1]!, ta = p.transposeA, tb = p.transposeB;
      if (a.rank !== 2 || w.rank !== 2) return false;
      if (i === 0) {
        if (ta) b.addMatmulInPlace!(acc, w, g, tb, true);
        else b.addMatmulInPlace!(acc, g, w, false, !tb);
      } else if (tb) b.addMatmulInPlace!(acc, g, a, true, ta);
      else b.addMatmulInPlace!(acc, a, g, !ta, false);
      return true;
    }),
  },
  // y = x W + b (+ h U + ...) for x [m, k], W [k, n], b [n], and each further pair h [m, j],
  // U [j, n] (a recurrent cell's h Wh): dx = g Wᵀ, dW = xᵀ g, db = g's column sums, and likewise
  // for each pair. Inputs: [x, W, b, h, U, ...].
  linear: {
    forward: (b, x) => {
      let y = b.linear ? b.linear(x[0]!, x[1]!, x[2]!) : b.binary('add', b.matmul(x[0]!, x[1]!, false, false), x[2]!);
      // y is this op's own new tensor: the further products go into it, inside the kernel where
      // the backend can.
      for (let i = 3; i < x.length; i += 2) {
        if (b.addMatmulInPlace) b.addMatmulInPlace(y, x[i]!, x[i + 1]!, false, false);
        else y = b.binary('add', y, b.matmul(x[i]!, x[i + 1]!, false, false));
      }
      return y;
    },
    backward: (g, x, _y, _p, needs) => {
      const grads: Grads = [needs[0] ? g.matmul(x[1]!, false, true) : null, needs[1] ? x[0]!.matmul(g, true, false) : null, needs[2] ? g.sum(0) : null];
      for (let i = 3; i < x.length; i += 2) {
        grads.push(needs[i] ? g.matmul(x[i + 1]!, false, true) : null, needs[i + 1] ? x[i]!.matmul(g, true, false) : null);
      }
      return grads;
    },
    // The products added into the sums, as matmul's: a projection used at every step of a recurrence.
    inputGradAdder: (b) => b.addMatmulInPlace && ((i, acc, g, x) => {
      if (i === 2) return false;
      // An input (x, h, ...) at 0, 3, 5, ..., its weight right after it.
      const input = i === 0 || (i > 2 && i % 2 === 1);
      if (input) b.addMatmulInPlace!(acc, g, x[i + 1]!, false, true);
      else b.addMatmulInPlace!(acc, x[i - 1]!, g, true, false);
      return true;
    }),
  },
  transpose: {
    forward: (b, x, p) => b.transpose(x[0]!, p.perm),
    backward: (g, _x, _y, p) => [g.transpose(inversePermutation(p.perm))],
  },
  reshape: {
    forward: (b, x, p) => b.reshape(x[0]!, p.shape),
    backward: (g, x) => [g.reshape(x[0]!.shape)],
  },
  // d slice = the gradient padded back to the input's shape with zeros
  slice: {
    forward: (b, x, p) => b.slice(x[0]!, p.begin, p.size),
    backward: (g, x, _y, p) => [g.pad(p.begin, x[0]!.shape.map((d, i) => d - p.begin[i]! - p.size[i]!))],
    gradAdder: (b) => b.addSliceInPlace && ((acc, g, p) => b.addSliceInPlace!(acc, g, p.begin)),
  },
  pad: {
    forward: (b, x, p) => b.pad(x[0]!, p.before, p.after),
    backward: (g, x, _y, p) => [g.slice(p.before, x[0]!.shape)],
  },
  concat: {
    forward: (b, xs, p) => b.concat(xs, p.axis),
    backward: (g, xs, _y, p, needs) => {
      let offset = 0;
      return xs.map((x, i) => {
        const begin = x.shape.map((_, d) => (d === p.axis ? offset : 0));
        offset += x.shape[p.axis]!;
        return needs[i] ? g.slice(begin, x.shape) : null;
      });
    },
  },
  gather: {
    forward: (b, x, p) => b.gather(x[0]!, p.indices, p.axis),
    backward: (g, x, _y, p) => [g.scatterAdd(p.indices, p.axis, x[0]!.shape)],
  },
  scatterAdd: {
    forward: (b, x, p) => b.scatterAdd(x[0]!, p.indices, p.axis, p.shape),
    backward: (g, _x, _y, p) => [g.gather(p.indices, p.axis)],
  },
});

/**
 * The rules with the same properties in the same order: the walker reads them for every node,
 * and V8 reads a property of objects of one shape faster than of many.
 */
function uniform(table: Rules): Rules {
  const out: Partial<Record<Op, Rule<Op>>> = {};
  for (const op of Object.keys(table) as Op[]) {
    const r = table[op] as Rule<Op>;
    // Every property of Rule, each present (undefined where a rule has none): a property added to
    // Rule and not listed here does not compile.
    const same: { [K in keyof Required<Rule<Op>>]: Rule<Op>[K] } = {
      forward: r.forward, backward: r.backward, constant: r.constant, gradAdder: r.gradAdder, gradKernel: r.gradKernel, inputGradAdder: r.inputGradAdder,
    };
    out[op] = same;
  }
  return out as Rules;
}

export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}
