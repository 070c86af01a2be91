/**
 * Elementwise kernels and optimizer updates (elementwise.ts, optimizer.ts) on arrays that live
 * in JavaScript. Each call copies its operands into a private WebAssembly memory a chunk at a
 * time, runs the kernel there and copies the results back. A copy costs 0.05 to 0.15 ns an
 * element against the 2 to 2.5 ns of the reference's add loop; bench/kernels.ts measures each
 * kernel through the backend, copies included. Chunks of 2048 to 32768 elements measured the
 * same; they bound the memory and keep a call's streams in the L2 cache.
 *
 * The memory is not shared and never grows: the matrix products' workspace (workspace.ts)
 * is shared with worker threads and grows to the largest product, and copies into a
 * SharedArrayBuffer measured 30% slower.
 */
import { weightDecayOf, type OptimizerUpdate } from '../../backend.js';
import { FAST_BINARY_OPS, elementwiseBytes, type BinaryForm, type ElementwiseExports, type FastActivation, type FastBinaryOp, type FastUnaryOp } from './elementwise.js';
import { MAX_PAGES } from './kernels.js';
import { optimizerBytes, optimizerKernelName, type OptimizerExports } from './optimizer.js';
import { WebAssemblyApi, type WasmMemory, type WasmModule } from './wasm-api.js';
import { kernelShape } from './workspace.js';

/** Elements per chunk. */
export const CHUNK = 16384;
/** Bytes per stream: a chunk of float64, and slack for a last vector that runs past it. */
const SLOT = CHUNK * 8 + 64;
const PAGES = Math.ceil((4 * SLOT) / 65536);
/** Byte address of stream i. */
const at = (i: number): number => i * SLOT;

/** A memory the optimizer kernels run in, with views over all of it. */
interface OptimizerHome {
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly optimizer: OptimizerExports;
}

interface Streams extends OptimizerHome {
  readonly elementwise: ElementwiseExports;
}

let streams: Streams | undefined;
let optimizerModule: WasmModule | undefined;

/** The optimizer kernels on `memory` (the module takes a memory of any size). */
function optimizerOn(memory: WasmMemory): OptimizerExports {
  optimizerModule ??= new WebAssemblyApi.Module(optimizerBytes(MAX_PAGES));
  return new WebAssemblyApi.Instance(optimizerModule, { env: { memory } }).exports as unknown as OptimizerExports;
}

function instance(): Streams {
  if (streams) return streams;
  // Node 20 turns relaxed SIMD on with a V8 flag that must be set before the first module is
  // compiled (workspace.ts); settle it here in case these modules come first.
  kernelShape(4);
  const memory = new WebAssemblyApi.Memory({ initial: PAGES, maximum: PAGES });
  const buffer = memory.buffer as ArrayBuffer;
  streams = {
    f32: new Float32Array(buffer),
    f64: new Float64Array(buffer),
    elementwise: new WebAssemblyApi.Instance(new WebAssemblyApi.Module(elementwiseBytes(PAGES)), { env: { memory } }).exports as unknown as ElementwiseExports,
    optimizer: optimizerOn(memory),
  };
  return streams;
}

/** The memories that hold optimizer state, by their buffer (see residentOptimizerState). */
const homes = new WeakMap<ArrayBufferLike, OptimizerHome>();

/**
 * Zeroed arrays for parameters of these lengths, `count` each, in a WebAssembly memory of its
 * own that never grows (so the views stay valid), after two chunk-sized slots for a parameter
 * and its gradient: an optimizer's state, and a home for the parameter itself. An update on
 * state and parameter that live here copies only the gradient in (one copy of an element where
 * Adam's state in JavaScript arrays takes seven), and the kernel reads and writes the rest in
 * place. Each array starts on 16 bytes and is padded to a whole vector, which the kernel's last
 * vector may write. undefined where the memory cannot be had.
 */
export function residentOptimizerState(lengths: readonly number[], f64: boolean, count: number): Floats[][] | undefined {
  const elt = f64 ? 8 : 4;
  const padded = (n: number): number => Math.ceil((n * elt) / 16) * 16;
  let bytes = 2 * SLOT;
  const offsets = lengths.map((n) => {
    const start = bytes;
    bytes += count * padded(n);
    return start;
  });
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  if (pages > MAX_PAGES) return undefined;
  let memory: WasmMemory;
  try {
    memory = new WebAssemblyApi.Memory({ initial: pages, maximum: pages });
  } catch {
    return undefined;
  }
  const buffer = memory.buffer as ArrayBuffer;
  homes.set(buffer, { f32: new Float32Array(buffer), f64: new Float64Array(buffer), optimizer: optimizerOn(memory) });
  return lengths.map((n, i) => Array.from({ length: count }, (_, k) => {
    const start = offsets[i]! + k * padded(n);
    return f64 ? new Float64Array(buffer, start, n) : new Float32Array(buffer, start, n);
  }));
}

