/**
 * The CPU backend contexts use: the reference backend (cpu.ts) with WebAssembly SIMD kernels
 * where they measure faster: the matrix product (on worker threads for large ones, and added
 * into a gradient's sum inside the kernel), the fused optimizer update, and for float32 exp,
 * log, tanh, sigmoid, relu, the arithmetic ops and the comparisons in their common forms, the
 * gradients of tanh, sigmoid and relu, sums over leading axes, and softmax's rows (logsumexp
 * over trailing axes, softmax cross entropy and its gradient). float64 elementwise ops stay on
 * the reference's exact Math.* loops; float64 optimizer updates and float32 relu, arithmetic,
 * comparisons, activation gradients and sums give the reference's results bit for bit (NaN
 * for NaN); the float32 transcendentals are within 1 or 2 ulps (wasm/elementwise.ts), float32
 * softmax rows within 2 ulps or 2^-21, float32 optimizer updates are computed in float32
 * (wasm/optimizer.ts), and products added in place round each product's terms into the sum.
 * Everything it overrides is tested against the reference (test/fast-cpu.test.ts,
 * test/fast-cpu-elementwise.test.ts).
 */
import type { Activation, BinaryOp, OptimizerUpdate, ReduceOp, UnaryOp } from '../backend.js';
import { Tensor, broadcastShapes, reducedShape, sameShape, sizeOf, type Shape, type TypedArray } from '../tensor.js';
import { CpuBackend, isLeading, isTrailing, matmulDims, output } from './cpu.js';
import { addMatmulF32, addMatmulF64, matmulF32Parallel, matmulF64Parallel } from './wasm/index.js';
import type { BinaryForm, FastBinaryOp, FastUnaryOp } from './wasm/elementwise.js';
import {
  CHUNK, activationGradF32, binaryF32, logSumExpRowsF32, optimizerUpdate, residentOptimizerState, softmaxCrossEntropyF32,
  softmaxCrossEntropyGradF32, sumRowsF32, unaryF32,
} from './wasm/streaming.js';

/**
 * Fewest elements for which a kernel goes to WebAssembly: below, the fixed cost of a call
 * (copies, views, the call itself: 0.1 to 0.4 us) outweighs what it saves. Measured with
 * `node dist/bench/kernels.js`: the transcendentals break even at 8 to 16 elements, the
 * arithmetic ops and the optimizer updates between 64 and 128, column sums below 256.
 */
const MIN_UNARY = 16;
/** relu is as cheap as the arithmetic ops. */
const MIN_RELU = 128;
const MIN_BINARY = 128;
const MIN_OPTIMIZER = 128;
const MIN_REDUCE = 256;

const fastUnary: { readonly [K in UnaryOp]?: FastUnaryOp } = { exp: 'exp', log: 'log', tanh: 'tanh', sigmoid: 'sigmoid', relu: 'relu' };
const fastBinary: { readonly [K in BinaryOp]?: FastBinaryOp } = {
  add: 'add', sub: 'sub', mul: 'mul', div: 'div', gt: 'gt', ge: 'ge', lt: 'lt', le: 'le', eq: 'eq', ne: 'ne',
};

/** Outputs of the elementwise kernels come from the reference's slabs (cpu.ts says why). */
const output32 = (n: number): Float32Array => output('float32', n) as Float32Array;

/** The form of a float32 binary op the WebAssembly kernels take, if any, and its output shape. */
function binaryForm(op: BinaryOp, a: Tensor, b: Tensor): { form: BinaryForm; shape: Shape } | undefined {
  if (sameShape(a.shape, b.shape)) return { form: 'same', shape: a.shape };
  const shape = broadcastShapes(a.shape, b.shape, op);
  const n = sizeOf(shape);
  if (b.size === 1 && n === a.size) return { form: 'scalarB', shape };
  if (a.size === 1 && n === b.size) return { form: 'scalarA', shape };
  // A repeating operand shorter than 8 would leave most lanes of each row's vectors idle.
  if (n === a.size && b.size >= 8 && b.size <= CHUNK && isTrailing(b.shape, shape)) return { form: 'trailingB', shape };
  if (n === b.size && a.size >= 8 && a.size <= CHUNK && isTrailing(a.shape, shape)) return { form: 'trailingA', shape };
  return undefined;
}

