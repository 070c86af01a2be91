// The fast CPU backend's WebAssembly elementwise kernels and fused optimizer updates against
// the plain TypeScript reference backend: random and extreme inputs, odd lengths, lengths of
// several chunks, every form of the binary ops, every optimizer type in both dtypes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BinaryOp, OptimizerUpdate } from '../src/engine/backend.js';
import { FAST_ACTIVATIONS, FAST_BINARY_OPS, FAST_UNARY_OPS, type BinaryForm, type FastActivation, type FastUnaryOp } from '../src/engine/backends/wasm/elementwise.js';
import { CHUNK, activationGradF32, binaryF32, optimizerUpdate, unaryF32 } from '../src/engine/backends/wasm/streaming.js';
import { Rng, cpu, fastCpu, type DType, type Tensor } from '../src/index.js';

const lengths = [1, 3, 7, 8, 17, 64, 129, 1001, 4099, CHUNK + 5, 2 * CHUNK + 17];

/** Inputs that break approximations: zeros, infinities, NaN, subnormals, the edges of exp's range. */
const extremes = [
  0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 1.17549435e-38, 2 ** -149 * 3,
  1e-30, -1e-30, 2 ** -12, 1e-7, 0.625, -0.625, 0.62500006, 1, -1, 9.01, -9.01, 9.02, 44, -44, 87.33, 88.72, 88.73, 89,
  -87.33, -103.2, -103.97, -104, -105, 103.9, 104, 105, 1e10, -1e10, 3.4028235e38, -3.4028235e38,
];

/** Distance in representable float32 values (both finite). */
const bits = new Int32Array(1), asFloat = new Float32Array(bits.buffer);
function ordered(x: number): number {
  asFloat[0] = x;
  const i = bits[0]!;
  return i < 0 ? -2147483648 - i : i;
}

/** float32 inputs: a uniform range, random bit patterns over all of float32, the extremes. */
function inputs(n: number, rng: Rng): Float32Array {
  const x = new Float32Array(n), u = new Uint32Array(x.buffer);
  for (let i = 0; i < n; i++) {
    const kind = i % 3;
    if (kind === 0) x[i] = rng.range(-12, 12);
    else if (kind === 1) u[i] = rng.nextU32();
    else x[i] = extremes[rng.int(extremes.length)]!;
  }
  return x;
}

/** Stated accuracy (elementwise.ts): ulps of the reference, which is Math.* rounded to float32. */
const ulps: { [K in FastUnaryOp]: number } = { exp: 1, log: 1, tanh: 1, sigmoid: 2, relu: 0 };

/**
 * The backend's op, or for lengths the backend leaves to the reference (under 16 elements),
 * the kernel itself, so that short odd lengths exercise it too.
 */
function fastUnary(op: FastUnaryOp, x: Float32Array): ArrayLike<number> {
  if (x.length >= 16) return fastCpu.unary(op, fastCpu.fromData(x, [x.length], 'float32')).data();
  const out = new Float32Array(x.length);
  unaryF32(op, x, out);
  return out;
}

function agreeUnary(op: FastUnaryOp, x: Float32Array, where: string): void {
  const ref = cpu.unary(op, cpu.fromData(x, [x.length], 'float32')).data();
  const fast = fastUnary(op, x);
  for (let i = 0; i < x.length; i++) {
    const r = ref[i]!, f = fast[i]!;
    const ok = r !== r ? f !== f
      : r === 0 || !Number.isFinite(r) ? Object.is(r, f)
      : Number.isFinite(f) && Math.abs(ordered(r) - ordered(f)) <= ulps[op]!;
    if (!ok) assert.unreachable(`${op}(${x[i]}) ${where}: ${f}, reference ${r}`);
  }
}

