/**
 * The backend seam. The autograd calls kernels only through this interface, so a faster CPU
 * path or a WebGPU backend plugs in without touching the primitives or the walker. Every
 * kernel takes tensors of its own backend and returns a new tensor; none mutates its inputs
 * (the one exception, `write`, is how a Variable's value is replaced, and it bumps the
 * Variable's version).
 */
import type { DType, Shape, Tensor, TypedArray } from './tensor.js';

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'sign'
  | 'sin' | 'cos' | 'tan' | 'asin' | 'acos' | 'atan'
  | 'sinh' | 'cosh' | 'tanh' | 'sigmoid' | 'softplus' | 'relu';

/** Elementwise binary ops; the comparisons return 1 where true and 0 where false. */
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow'
  | 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

export type ReduceOp = 'sum' | 'max' | 'logsumexp';

/** Activations whose gradient a backend may compute in one pass (Backend.activationGrad). */
export type Activation = 'tanh' | 'sigmoid' | 'relu';

export interface Backend {
  readonly name: string;

  /** A tensor holding a copy of `data` (row-major), converted to `dtype`. */
  fromData(data: ArrayLike<number>, shape: Shape, dtype: DType): Tensor;
  /** A tensor of `shape` with every element `value`. */
  full(shape: Shape, value: number, dtype: DType): Tensor;
  /** The values on the host, row-major. May return the storage itself: callers must not mutate it. */
  read(x: Tensor): TypedArray;
  /** Replaces the values of `x` in place (used by optimizers and Variable.assign). */
  write(x: Tensor, data: ArrayLike<number>): void;

