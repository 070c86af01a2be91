/**
 * The WebGPU backend (float32). Each op checks shapes here, on the host, then queues one or a
 * few WGSL kernels (kernels.ts) on the device worker (device.ts); tensors stay on the GPU until
 * `read()`. A tensor's handle is a `GpuHandle`: a reference-counted GPU buffer (reshape shares
 * it) that returns to the pool when the last tensor viewing it is garbage collected or disposed.
 */
import type { Backend, BinaryOp, ReduceOp, UnaryOp } from '../../backend.js';
import { OpError } from '../../errors.js';
import {
  Tensor, ShapeError, broadcastShapes, formatShape, reducedShape, sameShape, sizeOf, stridesOf,
  type DType, type Shape,
} from '../../tensor.js';
import { GpuDevice, GpuError, type GpuDeviceOptions, type Storage } from './device.js';
import {
  COPY, WHERE, allFiniteKernel, binaryOp, contiguousKernel, fillKernel, gatherKernel, matmulKernel,
  reduceGroupKernel, reduceThreadKernel, scatterAddKernel, stridedKernel, unaryOp,
} from './kernels.js';
import type { AdapterInfo } from './protocol.js';

/** A float64 tensor was asked of the GPU backend. */
export class GpuDtypeError extends Error {
  override name = 'GpuDtypeError';
  constructor(op: string) {
    super(
      `${op}: float64 is not supported on the GPU (WebGPU has no 64-bit floats). ` +
      `Use newContext('float32', { device: 'gpu' }), or the CPU backend for float64.`,
    );
  }
}

/** What a GPU tensor's `handle` holds. */
export interface GpuHandle {
  readonly storage: Storage;
  /** False once `dispose()` ran: the buffer may already hold another tensor. */
  live: boolean;
}

/** Tensors with more elements than this go through the chunked (two-pass) reduction. */
const REDUCE_CHUNK = 4096;

/** Row-major strides of `inShape` seen from `outShape` under broadcasting (0 where it repeats). */
function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const s = stridesOf(inShape);
  const out = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    const axis = outShape.length - inShape.length + i;
    out[axis] = inShape[i] === 1 ? 0 : s[i]!;
  }
  return out;
}

/**
 * Drops axes of size 1 and merges neighbours that every operand walks as one (outer stride =
 * inner stride * inner extent), so most broadcasts run at rank 1 or 2.
 */