for (const op of FAST_UNARY_OPS) {
  test(`float32 ${op}: within ${ulps[op]} ulp of the reference on random, extreme and odd-length inputs`, () => {
    const rng = new Rng(11).fork(op);
    for (const n of lengths) agreeUnary(op, inputs(n, rng), `(length ${n})`);
    agreeUnary(op, Float32Array.from(extremes), '(extremes)');
  });

  test(`float32 ${op}: a dense sweep of all float32 bit patterns`, () => {
    // Every 1021st pattern: each exponent of both signs gets about 8000 inputs.
    const stride = 1021, batch = 1 << 18;
    const x = new Float32Array(batch), u = new Uint32Array(x.buffer);
    for (let start = 0; start < 2 ** 32; start += batch * stride) {
      let len = 0;
      for (let v = start; len < batch && v < 2 ** 32; v += stride) u[len++] = v;
      agreeUnary(op, x.subarray(0, len), `(sweep from ${start})`);
    }
  });

  test(`float64 ${op} stays on the exact Math.* path`, () => {
    const rng = new Rng(12).fork(op);
    const x = Array.from({ length: 1001 }, (_, i) => (i % 2 ? rng.range(-30, 30) : extremes[i % extremes.length]!));
    const ref = cpu.unary(op, cpu.fromData(x, [x.length], 'float64')).data();
    const fast = fastCpu.unary(op, fastCpu.fromData(x, [x.length], 'float64')).data();
    for (let i = 0; i < x.length; i++) assert.ok(Object.is(fast[i], ref[i]), `${op}(${x[i]}): ${fast[i]} vs ${ref[i]}`);
  });
}

test('unaryF32 computes in place of a longer array view, chunk by chunk', () => {
  const x = new Float32Array(CHUNK * 2 + 9).map((_, i) => (i % 17) - 8);
  const out = new Float32Array(x.length);
  unaryF32('tanh', x.subarray(5), out.subarray(5));
  for (let i = 0; i < 5; i++) assert.is(out[i], 0);
  for (let i = 5; i < x.length; i++) assert.ok(Math.abs(ordered(out[i]!) - ordered(Math.fround(Math.tanh(x[i]!)))) <= 1);
});

/** Identical results, NaN for NaN: float32 arithmetic is correctly rounded either way. */
function agreeBinary(op: BinaryOp, dtype: DType, aShape: number[], bShape: number[], rng: Rng): void {
  const size = (s: number[]): number => s.reduce((p, q) => p * q, 1);
  const a = inputs(size(aShape), rng), b = inputs(size(bShape), rng);
  const ref = cpu.binary(op, cpu.fromData(a, aShape, dtype), cpu.fromData(b, bShape, dtype));
  const fast = fastCpu.binary(op, fastCpu.fromData(a, aShape, dtype), fastCpu.fromData(b, bShape, dtype));
  assert.equal([...fast.shape], [...ref.shape]);
  const r = ref.data(), f = fast.data();
  for (let i = 0; i < r.length; i++) {
    if (!(Object.is(r[i], f[i]) || (r[i] !== r[i] && f[i] !== f[i]))) {
      assert.unreachable(`${dtype} ${op} [${aShape}] [${bShape}] at ${i}: ${f[i]}, reference ${r[i]}`);
    }
  }
}

test('binary kernels at lengths under the backend threshold equal the reference', () => {
  const rng = new Rng(18);
  for (const op of FAST_BINARY_OPS) {
    for (const n of [1, 3, 4, 7, 9]) {
      const a = inputs(n, rng), b = inputs(n, rng), s = inputs(1, rng);
      const check = (form: BinaryForm, x: Float32Array, y: Float32Array, xs: number[], ys: number[]) => {
        const r = cpu.binary(op, cpu.fromData(x, xs, 'float32'), cpu.fromData(y, ys, 'float32')).data();
        const f = new Float32Array(r.length);
        binaryF32(op, form, x, y, f);
        for (let i = 0; i < r.length; i++) assert.ok(Object.is(r[i], f[i]) || (r[i] !== r[i] && f[i] !== f[i]), `${op} ${form} length ${n} at ${i}`);
      };
      check('same', a, b, [n], [n]);
      check('scalarB', a, s, [n], [1]);
      check('scalarA', s, b, [1], [n]);
      const rows = inputs(3 * n, rng);
      check('trailingB', rows, b, [3, n], [n]);
      check('trailingA', a, rows, [n], [3, n]);
    }
  }
});

