/**
 * Matrix products op(A)[m,k] @ op(B)[k,n] of row-major float32 or float64 arrays, computed by
 * WebAssembly SIMD kernels, on one thread or on several.
 *
 * op(A) is A stored [m,k], or with `transposeA` A stored [k,m] and read transposed; likewise
 * op(B) is B stored [k,n], or with `transposeB` B stored [n,k]. Each call copies A and B into
 * the workspace memory, packs them into the kernel's panels, and copies C out; the copies are
 * O(n^2) against the product's O(n^3): 0.9 ms of 55 ms at n = 1024 (bench/matmul.ts, W3-copies).
 */
import { OpError } from '../../errors.js';
import { computeBlock, packB, packedABytes, packedBBytes, roundUp } from './gemm.js';
import { defaultThreads, Pool } from './parallel.js';
import { CONTROL_BYTES, localWorkspace, workspace, type Kernel, type Workspace } from './workspace.js';

type Floats = Float32Array | Float64Array;

/**
 * Below this many multiply-adds (m*k*n) a product stays on one thread: waking a worker, sharing
 * the work and copying the operands into shared memory (twice as slow as into plain memory:
 * 800 KiB in 153 against 74 us) cost more than they save. Measured with `node
 * dist/bench/matmul.js --only=threshold`: on 2 Zen 4 cores threads paid from about 1M
 * multiply-adds with the worker awake and 4M asleep; on 2 Xeon vCPUs from 4M to 8M either way,
 * and W4's 64x256x128 products took 0.94-0.98 of the time on one thread (same process, A/B).
 */
export const DEFAULT_PARALLEL_THRESHOLD = 1 << 22;
let threshold = DEFAULT_PARALLEL_THRESHOLD;

/** The multiply-adds from which parallel products use threads. */
export function parallelThreshold(): number {
  return threshold;
}

/** Sets the multiply-adds from which parallel products use threads; returns the previous value. */
export function setParallelThreshold(macs: number): number {
  const previous = threshold;
  threshold = macs;
  return previous;
}

const align = (bytes: number): number => roundUp(bytes, 64);

/** Where each operand of a product goes in the workspace memory. */
function layout(kernel: Kernel, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean, accumulate: boolean, threads: number) {
  const { shape, blocking } = kernel;
  const elt = shape.elt;
  let at = CONTROL_BYTES;
  const take = (bytes: number): number => {
    const start = at;
    at = align(at + bytes);
    return start;
  };
  const ldc = roundUp(n, shape.nr);
  const a = take(m * k * elt);
  const b = take(k * n * elt);
  const c = take(roundUp(m, shape.mr) * ldc * elt);
  const packBAt = take(packedBBytes(shape, blocking, k, n));
  const packAStride = align(packedABytes(shape, blocking));
  const packA = take(packAStride * threads);
  return { m, k, n, transposeA, transposeB, accumulate, a, b, c, ldc, packB: packBAt, packA, packAStride, end: at };
}

function checkDim(name: string, dim: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new OpError(`${name}: ${dim} must be a non-negative integer, got ${v}`);
}

function check(name: string, a: Floats, b: Floats, m: number, k: number, n: number, out: Floats | undefined): void {
  checkDim(name, 'm', m);
  checkDim(name, 'k', k);
  checkDim(name, 'n', n);
  if (a.length !== m * k) throw new OpError(`${name}: A has ${a.length} elements, expected m*k = ${m}*${k} = ${m * k}`);
  if (b.length !== k * n) throw new OpError(`${name}: B has ${b.length} elements, expected k*n = ${k}*${n} = ${k * n}`);
  if (out && out.length !== m * n) throw new OpError(`${name}: out has ${out.length} elements, expected m*n = ${m}*${n} = ${m * n}`);
}

let pool: Pool | undefined;

