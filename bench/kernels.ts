/**
 * The WebAssembly elementwise kernels and fused optimizer updates against the reference's
 * JavaScript loops, through the backend API (so a WebAssembly figure includes the copies into
 * and out of kernel memory and the output's allocation), then the W4 and W5 training steps
 * (peers/WORKLOADS.md) with and without them, interleaved in one sitting.
 *
 *   node dist/bench/kernels.js [--only=unary,binary,reduce,optimizer,steps] [--sizes=64,4096]
 *   node dist/bench/kernels.js --only=ulps [--stride=1] [--ops=tanh,exp]
 *
 * Figures are medians over interleaved samples: the machine is shared, so compare the ratios.
 */
import type { BinaryOp, OptimizerUpdate, ReduceOp, UnaryOp } from '../src/engine/backend.js';
import { CpuBackend, cpu } from '../src/engine/backends/cpu.js';
import { FastCpuBackend, fastCpu } from '../src/engine/backends/fast-cpu.js';
import type { Tensor } from '../src/engine/tensor.js';
import type { FastUnaryOp } from '../src/engine/backends/wasm/elementwise.js';
import { unaryF32 } from '../src/engine/backends/wasm/streaming.js';
import { newContext, type Backend } from '../src/index.js';
import { D, w4Step, w5Step } from '../src/bench/workloads.js';


const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = arg('only')?.split(',');
const selected = (name: string): boolean => !only || only.includes(name);
const sizes = (arg('sizes') ?? '16,64,256,4096,65536').split(',').map(Number);

const nowNs = (): number => Number(process.hrtime.bigint());

/**
 * Median time per call (ns) of each function, sampled in turns so that both see the same
 * machine: `rounds` rounds of one sample each, a sample lasting about `sampleMs`.
 */
function interleaved(fns: readonly (() => unknown)[], { rounds = 7, sampleMs = 20 } = {}): number[] {
  const iters = fns.map((f) => {
    for (let i = 0; i < 3; i++) f();
    let n = 1;
    for (;;) {
      const t = nowNs();
      for (let i = 0; i < n; i++) f();
      const ms = (nowNs() - t) / 1e6;
      if (ms > sampleMs / 4 || n > 1 << 20) return Math.max(1, Math.round((n * sampleMs) / Math.max(ms, 1e-3)));
      n *= 4;
    }
  });
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((f, j) => {
      const t = nowNs();
      for (let i = 0; i < iters[j]!; i++) f();
      samples[j]!.push((nowNs() - t) / iters[j]!);
    });
  }
  return samples.map(D.median);
}

function line(fields: Record<string, string | number>): void {
  console.log(JSON.stringify(fields));
}

const random = (n: number, lo: number, hi: number): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * Math.random());
const twin = (data: Float32Array, shape: number[]): [Tensor, Tensor] => [cpu.fromData(data, shape, 'float32'), fastCpu.fromData(data, shape, 'float32')];

// ------------------------------------------------------------------ unary
if (selected('unary')) {
  for (const op of ['tanh', 'exp', 'sigmoid', 'log'] as UnaryOp[]) {
    for (const n of sizes) {
      const [x1, x2] = twin(random(n, op === 'log' ? 0.01 : -4, 4), [n]);
      const [js, wasm] = interleaved([() => cpu.unary(op, x1), () => fastCpu.unary(op, x2)]);
      line({ kernel: op, n, js_ns_per_elt: +(js! / n).toFixed(3), wasm_ns_per_elt: +(wasm! / n).toFixed(3), speedup: +(js! / wasm!).toFixed(2) });
    }
  }
}