for (const op of FAST_BINARY_OPS) {
  test(`float32 ${op}: every form equals the reference exactly`, () => {
    const rng = new Rng(13).fork(op);
    for (const n of lengths) {
      agreeBinary(op, 'float32', [n], [n], rng); // same shape
      agreeBinary(op, 'float32', [n], [1], rng); // scalar on the right
      agreeBinary(op, 'float32', [1, 1], [n, 1], rng); // scalar on the left
    }
    // Biases over the trailing axes, on either side, of widths that fill vectors or not.
    for (const m of [8, 10, 13, 128, 1000]) {
      for (const rows of [1, 3, 64, Math.ceil((2 * CHUNK) / m) + 1]) {
        agreeBinary(op, 'float32', [rows, m], [m], rng);
        agreeBinary(op, 'float32', [1, m], [rows, m], rng);
      }
    }
    agreeBinary(op, 'float32', [2, 3, 40], [3, 40], rng);
    // Forms the kernels do not take fall back to the reference.
    agreeBinary(op, 'float32', [30, 1], [1, 40], rng);
    agreeBinary(op, 'float32', [30, 4], [4], rng);
    agreeBinary(op, 'float32', [40, 30], [40, 1], rng);
    agreeBinary(op, 'float32', [2, CHUNK + 1], [CHUNK + 1], rng);
  });
}

/** An activation's gradient as its backward rule computes it, op by op on the reference backend. */
function ruleGrad(fn: FastActivation, v: Tensor, g: Tensor): Tensor {
  const one = cpu.full([1], 1, v.dtype);
  if (fn === 'tanh') return cpu.binary('mul', g, cpu.binary('sub', one, cpu.binary('mul', v, v)));
  if (fn === 'sigmoid') return cpu.binary('mul', g, cpu.binary('mul', v, cpu.binary('sub', one, v)));
  return cpu.binary('mul', g, cpu.binary('gt', v, cpu.full([1], 0, v.dtype)));
}

for (const fn of FAST_ACTIVATIONS) {
  test(`${fn} gradient kernels equal the rule's ops exactly, both dtypes, every length`, () => {
    const rng = new Rng(19).fork(fn);
    for (const dtype of ['float32', 'float64'] as const) {
      for (const n of lengths) {
        const v = inputs(n, rng), g = inputs(n, rng);
        const want = ruleGrad(fn, cpu.fromData(v, [n], dtype), cpu.fromData(g, [n], dtype)).data();
        const got = [
          cpu.activationGrad(fn, cpu.fromData(v, [n], dtype), cpu.fromData(g, [n], dtype)).data(),
          fastCpu.activationGrad(fn, fastCpu.fromData(v, [n], dtype), fastCpu.fromData(g, [n], dtype)).data(),
        ];
        if (dtype === 'float32') {
          // The kernel itself, also at lengths the backend leaves to the reference.
          const out = new Float32Array(n);
          activationGradF32(fn, v, g, out);
          got.push(out);
        }
        for (const [k, r] of got.entries()) {
          for (let i = 0; i < n; i++) {
            if (!(Object.is(r[i], want[i]) || (r[i] !== r[i] && want[i] !== want[i]))) {
              assert.unreachable(`${dtype} ${fn} gradient #${k} length ${n} at ${i} (v ${v[i]}, g ${g[i]}): ${r[i]}, rule ${want[i]}`);
            }
          }
        }
      }
    }
  });
}

test('float64 binary ops are untouched', () => {
  const rng = new Rng(14);
  for (const op of FAST_BINARY_OPS) {
    agreeBinary(op, 'float64', [1001], [1001], rng);
    agreeBinary(op, 'float64', [100, 10], [10], rng);
  }
});

test('float32 sums over leading and middle axes equal the reference exactly', () => {
  const rng = new Rng(17);
  const cases: [number[], number[]][] = [
    [[32, 128], [0]], [[64, 10], [0]], [[4, 5, 16], [1]], [[3, 4, 5, 8], [1, 2]], [[7, 9, 13], [0, 1]],
    [[300, 100], [0]], [[2, 40, 1000], [1]], [[3, CHUNK], [0]], [[2, 3, 11], [1]],
    // Not taken by the kernel: the last axis, non-adjacent axes, a row over a chunk long.
    [[32, 128], [1]], [[4, 5, 16], [0, 2]], [[2, CHUNK + 1], [0]],
  ];
  for (const [shape, axes] of cases) {
    for (const keepdims of [false, true]) {
      // Finite values of many magnitudes, so that the order of summation shows in the roundings.
      const x = Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => rng.normal() * 10 ** rng.range(-3, 3));
      if (shape.length === 2 && shape[0] === 64) x.set([Infinity, NaN, -Infinity, -0], 0);
      const ref = cpu.reduce('sum', cpu.fromData(x, shape, 'float32'), axes, keepdims);
      const fast = fastCpu.reduce('sum', fastCpu.fromData(x, shape, 'float32'), axes, keepdims);
      assert.equal([...fast.shape], [...ref.shape]);
      const r = ref.data(), f = fast.data();
      for (let i = 0; i < r.length; i++) {
        if (!(Object.is(r[i], f[i]) || (r[i] !== r[i] && f[i] !== f[i]))) assert.unreachable(`[${shape}] axes [${axes}] at ${i}: ${f[i]} vs ${r[i]}`);
      }
    }
  }
});

