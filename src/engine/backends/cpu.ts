/**
 * The reference backend: plain TypeScript loops over typed arrays. It is the definition every
 * faster backend is tested against, so it favours clarity, with fast paths only for the shapes
 * that dominate training (same-shape elementwise, scalar and bias broadcasting, last-axis and
 * first-axis reductions).
 */
import { weightDecayOf, type Activation, type Backend, type BinaryOp, type OptimizerUpdate, type ReduceOp, type UnaryOp } from '../backend.js';
import {
  F32_MIN_NORMAL, F64_MIN_NORMAL, Tensor, ShapeError, arrayFor, broadcastShapes, formatShape, reducedShape, sameShape, sizeOf, stridesOf,
  type DType, type Shape, type TypedArray,
} from '../tensor.js';

type Unary = (x: number) => number;

/** Stable forms: sigmoid never evaluates exp of a large positive number; softplus neither. */
const sigmoid: Unary = (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus: Unary = (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
/**
 * float32 sigmoid as float32 arithmetic: each step of 1 / (1 + e^-x) rounded to float32, as a
 * float32 program computes it (one rounding of the float64 result would differ in the last bit).
 */
const f = Math.fround;
const sigmoid32: Unary = (x) => {
  if (x >= 0) return f(1 / f(1 + f(Math.exp(-x))));
  const e = f(Math.exp(x));
  return f(e / f(1 + e));
};
const helpers = { sigmoid, softplus, sigmoid32 };

/**
 * Each elementwise op as source over its operands' names: the stable sigmoid and softplus, relu
 * that keeps NaN, sign with NaN. The fused kernels of rewrite/fusion.ts use the same definitions,
 * so fused and unfused chains agree to the bit.
 */
export const unaryExpr: { [K in UnaryOp]: (x: string) => string } = {
  neg: (x) => `-${x}`,
  exp: (x) => `Math.exp(${x})`,
  log: (x) => `Math.log(${x})`,
  sqrt: (x) => `Math.sqrt(${x})`,
  abs: (x) => `Math.abs(${x})`,
  sign: (x) => `(${x} > 0 ? 1 : ${x} < 0 ? -1 : ${x} === 0 ? 0 : NaN)`,
  sin: (x) => `Math.sin(${x})`,
  cos: (x) => `Math.cos(${x})`,
  tan: (x) => `Math.tan(${x})`,
  asin: (x) => `Math.asin(${x})`,
  acos: (x) => `Math.acos(${x})`,
  atan: (x) => `Math.atan(${x})`,
  sinh: (x) => `Math.sinh(${x})`,
  cosh: (x) => `Math.cosh(${x})`,
  tanh: (x) => `Math.tanh(${x})`,
  sigmoid: (x) => `sigmoid(${x})`,
  softplus: (x) => `softplus(${x})`,
  relu: (x) => `(${x} > 0 ? ${x} : ${x} === ${x} ? 0 : ${x})`,
};

/** The source of a unary op for `dtype` (float32's sigmoid is computed as float32 arithmetic). */
export function unarySource(op: UnaryOp, dtype: DType, x: string): string {
  return op === 'sigmoid' && dtype === 'float32' ? `sigmoid32(${x})` : unaryExpr[op](x);
}

export const binaryExpr: { [K in BinaryOp]: (x: string, y: string) => string } = {
  add: (x, y) => `${x} + ${y}`,
  sub: (x, y) => `${x} - ${y}`,
  mul: (x, y) => `${x} * ${y}`,
  div: (x, y) => `${x} / ${y}`,
  pow: (x, y) => `Math.pow(${x}, ${y})`,
  gt: (x, y) => `(${x} > ${y} ? 1 : 0)`,
  ge: (x, y) => `(${x} >= ${y} ? 1 : 0)`,
  lt: (x, y) => `(${x} < ${y} ? 1 : 0)`,
  le: (x, y) => `(${x} <= ${y} ? 1 : 0)`,
  eq: (x, y) => `(${x} === ${y} ? 1 : 0)`,
  ne: (x, y) => `(${x} !== ${y} ? 1 : 0)`,
};

type UnaryLoop = (x: TypedArray, out: TypedArray) => void;
interface BinaryLoops {
  same(a: TypedArray, b: TypedArray, out: TypedArray): void;
  scalarB(a: TypedArray, s: number, out: TypedArray): void;
  scalarA(s: number, b: TypedArray, out: TypedArray): void;
  /** b repeats every b.length elements of a (a bias over the trailing axes). */
  trailingB(a: TypedArray, b: TypedArray, out: TypedArray): void;
  trailingA(a: TypedArray, b: TypedArray, out: TypedArray): void;
  /** Each element of b stands for a run of out.length / b.length elements of a (a per-row value). */
  leadingB(a: TypedArray, b: TypedArray, out: TypedArray): void;
  leadingA(a: TypedArray, b: TypedArray, out: TypedArray): void;
  indexed(a: TypedArray, ia: Int32Array, b: TypedArray, ib: Int32Array, out: TypedArray): void;
}

/**
 * Every op gets loops of its own source, compiled on first use: V8 optimises a function per
 * source, so loops shared by all ops (calling the op through a closure) became polymorphic and
 * ran 4x slower once a second op used them. The sources are fixed strings above.
 */
export function compileElementwise<T>(body: string): T {
  return new Function('helpers', `'use strict'; const { sigmoid, softplus, sigmoid32 } = helpers; const f = Math.fround; return ${body};`)(helpers) as T;
}

function unaryLoop(expr: string): UnaryLoop {
  return compileElementwise(`function (src, out) { for (let i = 0; i < out.length; i++) { const x = src[i]; out[i] = ${expr}; } }`);
}

function binaryLoops(expr: string): BinaryLoops {
  return compileElementwise(`{
    same(a, b, out) { for (let i = 0; i < out.length; i++) { const x = a[i], y = b[i]; out[i] = ${expr}; } },
    scalarB(a, y, out) { for (let i = 0; i < out.length; i++) { const x = a[i]; out[i] = ${expr}; } },
    scalarA(x, b, out) { for (let i = 0; i < out.length; i++) { const y = b[i]; out[i] = ${expr}; } },
    trailingB(a, b, out) {
      const m = b.length;
      for (let i = 0; i < out.length; i += m) for (let j = 0; j < m; j++) { const x = a[i + j], y = b[j]; out[i + j] = ${expr}; }
    },
    trailingA(a, b, out) {
      const m = a.length;
      for (let i = 0; i < out.length; i += m) for (let j = 0; j < m; j++) { const x = a[j], y = b[i + j]; out[i + j] = ${expr}; }
    },
    leadingB(a, b, out) {
      const m = out.length / b.length;
      for (let r = 0, i = 0; r < b.length; r++, i += m) { const y = b[r]; for (let j = i; j < i + m; j++) { const x = a[j]; out[j] = ${expr}; } }
    },
    leadingA(a, b, out) {
      const m = out.length / a.length;
      for (let r = 0, i = 0; r < a.length; r++, i += m) { const x = a[r]; for (let j = i; j < i + m; j++) { const y = b[j]; out[j] = ${expr}; } }
    },
    indexed(a, ia, b, ib, out) { for (let i = 0; i < out.length; i++) { const x = a[ia[i]], y = b[ib[i]]; out[i] = ${expr}; } },
  }`);
}

/**
 * The loops, compiled on first use: all of them at load (some fifty sources) took 2 ms of
 * every start that imports rmad. Per dtype, so each loop sees one kind of array.
 */
const unaryKernels: { [D in DType]: { [K in UnaryOp]?: UnaryLoop } } = { float32: {}, float64: {} };
const binaryKernels: { [K in BinaryOp]?: BinaryLoops } = {};

function unaryKernel(op: UnaryOp, dtype: DType): UnaryLoop {
  return (unaryKernels[dtype][op] ??= unaryLoop(unarySource(op, dtype, 'x')));
}

function binaryKernel(op: BinaryOp): BinaryLoops {
  return (binaryKernels[op] ??= binaryLoops(binaryExpr[op]('x', 'y')));
}

/**
 * Each activation's gradient (Backend.activationGrad) as source over `v` (tanh's and sigmoid's
 * output, relu's input) and `g`, in the order of its backward rule's ops (primitives.ts); in
 * float32 each step is rounded as those ops store it, so the two give the same bits.
 */
const activationGradExpr: { [K in Activation]: (round: (e: string) => string) => string } = {
  tanh: (r) => `g * ${r(`1 - ${r('v * v')}`)}`,
  sigmoid: (r) => `g * ${r(`v * ${r('1 - v')}`)}`,
  relu: () => 'g * (v > 0 ? 1 : 0)',
};
type ActivationGradLoop = (v: TypedArray, g: TypedArray, out: TypedArray) => void;
const activationGradKernels: { [D in DType]: { [K in Activation]?: ActivationGradLoop } } = { float32: {}, float64: {} };

/** Each step of an activation gradient's source rounded to float32, or kept in float64. */
const roundF32 = (e: string): string => `f(${e})`;
const keep = (e: string): string => `(${e})`;

function activationGradKernel(fn: Activation, dtype: DType): ActivationGradLoop {
  return (activationGradKernels[dtype][fn] ??= compileElementwise<ActivationGradLoop>(
    `function (vs, gs, out) { for (let i = 0; i < out.length; i++) { const v = vs[i], g = gs[i]; out[i] = ${activationGradExpr[fn](dtype === 'float32' ? roundF32 : keep)}; } }`,
  ));
}

/**
 * For each element of `outShape` (row-major), the offset of the element of `inShape` that
 * broadcasts to it.
 */
export function broadcastIndex(inShape: Shape, outShape: Shape): Int32Array {
  const rank = outShape.length;
  const inStrides = stridesOf(inShape);
  const strides = new Array<number>(rank).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    const axis = rank - inShape.length + i;
    strides[axis] = inShape[i] === 1 ? 0 : inStrides[i]!;
  }
  return offsetsFor(outShape, strides);
}

/**
 * The region begin .. begin + size of a row-major tensor of `shape` as runs of contiguous
 * elements, in row-major order: visit(offset in the tensor, offset in the region, length).
 * The trailing axes the region spans whole join one run with the axis before them, so a slice
 * of rows is one run and a slice of columns one run a row.
 */
function forEachRun(shape: Shape, begin: readonly number[], size: readonly number[], visit: (at: number, from: number, n: number) => void): void {
  const total = sizeOf(size);
  if (total === 0) return;
  const rank = shape.length;
  if (rank === 0) return visit(0, 0, 1);
  const strides = stridesOf(shape);
  let axis = rank - 1;
  let run = size[axis]!;
  while (axis > 0 && size[axis] === shape[axis]) run *= size[--axis]!;
  let at = 0;
  for (let d = 0; d < rank; d++) at += begin[d]! * strides[d]!;
  const idx = new Array<number>(axis).fill(0);
  for (let from = 0; from < total; from += run) {
    visit(at, from, run);
    at = advance(idx, size, strides, axis, at);
  }
}

/**
 * One step of an odometer over axes 0 .. axes - 1 of `extents` (the last of them fastest):
 * updates `idx` and returns `offset` moved by the strides of the axes that changed.
 */
function advance(idx: number[], extents: Shape, strides: readonly number[], axes: number, offset: number): number {
  for (let d = axes - 1; d >= 0; d--) {
    idx[d]!++;
    offset += strides[d]!;
    if (idx[d]! < extents[d]!) break;
    offset -= idx[d]! * strides[d]!;
    idx[d] = 0;
  }
  return offset;
}

/** dst[to .. to + n] = src[from .. from + n]: a loop for short runs, where set() costs more. */
function copyRun(src: TypedArray, from: number, dst: TypedArray, to: number, n: number): void {
  if (n >= 16) dst.set(src.subarray(from, from + n), to);
  else for (let j = 0; j < n; j++) dst[to + j] = src[from + j]!;
}

/** Offsets `sum(index[d] * strides[d])` for every index of `shape`, row-major. */
function offsetsFor(shape: Shape, strides: readonly number[]): Int32Array {
  const n = sizeOf(shape);
  const out = new Int32Array(n);
  const rank = shape.length;
  if (rank === 0) return out;
  const idx = new Array<number>(rank).fill(0);
  const last = rank - 1;
  const lastLen = shape[last]!;
  const lastStride = strides[last]!;
  let base = 0;
  for (let i = 0; i < n; i += lastLen) {
    for (let j = 0; j < lastLen; j++) out[i + j] = base + j * lastStride;
    base = advance(idx, shape, strides, last, base);
  }
  return out;
}

/**
 * Whether `small` broadcasts to `big` by repeating each of its elements over a run of `big`'s
 * trailing axes: it equals `big` on the leading axes and is 1 after them (a per-row value such
 * as a row's maximum against its row).
 */
export function isLeading(small: Shape, big: Shape): boolean {
  const lead = big.length - small.length;
  if (lead < 0) return false;
  let d = big.length;
  while (d > lead && small[d - lead - 1] === 1) d--;
  for (let i = 0; i < d; i++) if ((i < lead ? 1 : small[i - lead]) !== big[i]) return false;
  return true;
}

/** Whether `small` equals the trailing axes of `big` (ignoring leading 1s of `small`). */
export function isTrailing(small: Shape, big: Shape): boolean {
  let s = 0;
  while (s < small.length && small[s] === 1) s++;
  const tail = small.length - s;
  if (tail > big.length) return false;
  for (let i = 0; i < tail; i++) if (small[s + i] !== big[big.length - tail + i]) return false;
  return true;
}

/**
 * Kernel outputs are carved from shared slabs: a view on an existing ArrayBuffer costs a
 * fraction of a typed array with a backing store of its own (measured: 0.2 against 1 us for
 * 400 floats), and a training step makes hundreds of short-lived outputs (W4s: 0.16 -> 0.11 ms
 * a step). The garbage collector frees a slab once no view of it is alive; so that a
 * long-lived tensor pins little, slabs are small and large outputs get their own buffer.
 * Slabs stay under the C allocator's 128 KiB mmap threshold: larger ones came fresh from the
 * kernel each time, and writing 64 KiB into fresh pages cost 20-30 us against 4-5 us for a
 * buffer of its own (page faults, costly under a hypervisor).
 *
 * Outputs are not zeroed: the kernels write every element anyway, and zeroing 784 KiB took
 * 65-115 us where the allocation alone took 15-28 (W4's weight gradient, each step; slabs
 * unzeroed too: W5 about 0.98 of its time). Kernels that write only some elements (pad,
 * scatterAdd) take arrays of their own, which are zeroed.
 */
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_ITEM = 16 * 1024;
const unzeroed = (bytes: number): ArrayBuffer => Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
let slab = unzeroed(SLAB_BYTES);
let slabOffset = 0;

/** Tests set `poison`: every output `output` leaves unzeroed then starts as NaN, so an element left unwritten shows. */
export const outputChecks = { poison: false };

/** A kernel output of `n` elements, every one of which the kernel writes. */
export function output(dtype: DType, n: number): TypedArray {
  const bytes = n * (dtype === 'float32' ? 4 : 8);
  if (bytes < 64) return arrayFor(dtype, n);
  let buffer: ArrayBuffer, offset = 0;
  if (bytes > SLAB_MAX_ITEM) {
    buffer = unzeroed(bytes);
  } else {
    if (slabOffset + bytes > SLAB_BYTES) {
      slab = unzeroed(SLAB_BYTES);
      slabOffset = 0;
    }
    buffer = slab;
    offset = slabOffset;
    slabOffset += (bytes + 15) & ~15;
  }
  const out = dtype === 'float32' ? new Float32Array(buffer, offset, n) : new Float64Array(buffer, offset, n);
  if (outputChecks.poison) out.fill(NaN);
  return out;
}

/** The maximum of x[start, start + run), NaN if it holds one, -Infinity if it is empty. */
function rowMax(x: ArrayLike<number>, start: number, run: number): number {
  let m = -Infinity;
  for (let i = start; i < start + run; i++) {
    const v = x[i]!;
    if (v > m || v !== v) m = v;
  }
  return m;
}

/** The float64 sum of x[start, start + run), in order. */
function rowSum(x: ArrayLike<number>, start: number, run: number): number {
  let s = 0;
  for (let i = start; i < start + run; i++) s += x[i]!;
  return s;
}

/**
 * log Σ e^x over x[start, start + run), as the reference computes a row's logsumexp: m + log of
 * the float64 sum of e^(x - m), m the row's maximum (NaN if the row holds one); where m is
 * infinite the sum counts the elements equal to it instead.
 */
function rowLogSumExp(x: TypedArray, start: number, run: number): number {
  const end = start + run;
  const m = rowMax(x, start, run);
  const infinite = m === Infinity || m === -Infinity;
  let s = 0;
  for (let i = start; i < end; i++) s += infinite ? (x[i] === m ? 1 : 0) : Math.exp(x[i]! - m);
  return m + Math.log(s);
}

/**
 * row[j] += Σ_p a[aAt + p aStride] B[p, j] over the k rows of B from `bo` (n columns), p in
 * order, skipping zeros of a: the i-p-j order of the reference's products, which streams rows
 * of B.
 */
function addRowProduct(row: Float64Array, a: TypedArray, aAt: number, aStride: number, b: TypedArray, bo: number, k: number, n: number): void {
  for (let p = 0; p < k; p++) {
    const ap = a[aAt + p * aStride]!;
    if (ap === 0) continue;
    const br = bo + p * n;
    for (let j = 0; j < n; j++) row[j]! += ap * b[br + j]!;
  }
}

/** The shape of every 0-d tensor (shapes are never mutated). */
const SCALAR: Shape = [];

export class CpuBackend implements Backend {
  readonly name = 'cpu';

  make(shape: Shape, dtype: DType, data: TypedArray): Tensor {
    return new Tensor(this, shape, dtype, data);
  }

  private arr(x: Tensor): TypedArray {
    return x.handle as TypedArray;
  }

  fromData(data: ArrayLike<number>, shape: Shape, dtype: DType): Tensor {
    const n = sizeOf(shape);
    if (data.length !== n) throw new ShapeError(`tensor: ${data.length} values do not fill shape [${shape.join(',')}] (${n} elements)`);
    const out = arrayFor(dtype, n);
    if (data instanceof Float32Array || data instanceof Float64Array) out.set(data);
    else for (let i = 0; i < n; i++) out[i] = data[i]!;
    return this.make([...shape], dtype, out);
  }

  full(shape: Shape, value: number, dtype: DType): Tensor {
    if (shape.length === 0) {
      const out = arrayFor(dtype, 1);
      out[0] = value;
      return this.make(SCALAR, dtype, out);
    }
    const out = arrayFor(dtype, sizeOf(shape));
    if (!Object.is(value, 0)) out.fill(value);
    return this.make(shape.slice(), dtype, out);
  }

  read(x: Tensor): TypedArray {
    return this.arr(x);
  }

  write(x: Tensor, data: ArrayLike<number>): void {
    const a = this.arr(x);
    if (data.length !== a.length) throw new ShapeError(`write: ${data.length} values for a tensor of ${a.length} elements`);
    if (data instanceof Float32Array || data instanceof Float64Array) a.set(data);
    else for (let i = 0; i < a.length; i++) a[i] = data[i]!;
  }

  unary(op: UnaryOp, x: Tensor): Tensor {
    const out = output(x.dtype, x.size);
    unaryKernel(op, x.dtype)(this.arr(x), out);
    return this.make(x.shape, x.dtype, out);
  }

  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    const k = binaryKernel(op);
    const da = this.arr(a), db = this.arr(b);
    if (sameShape(a.shape, b.shape)) {
      const out = output(a.dtype, a.size);
      k.same(da, db, out);
      return this.make(a.shape, a.dtype, out);
    }
    const shape = broadcastShapes(a.shape, b.shape, op);
    const out = output(a.dtype, sizeOf(shape));
    if (b.size === 1 && out.length === da.length) k.scalarB(da, db[0]!, out);
    else if (a.size === 1 && out.length === db.length) k.scalarA(da[0]!, db, out);
    else if (out.length === da.length && isTrailing(b.shape, shape)) k.trailingB(da, db, out);
    else if (out.length === db.length && isTrailing(a.shape, shape)) k.trailingA(da, db, out);
    else if (out.length === da.length && isLeading(b.shape, shape)) k.leadingB(da, db, out);
    else if (out.length === db.length && isLeading(a.shape, shape)) k.leadingA(da, db, out);
    else k.indexed(da, broadcastIndex(a.shape, shape), db, broadcastIndex(b.shape, shape), out);
    return this.make(shape, a.dtype, out);
  }

  where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'where'), b.shape, 'where');
    const n = sizeOf(shape);
    const ic = broadcastIndex(cond.shape, shape), ia = broadcastIndex(a.shape, shape), ib = broadcastIndex(b.shape, shape);
    const dc = this.arr(cond), da = this.arr(a), db = this.arr(b);
    const out = output(a.dtype, n);
    for (let i = 0; i < n; i++) out[i] = dc[ic[i]!] !== 0 ? da[ia[i]!]! : db[ib[i]!]!;
    return this.make(shape, a.dtype, out);
  }

  reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
    const outShape = reducedShape(x.shape, axes, keepdims);
    if (op === 'logsumexp') return this.logSumExp(x, axes, outShape);
    const src = this.arr(x);
    const out = output(x.dtype, sizeOf(outShape));
    const isSum = op === 'sum';
    // Split the input as [outer, reduced, inner] when the reduced axes are contiguous.
    const contiguous = axes.length > 0 && axes[axes.length - 1]! - axes[0]! === axes.length - 1;
    if (contiguous || axes.length === 0) {
      const first = axes.length ? axes[0]! : 0;
      const outer = sizeOf(x.shape, 0, first);
      const red = axes.length ? sizeOf(x.shape, first, axes[axes.length - 1]! + 1) : 1;
      const inner = sizeOf(x.shape, axes.length ? axes[axes.length - 1]! + 1 : 0);
      const acc = new Float64Array(inner);
      for (let o = 0; o < outer; o++) {
        const base = o * red * inner;
        if (inner === 1) {
          out[o] = isSum ? rowSum(src, base, red) : rowMax(src, base, red);
          continue;
        }
        acc.fill(isSum ? 0 : -Infinity);
        for (let r = 0; r < red; r++) {
          const row = base + r * inner;
          if (isSum) for (let i = 0; i < inner; i++) acc[i]! += src[row + i]!;
          else for (let i = 0; i < inner; i++) { const v = src[row + i]!; if (v > acc[i]! || v !== v) acc[i] = v; }
        }
        out.set(acc, o * inner);
      }
      return this.make(outShape, x.dtype, out);
    }
    // General case: each input element adds into the output element it reduces to.
    const keepShape = reducedShape(x.shape, axes, true);
    const strides = stridesOf(keepShape).map((s, d) => (keepShape[d] === 1 ? 0 : s));
    const target = offsetsFor(x.shape, strides);
    const acc = new Float64Array(out.length).fill(isSum ? 0 : -Infinity);
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!, t = target[i]!;
      if (isSum) acc[t]! += v;
      else if (v > acc[t]! || v !== v) acc[t] = v;
    }
    out.set(acc);
    return this.make(outShape, x.dtype, out);
  }

  /** m + log(sum(exp(x - m))) with m the max: finite for any finite input. */
  private logSumExp(x: Tensor, axes: readonly number[], outShape: number[]): Tensor {
    const keepShape = reducedShape(x.shape, axes, true);
    const src = this.arr(x);
    const out = output(x.dtype, sizeOf(outShape));
    if (isLeading(keepShape, x.shape)) {
      // Trailing axes reduced (a row's logsumexp): each sum is one run of the input, in order.
      const run = src.length / out.length;
      for (let t = 0; t < out.length; t++) out[t] = rowLogSumExp(src, t * run, run);
      return this.make(outShape, x.dtype, out);
    }
    const m = this.arr(this.reduce('max', x, axes, true));
    const sum = new Float64Array(m.length);
    const strides = stridesOf(keepShape).map((s, d) => (keepShape[d] === 1 ? 0 : s));
    const target = offsetsFor(x.shape, strides);
    for (let i = 0; i < src.length; i++) {
      const t = target[i]!;
      const mt = m[t]!;
      sum[t]! += mt === Infinity || mt === -Infinity ? (src[i] === mt ? 1 : 0) : Math.exp(src[i]! - mt);
    }
    for (let i = 0; i < out.length; i++) out[i] = m[i]! + Math.log(sum[i]!);
    return this.make(outShape, x.dtype, out);
  }

  /** Per row of the last axis, -Σ t (z - logsumexp(z)) in float64, rounded once. */
  softmaxCrossEntropy(z: Tensor, t: Tensor): Tensor {
    const dz = this.arr(z), dt = this.arr(t);
    const rows = sizeOf(z.shape, 0, z.rank - 1), run = z.shape[z.rank - 1]!;
    const out = output(z.dtype, rows);
    for (let r = 0, start = 0; r < rows; r++, start += run) {
      const lse = rowLogSumExp(dz, start, run);
      let s = 0;
      for (let i = start; i < start + run; i++) s += dt[i]! * (dz[i]! - lse);
      out[r] = -s;
    }
    return this.make(z.shape.slice(0, -1), z.dtype, out);
  }

  /** g (e^(z - logsumexp(z)) Σ t - t) along each row, in float64, rounded once. */
  softmaxCrossEntropyGrad(z: Tensor, t: Tensor, g: Tensor): Tensor {
    const dz = this.arr(z), dt = this.arr(t), dg = this.arr(g);
    const rows = dg.length, run = z.shape[z.rank - 1]!;
    const out = output(z.dtype, dz.length);
    for (let r = 0, start = 0; r < rows; r++, start += run) {
      const lse = rowLogSumExp(dz, start, run), total = rowSum(dt, start, run), gr = dg[r]!;
      for (let i = start; i < start + run; i++) out[i] = gr * (Math.exp(dz[i]! - lse) * total - dt[i]!);
    }
    return this.make(z.shape, z.dtype, out);
  }

  broadcastTo(x: Tensor, shape: Shape): Tensor {
    broadcastShapes(x.shape, shape, 'broadcastTo');
    const n = sizeOf(shape);
    const src = this.arr(x);
    const out = output(x.dtype, n);
    if (x.size === 1) out.fill(src[0]!);
    else if (isTrailing(x.shape, shape)) for (let i = 0; i < n; i += src.length) out.set(src, i);
    else if (isLeading(x.shape, shape)) for (let r = 0, m = n / src.length; r < src.length; r++) out.fill(src[r]!, r * m, (r + 1) * m);
    else {
      const idx = broadcastIndex(x.shape, shape);
      for (let i = 0; i < n; i++) out[i] = src[idx[i]!]!;
    }
    return this.make([...shape], x.dtype, out);
  }

  matmul(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
    const { batch, m, k, n, batchShape } = matmulDims(a, b, transposeA, transposeB);
    const da = this.arr(a), db = this.arr(b);
    const out = output(a.dtype, batch * m * n);
    const bBatched = b.rank > 2;
    const row = new Float64Array(n);
    for (let t = 0; t < batch; t++) {
      const ao = t * m * k, bo = bBatched ? t * k * n : 0, co = t * m * n;
      for (let i = 0; i < m; i++) {
        if (transposeB) {
          // C[i,j] = sum_p A[i,p] B[j,p]: contiguous dot products.
          for (let j = 0; j < n; j++) {
            let s = 0;
            const br = bo + j * k;
            if (transposeA) for (let p = 0; p < k; p++) s += da[ao + p * m + i]! * db[br + p]!;
            else {
              const ar = ao + i * k;
              for (let p = 0; p < k; p++) s += da[ar + p]! * db[br + p]!;
            }
            out[co + i * n + j] = s;
          }
          continue;
        }
        // C[i,:] = sum_p A[i,p] B[p,:]
        row.fill(0);
        addRowProduct(row, da, transposeA ? ao + i : ao + i * k, transposeA ? m : 1, db, bo, k, n);
        out.set(row, co + i * n);
      }
    }
    return this.make([...batchShape, m, n], a.dtype, out);
  }

  /** x W + b as matmul's i-p-j loop computes x W, each row's float64 sum starting from b. */
  linear(x: Tensor, w: Tensor, b: Tensor): Tensor {
    const m = x.shape[0]!, k = x.shape[1]!, n = w.shape[1]!;
    const dx = this.arr(x), dw = this.arr(w), db = this.arr(b);
    const out = output(x.dtype, m * n);
    const row = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      row.set(db);
      addRowProduct(row, dx, i * k, 1, dw, 0, k, n);
      out.set(row, i * n);
    }
    return this.make([m, n], x.dtype, out);
  }

  transpose(x: Tensor, perm: readonly number[]): Tensor {
    const shape = perm.map((p) => x.shape[p]!);
    const inStrides = stridesOf(x.shape);
    const src = this.arr(x);
    const out = output(x.dtype, x.size);
    if (x.rank === 2 && perm[0] === 1) {
      const r = x.shape[0]!, c = x.shape[1]!;
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
    } else {
      const idx = offsetsFor(shape, perm.map((p) => inStrides[p]!));
      for (let i = 0; i < out.length; i++) out[i] = src[idx[i]!]!;
    }
    return this.make(shape, x.dtype, out);
  }

  reshape(x: Tensor, shape: Shape): Tensor {
    if (sizeOf(shape) !== x.size) throw new ShapeError(`reshape: cannot reshape [${x.shape.join(',')}] (${x.size} elements) to [${shape.join(',')}]`);
    return this.make([...shape], x.dtype, this.arr(x));
  }

  slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
    const src = this.arr(x);
    const out = output(x.dtype, sizeOf(size));
    forEachRun(x.shape, begin, size, (at, from, n) => copyRun(src, at, out, from, n));
    return this.make([...size], x.dtype, out);
  }

  pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
    const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
    const src = this.arr(x);
    const out = arrayFor(x.dtype, sizeOf(shape));
    forEachRun(shape, before, x.shape, (at, from, n) => copyRun(src, from, out, at, n));
    return this.make(shape, x.dtype, out);
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    const first = xs[0]!;
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, t) => s + t.shape[axis]!, 0);
    const outer = sizeOf(first.shape, 0, axis);
    const inner = sizeOf(first.shape, axis + 1);
    const out = output(first.dtype, sizeOf(shape));
    const rowLen = shape[axis]! * inner;
    let offset = 0;
    for (const t of xs) {
      const src = this.arr(t);
      const chunk = t.shape[axis]! * inner;
      for (let o = 0; o < outer; o++) out.set(src.subarray(o * chunk, (o + 1) * chunk), o * rowLen + offset);
      offset += chunk;
    }
    return this.make(shape, first.dtype, out);
  }

  gather(x: Tensor, indices: Int32Array, axis: number): Tensor {
    const shape = [...x.shape];
    const len = shape[axis]!;
    shape[axis] = indices.length;
    const outer = sizeOf(x.shape, 0, axis);
    const inner = sizeOf(x.shape, axis + 1);
    const src = this.arr(x);
    const out = output(x.dtype, sizeOf(shape));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < indices.length; j++) {
        const from = (o * len + indices[j]!) * inner;
        out.set(src.subarray(from, from + inner), (o * indices.length + j) * inner);
      }
    }
    return this.make(shape, x.dtype, out);
  }

  scatterAdd(g: Tensor, indices: Int32Array, axis: number, shape: Shape): Tensor {
    const len = shape[axis]!;
    const outer = sizeOf(shape, 0, axis);
    const inner = sizeOf(shape, axis + 1);
    const src = this.arr(g);
    const out = arrayFor(g.dtype, sizeOf(shape));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < indices.length; j++) {
        const to = (o * len + indices[j]!) * inner, from = (o * indices.length + j) * inner;
        for (let i = 0; i < inner; i++) out[to + i]! += src[from + i]!;
      }
    }
    return this.make([...shape], g.dtype, out);
  }

  allFinite(x: Tensor): boolean {
    const a = this.arr(x);
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
    return true;
  }

  addInPlace(acc: Tensor, x: Tensor): void {
    const a = this.arr(acc), b = this.arr(x);
    for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
  }

  /** The product, then its sum into acc: what the walker's in-place sums would give. */
  addMatmulInPlace(acc: Tensor, a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): void {
    const product = this.matmul(a, b, transposeA, transposeB);
    if (!sameShape(product.shape, acc.shape)) {
      throw new ShapeError(`addMatmulInPlace: a product ${formatShape(product.shape, product.dtype)} cannot be added into ${formatShape(acc.shape, acc.dtype)}`);
    }
    this.addInPlace(acc, product);
  }

  activationGrad(fn: Activation, v: Tensor, g: Tensor): Tensor {
    if (!sameShape(v.shape, g.shape) || v.dtype !== g.dtype) {
      throw new ShapeError(`${fn} gradient: the gradient ${formatShape(g.shape, g.dtype)} does not match the activation's ${formatShape(v.shape, v.dtype)}`);
    }
    const out = output(g.dtype, g.size);
    activationGradKernel(fn, g.dtype)(this.arr(v), this.arr(g), out);
    return this.make(g.shape, g.dtype, out);
  }

  addSliceInPlace(acc: Tensor, x: Tensor, begin: readonly number[]): void {
    const a = this.arr(acc), src = this.arr(x);
    forEachRun(acc.shape, begin, x.shape, (at, from, n) => {
      for (let j = 0; j < n; j++) a[at + j]! += src[from + j]!;
    });
  }

  optimizerStep(u: OptimizerUpdate, param: Tensor, grad: Tensor, state: readonly Tensor[]): void {
    const p = this.arr(param), g = this.arr(grad);
    const n = p.length;
    const { lr } = u;
    const decay = weightDecayOf(u);
    const l2 = decay.form === 'l2' ? decay.coefficient : 0, decoupled = decay.form === 'decoupled' ? decay.coefficient : 0;
    if (u.type === 'sgd') {
      for (let i = 0; i < n; i++) p[i]! -= lr * (l2 === 0 ? g[i]! : g[i]! + l2 * p[i]!);
      return;
    }
    // State values under the smallest normal number are stored as 0 (backend.ts).
    const smallest = param.dtype === 'float32' ? F32_MIN_NORMAL : F64_MIN_NORMAL;
    if (u.type === 'momentum') {
      const v = this.arr(state[0]!);
      const mu = u.momentum;
      for (let i = 0; i < n; i++) {
        const gi = l2 === 0 ? g[i]! : g[i]! + l2 * p[i]!;
        let vi = mu * v[i]! + gi;
        if (Math.abs(vi) < smallest) vi = 0;
        v[i] = vi;
        p[i]! -= lr * (u.nesterov ? gi + mu * vi : vi);
      }
      return;
    }
    const m = this.arr(state[0]!), v = this.arr(state[1]!);
    const { beta1: b1, beta2: b2, eps } = u;
    const c1 = 1 / (1 - Math.pow(b1, u.step)), c2 = 1 / (1 - Math.pow(b2, u.step));
    for (let i = 0; i < n; i++) {
      const pi = p[i]!;
      const gi = l2 === 0 ? g[i]! : g[i]! + l2 * pi;
      let mi = b1 * m[i]! + (1 - b1) * gi;
      let vi = b2 * v[i]! + (1 - b2) * gi * gi;
      if (Math.abs(mi) < smallest) mi = 0;
      if (Math.abs(vi) < smallest) vi = 0;
      m[i] = mi;
      v[i] = vi;
      const pNew = pi - (lr * (mi * c1)) / (Math.sqrt(vi * c2) + eps);
      p[i] = decoupled === 0 ? pNew : pNew - decoupled * pi;
    }
  }
}

/** The dimensions of a (batched) matrix product, checked. */
export function matmulDims(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean) {
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`matmul: operands need rank >= 2, got [${a.shape.join(',')}] and [${b.shape.join(',')}]`);
  const m = a.shape[a.rank - (transposeA ? 1 : 2)]!;
  const k = a.shape[a.rank - (transposeA ? 2 : 1)]!;
  const k2 = b.shape[b.rank - (transposeB ? 1 : 2)]!;
  const n = b.shape[b.rank - (transposeB ? 2 : 1)]!;
  const batchShape = a.shape.slice(0, -2);
  if (k !== k2) throw new ShapeError(`matmul: inner dimensions differ: [${a.shape.join(',')}]${transposeA ? 'ᵀ' : ''} @ [${b.shape.join(',')}]${transposeB ? 'ᵀ' : ''} (${k} vs ${k2})`);
  if (b.rank > 2 && !sameShape(b.shape.slice(0, -2), batchShape)) {
    throw new ShapeError(`matmul: batch axes differ: [${a.shape.join(',')}] @ [${b.shape.join(',')}]`);
  }
  return { batch: sizeOf(batchShape), m, k, n, batchShape };
}

export const cpu = new CpuBackend();