// ------------------------------------------------------------------ binary
if (selected('binary')) {
  for (const op of ['add', 'mul', 'div'] as BinaryOp[]) {
    for (const n of sizes) {
      const cols = n >= 256 ? 128 : 8;
      const shapes: [string, number[], number[]][] = [['same', [n], [n]], ['scalar', [n], [1]], ['bias', [n / cols, cols], [cols]]];
      for (const [form, sa, sb] of shapes) {
        const [a1, a2] = twin(random(n, -2, 2), sa);
        const [b1, b2] = twin(random(sb.reduce((p, q) => p * q, 1), 0.5, 2), sb);
        const [js, wasm] = interleaved([() => cpu.binary(op, a1, b1), () => fastCpu.binary(op, a2, b2)]);
        line({ kernel: `${op}-${form}`, n, js_ns_per_elt: +(js! / n).toFixed(3), wasm_ns_per_elt: +(wasm! / n).toFixed(3), speedup: +(js! / wasm!).toFixed(2) });
      }
    }
  }
}

// ------------------------------------------------------------------ reduce
if (selected('reduce')) {
  for (const n of sizes) {
    for (const cols of [16, 128]) {
      if (n < cols) continue;
      const [x1, x2] = twin(random(n, -2, 2), [n / cols, cols]);
      const [js, wasm] = interleaved([() => cpu.reduce('sum', x1, [0], false), () => fastCpu.reduce('sum', x2, [0], false)]);
      line({ kernel: `sum-rows-${cols}-cols`, n, js_ns_per_elt: +(js! / n).toFixed(3), wasm_ns_per_elt: +(wasm! / n).toFixed(3), speedup: +(js! / wasm!).toFixed(2) });
    }
  }
}

// ------------------------------------------------------------------ optimizer
if (selected('optimizer')) {
  const base: OptimizerUpdate = { type: 'adam', lr: 1e-3, weightDecay: 0, momentum: 0.9, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };
  // W4's parameter count (784*256 + 256 + 256*128 + 128 + 128*10 + 10 = 235146) as one array.
  for (const n of [64, 256, 1024, 4096, 235146]) {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const type of ['sgd', 'momentum', 'adam'] as const) {
        const u = { ...base, type };
        const setup = (be: CpuBackend) => {
          const p = be.fromData(random(n, -1, 1), [n], dtype), g = be.fromData(random(n, -1, 1), [n], dtype);
          const state = Array.from({ length: type === 'sgd' ? 0 : type === 'momentum' ? 1 : 2 }, () => be.full([n], 0, dtype));
          return () => be.optimizerStep({ ...u, step: u.step++ }, p, g, state);
        };
        const [js, wasm] = interleaved([setup(cpu), setup(fastCpu)]);
        line({ kernel: `optimizer-${type}-${dtype}`, n, js_ns_per_elt: +(js! / n).toFixed(3), wasm_ns_per_elt: +(wasm! / n).toFixed(3), speedup: +(js! / wasm!).toFixed(2) });
      }
    }
  }
}

// ------------------------------------------------------------------ ulps
/**
 * The accuracy claims of elementwise.ts: every `stride`-th float32 bit pattern (all 2^32 with
 * --stride=1, about 6 minutes for the four ops), through the kernel, against Math.* rounded to
 * float32 (for sigmoid, the reference's float32 formula). Not run by default.
 */