/**
 * float32 values in rows of the last `rowAxes` axes; with `special`, rows of an infinity, of
 * -Infinity only, with a NaN, of huge values, of equal values, where there are enough rows
 * (the fast backend hands a tensor with any non-finite row maximum to the reference).
 */
function softmaxRows(shape: number[], rowAxes: number, special: boolean, rng: Rng): Float32Array {
  const n = shape.reduce((p, q) => p * q, 1);
  const x = Float32Array.from({ length: n }, () => rng.range(-1, 1) * 10 ** rng.range(-2, 1.5));
  const run = shape.slice(shape.length - rowAxes).reduce((p, q) => p * q, 1);
  if (special && n / run >= 7 && run >= 3) {
    x[0] = Infinity;
    x.fill(-Infinity, run, 2 * run);
    x[2 * run + 1] = NaN;
    x[3 * run] = 3e38;
    x[3 * run + 1] = -3e38;
    x.fill(-Math.log(run), 4 * run, 5 * run);
    x[5 * run] = -Infinity;
    x[6 * run] = Infinity;
    x[6 * run + 2] = NaN;
  }
  return x;
}

/**
 * The fast backend's results within 2 ulps of the reference's or `tolerance(i)` of them where
 * terms cancel; non-finite results exactly (NaN for NaN).
 */
function agreeRows(what: string, ref: Tensor, fast: Tensor, tolerance: (i: number) => number): void {
  assert.equal([...fast.shape], [...ref.shape], what);
  const r = ref.data(), f = fast.data();
  for (let i = 0; i < r.length; i++) {
    const ok = !Number.isFinite(r[i]!) ? Object.is(r[i], f[i]) || (r[i] !== r[i] && f[i] !== f[i])
      : Math.abs(ordered(r[i]!) - ordered(f[i]!)) <= 2 || Math.abs(r[i]! - f[i]!) <= tolerance(i);
    if (!ok) assert.unreachable(`${what} at ${i}: ${f[i]} vs ${r[i]}`);
  }
}

test('float32 logsumexp over trailing axes: within 2 ulps + 2^-21 of the reference, infinities and NaN as it gives them', () => {
  const rng = new Rng(18);
  const cases: [number[], number[]][] = [
    [[32, 10], [1]], [[64, 10], [1]], [[4, 16], [1]], [[3, 5, 7], [1, 2]], [[2, 3, 1000], [2]], [[1, 17], [1]],
    [[16, 1], [1]], [[5, 3, 4], [0, 1, 2]],
    // rows over several chunks of the kernels' memory, and rows longer than one (the reference's)
    [[4100, 10], [1]], [[2, 16390], [1]],
  ];
  for (const [shape, axes] of cases) {
    for (const [keepdims, special] of [[false, false], [true, false], [false, true]]) {
      const x = softmaxRows(shape, axes.length, special!, rng);
      const ref = cpu.reduce('logsumexp', cpu.fromData(x, shape, 'float32'), axes, keepdims!);
      const fast = fastCpu.reduce('logsumexp', fastCpu.fromData(x, shape, 'float32'), axes, keepdims!);
      agreeRows(`[${shape}] axes [${axes}]${special ? ' special rows' : ''}`, ref, fast, () => 2 ** -21);
    }
  }
});