/** The memory all of `state` lives in, if it is one of residentOptimizerState's. */
function homeOf(state: readonly Floats[]): OptimizerHome | undefined {
  if (state.length === 0) return undefined;
  const buffer = state[0]!.buffer;
  for (let j = 1; j < state.length; j++) if (state[j]!.buffer !== buffer) return undefined;
  return homes.get(buffer);
}

const vectors = (n: number, lanes: number): number => Math.ceil(n / lanes);

/** out[i] = op(x[i]) in float32 (see elementwise.ts for the accuracy). */
export function unaryF32(op: FastUnaryOp, x: Float32Array, out: Float32Array): void {
  const s = instance();
  const kernel = s.elementwise[op];
  const n = x.length, dst = at(2) / 4;
  for (let i = 0; i < n; i += CHUNK) {
    const len = Math.min(CHUNK, n - i);
    s.f32.set(len === n ? x : x.subarray(i, i + len), 0);
    kernel(at(0), at(2), vectors(len, 4));
    out.set(s.f32.subarray(dst, dst + len), i);
  }
}

type BinaryKernel = (a: number, b: number, dst: number, x: number, y?: number, z?: number) => void;
let binaryKernels: { readonly [K in FastBinaryOp]: { readonly [F in BinaryForm]: BinaryKernel } } | undefined;

/** The kernel of each op and form, looked up once: names built per call cost more than the call. */
function binaryKernel(op: FastBinaryOp, form: BinaryForm): BinaryKernel {
  if (!binaryKernels) {
    const e = instance().elementwise as unknown as Record<string, BinaryKernel>;
    const forms = (op: FastBinaryOp) => ({
      same: e[`${op}_same`]!, scalarA: e[`${op}_scalarA`]!, scalarB: e[`${op}_scalarB`]!,
      trailingA: e[`${op}_trailingA`]!, trailingB: e[`${op}_trailingB`]!,
    });
    binaryKernels = Object.fromEntries(FAST_BINARY_OPS.map((name) => [name, forms(name)])) as NonNullable<typeof binaryKernels>;
  }
  return binaryKernels[op][form];
}

/**
 * out = a op b in float32, in one of the forms of elementwise.ts: `same` (equal lengths),
 * `scalarA`/`scalarB` (that operand holds one value), `trailingA`/`trailingB` (that operand
 * repeats every length-of-it elements; it may hold at most CHUNK elements).
 */
export function binaryF32(op: FastBinaryOp, form: BinaryForm, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const kernel = binaryKernel(op, form);
  if (form === 'same') return sameF32(kernel, a, b, out);
  const f32 = instance().f32;
  const n = out.length, dst = at(2) / 4;
  if (form === 'scalarA' || form === 'scalarB') {
    const big = form === 'scalarB' ? a : b, scalar = form === 'scalarB' ? b[0]! : a[0]!;
    for (let i = 0; i < n; i += CHUNK) {
      const len = Math.min(CHUNK, n - i);
      f32.set(len === n ? big : big.subarray(i, i + len), 0);
      kernel(at(0), scalar, at(2), vectors(len, 4));
      out.set(f32.subarray(dst, dst + len), i);
    }
    return;
  }
  const big = form === 'trailingB' ? a : b, small = form === 'trailingB' ? b : a;
  const m = small.length;
  if (m > CHUNK) throw new RangeError(`binaryF32: a repeating operand of ${m} elements is longer than a chunk (${CHUNK})`);
  f32.set(small, at(1) / 4);
  const step = Math.floor(CHUNK / m) * m;
  for (let i = 0; i < n; i += step) {
    const len = Math.min(step, n - i);
    f32.set(len === n ? big : big.subarray(i, i + len), 0);
    kernel(at(0), at(1), at(2), len / m, m * 4, vectors(m, 4));
    out.set(f32.subarray(dst, dst + len), i);
  }
}

/** out = kernel(a, b) elementwise over three equal lengths, a chunk at a time. */
function sameF32(kernel: BinaryKernel, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const f32 = instance().f32;
  const n = out.length, dst = at(2) / 4;
  for (let i = 0; i < n; i += CHUNK) {
    const len = Math.min(CHUNK, n - i), whole = len === n;
    f32.set(whole ? a : a.subarray(i, i + len), 0);
    f32.set(whole ? b : b.subarray(i, i + len), at(1) / 4);
    kernel(at(0), at(1), at(2), vectors(len, 4));
    out.set(f32.subarray(dst, dst + len), i);
  }
}

