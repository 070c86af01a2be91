/**
 * W3 (square float32 matmul, GFLOP/s) for rmad's WebAssembly kernels, next to a plain
 * JavaScript triple loop, following peers/WORKLOADS.md: exact dyadic inputs, warm-up 2 calls,
 * 7 samples of about 100 ms, median, capped at 12 s; the product is checked at 64 positions.
 * Then the small shapes of an MLP training step (forward and both backward products), where
 * the kernels must not lose to the plain loop.
 *
 * Then the same in float64, the threshold below which a product stays on one thread, and the
 * ceiling: how many float32 multiply-adds 128-bit WebAssembly SIMD issues a second on one core
 * here, in a loop of independent accumulators that does nothing else.
 *
 *   node dist/bench/matmul.js [--only=W3,small,f64,threshold,peak] [--sizes=128,256] [--threads=2]
 *
 * One JSON line per result: {"workload","peer","param","metric","value","ok","info"}. Where the
 * engine has relaxed SIMD (Node 22+, or `node --experimental-wasm-relaxed-simd` on Node 20) the
 * kernels multiply-add in one instruction and the peers are named rmad-1t-fma, rmad-2t-fma.
 */
import {
  matmulF32, matmulF32Parallel, matmulF64, matmulF64Parallel, parallelThreshold, setParallelThreshold,
} from '../src/engine/backends/wasm/index.js';
import { Code, encodeModule, I32, V128 } from '../src/engine/backends/wasm/encoder.js';
import { WebAssemblyApi } from '../src/engine/backends/wasm/wasm-api.js';
import { kernelShape, localWorkspace } from '../src/engine/backends/wasm/workspace.js';
import { D } from '../src/bench/workloads.js';

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = arg('only')?.split(',');
const selected = (name: string): boolean => !only || only.includes(name);
const sizes = (arg('sizes') ?? '128,256,512,1024').split(',').map(Number);
const threads = Number(arg('threads') ?? 2);

/** rmad's peer name: rmad-1t, rmad-2t, with -fma when the kernels use relaxed multiply-add. */
const rmad = (threadCount: number): string => `rmad-${threadCount}t${kernelShape(4).fma ? '-fma' : ''}`;

const { median, nowMs } = D;

/** WORKLOADS.md timing (src/bench/data.ts), with W3's samples of about 100 ms. */
const measure = (fn: () => void, options: { targetMs?: number; capMs?: number } = {}): D.Measured =>
  D.measure(fn, { warmup: 2, samples: 7, iters: 'auto', targetMs: options.targetMs ?? 100, capMs: options.capMs ?? 12000 });

function emit(workload: string, peer: string, param: string, metric: string, value: number, ok: boolean, info: object): void {
  const rec = { workload, peer, param, metric, value: Number.isFinite(value) ? +value.toPrecision(6) : null, ok, info };
  process.stdout.write(JSON.stringify(rec) + '\n');
}

// ---------------------------------------------------------------- the plain loop

/** op(A) @ op(B) as a JavaScript loop: i-k-j over rows of B, or dot products when B is transposed. */
function naive(
  a: Float32Array, b: Float32Array, m: number, k: number, n: number,
  transposeA: boolean, transposeB: boolean, out = new Float32Array(m * n),
): Float32Array {
  out.fill(0);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    if (transposeB) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += (transposeA ? a[p * m + i]! : a[i * k + p]!) * b[j * k + p]!;
        out[ci + j] = s;
      }
      continue;
    }
    for (let p = 0; p < k; p++) {
      const aip = transposeA ? a[p * m + i]! : a[i * k + p]!;
      const bp = p * n;
      for (let j = 0; j < n; j++) out[ci + j]! += aip * b[bp + j]!;
    }
  }
  return out;
}

// ---------------------------------------------------------------- W3

const gflops = (flops: number, ms: number): number => flops / (ms * 1e-3) / 1e9;