test('float32 softmax cross entropy and its gradient: within 2 ulps or 2^-21 per unit of target and gradient', () => {
  const rng = new Rng(19);
  for (const shape of [[32, 10], [64, 10], [4, 16], [3, 5, 7], [2, 1000], [1, 17], [16, 1], [4100, 10], [2, 16390]]) {
    for (const [targets, special] of [['one-hot', false], ['soft', false], ['one-hot', true]] as const) {
      const run = shape[shape.length - 1]!, n = shape.reduce((p, q) => p * q, 1), rows = n / run;
      const z = softmaxRows(shape, 1, special, rng);
      const t = new Float32Array(n);
      for (let r = 0; r < rows; r++) {
        if (targets === 'one-hot') t[r * run + rng.int(run)] = 1;
        else for (let i = r * run; i < (r + 1) * run; i++) t[i] = rng.uniform();
      }
      const g = Float32Array.from({ length: rows }, () => rng.range(-2, 2));
      const weight = (r: number): number => t.subarray(r * run, (r + 1) * run).reduce((a, b) => a + b, 0);
      const tensors = (b: typeof cpu) => [b.fromData(z, shape, 'float32'), b.fromData(t, shape, 'float32'), b.fromData(g, shape.slice(0, -1), 'float32')] as const;
      const [rz, rt, rg] = tensors(cpu), [fz, ft, fg] = tensors(fastCpu);
      const what = `[${shape}] ${targets}${special ? ' special rows' : ''}`;
      agreeRows(`${what} loss`, cpu.softmaxCrossEntropy(rz, rt), fastCpu.softmaxCrossEntropy(fz, ft), (r) => 2 ** -21 * Math.max(1, weight(r)));
      agreeRows(`${what} gradient`, cpu.softmaxCrossEntropyGrad(rz, rt, rg), fastCpu.softmaxCrossEntropyGrad(fz, ft, fg),
        (i) => 2 ** -21 * Math.abs(g[Math.floor(i / run)]!) * Math.max(1, weight(Math.floor(i / run))));
    }
  }
});

// ------------------------------------------------------------------ optimizer

const updates: [string, Partial<OptimizerUpdate>][] = [
  ['sgd', { type: 'sgd' }],
  ['sgd + decay', { type: 'sgd', weightDecay: 0.01 }],
  ['momentum', { type: 'momentum' }],
  ['momentum + decay', { type: 'momentum', weightDecay: 0.01 }],
  ['nesterov', { type: 'momentum', nesterov: true }],
  ['nesterov + decay', { type: 'momentum', nesterov: true, weightDecay: 0.01 }],
  ['adam', { type: 'adam' }],
  ['adam + L2', { type: 'adam', weightDecay: 0.01 }],
  ['adamw', { type: 'adamw', weightDecay: 0.01 }],
  ['adamw, no decay', { type: 'adamw' }],
];
const base: OptimizerUpdate = { type: 'sgd', lr: 0.01, weightDecay: 0, momentum: 0.9, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 0 };
const STEPS = 5;

/**
 * For each array an update writes (parameter, then state), the sum of the magnitudes of the
 * terms that form each element, from the inputs of the step: a handful of float32 roundings
 * err by at most a few 2^-24 of it, however much the terms cancel.
 */
function termMagnitudes(u: OptimizerUpdate, p: ArrayLike<number>, g: ArrayLike<number>, state: ArrayLike<number>[]): Float64Array[] {
  const n = p.length, wd = u.weightDecay;
  const out = Array.from({ length: 1 + state.length }, () => new Float64Array(n));
  const c1 = 1 / (1 - u.beta1 ** u.step), c2 = 1 / (1 - u.beta2 ** u.step);
  for (let i = 0; i < n; i++) {
    const P = Math.abs(p[i]!), G = Math.abs(g[i]!);
    if (u.type === 'sgd') {
      out[0]![i] = P + u.lr * (G + wd * P);
    } else if (u.type === 'momentum') {
      const V = u.momentum * Math.abs(state[0]![i]!) + G + wd * P;
      out[1]![i] = V;
      out[0]![i] = P + u.lr * (G + wd * P + V + u.momentum * V);
    } else {
      const l2 = u.type === 'adam' ? wd : 0, d = u.type === 'adamw' ? u.lr * wd : 0;
      const Gd = G + l2 * P;
      const M = u.beta1 * Math.abs(state[0]![i]!) + (1 - u.beta1) * Gd;
      const gd = g[i]! + l2 * p[i]!;
      const v = u.beta2 * state[1]![i]! + (1 - u.beta2) * gd * gd;
      out[1]![i] = M;
      out[2]![i] = u.beta2 * state[1]![i]! + (1 - u.beta2) * Gd * Gd;
      out[0]![i] = P + (2 * u.lr * c1 * M) / (Math.sqrt(v * c2) + u.eps) + d * P;
    }
  }
  return out;
}