export class FastCpuBackend extends CpuBackend {
  override matmul(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
    const { batch, m, k, n, batchShape } = matmulDims(a, b, transposeA, transposeB);
    const da = this.read(a), db = this.read(b);
    const out = output(a.dtype, batch * m * n);
    const bBatched = b.rank > 2;
    for (let t = 0; t < batch; t++) {
      // One product (the common case) takes the arrays whole: a view costs a new object.
      const at = batch === 1 ? da : da.subarray(t * m * k, (t + 1) * m * k);
      const bt = bBatched && batch > 1 ? db.subarray(t * k * n, (t + 1) * k * n) : db;
      const ct = batch === 1 ? out : out.subarray(t * m * n, (t + 1) * m * n);
      if (out instanceof Float32Array) matmulF32Parallel(at as Float32Array, bt as Float32Array, m, k, n, transposeA, transposeB, ct as Float32Array);
      else matmulF64Parallel(at as Float64Array, bt as Float64Array, m, k, n, transposeA, transposeB, ct as Float64Array);
    }
    return this.make([...batchShape, m, n], a.dtype, out);
  }

  /** The product added inside the kernel: no product tensor, no separate pass to add it. */
  override addMatmulInPlace(acc: Tensor, a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): void {
    const { batch, m, k, n } = matmulDims(a, b, transposeA, transposeB);
    if (batch !== 1 || a.rank !== 2 || acc.rank !== 2 || acc.shape[0] !== m || acc.shape[1] !== n || acc.dtype !== a.dtype || b.dtype !== a.dtype) {
      return super.addMatmulInPlace(acc, a, b, transposeA, transposeB);
    }
    const out = this.read(acc), da = this.read(a), db = this.read(b);
    if (out instanceof Float32Array) addMatmulF32(out, da as Float32Array, db as Float32Array, m, k, n, transposeA, transposeB);
    else addMatmulF64(out as Float64Array, da as Float64Array, db as Float64Array, m, k, n, transposeA, transposeB);
  }

