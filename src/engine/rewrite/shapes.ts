/**
 * Shape-only tensors. A ShapeBackend implements the Backend interface without values: each
 * kernel checks and computes the output's shape (the same checks the CPU backend makes) and
 * records how the output was made (its provenance: the primitive, its parameters and input
 * tensors). The rewrite IR uses it to infer the shape of a node it builds; the TracingBackend
 * (trace.ts) uses it to run a function on inputs that have a shape but no data.
 */
import type { Backend, BinaryOp, ReduceOp, UnaryOp } from '../backend.js';
import { matmulDims } from '../backends/cpu.js';
import type { Op } from '../primitives.js';
import { ShapeError, Tensor, broadcastShapes, reducedShape, sizeOf, type DType, type Shape, type TypedArray } from '../tensor.js';
import { TraceError } from './errors.js';

/** How a shape-only tensor was computed: the primitive as the autograd records it. */
export interface Provenance {
  readonly op: Op;
  readonly params: unknown;
  readonly inputs: readonly Tensor[];
}

const REDUCE_OP: { [K in ReduceOp]: Op } = { sum: 'sum', max: 'max', logsumexp: 'logSumExp' };
const COMPARISONS = new Set<BinaryOp>(['gt', 'ge', 'lt', 'le', 'eq', 'ne']);

/** Whether a tensor has a shape but no values (it lives in a ShapeBackend). */
export function isSymbolic(t: Tensor): boolean {
  return t.backend instanceof ShapeBackend;
}

/** The provenance of a shape-only tensor, or null for a placeholder (a traced input). */
export function provenanceOf(t: Tensor): Provenance | null {
  return isSymbolic(t) ? (t.handle as Provenance | null) : null;
}

export class ShapeBackend implements Backend {
  readonly name: string = 'shapes';

  /** A placeholder: a tensor of this shape and dtype, made by nothing. */
  symbol(shape: Shape, dtype: DType): Tensor {
    return new Tensor(this, [...shape], dtype, null);
  }

  protected out(shape: Shape, dtype: DType, op: Op, params: unknown, inputs: readonly Tensor[]): Tensor {
    const made: Provenance = { op, params, inputs };
    return new Tensor(this, shape, dtype, made);
  }

  fromData(_data: ArrayLike<number>, _shape: Shape, _dtype: DType): Tensor {
    throw new TraceError('a shape-only backend holds no values: fromData is not available');
  }

  full(_shape: Shape, _value: number, _dtype: DType): Tensor {
    throw new TraceError('a shape-only backend holds no values: full is not available');
  }

  read(x: Tensor): TypedArray {
    throw new TraceError(
      `a traced function read the value of a traced tensor of shape [${x.shape.join(',')}] (item(), data(), value() or printing it): ` +
        'a compiled function can only compose ops; read values from its result instead',
    );
  }

  write(x: Tensor, _data: ArrayLike<number>): void {
    throw new TraceError(`a traced function updated a tensor of shape [${x.shape.join(',')}] in place (an optimizer step?): run updates outside the compiled function`);
  }

  unary(op: UnaryOp, x: Tensor): Tensor {
    return this.out(x.shape, x.dtype, op, null, [x]);
  }

  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    const shape = broadcastShapes(a.shape, b.shape, op);
    if (COMPARISONS.has(op)) return this.out(shape, a.dtype, 'compare', { cmp: op }, [a, b]);
    return this.out(shape, a.dtype, op as Op, null, [a, b]);
  }

  where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'where'), b.shape, 'where');
    return this.out(shape, a.dtype, 'where', null, [cond, a, b]);
  }

  reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
    return this.out(reducedShape(x.shape, axes, keepdims), x.dtype, REDUCE_OP[op], { axes: [...axes], keepdims }, [x]);
  }

  broadcastTo(x: Tensor, shape: Shape): Tensor {
    const s = broadcastShapes(x.shape, shape, 'broadcastTo');
    if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) throw new ShapeError(`broadcastTo: [${x.shape.join(',')}] does not broadcast to [${shape.join(',')}]`);
    return this.out([...shape], x.dtype, 'broadcastTo', { shape: [...shape] }, [x]);
  }

  matmul(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
    const { m, n, batchShape } = matmulDims(a, b, transposeA, transposeB);
    return this.out([...batchShape, m, n], a.dtype, 'matmul', { transposeA, transposeB }, [a, b]);
  }

  transpose(x: Tensor, perm: readonly number[]): Tensor {
    return this.out(perm.map((p) => x.shape[p]!), x.dtype, 'transpose', { perm: [...perm] }, [x]);
  }

  reshape(x: Tensor, shape: Shape): Tensor {
    if (sizeOf(shape) !== x.size) throw new ShapeError(`reshape: cannot reshape [${x.shape.join(',')}] (${x.size} elements) to [${shape.join(',')}]`);
    return this.out([...shape], x.dtype, 'reshape', { shape: [...shape] }, [x]);
  }

  slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
    return this.out([...size], x.dtype, 'slice', { begin: [...begin], size: [...size] }, [x]);
  }

  pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
    const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
    return this.out(shape, x.dtype, 'pad', { before: [...before], after: [...after] }, [x]);
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    const first = xs[0]!;
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, t) => s + t.shape[axis]!, 0);
    return this.out(shape, first.dtype, 'concat', { axis }, xs);
  }

  gather(x: Tensor, indices: Int32Array, axis: number): Tensor {
    const shape = [...x.shape];
    shape[axis] = indices.length;
    return this.out(shape, x.dtype, 'gather', { indices, axis }, [x]);
  }

  scatterAdd(g: Tensor, indices: Int32Array, axis: number, shape: Shape): Tensor {
    return this.out([...shape], g.dtype, 'scatterAdd', { indices, axis, shape: [...shape] }, [g]);
  }

  allFinite(_x: Tensor): boolean {
    // Anomaly mode asks after each backward rule; a traced value has no values to be NaN.
    return true;
  }
}

/** The shape-only backend the IR infers node shapes with. */
export const shapes = new ShapeBackend();