/**
 * STEPS updates with both backends; before each, the fast backend's arrays are set to the
 * reference's, so each step is compared from the same start. Calls `check` with each step's
 * results.
 */
function compareUpdates(
  u: OptimizerUpdate, dtype: DType, n: number, rng: Rng,
  check: (ref: ArrayLike<number>[], fast: ArrayLike<number>[], magnitudes: Float64Array[]) => void,
): void {
  const count = u.type === 'sgd' ? 0 : u.type === 'momentum' ? 1 : 2;
  const make = (be: typeof cpu, data?: ArrayLike<number>) => (data ? be.fromData(data, [n], dtype) : be.full([n], 0, dtype));
  const p0 = Array.from({ length: n }, (_, i) => (i % 50 === 0 ? 0 : rng.range(-1, 1)));
  const ref = [make(cpu, p0), ...Array.from({ length: count }, () => make(cpu))];
  const fast = [make(fastCpu, p0), ...Array.from({ length: count }, () => make(fastCpu))];
  for (let t = 1; t <= STEPS; t++) {
    const g = Array.from({ length: n }, (_, i) => (i % 37 === 0 ? 0 : rng.normal() * 10 ** rng.range(-6, 1)));
    ref.forEach((r, j) => fastCpu.write(fast[j]!, r.data()));
    const before = ref.map((r) => Float64Array.from(r.data()));
    const step = { ...u, step: t };
    cpu.optimizerStep(step, ref[0]!, cpu.fromData(g, [n], dtype), ref.slice(1));
    const grad = fastCpu.fromData(g, [n], dtype);
    // Under the backend's threshold (128 elements), the kernel itself.
    if (n >= 128) fastCpu.optimizerStep(step, fast[0]!, grad, fast.slice(1));
    else optimizerUpdate(step, fastCpu.read(fast[0]!), fastCpu.read(grad), fast.slice(1).map((x) => fastCpu.read(x)));
    check(ref.map((x) => x.data()), fast.map((x) => x.data()), termMagnitudes(step, before[0]!, Float32Array.from(g), before.slice(1)));
  }
}

for (const [name, settings] of updates) {
  test(`optimizer ${name} float64: identical to the reference, step by step`, () => {
    const rng = new Rng(15).fork(name);
    for (const n of [1, 7, 64, 1001, CHUNK + 3]) {
      compareUpdates({ ...base, ...settings }, 'float64', n, rng, (ref, fast) => {
        ref.forEach((r, j) => {
          for (let i = 0; i < n; i++) if (!Object.is(fast[j]![i], r[i])) assert.unreachable(`length ${n}, array ${j}, [${i}]: ${fast[j]![i]} vs ${r[i]}`);
        });
      });
    }
  });

  test(`optimizer ${name} float32: each step within 8 * 2^-24 of its terms' magnitudes`, () => {
    const rng = new Rng(16).fork(name);
    for (const n of [1, 7, 64, 1001, CHUNK + 3]) {
      compareUpdates({ ...base, ...settings }, 'float32', n, rng, (ref, fast, magnitudes) => {
        ref.forEach((r, j) => {
          for (let i = 0; i < n; i++) {
            const err = Math.abs(fast[j]![i]! - r[i]!), bound = 8 * 2 ** -24 * magnitudes[j]![i]! + 2 ** -149;
            if (!(err <= bound)) assert.unreachable(`length ${n}, array ${j}, [${i}]: ${fast[j]![i]} vs ${r[i]} (error ${err}, bound ${bound})`);
          }
        });
      });
    }
  });
}

