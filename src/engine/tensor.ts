/**
 * Tensors: dense, row-major, float32 or float64, any rank (a 0-d tensor is a scalar).
 * A Tensor is a shape, a dtype and a handle to storage that lives in a backend; the autograd
 * never reads the storage itself, it asks the backend.
 */
import type { Backend } from './backend.js';

export type DType = 'float32' | 'float64';
export type Shape = readonly number[];
export type TypedArray = Float32Array | Float64Array;
/** Nested arrays of numbers, as users write tensors by hand. */
export type NestedArray = number | readonly NestedArray[];

export class Tensor {
  readonly size: number;

  constructor(
    readonly backend: Backend,
    readonly shape: Shape,
    readonly dtype: DType,
    /** The backend's storage: a typed array on the CPU, a buffer on the GPU. */
    readonly handle: unknown,
  ) {
    this.size = sizeOf(shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The values as a flat row-major typed array (a copy where the storage is not on the host). */
  data(): TypedArray {
    return this.backend.read(this);
  }

  /** The value of a tensor with one element. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item() needs a tensor of one element, this one has shape ${formatShape(this.shape, this.dtype)}`);
    return this.data()[0]!;
  }

  /** Nested arrays of numbers (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const flat = this.data();
    if (this.shape.length === 0) return flat[0]!;
    const build = (axis: number, offset: number): NestedArray[] => {
      const n = this.shape[axis]!;
      const out: NestedArray[] = new Array(n);
      if (axis === this.shape.length - 1) {
        for (let i = 0; i < n; i++) out[i] = flat[offset + i]!;
        return out;
      }
      const stride = sizeOf(this.shape, axis + 1);
      for (let i = 0; i < n; i++) out[i] = build(axis + 1, offset + i * stride);
      return out;
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape, this.dtype)} ${JSON.stringify(this.toArray())})`;
  }
}

/** The number of elements of `shape`, or of its axes from .. to - 1. */
export function sizeOf(shape: Shape, from = 0, to = shape.length): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i]!;
  return n;
}

/** `f32[2,3]`: the form graphs and error messages print shapes in. */
export function formatShape(shape: Shape, dtype: DType): string {
  return `${dtype === 'float32' ? 'f32' : 'f64'}[${shape.join(',')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Row-major strides. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export class ShapeError extends Error {
  override name = 'ShapeError';
}

/**
 * A shape given by a user, checked: an array of non-negative safe integers, or one integer for
 * a 1-d shape (as PyTorch's `zeros(3)`). reshape, whose -1 stands for an axis to infer, checks
 * its own.
 */
export function toShape(shape: unknown, op: string): number[] {
  if (typeof shape === 'number') shape = [shape];
  if (!Array.isArray(shape)) throw new TypeError(`${op}: a shape is an array of non-negative integers (or one integer), got ${describeValue(shape)}`);
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !(Number.isSafeInteger(d) && d >= 0)) {
      throw new ShapeError(`${op}: dimension ${describeValue(d)} at axis ${i} of shape [${shape.map(String).join(',')}] is not a non-negative integer`);
    }
    out.push(d);
  }
  return out;
}

/** A value as error messages quote it: `'abc' (a string)`, `undefined`, `an object`, `NaN`. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  switch (typeof v) {
    case 'number': return String(v);
    case 'string': return `${JSON.stringify(v)} (a string)`;
    case 'boolean': return `${v} (a boolean)`;
    case 'bigint': return `${v}n (a bigint)`;
    case 'function': return 'a function';
    case 'object': {
      const name = (v as object).constructor?.name;
      return Array.isArray(v) ? 'an array' : name && name !== 'Object' ? `a ${name}` : 'an object';
    }
    default: return `a ${typeof v}`;
  }
}

/** NumPy broadcasting: align trailing axes; a 1 stretches to match. */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast (axis ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalises axes (negative counts from the end; each once, as NumPy and PyTorch require); undefined means every axis. */
export function normalizeAxes(axes: number | readonly number[] | undefined, rank: number, op = 'reduce'): number[] {
  const out: number[] = [];
  if (axes === undefined) {
    for (let i = 0; i < rank; i++) out.push(i);
    return out;
  }
  const list = typeof axes === 'number' ? [axes] : axes;
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    const r = a < 0 ? a + rank : a;
    if (!Number.isInteger(r) || r < 0 || r >= rank) throw new ShapeError(`${op}: axis ${a} is out of range for rank ${rank}`);
    if (out.includes(r)) throw new ShapeError(`${op}: axis ${a} is given twice (axes [${list.join(',')}] of rank ${rank}); give each axis once`);
    out.push(r);
  }
  return out.sort((x, y) => x - y);
}

/** The shape after reducing `axes`, with or without the reduced axes kept as 1. */
export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (axes.includes(i)) {
      if (keepdims) out.push(1);
    } else out.push(shape[i]!);
  }
  return out;
}

/** Flattens nested arrays of numbers and infers their shape; ragged input is an error. */
export function flattenNested(value: NestedArray, op = 'tensor'): { shape: number[]; flat: number[] } {
  const shape: number[] = [];
  let probe: NestedArray = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = (probe as readonly NestedArray[])[0]!;
  }
  const flat: number[] = [];
  const walk = (v: NestedArray, axis: number): void => {
    if (axis === shape.length) {
      if (typeof v !== 'number') {
        if (Array.isArray(v)) throw new ShapeError(`${op}: ragged nested array (expected a number at depth ${axis})`);
        throw new TypeError(`${op}: a nested array holds numbers, got ${describeValue(v)} at depth ${axis}`);
      }
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[axis]) {
      throw new ShapeError(`${op}: ragged nested array (expected ${shape[axis]} items at depth ${axis})`);
    }
    for (const item of v as readonly NestedArray[]) walk(item, axis + 1);
  };
  walk(value, 0);
  return { shape, flat };
}

/** The smallest positive normal numbers of float32 and float64: below them lie the subnormals. */
export const F32_MIN_NORMAL = 2 ** -126;
export const F64_MIN_NORMAL = 2 ** -1022;

export function arrayFor(dtype: DType, n: number): TypedArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}