  unary(op: UnaryOp, x: Tensor): Tensor;
  /** Broadcasting binary op. */
  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor;
  /** Broadcasting select: cond != 0 ? a : b. */
  where(cond: Tensor, a: Tensor, b: Tensor): Tensor;
  /** Reduces over `axes` (sorted, distinct, in range); keepdims keeps them as size 1. */
  reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor;
  broadcastTo(x: Tensor, shape: Shape): Tensor;
  /**
   * Batched matrix product over the last two axes, with optional transposition of either
   * operand: op(a)[..., m, k] @ op(b)[..., k, n]. Batch axes are equal in both, or `b` is 2-d.
   */
  matmul(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor;
  transpose(x: Tensor, perm: readonly number[]): Tensor;
  /** Same data, new shape of equal size (may share storage: tensors are never mutated by kernels). */
  reshape(x: Tensor, shape: Shape): Tensor;
  /** x[begin[i] : begin[i] + size[i]] on every axis. */
  slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor;
  /** Zero padding: `before[i]` and `after[i]` zeros on axis i. */
  pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor;
  concat(xs: readonly Tensor[], axis: number): Tensor;
  /** Index select along `axis`: out[..., j, ...] = x[..., indices[j], ...]. */
  gather(x: Tensor, indices: Int32Array, axis: number): Tensor;
  /** The adjoint of gather: zeros of `shape`, then out[..., indices[j], ...] += g[..., j, ...]. */
  scatterAdd(g: Tensor, indices: Int32Array, axis: number, shape: Shape): Tensor;

  /** True when every element is finite (anomaly mode asks this after each backward rule). */
  allFinite(x: Tensor): boolean;

  /**
   * Optional: acc += x in place (equal shapes and dtypes), as `binary('add')` would compute it.
   * The walker sums a node's gradient contributions with it into a tensor it made itself and
   * no one else holds, instead of allocating a new sum for every contribution.
   */
  addInPlace?(acc: Tensor, x: Tensor): void;
  /**
   * Optional: acc[begin + i] += x[i] in place over x's shape: the gradient of a slice added
   * into the sum of its input's gradient without building the zeros around it.
   */
  addSliceInPlace?(acc: Tensor, x: Tensor, begin: readonly number[]): void;
  /**
   * Optional: acc += op(a) @ op(b) in place, for 2-d operands (as matmul transposes them) and
   * acc of the product's shape. The walker adds matrix products' gradients into sums it owns
   * with it; a backend may round differently from matmul followed by addInPlace.
   */
  addMatmulInPlace?(acc: Tensor, a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): void;
  /**
   * Optional: the gradient of an activation in one pass over equal shapes, as its backward
   * rule's ops compute it one by one (same roundings, same bits): tanh g (1 - y y) and sigmoid
   * g (y (1 - y)) from the output y; relu g [x > 0] from the input x.
   */
  activationGrad?(fn: Activation, v: Tensor, g: Tensor): Tensor;
  /**
   * Optional: x W + b for x [m, k], W [k, n] and b [n], the bias added inside the product (a
   * backend may round differently from matmul followed by add). Backends without it compose
   * matmul and add.
   */
  linear?(x: Tensor, w: Tensor, b: Tensor): Tensor;
  /**
   * Optional: softmax cross entropy in one pass, for logits z and targets t of equal shapes:
   * per row of the last axis, -Σ t log softmax(z) = Σ t (logsumexp(z) - z), of z's shape
   * without its last axis. Backends without it compose logsumexp, sub, mul, sum and neg.
   */
  softmaxCrossEntropy?(z: Tensor, t: Tensor): Tensor;
  /**
   * Optional, with softmaxCrossEntropy: its gradient with respect to z in one pass, from the
   * gradient g of the per-row losses: g (softmax(z) Σ t - t) along each row.
   */
  softmaxCrossEntropyGrad?(z: Tensor, t: Tensor, g: Tensor): Tensor;

  /**
   * Optional: one optimizer update in place, fused into a single pass over the parameter (its
   * storage and the state's are overwritten). Backends without it get the same update composed
   * of the kernels above.
   */
  optimizerStep?(update: OptimizerUpdate, param: Tensor, grad: Tensor, state: readonly Tensor[]): void;
  /**
   * Optional, with optimizerStep: a home for these parameters (of one dtype) and their state,
   * where optimizerStep updates both in place without copying them: a copy of each parameter
   * (same shape, same values) and `count` zeroed tensors for each (the momentum buffer, or
   * Adam's two moments); undefined where the backend cannot. The optimizer moves its
   * parameters' values into the copies. Optimizers without it get state from `full`.
   */
  optimizerState?(params: readonly Tensor[], count: number): { params: Tensor[]; state: Tensor[][] } | undefined;
}

/**
 * One optimizer update. `state` holds the momentum buffer (momentum) or the first and second
 * moments (adam, adamw), zero-initialised by the caller.
 *   sgd:      g' = g + wd p;  p -= lr g'
 *   momentum: g' = g + wd p;  v = μ v + g';  p -= lr (nesterov ? g' + μ v : v)
 *   adam:     g' = g + wd p;  m = β1 m + (1-β1) g';  v = β2 v + (1-β2) g'²;  p -= lr m̂ / (√v̂ + ε)
 *   adamw:    as adam with g' = g, then p -= lr wd p_old (decoupled decay)
 * with m̂ = m / (1 - β1^t), v̂ = v / (1 - β2^t) at step t (from 1) and 0 <= β1, β2 < 1 (so v is
 * never negative). A decay term whose coefficient (wd, lr wd) is 0 is left out, as PyTorch
 * does. A state value smaller in magnitude than the smallest normal number of its dtype is
 * stored as 0: where a gradient stays 0 (a dead unit), the buffers decay into subnormal
 * numbers, which x86 processors compute on many times slower, and an update of that size is
 * below half an ulp of any parameter larger than about 1e-26 (float32) anyway.
 */
export interface OptimizerUpdate {
  type: 'sgd' | 'momentum' | 'adam' | 'adamw';
  lr: number;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  step: number;
}

/** Where an update's weight decay goes: into the gradient (l2), onto the parameter (decoupled), or nowhere. */
export type WeightDecayForm = 'none' | 'l2' | 'decoupled';

/**
 * An update's weight decay as OptimizerUpdate's formulas apply it, for every backend alike: wd
 * into the gradient, lr wd decoupled for adamw, and none where that coefficient is 0.
 */
export function weightDecayOf(u: OptimizerUpdate): { form: WeightDecayForm; coefficient: number } {
  const decoupled = u.type === 'adamw', coefficient = decoupled ? u.lr * u.weightDecay : u.weightDecay;
  return { form: coefficient === 0 ? 'none' : decoupled ? 'decoupled' : 'l2', coefficient };
}