if (only?.includes('ulps')) {
  const stride = Number(arg('stride') ?? 1);
  const f = Math.fround;
  const sigmoid32 = (x: number): number => {
    if (x >= 0) return f(1 / f(1 + f(Math.exp(-x))));
    const e = f(Math.exp(x));
    return f(e / f(1 + e));
  };
  const reference: Record<FastUnaryOp, (x: number) => number> = {
    exp: Math.exp, log: Math.log, tanh: Math.tanh, sigmoid: sigmoid32, relu: (x) => (x > 0 ? x : x === x ? 0 : x),
  };
  // Distance in representable float32 values: the bit patterns as a line from -max to +max.
  const bits = new Int32Array(1), asFloat = new Float32Array(bits.buffer);
  const ordered = (x: number): number => {
    asFloat[0] = x;
    const i = bits[0]!;
    return i < 0 ? -2147483648 - i : i;
  };
  const batch = 1 << 20;
  const x = new Float32Array(batch), out = new Float32Array(batch), xbits = new Uint32Array(x.buffer);
  for (const op of (arg('ops')?.split(',') ?? ['exp', 'log', 'tanh', 'sigmoid']) as FastUnaryOp[]) {
    const ref = reference[op];
    let worst = 0, worstAt = 0, exact = 0, total = 0, specialsWrong = 0;
    for (let start = 0; start < 2 ** 32; start += batch * stride) {
      let len = 0;
      for (let u = start; len < batch && u < 2 ** 32; u += stride) xbits[len++] = u;
      const xs = x.subarray(0, len), os = out.subarray(0, len);
      unaryF32(op, xs, os);
      for (let i = 0; i < len; i++) {
        const r = f(ref(xs[i]!)), g = os[i]!;
        total++;
        if (r !== r || g !== g || r === 0 || !Number.isFinite(r)) {
          if (!Object.is(r, g) && !(r !== r && g !== g)) specialsWrong++;
          else exact++;
          continue;
        }
        const d = Math.abs(ordered(r) - ordered(g));
        if (d === 0) exact++;
        if (d > worst) { worst = d; worstAt = xs[i]!; }
      }
    }
    line({ kernel: op, inputs: total, stride, max_ulps: worst, worst_at: worstAt, exact: +(exact / total).toFixed(5), special_mismatches: specialsWrong });
  }
}

// ------------------------------------------------------------------ W4 / W5 steps
/**
 * FastCpuBackend with the WebAssembly elementwise kernels (and column sums) or the fused
 * optimizer update turned off; with neither kept it is the backend as it was before them:
 * WebAssembly matrix products, everything else the reference's loops.
 */
class Partial extends FastCpuBackend {
  constructor(private readonly keep: { elementwise?: boolean; optimizer?: boolean } = {}) { super(); }
  override unary(op: UnaryOp, x: Tensor): Tensor {
    return this.keep.elementwise ? super.unary(op, x) : CpuBackend.prototype.unary.call(this, op, x);
  }
  override binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
    return this.keep.elementwise ? super.binary(op, a, b) : CpuBackend.prototype.binary.call(this, op, a, b);
  }
  override reduce(op: ReduceOp, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
    return this.keep.elementwise ? super.reduce(op, x, axes, keepdims) : CpuBackend.prototype.reduce.call(this, op, x, axes, keepdims);
  }
  override optimizerStep(u: OptimizerUpdate, p: Tensor, g: Tensor, s: readonly Tensor[]): void {
    if (this.keep.optimizer) super.optimizerStep(u, p, g, s);
    else CpuBackend.prototype.optimizerStep.call(this, u, p, g, s);
  }
}

const w4 = (backend: Backend) => w4Step(newContext('float32', { device: backend }), D.W4cfg.big);
const w5 = (backend: Backend) => w5Step(newContext('float32', { device: backend }));

if (selected('steps') && !only?.includes('ulps')) {
  const variants: [string, Backend][] = [
    ['before', new Partial()],
    ['+optimizer', new Partial({ optimizer: true })],
    ['+elementwise', new Partial({ elementwise: true })],
    ['after', fastCpu],
  ];
  for (const [workload, make] of [['W4', w4], ['W5', w5]] as const) {
    const steps = variants.map(([, backend]) => make(backend));
    // The first two losses of each variant, checked against the shared reference values.
    const ok = steps.map((step) => D.checkLosses(workload, [step(), step()]));
    const ms = interleaved(steps, { rounds: 9, sampleMs: 60 }).map((ns) => ns / 1e6);
    variants.forEach(([name], i) => line({ workload, variant: name, ms_per_step: +ms[i]!.toFixed(3), ok: String(ok[i]), vs_before: +(ms[0]! / ms[i]!).toFixed(2) }));
  }
}