/** The gradient of activation `fn` in float32 from v (its output, or relu's input) and g; see elementwise.ts. */
export function activationGradF32(fn: FastActivation, v: Float32Array, g: Float32Array, out: Float32Array): void {
  sameF32(instance().elementwise[`${fn}_grad`], v, g, out);
}

/**
 * Sums of float32 `x`, viewed as [outer, rows, inner], over its middle axis, into `out`
 * ([outer, inner]), accumulated in float64 row by row like the reference's reduction, so the
 * results are the same. `inner` may be at most CHUNK.
 */
export function sumRowsF32(x: Float32Array, outer: number, rows: number, inner: number, out: Float32Array): void {
  if (inner > CHUNK) throw new RangeError(`sumRowsF32: rows of ${inner} elements are longer than a chunk (${CHUNK})`);
  const s = instance();
  const kernel = s.elementwise.columnSums;
  const step = Math.floor(CHUNK / inner), groups = Math.ceil(inner / 8), acc = at(2) / 8;
  for (let o = 0; o < outer; o++) {
    const base = o * rows * inner;
    for (let r = 0; r < rows; r += step) {
      const len = Math.min(step, rows - r);
      s.f32.set(x.subarray(base + r * inner, base + (r + len) * inner), 0);
      kernel(at(0), at(2), len, inner * 4, groups, r === 0 ? 1 : 0);
    }
    // Float64Array into Float32Array: each sum rounded once, as the reference's out.set(acc).
    out.set(s.f64.subarray(acc, acc + inner), o * inner);
  }
}

/**
 * Rows of `run` float32 elements that fit a chunk, and where their per-row values go in stream
 * 3: two float64 values, the maximum and a float32 value (CHUNK / 4 rows take 24 bytes each).
 * No rows where a row is longer than a chunk.
 */
function rowChunk(run: number) {
  const rows = run > CHUNK ? 0 : Math.min(Math.floor(CHUNK / run), CHUNK / 4);
  const sums = at(3), sums2 = sums + rows * 8, max = sums2 + rows * 8, g = max + rows * 4;
  return { rows, sums, sums2, max, g };
}

/**
 * Copies rows r0 .. r0 + rows of x into stream 0 (and of t, if given, into stream 1) and leaves
 * e^(x - m) in stream 2 (x - m rounded to float32, the exponential the `exp` kernel's) and each
 * row's maximum m at `max`. False where a row's maximum is not finite.
 */
function loadRows(s: Streams, x: Float32Array, t: Float32Array | null, r0: number, rows: number, run: number, max: number): boolean {
  const from = r0 * run, len = rows * run, whole = len === x.length;
  s.f32.set(whole ? x : x.subarray(from, from + len), 0);
  if (t) s.f32.set(whole ? t : t.subarray(from, from + len), at(1) / 4);
  if (!s.elementwise.rowShift(at(0), at(2), max, rows, run)) return false;
  s.elementwise.exp(at(2), at(2), vectors(len, 4));
  return true;
}

/**
 * The softmax functions of float32 rows of `run` elements (x.length / run rows), with the
 * reference's formulas in float64 around float32 exponentials (see fast-cpu.ts for how close
 * that is). Each returns false, having written part of `out` or none, where a row's maximum is
 * not finite or a row is longer than a chunk: the reference handles those.
 *
 * logSumExpRowsF32: out[r] = m + log Σ e^(x - m) over row r.
 */
export function logSumExpRowsF32(x: Float32Array, run: number, out: Float32Array): boolean {
  const s = instance(), c = rowChunk(run), total = x.length / run;
  if (c.rows === 0) return false;
  const max = c.max / 4, sums = c.sums / 8;
  for (let r0 = 0; r0 < total; r0 += c.rows) {
    const rows = Math.min(c.rows, total - r0);
    if (!loadRows(s, x, null, r0, rows, run, c.max)) return false;
    s.elementwise.rowSums(at(2), c.sums, rows, run);
    for (let r = 0; r < rows; r++) out[r0 + r] = s.f32[max + r]! + Math.log(s.f64[sums + r]!);
  }
  return true;
}