/** out = op(A) @ op(B), or out += op(A) @ op(B) when `accumulate`. */
function product<T extends Floats>(
  name: string, elt: 4 | 8, a: T, b: T, m: number, k: number, n: number,
  transposeA: boolean, transposeB: boolean, out: T, threads: number, accumulate = false,
): T {
  check(name, a, b, m, k, n, out);
  if (m === 0 || n === 0) return out;
  if (k === 0) return accumulate ? out : out.fill(0) as T;
  const shared = workspace();
  const threaded = threads > 1 && shared.shared && m * k * n >= threshold ? (pool ??= new Pool(shared)) : undefined;
  threaded?.grow(threads);
  const ws: Workspace = threaded ? shared : localWorkspace();
  const kernel = ws.kernel(elt);
  // Threads numbered from `threads` up leave the product alone: they need no scratch.
  const g = layout(kernel, m, k, n, transposeA, transposeB, accumulate, threaded ? threads : 1);
  ws.reserve(g.end);
  const view = elt === 4 ? ws.f32() : ws.f64();
  view.set(a, g.a / elt);
  view.set(b, g.b / elt);
  if (accumulate) {
    view.set(out, g.c / elt);
    if (g.ldc !== n) kernel.exports.spread(g.c, g.ldc * elt, n * elt, m);
  }

  if (threaded) {
    const { mr, nr } = kernel.shape;
    const chunking = threaded.chunking(m, n, mr, nr, threads);
    // Chunks of columns pack their own columns of B; chunks of rows all read the whole of it.
    if (!chunking.byColumns) packB(kernel.exports, kernel.shape, kernel.blocking, g);
    threaded.run({ ...g, elt, threads, ...chunking }, kernel);
  } else {
    packB(kernel.exports, kernel.shape, kernel.blocking, g);
    computeBlock(kernel.exports, kernel.shape, kernel.blocking, g, 0, m, 0, n, g.packA);
  }

  // C's rows are padded to whole tiles: close the gaps in place, then copy out in one go.
  if (g.ldc !== n) kernel.exports.compact(g.c, g.ldc * elt, n * elt, m);
  out.set(view.subarray(g.c / elt, g.c / elt + m * n));
  return out;
}

/**
 * op(A)[m,k] @ op(B)[k,n] in float32 on this thread. A is stored [m,k] ([k,m] with
 * `transposeA`), B [k,n] ([n,k] with `transposeB`), all row-major. Writes into `out` when given.
 */
export function matmulF32(
  a: Float32Array, b: Float32Array, m: number, k: number, n: number,
  transposeA: boolean, transposeB: boolean, out?: Float32Array,
): Float32Array {
  return product('matmulF32', 4, a, b, m, k, n, transposeA, transposeB, out ?? new Float32Array(m * n), 1);
}

/** matmulF32 in float64. */
export function matmulF64(
  a: Float64Array, b: Float64Array, m: number, k: number, n: number,
  transposeA: boolean, transposeB: boolean, out?: Float64Array,
): Float64Array {
  return product('matmulF64', 8, a, b, m, k, n, transposeA, transposeB, out ?? new Float64Array(m * n), 1);
}

/**
 * matmulF32 on `threads` threads (default: one per core): C is cut into chunks of rows (or of
 * columns when it is wider than tall) that the threads take in turn, in one shared memory.
 * Products under parallelThreshold() multiply-adds stay on this thread. Synchronous: this
 * thread computes chunks too, then waits for the others.
 */
export function matmulF32Parallel(
  a: Float32Array, b: Float32Array, m: number, k: number, n: number,
  transposeA: boolean, transposeB: boolean, out?: Float32Array, threads = defaultThreads(),
): Float32Array {
  return product('matmulF32Parallel', 4, a, b, m, k, n, transposeA, transposeB, out ?? new Float32Array(m * n), threads);
}

/** matmulF32Parallel in float64. */
export function matmulF64Parallel(
  a: Float64Array, b: Float64Array, m: number, k: number, n: number,
  transposeA: boolean, transposeB: boolean, out?: Float64Array, threads = defaultThreads(),
): Float64Array {
  return product('matmulF64Parallel', 8, a, b, m, k, n, transposeA, transposeB, out ?? new Float64Array(m * n), threads);
}

/**
 * acc[m,n] += op(A)[m,k] @ op(B)[k,n] in float32, the sum taken inside the kernel (each
 * element's products are added to acc's value in turn, so the rounding differs from adding
 * a finished product). On threads like matmulF32Parallel.
 */
export function addMatmulF32(
  acc: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number,
  transposeA: boolean, transposeB: boolean, threads = defaultThreads(),
): void {
  product('addMatmulF32', 4, a, b, m, k, n, transposeA, transposeB, acc, threads, true);
}

/** addMatmulF32 in float64. */
export function addMatmulF64(
  acc: Float64Array, a: Float64Array, b: Float64Array, m: number, k: number, n: number,
  transposeA: boolean, transposeB: boolean, threads = defaultThreads(),
): void {
  product('addMatmulF64', 8, a, b, m, k, n, transposeA, transposeB, acc, threads, true);
}

/** Terminates the worker threads of parallel products (later products start new ones). */
export async function closeThreads(): Promise<void> {
  await pool?.close();
}