if (selected('W3')) {
  for (const n of sizes) {
    const { A: a, B: b } = D.w3Matrices(n);
    const flops = 2 * n ** 3;
    const runs: [string, () => Float32Array, object][] = [
      ['js-naive', () => naive(a, b, n, n, n, false, false), { impl: 'javascript i-k-j loop' }],
      [rmad(1), () => matmulF32(a, b, n, n, n, false, false), { impl: 'wasm simd', threads: 1 }],
      [rmad(threads), () => matmulF32Parallel(a, b, n, n, n, false, false, undefined, threads),
        { impl: 'wasm simd', threads: n ** 3 >= parallelThreshold() ? threads : 1 }],
    ];
    for (const [peer, fn, info] of runs) {
      const ok = D.w3Check(n, fn());
      const r = measure(fn);
      emit('W3', peer, `n=${n}`, 'gflops', gflops(flops, r.ms), ok, { ...info, samples: r.samples, iters: r.iters, ms: +r.ms.toPrecision(4) });
    }
    // What the one-thread path spends outside the product: copying A and B in and C out.
    const view = localWorkspace().f32();
    const c = new Float32Array(n * n);
    const copies = measure(() => {
      view.set(a, 1024);
      view.set(b, 1024 + n * n);
      c.set(view.subarray(1024, 1024 + n * n));
    });
    emit('W3-copies', rmad(1), `n=${n}`, 'ms', copies.ms, true, { samples: copies.samples, iters: copies.iters });
  }
}

// ---------------------------------------------------------------- small shapes

if (selected('small')) {
  // [m, k, n, transposeA, transposeB]: forward x @ W^T, then dX = dY @ W and dW = dY^T @ X.
  const shapes: [number, number, number, boolean, boolean][] = [
    [64, 784, 256, false, true], [64, 256, 784, false, false], [256, 64, 784, true, false],
    [64, 256, 128, false, true], [32, 64, 32, false, true], [32, 32, 64, false, false],
    [32, 32, 64, true, false], [32, 128, 128, false, true], [10, 128, 32, false, false],
  ];
  for (const [m, k, n, ta, tb] of shapes) {
    const a = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 17) / 8 - 1);
    const b = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 13) / 4 - 1.5);
    const param = `${m}x${k}${ta ? 'ᵀ' : ''}@${k}x${n}${tb ? 'ᵀ' : ''}`;
    const want = naive(a, b, m, k, n, ta, tb);
    const close = (c: Float32Array): boolean => c.every((v, i) => Math.abs(v - want[i]!) <= 1e-4 * (1 + Math.abs(want[i]!)));
    const runs: [string, () => Float32Array][] = [
      ['js-naive', () => naive(a, b, m, k, n, ta, tb)],
      [rmad(1), () => matmulF32(a, b, m, k, n, ta, tb)],
      [rmad(threads), () => matmulF32Parallel(a, b, m, k, n, ta, tb, undefined, threads)],
    ];
    for (const [peer, fn] of runs) {
      const ok = close(fn());
      const r = measure(fn, { targetMs: 50, capMs: 4000 });
      emit('matmul-small', peer, param, 'gflops', gflops(2 * m * k * n, r.ms), ok,
        { us: +(r.ms * 1e3).toPrecision(4), samples: r.samples, iters: r.iters });
    }
  }
}

// ---------------------------------------------------------------- float64

if (selected('f64')) {
  for (const n of sizes) {
    const { A: a32, B: b32 } = D.w3Matrices(n);
    const a = Float64Array.from(a32), b = Float64Array.from(b32);
    const runs: [string, () => Float64Array][] = [
      [rmad(1), () => matmulF64(a, b, n, n, n, false, false)],
      [rmad(threads), () => matmulF64Parallel(a, b, n, n, n, false, false, undefined, threads)],
    ];
    for (const [peer, fn] of runs) {
      const c = fn();
      const ok = D.w3Check(n, Float32Array.from(c));
      const r = measure(fn);
      emit('W3-f64', peer, `n=${n}`, 'gflops', gflops(2 * n ** 3, r.ms), ok, { samples: r.samples, iters: r.iters });
    }
  }
}

