/**
 * Variables and contexts: the user-facing half of the engine. A Variable holds a Tensor and,
 * when it was computed from variables that require gradients, the op and inputs that made it:
 * the recorded graph is nothing but these links, collected by the garbage collector like any
 * other object graph.
 */
import type { Backend } from './backend.js';
import { fastCpu } from './backends/fast-cpu.js';
import { GpuDtypeError, defaultWebGpuBackend } from './backends/webgpu/index.js';
import { ContextMismatchError, OpError } from './errors.js';
import { rules, type Comparison, type Op, type Params } from './primitives.js';
import {
  Tensor, ShapeError, broadcastShapes, describeValue, flattenNested, formatShape, normalizeAxes, sameShape, sizeOf, toShape,
  type DType, type NestedArray, type Shape, type TypedArray,
} from './tensor.js';
import { backward, Gradients, type GradOptions } from './autograd.js';
import type { Profiler } from './profile.js';

/** What an op accepts besides a Variable: a number, nested arrays, a typed array or a Tensor, taken as a constant. */
export type Operand = Variable | Tensor | NestedArray | TypedArray;
/** What `value()` and `wrt()` give: a number for a 0-d variable, a Tensor otherwise. */
export type Value = number | Tensor;

let nextVariableId = 1;
let nextContextId = 1;

export interface VariableOptions {
  /** false: frozen, no gradient is computed for it (default true). */
  requiresGrad?: boolean;
  /** Shown in graphs and error messages. */
  name?: string;
  /** The shape of a flat array of values (one integer for a 1-d shape). */
  shape?: Shape | number;
}

export interface ContextOptions {
  /** `cpu` (default) or `gpu`; or a Backend object. */
  device?: 'cpu' | 'gpu' | Backend;
  name?: string;
}

/**
 * RMAD_DETECT_ANOMALY, read once when rmad loads: reading process.env costs 0.15 us, 5% of a
 * whole scalar forward and backward pass that makes its own context (W1).
 */
const ANOMALY_FROM_ENV = process.env.RMAD_DETECT_ANOMALY === '1';

export class Context {
  readonly id = nextContextId++;
  readonly backend: Backend;
  readonly name: string | undefined;
  /** false inside noGrad(): ops record nothing. */
  recording = true;
  /** Name the first backward rule that produces NaN or Inf (also RMAD_DETECT_ANOMALY=1). */
  detectAnomaly = ANOMALY_FROM_ENV;
  /** When set, every op's time and call count are recorded (see profile.ts). */
  profiler: Profiler | null = null;

  constructor(readonly dtype: DType, options: ContextOptions = {}) {
    this.name = options.name;
    const device: unknown = options.device ?? 'cpu';
    if (device === 'cpu') this.backend = fastCpu;
    else if (device === 'gpu') {
      if (dtype === 'float64') throw new GpuDtypeError('newContext');
      this.backend = defaultWebGpuBackend();
    } else if (isBackend(device)) this.backend = device;
    else if (typeof device === 'string') throw new RangeError(`newContext: device must be 'cpu', 'gpu' or a Backend, got '${device}'`);
    else throw new TypeError(`newContext: device must be 'cpu', 'gpu' or a Backend, got ${describeValue(device)}`);
  }

  /** A variable that requires gradients (unless `requiresGrad: false`). */
  variable(value: NestedArray | Tensor | Variable | ArrayLike<number>, options: VariableOptions = {}): Variable {
    const v = new Variable(this, this.tensor(value, options.shape, 'variable'), null, null, null, options.requiresGrad ?? true);
    v.name = options.name;
    return v;
  }

  /** A variable that never requires gradients: data, targets, masks. */
  constant(value: NestedArray | Tensor | Variable | ArrayLike<number>, shape?: Shape | number): Variable {
    return new Variable(this, this.tensor(value, shape, 'constant'), null, null, null, false);
  }