/** out[r] = -Σ t (z - logsumexp(z)) over row r: softmax cross entropy against targets t. */
export function softmaxCrossEntropyF32(z: Float32Array, t: Float32Array, run: number, out: Float32Array): boolean {
  const s = instance(), c = rowChunk(run), total = z.length / run;
  if (c.rows === 0) return false;
  const max = c.max / 4, lse = c.sums / 8;
  for (let r0 = 0; r0 < total; r0 += c.rows) {
    const rows = Math.min(c.rows, total - r0);
    if (!loadRows(s, z, t, r0, rows, run, c.max)) return false;
    s.elementwise.rowSums(at(2), c.sums, rows, run);
    for (let r = 0; r < rows; r++) s.f64[lse + r] = s.f32[max + r]! + Math.log(s.f64[lse + r]!);
    s.elementwise.rowNll(at(0), at(1), c.sums, at(2), rows, run);
    out.set(s.f32.subarray(at(2) / 4, at(2) / 4 + rows), r0);
  }
  return true;
}

/** Its gradient w.r.t. z: g (softmax(z) Σt - t) per row, the softmax as e^(z - m) / Σ e^(z - m). */
export function softmaxCrossEntropyGradF32(z: Float32Array, t: Float32Array, g: Float32Array, run: number, out: Float32Array): boolean {
  const s = instance(), c = rowChunk(run), total = z.length / run;
  if (c.rows === 0) return false;
  const scale = c.sums / 8, sumT = c.sums2 / 8;
  for (let r0 = 0; r0 < total; r0 += c.rows) {
    const rows = Math.min(c.rows, total - r0);
    if (!loadRows(s, z, t, r0, rows, run, c.max)) return false;
    s.f32.set(rows === g.length ? g : g.subarray(r0, r0 + rows), c.g / 4);
    s.elementwise.rowSums(at(2), c.sums, rows, run);
    s.elementwise.rowSums(at(1), c.sums2, rows, run);
    for (let r = 0; r < rows; r++) s.f64[scale + r] = s.f64[sumT + r]! / s.f64[scale + r]!;
    s.elementwise.rowSoftmaxGrad(at(2), at(1), c.sums, c.g, at(2), rows, run);
    out.set(s.f32.subarray(at(2) / 4, at(2) / 4 + rows * run), r0 * run);
  }
  return true;
}

type Floats = Float32Array | Float64Array;

/**
 * One optimizer update (backend.ts's OptimizerUpdate) in place on `p` and its state (the
 * momentum buffer, or Adam's two moments), all of one element type.
 */
export function optimizerUpdate(u: OptimizerUpdate, p: Floats, g: Floats, state: readonly Floats[]): void {
  const paramHome = homes.get(p.buffer);
  const home = state.length > 0 ? homeOf(state) : paramHome;
  const inPlace = home !== undefined && paramHome === home;
  const s = home ?? instance();
  const f64 = p instanceof Float64Array;
  const view: Floats = f64 ? s.f64 : s.f32;
  const elt = f64 ? 8 : 4, lanes = 16 / elt;
  const n = p.length;
  // Into slots 0 to 3 go the parameter unless it lives in the home, the gradient, and the
  // state unless it lives there.
  const copied: Floats[] = home ? (inPlace ? [g] : [p, g]) : [p, g, ...state];
  const slot = inPlace ? [1] : home ? [0, 1] : [0, 1, 2, 3];
  const address = [at(0), at(1), at(2), at(3)];
  const c1 = 1 / (1 - Math.pow(u.beta1, u.step)), c2 = 1 / (1 - Math.pow(u.beta2, u.step));
  const { form: decay, coefficient: d } = weightDecayOf(u);
  const kind = u.type === 'adamw' ? 'adam' : u.type === 'momentum' && u.nesterov ? 'nesterov' : u.type;
  const kernel = s.optimizer[optimizerKernelName(kind, decay, f64)];
  for (let i = 0; i < n; i += CHUNK) {
    const len = Math.min(CHUNK, n - i), whole = len === n;
    for (let j = 0; j < copied.length; j++) {
      const x = copied[j]!;
      view.set(whole ? x : x.subarray(i, i + len), at(slot[j]!) / elt);
    }
    if (home) for (let j = 0; j < state.length; j++) address[2 + j] = state[j]!.byteOffset + i * elt;
    if (inPlace) address[0] = p.byteOffset + i * elt;
    kernel(address[0]!, address[1]!, address[2]!, address[3]!, vectors(len, lanes), u.lr, d,
      u.momentum, u.beta1, 1 - u.beta1, u.beta2, 1 - u.beta2, c1, c2, u.eps);
    // Everything copied in but the gradient (slot 1) was updated.
    for (let j = 0; j < copied.length; j++) {
      if (slot[j] !== 1) copied[j]!.set(view.subarray(at(slot[j]!) / elt, at(slot[j]!) / elt + len), i);
    }
  }
}