  /**
   * The bias copied into each row of the output (doubling the rows filled with each copy, a few
   * calls rather than one a row), then the product added to it in the kernel.
   */
  override linear(x: Tensor, w: Tensor, b: Tensor): Tensor {
    if (w.dtype !== x.dtype || b.dtype !== x.dtype) return super.linear(x, w, b);
    const m = x.shape[0]!, k = x.shape[1]!, n = w.shape[1]!;
    const out = output(x.dtype, m * n);
    if (m > 0) out.set(this.read(b));
    for (let filled = n; filled < m * n; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, m * n - filled));
    if (out instanceof Float32Array) addMatmulF32(out, this.read(x) as Float32Array, this.read(w) as Float32Array, m, k, n, false, false);
    else addMatmulF64(out as Float64Array, this.read(x) as Float64Array, this.read(w) as Float64Array, m, k, n, false, false);
    return this.make([m, n], x.dtype, out);
  }

  override unary(op: UnaryOp, x: Tensor): Tensor {
    const fast = fastUnary[op];
    if (fast === undefined || x.dtype !== 'float32' || x.size < (fast === 'relu' ? MIN_RELU : MIN_UNARY)) return super.unary(op, x);
    const out = output32(x.size);
    unaryF32(fast, this.read(x) as Float32Array, out);
    return this.make(x.shape, x.dtype, out);
  }

  override binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    const fast = fastBinary[op];
    if (fast === undefined || a.dtype !== 'float32' || b.dtype !== 'float32' || Math.max(a.size, b.size) < MIN_BINARY) {
      return super.binary(op, a, b);
    }
    const how = binaryForm(op, a, b);
    if (!how) return super.binary(op, a, b);
    const out = output32(sizeOf(how.shape));
    binaryF32(fast, how.form, this.read(a) as Float32Array, this.read(b) as Float32Array, out);
    return this.make(how.shape, 'float32', out);
  }

  /**
   * float32 sums over leading or middle axes (bias gradients, batch means) in WebAssembly,
   * with the reference's float64 accumulation in the same order: identical results. Sums
   * along the last axis keep the reference's loop. float32 logsumexp over trailing axes: see
   * rowLogSumExp.
   */
  override reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
    if (op === 'logsumexp' && x.dtype === 'float32' && x.size >= MIN_UNARY && isLeading(reducedShape(x.shape, axes, true), x.shape)) {
      return this.rowLogSumExp(x, axes, keepdims);
    }
    if (op !== 'sum' || x.dtype !== 'float32' || axes.length === 0 || x.size < MIN_REDUCE) return super.reduce(op, x, axes, keepdims);
    const first = axes[0]!, last = axes[axes.length - 1]!;
    if (last - first !== axes.length - 1) return super.reduce(op, x, axes, keepdims);
    const inner = sizeOf(x.shape, last + 1);
    if (inner < 8 || inner > CHUNK) return super.reduce(op, x, axes, keepdims);
    const outer = sizeOf(x.shape, 0, first), rows = sizeOf(x.shape, first, last + 1);
    const out = output32(outer * inner);
    sumRowsF32(this.read(x) as Float32Array, outer, rows, inner, out);
    return this.make(reducedShape(x.shape, axes, keepdims), 'float32', out);
  }

  /**
   * float32 softmax rows (logsumexp over trailing axes, softmax cross entropy and its gradient)
   * run in WebAssembly from the first call (wasm/streaming.ts): the reference's formulas, with
   * x - m rounded to float32 (m the row's maximum) and its exponential from the `exp` kernel
   * (Math.exp costs about 20 ns an element here), so each term is within |x - m| 2^-24 + 1 ulp of
   * the reference's and what is computed from them within 2 ulps, or 2^-21 where a maximum and a
   * log cancel (test/fast-cpu-elementwise.test.ts). Rows whose maximum is not finite, and rows
   * longer than a chunk, go to the reference.
   */
  private rowLogSumExp(x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
    const shape = reducedShape(x.shape, axes, keepdims);
    const src = this.read(x) as Float32Array;
    const out = output32(sizeOf(shape));
    if (!logSumExpRowsF32(src, src.length / out.length, out)) return super.reduce('logsumexp', x, axes, keepdims);
    return this.make(shape, 'float32', out);
  }

  /** float32 softmax cross entropy per row (see above). */
  override softmaxCrossEntropy(z: Tensor, t: Tensor): Tensor {
    if (z.dtype !== 'float32' || t.dtype !== 'float32' || z.size < MIN_UNARY) return super.softmaxCrossEntropy(z, t);
    const out = output32(sizeOf(z.shape, 0, z.rank - 1));
    const ok = softmaxCrossEntropyF32(this.read(z) as Float32Array, this.read(t) as Float32Array, z.shape[z.rank - 1]!, out);
    if (!ok) return super.softmaxCrossEntropy(z, t);
    return this.make(z.shape.slice(0, -1), 'float32', out);
  }

  /** Its gradient w.r.t. the logits. */
  override softmaxCrossEntropyGrad(z: Tensor, t: Tensor, g: Tensor): Tensor {
    if (z.dtype !== 'float32' || t.dtype !== 'float32' || g.dtype !== 'float32' || z.size < MIN_UNARY) return super.softmaxCrossEntropyGrad(z, t, g);
    const out = output32(z.size);
    const ok = softmaxCrossEntropyGradF32(this.read(z) as Float32Array, this.read(t) as Float32Array, this.read(g) as Float32Array, z.shape[z.rank - 1]!, out);
    if (!ok) return super.softmaxCrossEntropyGrad(z, t, g);
    return this.make(z.shape, 'float32', out);
  }

  override activationGrad(fn: Activation, v: Tensor, g: Tensor): Tensor {
    if (g.dtype !== 'float32' || v.dtype !== 'float32' || g.size < MIN_BINARY || !sameShape(v.shape, g.shape)) return super.activationGrad(fn, v, g);
    const out = output32(g.size);
    activationGradF32(fn, this.read(v) as Float32Array, this.read(g) as Float32Array, out);
    return this.make(g.shape, 'float32', out);
  }

  override addInPlace(acc: Tensor, x: Tensor): void {
    if (acc.dtype !== 'float32' || x.dtype !== 'float32' || acc.size < MIN_BINARY) return super.addInPlace(acc, x);
    const a = this.read(acc) as Float32Array;
    binaryF32('add', 'same', a, this.read(x) as Float32Array, a);
  }

  override optimizerStep(u: OptimizerUpdate, param: Tensor, grad: Tensor, state: readonly Tensor[]): void {
    if (grad.dtype !== param.dtype || param.size < MIN_OPTIMIZER) return super.optimizerStep(u, param, grad, state);
    const arrays: TypedArray[] = [];
    for (let i = 0; i < state.length; i++) {
      if (state[i]!.dtype !== param.dtype) return super.optimizerStep(u, param, grad, state);
      arrays.push(this.read(state[i]!));
    }
    optimizerUpdate(u, this.read(param), this.read(grad), arrays);
  }

  /**
   * Parameters and state in a WebAssembly memory of their own, which the fused update reads and
   * writes in place: only the gradient is copied in.
   */
  optimizerState(params: readonly Tensor[], count: number): { params: Tensor[]; state: Tensor[][] } | undefined {
    const dtype = params[0]?.dtype;
    if (!dtype || params.some((p) => p.dtype !== dtype)) return undefined;
    const arrays = residentOptimizerState(params.map((p) => p.size), dtype === 'float64', count + 1);
    if (!arrays) return undefined;
    return {
      params: params.map((p, i) => {
        const home = arrays[i]![count]!;
        home.set(this.read(p));
        return this.make([...p.shape], dtype, home);
      }),
      state: arrays.map((list, i) => list.slice(0, count).map((a) => this.make([...params[i]!.shape], dtype, a))),
    };
  }
}

export const fastCpu = new FastCpuBackend();
