/**
 * W3 (square float32 matmul, ../shared/peers/WORKLOADS.md) on the WebGPU backend, at GPU sizes.
 * Prints one JSON line per result: `{"workload","peer","param","metric","value","ok","info"}`.
 *
 *   node dist/bench/gpu-bench.js [--sizes 1024,2048,4096] [--quick]
 *
 * Two metrics per n, both 2n^3 / time:
 * - `gflops`: W3's rule, every timed call leaves its product on the host (read back);
 * - `gflops_device`: calls queued back to back and one wait at the end, no read back: what the
 *   kernel does on the GPU, the figure GPU.md's table compares.
 * Timing follows W3: 2 warm-up calls, 7 samples of about 100 ms (at least one call each),
 * fewer samples (at least 3) when that would pass 12 s; the median sample counts.
 * `ok` is W3's check: 64 entries at positions from the stream seeded 1234 + n equal the float64
 * dot product exactly (the data make every partial sum exact in float32).
 */
import { createWebGpuBackend, NoGpuError, type WebGpuBackend } from '../src/engine/backends/webgpu/index.js';
import type { Tensor } from '../src/engine/tensor.js';
import { D } from '../src/bench/workloads.js';

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** W3's sampling: per-call times of `samples` samples of `iters` calls each. */
function measure(run: (iters: number) => void, quick: boolean): { perCallMs: number[]; iters: number } {
  run(2); // warm-up
  const t0 = performance.now();
  run(1);
  const one = Math.max(performance.now() - t0, 1e-3);
  const iters = Math.max(1, Math.round(100 / one));
  let samples = quick ? 3 : 7;
  const capMs = quick ? 2000 : 12000;
  if (samples * iters * one > capMs) samples = Math.max(3, Math.floor(capMs / (iters * one)));
  const perCallMs: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t = performance.now();
    run(iters);
    perCallMs.push((performance.now() - t) / iters);
  }
  return { perCallMs, iters };
}

function main(): void {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--sizes');
  const sizes = (at >= 0 ? argv[at + 1]! : '1024,2048,4096').split(',').map(Number);
  const quick = argv.includes('--quick');
  let gpu: WebGpuBackend;
  try {
    gpu = createWebGpuBackend();
  } catch (e) {
    if (e instanceof NoGpuError) {
      console.log(JSON.stringify({ workload: 'W3', peer: 'rmad-webgpu', param: null, metric: 'gflops', value: null, ok: false, info: { skipped: e.message } }));
      process.exitCode = 1;
      return;
    }
    throw e;
  }
  const adapter = gpu.adapter;
  const device = adapter.description || `${adapter.vendor} ${adapter.device}`;
  process.stderr.write(`gpu-bench: ${device} (${adapter.vendor}, ${adapter.architecture})\n`);
  for (const n of sizes) {
    const { A: a, B: b } = D.w3Matrices(n);
    const A = gpu.fromData(a, [n, n], 'float32');
    const B = gpu.fromData(b, [n, n], 'float32');
    const flop = 2 * n ** 3;
    let last: Float32Array = new Float32Array(0);
    // One call: the product, read back to the host, its buffer returned at once.
    const withRead = (iters: number) => {
      for (let i = 0; i < iters; i++) {
        const C = gpu.matmul(A, B, false, false);
        last = gpu.read(C);
        gpu.dispose(C);
      }
    };
    const onDevice = (iters: number) => {
      const cs: Tensor[] = [];
      for (let i = 0; i < iters; i++) cs.push(gpu.matmul(A, B, false, false));
      gpu.finish();
      for (const c of cs) gpu.dispose(c);
    };
    const r1 = measure(withRead, quick);
    const check = { ok: D.w3Check(n, last) };
    const r2 = measure(onDevice, quick);
    for (const [metric, r] of [['gflops', r1], ['gflops_device', r2]] as const) {
      const ms = median(r.perCallMs);
      console.log(JSON.stringify({
        workload: 'W3', peer: 'rmad-webgpu', param: n, metric, value: +(flop / (ms * 1e6)).toFixed(2), ok: check.ok,
        info: {
          device, vendor: adapter.vendor, ms_per_call: +ms.toFixed(4), samples: r.perCallMs.length, iters: r.iters,
          readback: metric === 'gflops', kernel: '64x64 tile, 4x4 per thread', check,
        },
      }));
    }
    gpu.dispose(A);
    gpu.dispose(B);
    gpu.device.trim();
  }
  gpu.close();
}

main();