  /**
   * A Tensor of this context's dtype and backend, from a number, nested arrays of numbers, a
   * typed array, a Tensor or a Variable; `shape` reshapes its values. `op` names the caller in errors.
   */
  tensor(value: NestedArray | Tensor | Variable | ArrayLike<number>, shape?: Shape | number, op = 'tensor'): Tensor {
    const s = shape === undefined ? undefined : toShape(shape, op);
    if (value instanceof Variable) value = value.tensor;
    if (value instanceof Tensor) {
      if (s && sizeOf(s) !== value.size) throw new ShapeError(`${op}: ${formatShape(value.shape, value.dtype)} has ${value.size} values, which do not fill shape [${s.join(',')}]`);
      if (value.backend === this.backend && value.dtype === this.dtype) return s ? this.backend.reshape(value, s) : value;
      return this.backend.fromData(value.data(), s ?? value.shape, this.dtype);
    }
    if (typeof value === 'number') {
      if (s && sizeOf(s) !== 1) throw new ShapeError(`${op}: one number does not fill shape [${s.join(',')}] (${sizeOf(s)} elements)`);
      return this.backend.full(s ?? [], value, this.dtype);
    }
    let flat: ArrayLike<number>, inferred: number[];
    if (Array.isArray(value)) ({ shape: inferred, flat } = flattenNested(value as NestedArray, op));
    else if (isNumericArray(value)) inferred = [(flat = value).length];
    else throw new TypeError(`${op}: expected a number, a nested array of numbers, a typed array, a Tensor or a Variable, got ${describeValue(value)}`);
    if (s && sizeOf(s) !== flat.length) throw new ShapeError(`${op}: ${flat.length} values do not fill shape [${s.join(',')}] (${sizeOf(s)} elements)`);
    return this.backend.fromData(flat, s ?? inferred, this.dtype);
  }

  scalar(x: number): Variable {
    if (typeof x !== 'number') throw new TypeError(`scalar: expected a number, got ${describeValue(x)}`);
    return new Variable(this, this.backend.full([], x, this.dtype), null, null, null, false);
  }

  /** Zeros of `shape` (an array of integers, or one integer for a 1-d shape). */
  zeros(shape: Shape | number, options: VariableOptions = {}): Variable {
    return this.variable(this.backend.full(toShape(shape, 'zeros'), 0, this.dtype), options);
  }

  /** Ones of `shape` (an array of integers, or one integer for a 1-d shape). */
  ones(shape: Shape | number, options: VariableOptions = {}): Variable {
    return this.variable(this.backend.full(toShape(shape, 'ones'), 1, this.dtype), options);
  }

  /** Runs `fn` recording nothing: every result is a constant. */
  noGrad<T>(fn: () => T): T {
    const was = this.recording;
    this.recording = false;
    try {
      return fn();
    } finally {
      this.recording = was;
    }
  }

  toString(): string {
    return `context #${this.id}${this.name ? ` '${this.name}'` : ''} (${this.dtype}, ${this.backend.name})`;
  }
}

/** Whether `x` looks like a Backend (an object with the kernels a context needs first). */
function isBackend(x: unknown): x is Backend {
  if (typeof x !== 'object' || x === null) return false;
  const b = x as Partial<Backend>;
  return typeof b.fromData === 'function' && typeof b.full === 'function' && typeof b.read === 'function' && typeof b.binary === 'function';
}

/** A typed array of numbers (not of bigints, not a DataView). */
function isNumericArray(x: unknown): x is ArrayLike<number> {
  return ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array);
}

/** A new context: every variable of a computation lives in one. The default dtype is float64. */
export function newContext(dtype: DType = 'float64', options: ContextOptions = {}): Context {
  if (dtype !== 'float32' && dtype !== 'float64') throw new OpError(`newContext: dtype must be 'float32' or 'float64', got '${String(dtype)}'`);
  return new Context(dtype, options);
}