// ---------------------------------------------------------------- the threading threshold

/** Median time of `fn` over `count` calls, each after `gapMs` of busy waiting (0: back to back). */
function timeEach(fn: () => unknown, count: number, gapMs: number): number {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    for (const until = nowMs() + gapMs; nowMs() < until;);
    const t0 = nowMs();
    fn();
    times.push(nowMs() - t0);
  }
  return median(times);
}

if (selected('threshold')) {
  // Time on one thread over time on two, with the worker polling (products back to back) and
  // asleep (after a 2 ms gap, as between the products of a training step); threads forced on.
  const threshold = setParallelThreshold(1);
  for (const [m, k, n] of [[32, 64, 32], [64, 64, 64], [64, 128, 128], [96, 96, 96], [128, 128, 128], [64, 256, 128], [160, 160, 160], [192, 192, 192], [64, 784, 256], [256, 256, 256]] as const) {
    const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) / 8), b = Float32Array.from({ length: k * n }, (_, i) => (i % 5) / 4);
    const one = () => matmulF32(a, b, m, k, n, false, true);
    const two = () => matmulF32Parallel(a, b, m, k, n, false, true, undefined, threads);
    for (let i = 0; i < 50; i++) { one(); two(); }
    for (const gap of [0, 2]) {
      const t1 = timeEach(one, 101, gap), t2 = timeEach(two, 101, gap);
      emit('matmul-threads', rmad(threads), `${m}x${k}x${n},gap=${gap}ms`, 'speedup', t1 / t2, true,
        { macs: m * k * n, threadedByDefault: m * k * n >= threshold, us1: +(t1 * 1e3).toPrecision(4), us2: +(t2 * 1e3).toPrecision(4) });
    }
  }
  setParallelThreshold(threshold);
}

// ---------------------------------------------------------------- the ceiling

/**
 * A function looping `count` times over `accumulators` independent four-lane multiply-adds
 * (fused where `fma`, else a multiply then an add), storing the sums at the end so that the
 * engine cannot drop the loop: the most any product kernel can get from 128-bit SIMD here.
 */
function peakLoop(accumulators: number, fma: boolean): (count: number) => void {
  const c = new Code([I32]);
  const acc = Array.from({ length: accumulators }, () => c.local(V128));
  const x = c.local(V128), y = c.local(V128);
  c.f32x4(1 + 2 ** -20).set(x).f32x4(1 - 2 ** -20).set(y);
  c.loop();
  for (const a of acc) {
    if (fma) c.get(x).get(y).get(a).vmadd(4).set(a);
    else c.get(a).get(x).get(y).vmul(4).vadd(4).set(a);
  }
  c.get(0).i32(1).i32Sub().tee(0).brIf(0);
  c.end();
  acc.forEach((a, i) => c.i32(0).get(a).v128Store(16 * i));
  const memory = new WebAssemblyApi.Memory({ initial: 1, maximum: 1 });
  const module = new WebAssemblyApi.Module(encodeModule([{ name: 'loop', code: c }], { shared: false, minPages: 1, maxPages: 1 }));
  return (new WebAssemblyApi.Instance(module, { env: { memory } }).exports as unknown as { loop: (count: number) => void }).loop;
}

if (selected('peak')) {
  const count = 1_000_000;
  const fused = [false, ...(kernelShape(4).fma ? [true] : [])];
  for (const fma of fused) {
    for (const accumulators of [4, 8, 12]) {
      const loop = peakLoop(accumulators, fma);
      const r = measure(() => loop(count));
      emit('matmul-peak', rmad(1), `f32x4 ${fma ? 'fused multiply-add' : 'multiply + add'}, ${accumulators} accumulators`, 'gflops',
        gflops(count * accumulators * 8, r.ms), true, { samples: r.samples, iters: r.iters });
    }
  }
}