test('parameters and optimizer state resident in WebAssembly memory: the same bits as in JavaScript arrays, neighbours untouched', () => {
  const lengths = [129, 1001, 4099, CHUNK + 5, 2 * CHUNK + 17, 130];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [name, settings] of updates) {
      const rng = new Rng(20).fork(`${dtype}/${name}`);
      const u = { ...base, ...settings };
      const count = u.type === 'sgd' ? 0 : u.type === 'momentum' ? 1 : 2;
      const p0 = lengths.map((n) => Array.from({ length: n }, () => rng.range(-1, 1)));
      const given = p0.map((v, i) => fastCpu.fromData(v, [lengths[i]!], dtype)), pp = p0.map((v, i) => fastCpu.fromData(v, [lengths[i]!], dtype));
      const home = fastCpu.optimizerState(given, count)!;
      assert.ok(home, 'the fast backend gives a home');
      home.params.forEach((h, i) => assert.equal(Array.from(h.data()), Array.from(given[i]!.data()), 'the home holds the values'));
      const plain = lengths.map((n) => Array.from({ length: count }, () => fastCpu.full([n], 0, dtype)));
      for (let t = 1; t <= 3; t++) {
        lengths.forEach((n, i) => {
          const g = fastCpu.fromData(Array.from({ length: n }, () => rng.normal()), [n], dtype);
          fastCpu.optimizerStep({ ...u, step: t }, home.params[i]!, g, home.state[i]!);
          fastCpu.optimizerStep({ ...u, step: t }, pp[i]!, g, plain[i]!);
        });
      }
      lengths.forEach((n, i) => {
        const pairs: [Tensor, Tensor][] = [[home.params[i]!, pp[i]!], ...home.state[i]!.map((r, j): [Tensor, Tensor] => [r, plain[i]![j]!])];
        pairs.forEach(([a, b], j) => {
          const x = a.data(), y = b.data();
          for (let k = 0; k < n; k++) if (!Object.is(x[k], y[k])) assert.unreachable(`${dtype} ${name} length ${n} array ${j} [${k}]: ${x[k]} vs ${y[k]}`);
        });
        assert.equal(Array.from(given[i]!.data()), p0[i]!.map((v) => (dtype === 'float32' ? Math.fround(v) : v)), 'the tensors given stay as they were');
      });
    }
  }
});

test('optimizer state under the smallest normal number is stored as 0, on both backends and dtypes', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const min = dtype === 'float32' ? 2 ** -126 : 2 ** -1022;
    // With a zero gradient and β = 0.5, each state value halves exactly: 2 min stays normal,
    // 1.5 min and the subnormals become subnormal and are flushed; NaN and normal values stay.
    // Adam's second moment is never negative (the optimizer checks 0 <= β2 < 1): it starts
    // from the magnitudes.
    const before = [2 * min, 1.5 * min, -1.5 * min, -2 * min, min / 4, 0, -0, NaN, 1e-3, -7];
    const want = [min, 0, 0, -min, 0, 0, 0, NaN, 5e-4, -3.5];
    const n = 130; // over the fast backend's threshold for the fused kernel
    const state0 = Array.from({ length: n }, (_, i) => before[i % before.length]!);
    for (const [name, settings] of [
      ['momentum', { type: 'momentum', momentum: 0.5 }],
      ['nesterov', { type: 'momentum', momentum: 0.5, nesterov: true }],
      ['adam', { type: 'adam', beta1: 0.5, beta2: 0.5 }],
      ['adamw', { type: 'adamw', beta1: 0.5, beta2: 0.5, weightDecay: 0.01 }],
    ] as const) {
      const u = { ...base, ...settings, step: 1 };
      for (const backend of [cpu, fastCpu]) {
        const p = backend.full([n], 1, dtype), g = backend.full([n], 0, dtype);
        const state = (u.type === 'momentum' ? [0] : [0, 1]).map((j) => backend.fromData(j === 1 ? state0.map(Math.abs) : state0, [n], dtype));
        backend.optimizerStep!(u, p, g, state);
        state.forEach((t, j) => {
          const got = t.data();
          for (let i = 0; i < n; i++) {
            const w = j === 1 ? Math.abs(want[i % want.length]!) : want[i % want.length]!;
            const expected = Math.abs(w) === 5e-4 && dtype === 'float32' ? Math.fround(w) : w;
            if (!Object.is(got[i], expected) && !(Object.is(expected, 0) && got[i] === 0) && !(Number.isNaN(expected) && Number.isNaN(got[i]))) {
              assert.unreachable(`${backend === cpu ? 'reference' : 'fast'} ${dtype} ${name} state ${j} [${i}]: ${got[i]} from ${state0[i]}, want ${expected}`);
            }
          }
        });
      }
    }
  }
});

test.run();