export class Variable {
  readonly id = nextVariableId++;
  name: string | undefined;
  /** Bumped each time the value is replaced; recorded graphs check it (see autograd.ts). */
  version = 0;
  /** The walker's bookkeeping during a backward pass (autograd.ts); meaningless outside one. */
  walk = 0;
  walkConsumers = 0;
  /** The node's place in the walk's list of nodes (see Gradients). */
  walkIndex = 0;
  walkGrad: Variable | null = null;
  /** walkGrad is a sum the walker made and alone holds, so later contributions may add into it. */
  walkOwned = false;

  constructor(
    readonly ctx: Context,
    private _tensor: Tensor,
    /** The op that computed this variable, or null for leaves and constants. */
    readonly op: Op | null,
    readonly inputs: readonly Variable[] | null,
    readonly params: unknown,
    public requiresGrad: boolean,
    /** The inputs' versions when this op was recorded; null when all were 0 (the common case). */
    readonly inputVersions: readonly number[] | null = null,
  ) {}

  get tensor(): Tensor {
    return this._tensor;
  }
  get shape(): Shape {
    return this._tensor.shape;
  }
  get dtype(): DType {
    return this._tensor.dtype;
  }
  get rank(): number {
    return this._tensor.shape.length;
  }
  get size(): number {
    return this._tensor.size;
  }
  get isLeaf(): boolean {
    return this.op === null;
  }

  /** A number for a 0-d variable, the Tensor otherwise. */
  value(): Value {
    return this._tensor.shape.length === 0 ? this._tensor.item() : this._tensor;
  }

  /** The single value of a variable with one element. */
  item(): number {
    return this._tensor.item();
  }

  /** The values, flat and row-major (do not mutate: use assign). */
  data(): TypedArray {
    return this._tensor.data();
  }

  /**
   * Replaces the value: a Tensor, Variable or nested array of this variable's shape, or its
   * values flat and row-major (a plain or typed array, or a number for one element). Graphs
   * recorded with the old value can no longer be differentiated.
   */
  assign(value: NestedArray | Tensor | Variable | ArrayLike<number>): this {
    const shaped = value instanceof Tensor || value instanceof Variable || (Array.isArray(value) && Array.isArray(value[0]));
    const t = this.ctx.tensor(value, shaped ? undefined : this.shape, 'assign');
    if (!sameShape(t.shape, this.shape)) {
      throw new ShapeError(`assign: a value of shape [${t.shape.join(',')}] cannot replace ${this.describe()}: give one of its shape, or its ${this.size} values flat`);
    }
    this._tensor = t;
    this.version++;
    return this;
  }

  /** Writes new values into this variable's storage (optimizers use it); bumps the version. */
  update(values: ArrayLike<number>): this {
    this.ctx.backend.write(this._tensor, values);
    this.version++;
    return this;
  }

  /**
   * Moves the value into `t`, a tensor of this backend with the same shape, dtype and values
   * (an optimizer keeping its parameters beside their state). The value does not change, so
   * neither does the version: graphs recorded before still differentiate.
   */
  relocate(t: Tensor): this {
    if (!sameShape(t.shape, this.shape) || t.dtype !== this.dtype || t.backend !== this._tensor.backend) {
      throw new ShapeError(`relocate: ${formatShape(t.shape, t.dtype)} cannot hold ${this.describe()}`);
    }
    this._tensor = t;
    return this;
  }

  /** Records that the value was changed in place (a fused optimizer update did it). */
  modified(): this {
    this.version++;
    return this;
  }

  freeze(): this {
    this.requiresGrad = false;
    return this;
  }

  unfreeze(): this {
    if (!this.isLeaf) throw new OpError(`unfreeze: only leaf variables can be unfrozen (${this.describe()} was computed by '${this.op}')`);
    this.requiresGrad = true;
    return this;
  }

  /** The same value, cut from the graph. */
  detach(): Variable {
    return new Variable(this.ctx, this._tensor, null, null, null, false);
  }