function collapse(shape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, j) => outStrides[j]![last] === s[d]! * n)) {
      outShape[last]! *= n;
      strides.forEach((s, j) => { outStrides[j]![last] = s[d]!; });
    } else {
      outShape.push(n);
      strides.forEach((s, j) => outStrides[j]!.push(s[d]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** op(a)[..., m, k] @ op(b)[..., k, n]: the sizes, checked (batch axes equal, or b 2-d). */
function matmulDims(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean) {
  const show = () => `${formatShape(a.shape, a.dtype)}${transposeA ? 'ᵀ' : ''} @ ${formatShape(b.shape, b.dtype)}${transposeB ? 'ᵀ' : ''}`;
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`matmul: operands need rank >= 2, got ${show()}`);
  const m = a.shape[a.rank - (transposeA ? 1 : 2)]!;
  const k = a.shape[a.rank - (transposeA ? 2 : 1)]!;
  const k2 = b.shape[b.rank - (transposeB ? 1 : 2)]!;
  const n = b.shape[b.rank - (transposeB ? 2 : 1)]!;
  if (k !== k2) throw new ShapeError(`matmul: inner dimensions differ (${k} vs ${k2}): ${show()}`);
  const batchShape = a.shape.slice(0, -2);
  if (b.rank > 2 && !sameShape(b.shape.slice(0, -2), batchShape)) throw new ShapeError(`matmul: batch axes differ: ${show()}`);
  return { batch: sizeOf(batchShape), m, k, n, batchShape };
}

function floatBits(v: number): number {
  return new Uint32Array(new Float32Array([v]).buffer)[0]!;
}

function toFloat32(data: ArrayLike<number>): Float32Array {
  const out = new Float32Array(data.length);
  if (ArrayBuffer.isView(data)) out.set(data);
  else for (let i = 0; i < data.length; i++) out[i] = data[i]!;
  return out;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  /** Returns a buffer to the pool when its tensor's handle is collected. */
  private readonly registry = new FinalizationRegistry<Storage>((s) => this.device.release(s));

  constructor(readonly device: GpuDevice) {}

  /** The adapter in use (vendor, architecture, device, description). */
  get adapter(): AdapterInfo {
    return this.device.adapter;
  }

  /** Frees a tensor's buffer now instead of at garbage collection. Using the tensor afterwards throws. */
  dispose(x: Tensor): void {
    const h = x.handle as GpuHandle;
    if (x.backend !== this || !h.live) return;
    h.live = false;
    this.registry.unregister(h);
    this.device.release(h.storage);
  }

  /** Blocks until every queued kernel has run (for timing). */
  finish(): void {
    this.device.finish();
  }

  /** Stops the device worker; every tensor of this backend becomes unusable. */
  close(): void {
    this.device.close();
  }

  fromData(data: ArrayLike<number>, shape: Shape, dtype: DType): Tensor {
    this.checkDtype(dtype, 'fromData');
    const n = sizeOf(shape);
    if (data.length !== n) throw new ShapeError(`tensor: ${data.length} values do not fill shape [${shape.join(',')}] (${n} elements)`);
    const out = this.alloc(n);
    if (n > 0) this.device.write(out, toFloat32(data));
    return this.make(shape, out);
  }

  full(shape: Shape, value: number, dtype: DType): Tensor {
    this.checkDtype(dtype, 'full');
    return this.make(shape, this.fill(sizeOf(shape), value));
  }

  read(x: Tensor): Float32Array {
    const s = this.storage(x, 'read');
    if (x.size === 0) return new Float32Array(0);
    return new Float32Array(this.device.read(s, x.size * 4));
  }

  write(x: Tensor, data: ArrayLike<number>): void {
    const s = this.storage(x, 'write');
    if (data.length !== x.size) throw new ShapeError(`write: ${data.length} values for a tensor of ${x.size} elements`);
    if (x.size > 0) this.device.write(s, toFloat32(data));
  }

  unary(op: UnaryOp, x: Tensor): Tensor {
    const src = this.storage(x, op);
    const out = this.alloc(x.size);
    this.device.dispatch(contiguousKernel(unaryOp(op)), [src, out], [x.size], this.device.grid(x.size));
    return this.make(x.shape, out);
  }

  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    const sa = this.storage(a, op), sb = this.storage(b, op);
    const kind = binaryOp(op);
    if (sameShape(a.shape, b.shape)) {
      const out = this.alloc(a.size);
      this.device.dispatch(contiguousKernel(kind), [sa, sb, out], [a.size], this.device.grid(a.size));
      return this.make(a.shape, out);
    }
    const shape = broadcastShapes(a.shape, b.shape, op);
    return this.make(shape, this.elementwise(kind, [sa, sb], [a.shape, b.shape], shape));
  }

  where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    const sc = this.storage(cond, 'where'), sa = this.storage(a, 'where'), sb = this.storage(b, 'where');
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'where'), b.shape, 'where');
    if (sameShape(cond.shape, shape) && sameShape(a.shape, shape) && sameShape(b.shape, shape)) {
      const out = this.alloc(a.size);
      this.device.dispatch(contiguousKernel(WHERE), [sc, sa, sb, out], [a.size], this.device.grid(a.size));
      return this.make(shape, out);
    }
    return this.make(shape, this.elementwise(WHERE, [sc, sa, sb], [cond.shape, a.shape, b.shape], shape));
  }

  reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
    const src = this.storage(x, op);
    for (let i = 0; i < axes.length; i++) {
      const a = axes[i]!;
      if (!Number.isInteger(a) || a < 0 || a >= x.rank || (i > 0 && a <= axes[i - 1]!)) {
        throw new ShapeError(`${op}: axes [${axes.join(',')}] must be sorted, distinct and in range for ${formatShape(x.shape, x.dtype)}`);
      }
    }
    const outShape = reducedShape(x.shape, axes, keepdims);
    const nOut = sizeOf(outShape);
    if (x.size === 0) return this.make(outShape, this.fill(nOut, op === 'sum' ? 0 : -Infinity));
    // Split the (contiguous) input into kept and reduced axes, each merged where adjacent.
    const strides = stridesOf(x.shape);
    const kept = { shape: [] as number[], strides: [] as number[] };
    const red = { shape: [] as number[], strides: [] as number[] };
    let prev: typeof kept | null = null;
    for (let d = 0; d < x.rank; d++) {
      const n = x.shape[d]!;
      if (n === 1) continue;
      const group = axes.includes(d) ? red : kept;
      if (prev === group) {
        group.shape[group.shape.length - 1]! *= n;
        group.strides[group.strides.length - 1] = strides[d]!;
      } else {
        group.shape.push(n);
        group.strides.push(strides[d]!);
      }
      prev = group;
    }
    return this.make(outShape, this.reduceLayout(op, src, kept, red));
  }

  broadcastTo(x: Tensor, shape: Shape): Tensor {
    const src = this.storage(x, 'broadcastTo');
    const result = broadcastShapes(x.shape, shape, 'broadcastTo');
    if (x.rank > shape.length || !sameShape(result, shape)) {
      throw new ShapeError(`broadcastTo: [${x.shape.join(',')}] does not broadcast to [${shape.join(',')}]`);
    }
    if (sameShape(x.shape, shape)) return this.make(shape, this.duplicate(src, x.size));
    return this.make(shape, this.elementwise(COPY, [src], [x.shape], shape));
  }

  matmul(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
    const sa = this.storage(a, 'matmul'), sb = this.storage(b, 'matmul');
    const { batch, m, k, n, batchShape } = matmulDims(a, b, transposeA, transposeB);
    const out = this.alloc(batch * m * n);
    const kernel = matmulKernel(transposeA, transposeB);
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    for (let first = 0; first < batch; first += max) {
      const count = Math.min(max, batch - first);
      this.device.dispatch(kernel, [sa, sb, out], [m, n, k, m * k, b.rank > 2 ? k * n : 0, first],
        [Math.ceil(n / 64), Math.ceil(m / 64), count]);
    }
    return this.make([...batchShape, m, n], out);
  }

  transpose(x: Tensor, perm: readonly number[]): Tensor {
    const src = this.storage(x, 'transpose');
    const seen = new Set(perm);
    if (perm.length !== x.rank || seen.size !== x.rank || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= x.rank)) {
      throw new ShapeError(`transpose: [${perm.join(',')}] is not a permutation of the ${x.rank} axes of ${formatShape(x.shape, x.dtype)}`);
    }
    const shape = perm.map((p) => x.shape[p]!);
    const inStrides = stridesOf(x.shape);
    return this.make(shape, this.strided(COPY, [src], [perm.map((p) => inStrides[p]!)], [0], shape, null));
  }

  reshape(x: Tensor, shape: Shape): Tensor {
    const s = this.storage(x, 'reshape');
    if (sizeOf(shape) !== x.size) throw new ShapeError(`reshape: cannot reshape [${x.shape.join(',')}] (${x.size} elements) to [${shape.join(',')}]`);
    s.refs++;
    return this.make(shape, s);
  }

  slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
    const src = this.storage(x, 'slice');
    if (begin.length !== x.rank || size.length !== x.rank) {
      throw new ShapeError(`slice: begin [${begin.join(',')}] and size [${size.join(',')}] need one entry per axis of ${formatShape(x.shape, x.dtype)}`);
    }
    for (let d = 0; d < x.rank; d++) {
      if (begin[d]! < 0 || size[d]! < 0 || begin[d]! + size[d]! > x.shape[d]!) {
        throw new ShapeError(`slice: axis ${d}: [${begin[d]}, ${begin[d]! + size[d]!}) is outside 0..${x.shape[d]} of ${formatShape(x.shape, x.dtype)}`);
      }
    }
    const strides = stridesOf(x.shape);
    let offset = 0;
    for (let d = 0; d < x.rank; d++) offset += begin[d]! * strides[d]!;
    const n = sizeOf(size);
    // A block is contiguous when every axis after the first partial one is taken whole.
    let d0 = 0;
    while (d0 < x.rank && size[d0] === 1) d0++;
    let contiguous = true;
    for (let d = d0 + 1; d < x.rank; d++) if (size[d] !== x.shape[d]) contiguous = false;
    if (contiguous) {
      const out = this.alloc(n);
      this.device.copy(src, offset * 4, out, 0, n * 4);
      return this.make(size, out);
    }
    return this.make(size, this.strided(COPY, [src], [strides], [offset], size, null));
  }

  pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
    const src = this.storage(x, 'pad');
    if (before.length !== x.rank || after.length !== x.rank || [...before, ...after].some((v) => !Number.isInteger(v) || v < 0)) {
      throw new ShapeError(`pad: before [${before.join(',')}] and after [${after.join(',')}] need one non-negative integer per axis of ${formatShape(x.shape, x.dtype)}`);
    }
    const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
    const out = this.fill(sizeOf(shape), 0);
    const outStrides = stridesOf(shape);
    let offset = 0;
    for (let d = 0; d < x.rank; d++) offset += before[d]! * outStrides[d]!;
    this.strided(COPY, [src], [stridesOf(x.shape)], [0], x.shape, { storage: out, strides: outStrides, offset });
    return this.make(shape, out);
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    if (xs.length === 0) throw new ShapeError('concat: needs at least one tensor');
    const first = xs[0]!;
    if (!Number.isInteger(axis) || axis < 0 || axis >= first.rank) throw new ShapeError(`concat: axis ${axis} is out of range for rank ${first.rank}`);
    const sources = xs.map((t) => this.storage(t, 'concat'));
    for (const t of xs) {
      if (t.rank !== first.rank || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new ShapeError(`concat: ${formatShape(t.shape, t.dtype)} does not match ${formatShape(first.shape, first.dtype)} outside axis ${axis}`);
      }
    }
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, t) => s + t.shape[axis]!, 0);
    const outer = sizeOf(first.shape, 0, axis);
    const inner = sizeOf(first.shape, axis + 1);
    const rowLen = shape[axis]! * inner;
    const out = this.alloc(sizeOf(shape));
    let offset = 0;
    xs.forEach((t, i) => {
      const chunk = t.shape[axis]! * inner;
      if (outer === 1) this.device.copy(sources[i]!, 0, out, offset * 4, chunk * 4);
      else if (chunk > 0) {
        this.strided(COPY, [sources[i]!], [[chunk, 1]], [0], [outer, chunk], { storage: out, strides: [rowLen, 1], offset });
      }
      offset += chunk;
    });
    return this.make(shape, out);
  }

  gather(x: Tensor, indices: Int32Array, axis: number): Tensor {
    const src = this.storage(x, 'gather');
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.rank) throw new ShapeError(`gather: axis ${axis} is out of range for rank ${x.rank}`);
    const len = x.shape[axis]!;
    this.checkIndices('gather', indices, len);
    const shape = [...x.shape];
    shape[axis] = indices.length;
    const n = sizeOf(shape);
    const out = this.alloc(n);
    if (n > 0) {
      const idx = this.alloc(indices.length);
      this.device.write(idx, Int32Array.from(indices));
      this.device.dispatch(gatherKernel(), [src, idx, out], [n, indices.length, len, sizeOf(x.shape, axis + 1)], this.device.grid(n));
      this.device.release(idx);
    }
    return this.make(shape, out);
  }

  scatterAdd(g: Tensor, indices: Int32Array, axis: number, shape: Shape): Tensor {
    const src = this.storage(g, 'scatterAdd');
    if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) throw new ShapeError(`scatterAdd: axis ${axis} is out of range for rank ${shape.length}`);
    const len = shape[axis]!;
    const expected = [...shape];
    expected[axis] = indices.length;
    if (!sameShape(g.shape, expected)) {
      throw new ShapeError(`scatterAdd: gradient ${formatShape(g.shape, g.dtype)} does not match [${expected.join(',')}] (shape [${shape.join(',')}] with ${indices.length} indices on axis ${axis})`);
    }
    this.checkIndices('scatterAdd', indices, len);
    const n = sizeOf(shape);
    if (n === 0 || indices.length === 0) return this.make(shape, this.fill(n, 0));
    // For each target row a, the js with indices[j] = a, ascending (a counting sort).
    const csr = new Uint32Array(len + 1 + indices.length);
    for (const a of indices) csr[a + 1]!++;
    for (let a = 0; a < len; a++) csr[a + 1]! += csr[a]!;
    const next = csr.slice(0, len);
    for (let j = 0; j < indices.length; j++) csr[len + 1 + next[indices[j]!]!++] = j;
    const table = this.alloc(csr.length);
    this.device.write(table, csr);
    const out = this.alloc(n);
    this.device.dispatch(scatterAddKernel(), [src, table, out], [n, indices.length, len, sizeOf(shape, axis + 1)], this.device.grid(n));
    this.device.release(table);
    return this.make(shape, out);
  }

  allFinite(x: Tensor): boolean {
    const src = this.storage(x, 'allFinite');
    if (x.size === 0) return true;
    const flag = this.alloc(1);
    this.device.write(flag, new Uint32Array(1));
    this.device.dispatch(allFiniteKernel(), [src, flag], [x.size], this.device.grid(x.size));
    const bad = new Uint32Array(this.device.read(flag, 4))[0]!;
    this.device.release(flag);
    return bad === 0;
  }

  // --- helpers -----------------------------------------------------------------------------

  private checkDtype(dtype: DType, op: string): void {
    if (dtype !== 'float32') throw new GpuDtypeError(op);
  }

  private storage(x: Tensor, op: string): Storage {
    if (x.backend !== this) throw new OpError(`${op}: the tensor belongs to the '${x.backend.name}' backend, not to this WebGPU backend`);
    if (x.dtype !== 'float32') throw new GpuDtypeError(op);
    const h = x.handle as GpuHandle;
    if (!h.live) throw new GpuError(`${op}: the tensor ${formatShape(x.shape, x.dtype)} was disposed`);
    return h.storage;
  }

  private alloc(n: number): Storage {
    return this.device.alloc(Math.max(4, n * 4));
  }

  private make(shape: Shape, storage: Storage): Tensor {
    const handle: GpuHandle = { storage, live: true };
    this.registry.register(handle, storage, handle);
    return new Tensor(this, [...shape], 'float32', handle);
  }

  private fill(n: number, value: number): Storage {
    const out = this.alloc(n);
    this.device.dispatch(fillKernel(), [out], [n, floatBits(value)], this.device.grid(n));
    return out;
  }

  private duplicate(src: Storage, n: number): Storage {
    const out = this.alloc(n);
    this.device.copy(src, 0, out, 0, n * 4);
    return out;
  }

  private checkIndices(op: string, indices: Int32Array, len: number): void {
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j]!;
      if (i < 0 || i >= len) throw new OpError(`${op}: index ${i} (position ${j}) is out of range for an axis of length ${len}`);
    }
  }

  /** A broadcasting elementwise op over operands of `shapes` into a new tensor of `shape`. */
  private elementwise(op: Parameters<typeof contiguousKernel>[0], sources: Storage[], shapes: readonly Shape[], shape: Shape): Storage {
    return this.strided(op, sources, shapes.map((s) => broadcastStrides(s, shape)), sources.map(() => 0), shape, null);
  }

  /**
   * Runs `op` over the index space `shape`, operand j read at offsets[j] + index . strides[j];
   * the result goes to a new contiguous buffer, or into `into` at its own offset and strides.
   */
  private strided(
    op: Parameters<typeof contiguousKernel>[0], sources: Storage[], strides: readonly (readonly number[])[],
    offsets: readonly number[], shape: Shape, into: { storage: Storage; strides: readonly number[]; offset: number } | null,
  ): Storage {
    const n = sizeOf(shape);
    const all = into ? [...strides, into.strides] : strides;
    const c = collapse(shape, all);
    const rank = c.shape.length;
    const params: number[] = [n, rank, ...c.shape];
    for (const s of c.strides) params.push(...s);
    params.push(...offsets);
    if (into) params.push(into.offset);
    const out = into ? into.storage : this.alloc(n);
    this.device.dispatch(stridedKernel(op, into !== null), [...sources, out], params, this.device.grid(n));
    return out;
  }

  /**
   * Reduces a contiguous buffer laid out as kept axes x reduced axes (each with its strides).
   * Long reductions with few outputs are cut into chunks reduced in a second pass, so that
   * the GPU has more than a handful of workgroups to run.
   */
  private reduceLayout(
    op: ReduceOp, src: Storage,
    kept: { shape: number[]; strides: number[] }, red: { shape: number[]; strides: number[] },
  ): Storage {
    const nOut = sizeOf(kept.shape);
    const R = sizeOf(red.shape);
    const layout = [kept.shape.length, red.shape.length, ...kept.shape, ...kept.strides, ...red.shape, ...red.strides];
    if (R <= 32 || nOut >= 4096) {
      const out = this.alloc(nOut);
      this.device.dispatch(reduceThreadKernel(op), [src, out], [nOut, R, R, 1, ...layout], this.device.grid(nOut));
      return out;
    }
    const chunks = nOut >= 256 ? 1 : Math.ceil(R / REDUCE_CHUNK);
    const chunk = chunks === 1 ? R : REDUCE_CHUNK;
    const out = this.alloc(nOut * chunks);
    this.device.dispatch(reduceGroupKernel(op), [src, out], [nOut, R, chunk, chunks, ...layout], this.device.grid(nOut * chunks, 1));
    if (chunks === 1) return out;
    // Partial results of each chunk (a logsumexp chunk gives its own logsumexp) reduce again.
    const final = this.reduceLayout(op, out, { shape: [nOut], strides: [chunks] }, { shape: [chunks], strides: [1] });
    this.device.release(out);
    return final;
  }
}

/** A WebGPU backend on its own device worker. Throws NoGpuError where no adapter exists. */
export function createWebGpuBackend(options: GpuDeviceOptions = {}): WebGpuBackend {
  return new WebGpuBackend(new GpuDevice(options));
}

let shared: WebGpuBackend | null = null;

/** One backend for the whole process, created on first use (contexts on `device: 'gpu'` share it). */
export function defaultWebGpuBackend(): WebGpuBackend {
  return (shared ??= createWebGpuBackend());
}