  /**
   * Reverse-mode gradient of this variable. `pull` (the seed gradient) defaults to ones.
   * With `createGraph: true` the gradients are Variables that can be differentiated again.
   */
  grad(options: GradOptions & { createGraph: true }): Gradients<Variable>;
  grad(pull?: Operand | GradOptions, options?: GradOptions): Gradients<Value>;
  grad(pull?: Operand | GradOptions, options: GradOptions = {}): Gradients<Value> | Gradients<Variable> {
    if (pull !== undefined && typeof pull === 'object' && !Array.isArray(pull) && !(pull instanceof Variable) && !(pull instanceof Tensor)) {
      options = pull as GradOptions;
      pull = options.pull;
    }
    const seed = pull === undefined ? null : this.lift(pull as Operand, 'grad');
    return backward(this, seed, options.createGraph === true);
  }

  describe(): string {
    return `${this.name ? `'${this.name}'` : `variable #${this.id}`} (${this.dtype === 'float32' ? 'f32' : 'f64'}[${this.shape.join(',')}])`;
  }

  toString(): string {
    return `Variable(${this.describe()} ${JSON.stringify(this._tensor.toArray())})`;
  }

  /** An operand as a Variable of this context; `op` names the caller in errors. */
  lift(x: Operand, op = 'lift'): Variable {
    if (x instanceof Variable) {
      if (x.ctx !== this.ctx) {
        throw new ContextMismatchError(`an op mixes variables of two contexts: ${this.describe()} of ${this.ctx} and ${x.describe()} of ${x.ctx}; create both in one context`);
      }
      return x;
    }
    if (typeof x === 'number') return this.ctx.scalar(x);
    return new Variable(this.ctx, this.ctx.tensor(x, undefined, op), null, null, null, false);
  }

  // ---------------------------------------------------------------- elementwise
  add(other: Operand): Variable { return apply('add', [this, this.lift(other, 'add')], null); }
  sub(other: Operand): Variable { return apply('sub', [this, this.lift(other, 'sub')], null); }
  /** other - this */
  rsub(other: Operand): Variable { return apply('sub', [this.lift(other, 'rsub'), this], null); }
  mul(other: Operand): Variable { return apply('mul', [this, this.lift(other, 'mul')], null); }
  div(other: Operand): Variable { return apply('div', [this, this.lift(other, 'div')], null); }
  /** other / this */
  rdiv(other: Operand): Variable { return apply('div', [this.lift(other, 'rdiv'), this], null); }
  pow(other: Operand): Variable { return apply('pow', [this, this.lift(other, 'pow')], null); }
  neg(): Variable { return apply('neg', [this], null); }
  abs(): Variable { return apply('abs', [this], null); }
  /** -1, 0 or 1: a constant (no gradient). */
  sign(): Variable { return apply('sign', [this], null); }
  exp(): Variable { return apply('exp', [this], null); }
  /** Natural logarithm. */
  log(): Variable { return apply('log', [this], null); }
  /** Natural logarithm (the seed's name). */
  ln(): Variable { return this.log(); }
  log10(): Variable { return this.log().div(Math.LN10); }
  sqrt(): Variable { return apply('sqrt', [this], null); }
  square(): Variable { return this.mul(this); }
  sin(): Variable { return apply('sin', [this], null); }
  cos(): Variable { return apply('cos', [this], null); }
  tan(): Variable { return apply('tan', [this], null); }
  asin(): Variable { return apply('asin', [this], null); }
  acos(): Variable { return apply('acos', [this], null); }
  atan(): Variable { return apply('atan', [this], null); }
  sinh(): Variable { return apply('sinh', [this], null); }
  cosh(): Variable { return apply('cosh', [this], null); }
  tanh(): Variable { return apply('tanh', [this], null); }
  sigmoid(): Variable { return apply('sigmoid', [this], null); }
  /** log(1 + e^x), computed without overflow. */
  softplus(): Variable { return apply('softplus', [this], null); }
  relu(): Variable { return apply('relu', [this], null); }
  leakyRelu(slope = 0.01): Variable { return this.gt(0).where(this, this.mul(slope)); }
  /** GELU, tanh approximation: x/2 (1 + tanh(√(2/π) (x + 0.044715 x³))). */
  gelu(): Variable {
    const inner = this.add(this.mul(this).mul(this).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return this.mul(0.5).mul(inner.tanh().add(1));
  }

  /** Elementwise maximum with `other`; with no argument, the maximum of all elements. */
  max(other?: Operand): Variable {
    if (other === undefined) return this.amax();
    const o = this.lift(other, 'max');
    return this.ge(o).where(this, o);
  }
  /** Elementwise minimum with `other`; with no argument, the minimum of all elements. */
  min(other?: Operand): Variable {
    if (other === undefined) return this.amin();
    const o = this.lift(other, 'min');
    return this.le(o).where(this, o);
  }
  /** Elementwise maximum. */
  maximum(other: Operand): Variable { return this.max(this.lift(other, 'maximum')); }
  /** Elementwise minimum. */
  minimum(other: Operand): Variable { return this.min(this.lift(other, 'minimum')); }
  /** Each element limited to [lo, hi]: two numbers, not NaN, lo <= hi. */
  clip(lo: number, hi: number): Variable {
    if (typeof lo !== 'number' || typeof hi !== 'number') throw new TypeError(`clip: the bounds must be numbers, got ${describeValue(lo)} and ${describeValue(hi)}`);
    if (!(lo <= hi)) throw new RangeError(`clip: the bounds must be ordered numbers, lo <= hi (not NaN), got ${lo} and ${hi}`);
    return this.max(lo).min(hi);
  }

  private compare(cmp: Comparison, other: Operand): Variable {
    return apply('compare', [this, this.lift(other, cmp)], { cmp });
  }
  gt(other: Operand): Variable { return this.compare('gt', other); }
  ge(other: Operand): Variable { return this.compare('ge', other); }
  lt(other: Operand): Variable { return this.compare('lt', other); }
  le(other: Operand): Variable { return this.compare('le', other); }
  eq(other: Operand): Variable { return this.compare('eq', other); }
  ne(other: Operand): Variable { return this.compare('ne', other); }

  /** This variable as a condition: `a` where it is non-zero, `b` elsewhere. */
  where(a: Operand, b: Operand): Variable { return apply('where', [this, this.lift(a, 'where'), this.lift(b, 'where')], null); }

  // ---------------------------------------------------------------- reductions
  sum(axes?: number | readonly number[], keepdims = false): Variable {
    return apply('sum', [this], { axes: normalizeAxes(axes, this.rank, 'sum'), keepdims });
  }
  mean(axes?: number | readonly number[], keepdims = false): Variable {
    const ax = normalizeAxes(axes, this.rank, 'mean');
    let n = 1;
    for (let i = 0; i < ax.length; i++) n *= this.shape[ax[i]!]!;
    return this.sum(ax, keepdims).div(n);
  }
  /** Maximum over axes (all by default). */
  amax(axes?: number | readonly number[], keepdims = false): Variable {
    return apply('max', [this], { axes: normalizeAxes(axes, this.rank, 'amax'), keepdims });
  }
  amin(axes?: number | readonly number[], keepdims = false): Variable {
    return this.neg().amax(axes, keepdims).neg();
  }
  /** log Σ e^x over axes, stable for any finite input. */
  logSumExp(axes: number | readonly number[] = -1, keepdims = false): Variable {
    return apply('logSumExp', [this], { axes: normalizeAxes(axes, this.rank, 'logSumExp'), keepdims });
  }
  logSoftmax(axis = -1): Variable { return this.sub(this.logSumExp(axis, true)); }
  softmax(axis = -1): Variable { return this.logSoftmax(axis).exp(); }
  /**
   * Softmax cross entropy of these logits against `target` (the same shape: one-hot rows or
   * any distributions), per row of the last axis: -Σ target · logSoftmax(this), one op and one
   * pass where the backend fuses it (the batch mean is left to the caller).
   */
  softmaxCrossEntropy(target: Operand): Variable {
    const t = this.lift(target, 'softmaxCrossEntropy');
    if (this.rank === 0 || !sameShape(this.shape, t.shape)) {
      throw new ShapeError(`softmaxCrossEntropy: logits ${this.describe()} and target ${t.describe()} need equal shapes of at least one axis (classes last)`);
    }
    return apply('softmaxCrossEntropy', [this, t], null);
  }

  // ---------------------------------------------------------------- shapes
  /**
   * Matrix product over the last two axes; either operand may be transposed without copying.
   * A 1-d operand is a row (left) or a column (right) vector, as in NumPy.
   */
  matmul(other: Operand, transposeA = false, transposeB = false): Variable {
    const o = this.lift(other, 'matmul');
    if (this.rank === 1 || o.rank === 1) {
      const a = this.rank === 1 ? this.reshape([1, this.size]) : this;
      const b = o.rank === 1 ? o.reshape([o.size, 1]) : o;
      const r = a.matmul(b, transposeA && this.rank > 1, transposeB && o.rank > 1);
      const shape = r.shape.filter((_, i) => !((this.rank === 1 && i === r.rank - 2) || (o.rank === 1 && i === r.rank - 1)));
      return r.reshape(shape);
    }
    // [..., m, k] @ [k, n] with a 2-d right operand: one product over the flattened rows.
    if (this.rank > 2 && o.rank === 2 && !transposeA) {
      const k = this.shape[this.rank - 1]!;
      const flat = this.reshape([sizeOf(this.shape, 0, this.rank - 1), k]).matmul(o, false, transposeB);
      return flat.reshape([...this.shape.slice(0, -1), flat.shape[1]!]);
    }
    if (o.rank > 2 && this.rank === 2) {
      return this.broadcastTo([...o.shape.slice(0, -2), ...this.shape]).matmul(o, transposeA, transposeB);
    }
    return apply('matmul', [this, o], { transposeA, transposeB });
  }
  /**
   * this W + b over the last axis, W [in, out] and b [out]: a dense layer's product and bias as
   * one op, the bias added inside the product where the backend can (PyTorch's F.linear, with
   * W stored [in, out]). Each further [h, U] pair adds h U, h shaped as this variable but for
   * its last axis and U [h's last, out], inside the same kernel: a recurrent cell's
   * x Wx + b + h Wh as `x.linear(Wx, b, [h, Wh])`.
   */
  linear(weight: Operand, bias: Operand, ...terms: (readonly [Operand, Operand])[]): Variable {
    const w = this.lift(weight, 'linear'), b = this.lift(bias, 'linear');
    const k = this.shape[this.rank - 1];
    if (this.rank === 0 || w.rank !== 2 || b.rank !== 1 || w.shape[0] !== k || b.shape[0] !== w.shape[1]) {
      throw new ShapeError(`linear: input ${this.describe()}, weight ${w.describe()} and bias ${b.describe()} do not fit: they need shapes [..., in], [in, out] and [out]`);
    }
    const lead = this.shape.slice(0, -1), rows = sizeOf(lead);
    const flat = (v: Variable): Variable => (v.rank === 2 ? v : v.reshape([rows, v.shape[v.rank - 1]!]));
    const inputs = [flat(this), w, b];
    for (const [term, termWeight] of terms) {
      const h = this.lift(term, 'linear'), u = this.lift(termWeight, 'linear');
      if (h.rank !== this.rank || !sameShape(h.shape.slice(0, -1), lead) || u.rank !== 2 || u.shape[0] !== h.shape[h.rank - 1] || u.shape[1] !== w.shape[1]) {
        throw new ShapeError(`linear: the term ${h.describe()} times ${u.describe()} does not fit input ${this.describe()} and weight ${w.describe()}: it needs shapes [${lead.join(',')}${lead.length ? ',' : ''}j] and [j, ${w.shape[1]}]`);
      }
      inputs.push(flat(h), u);
    }
    const y = apply('linear', inputs, null);
    return this.rank === 2 ? y : y.reshape([...lead, w.shape[1]!]);
  }
  /** Permutes axes; by default reverses them. */
  transpose(perm?: readonly number[]): Variable {
    const p = perm ? normalizeAxesOrder(perm, this.rank) : [...Array(this.rank).keys()].reverse();
    return apply('transpose', [this], { perm: p });
  }
  /** The transpose of a matrix. */
  get T(): Variable { return this.transpose(); }
  /** New shape of the same size (one integer for a 1-d shape); one axis may be -1 (inferred). */
  reshape(shape: readonly number[] | number): Variable {
    const s = inferShape(shape, this.size);
    if (sameShape(s, this.shape)) return this;
    return apply('reshape', [this], { shape: s });
  }
  flatten(): Variable { return this.reshape([this.size]); }
  broadcastTo(target: readonly number[] | number): Variable {
    const shape = toShape(target, 'broadcastTo');
    const s = broadcastShapes(this.shape, shape, 'broadcastTo');
    if (!sameShape(s, shape)) throw new ShapeError(`broadcastTo: [${this.shape.join(',')}] does not broadcast to [${shape.join(',')}]`);
    if (sameShape(s, this.shape)) return this;
    return apply('broadcastTo', [this], { shape });
  }
  /** x[begin[i] : begin[i] + size[i]] on each axis; a size of -1 runs to the end. */
  slice(begin: readonly number[], size: readonly number[]): Variable {
    if (begin.length !== this.rank || size.length !== this.rank) throw new ShapeError(`slice: begin and size need ${this.rank} entries for shape [${this.shape.join(',')}]`);
    for (let i = 0; i < this.rank; i++) {
      if (!Number.isInteger(begin[i]) || !Number.isInteger(size[i])) throw new ShapeError(`slice: begin ${describeValue(begin[i])} and size ${describeValue(size[i])} on axis ${i} must be integers`);
    }
    const sz = size.map((s, i) => (s === -1 ? this.shape[i]! - begin[i]! : s));
    sz.forEach((s, i) => {
      if (begin[i]! < 0 || s < 0 || begin[i]! + s > this.shape[i]!) throw new ShapeError(`slice: [${begin[i]}, ${begin[i]! + s}) is out of range for axis ${i} of length ${this.shape[i]}`);
    });
    return apply('slice', [this], { begin: [...begin], size: sz });
  }
  /**
   * Zero padding: `before[i]` and `after[i]` zeros on axis i, non-negative integers (PyTorch's
   * F.pad crops with negative ones; here pad's gradient does not support that: crop with slice).
   */
  pad(before: readonly number[], after: readonly number[]): Variable {
    if (before.length !== this.rank || after.length !== this.rank) {
      throw new ShapeError(`pad: before and after need ${this.rank} entries for shape [${this.shape.join(',')}], got ${describeValue(before)} of ${before.length} and ${describeValue(after)} of ${after.length}`);
    }
    for (let i = 0; i < this.rank; i++) {
      const b = before[i], a = after[i];
      if (!Number.isSafeInteger(b) || !Number.isSafeInteger(a) || b! < 0 || a! < 0) {
        throw new ShapeError(`pad: padding ${describeValue(b)} before and ${describeValue(a)} after axis ${i} must be non-negative integers (negative padding, which crops in PyTorch, is not supported: use slice)`);
      }
    }
    return apply('pad', [this], { before: [...before], after: [...after] });
  }
  /** Index select: the `indices` entries along `axis`. */
  gather(indices: ArrayLike<number>, axis = 0): Variable {
    const ax = normalizeAxes(axis, this.rank, 'gather')[0]!;
    return apply('gather', [this], { indices: checkIndices('gather', indices, ax, this.shape[ax]!), axis: ax });
  }
  /**
   * The adjoint of gather: zeros of `shape` with this variable's slices added at `indices`
   * along `axis` (this variable has `shape` but for `indices.length` on that axis).
   */
  scatterAdd(indices: ArrayLike<number>, axis: number, shape: readonly number[] | number): Variable {
    const s = toShape(shape, 'scatterAdd');
    const ax = normalizeAxes(axis, s.length, 'scatterAdd')[0]!;
    const idx = checkIndices('scatterAdd', indices, ax, s[ax]!);
    const expected = s.slice();
    expected[ax] = idx.length;
    if (!sameShape(this.shape, expected)) {
      throw new ShapeError(`scatterAdd: ${this.describe()} does not fit shape [${s.join(',')}] with ${idx.length} indices on axis ${ax}: it needs shape [${expected.join(',')}]`);
    }
    return apply('scatterAdd', [this], { indices: idx, axis: ax, shape: s });
  }
}

/**
 * Records one primitive: runs its forward kernel and, if any input requires a gradient and the
 * context is recording, links the result to its inputs.
 */
export function apply<P extends Op>(op: P, inputs: Variable[], params: Params[P]): Variable {
  // Indexed loops rather than map and for-of: this runs for every op, first in V8's
  // interpreter, where iterators and callbacks cost several times a plain loop.
  const ctx = inputs[0]!.ctx;
  const tensors: Tensor[] = [];
  let needsGrad = false;
  for (let i = 0; i < inputs.length; i++) {
    const v = inputs[i]!;
    if (v.ctx !== ctx) inputs[0]!.lift(v);
    tensors.push(v.tensor);
    if (v.requiresGrad) needsGrad = true;
  }
  const rule = rules[op];
  const prof = ctx.profiler;
  const t0 = prof ? prof.now() : 0;
  const out = rule.forward(ctx.backend, tensors, params);
  if (prof) prof.record(op, prof.now() - t0, out);
  if (!needsGrad || !ctx.recording || rule.constant === true) return new Variable(ctx, out, null, null, null, false);
  let versions: number[] | null = null;
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i]!.version === 0) continue;
    versions ??= new Array<number>(inputs.length).fill(0);
    versions[i] = inputs[i]!.version;
  }
  return new Variable(ctx, out, op, inputs, params, true, versions);
}

/**
 * Indices along an axis of length `len`, checked (integers in range) before any backend sees
 * them, so that every backend agrees.
 */
function checkIndices(op: string, indices: ArrayLike<number>, axis: number, len: number): Int32Array {
  if (!Array.isArray(indices) && !isNumericArray(indices)) throw new TypeError(`${op}: indices are an array of integers, got ${describeValue(indices)}`);
  const idx = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i: unknown = indices[j];
    if (!Number.isInteger(i)) throw new TypeError(`${op}: indices must be integers, got ${describeValue(i)} at position ${j}`);
    if ((i as number) < 0 || (i as number) >= len) throw new ShapeError(`${op}: index ${i} (position ${j}) is out of range for axis ${axis} of length ${len}`);
    idx[j] = i as number;
  }
  return idx;
}

function inferShape(target: readonly number[] | number, size: number): number[] {
  const shape = typeof target === 'number' ? [target] : target;
  if (!Array.isArray(shape)) throw new TypeError(`reshape: a shape is an array of integers (or one integer), got ${describeValue(target)}`);
  const s: number[] = [];
  let unknown = -1, known = 1, valid = true;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    s.push(d);
    if (d === -1 && unknown < 0) unknown = i;
    else {
      known *= d;
      if (!Number.isInteger(d) || d < 0) valid = false;
    }
  }
  if (unknown >= 0) s[unknown] = known === 0 ? 0 : size / known;
  if (!valid || sizeOf(s) !== size || (unknown >= 0 && !Number.isInteger(s[unknown]))) {
    throw new ShapeError(`reshape: cannot reshape ${size} elements to [${shape.join(',')}] (dimensions are non-negative integers, one may be -1)`);
  }
  return s;
}

function normalizeAxesOrder(perm: readonly number[], rank: number): number[] {
  const p = perm.map((a) => (a < 0 ? a + rank : a));
  const sorted = [...p].sort((a, b) => a - b);
  if (p.length !== rank || sorted.some((a, i) => a !== i)) throw new ShapeError(`transpose: [${perm.join(',')}] is not a permutation of ${rank} axes`);
  return p;
}
