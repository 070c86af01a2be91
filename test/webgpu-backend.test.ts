/**
 * The WebGPU backend against the CPU backend (the reference), op by op, on random inputs with
 * odd sizes, special values and every code path (contiguous and broadcast, thread and
 * workgroup reductions, chunked reductions, every matmul transpose).
 *
 * float32 tolerances, |gpu - cpu| <= atol + rtol * |cpu| unless said otherwise:
 * - exact (bit-equal up to the sign of 0): copies (broadcastTo, transpose, slice, pad, concat,
 *   gather, reshape), where, comparisons, neg/abs/sign/relu, add/sub/mul (IEEE rounding on both
 *   sides), max, sums of small integers (exact in float32), scatterAdd of small integers;
 * - div: rtol 1e-6 (Vulkan allows 2.5 ulp);
 * - log, sqrt, sin, cos, tan, asin, acos, atan: rtol 2e-6 (the kernels' own polynomials, at
 *   most 2 ulp measured on llvmpipe); exp and what is built on it (sinh, cosh, tanh, sigmoid,
 *   softplus), pow: rtol 1e-5 (Vulkan allows exp 3 + 2|x| ulp; llvmpipe is at most 16 measured).
 *   Relative, not absolute: a result near 0 must keep its digits;
 * - sums of random floats and logsumexp: atol 1e-5 * sum|x| over the reduced elements
 *   (a bound on float32 accumulation error far below the effect of a missing element);
 * - matmul: 2 k u (|A| |B|)_ij with u = 2^-24, the classical bound for a dot product of length k.
 * NaN must meet NaN and an infinity the same infinity.
 *
 * Where no adapter exists the file prints why and registers no test; RMAD_REQUIRE_GPU=1 (set
 * by CI, which installs the driver) turns that into a failure.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { BinaryOp, ReduceOp, UnaryOp } from '../src/engine/backend.js';
import { CpuBackend } from '../src/engine/backends/cpu.js';
import { Rng } from '../src/engine/random.js';
import { sizeOf, type Shape, type Tensor } from '../src/engine/tensor.js';
import { GpuDtypeError, NoGpuError, createWebGpuBackend, type WebGpuBackend } from '../src/engine/backends/webgpu/index.js';

const cpu = new CpuBackend();
const U = 2 ** -24;

let gpu: WebGpuBackend | null = null;
try {
  gpu = createWebGpuBackend();
} catch (e) {
  if (!(e instanceof NoGpuError)) throw e;
  if (process.env.RMAD_REQUIRE_GPU === '1') {
    test('webgpu adapter (RMAD_REQUIRE_GPU=1)', () => assert.unreachable(e.message));
  } else {
    console.log(`webgpu: no adapter (${e.reason}); GPU tests skipped`);
  }
}

interface Tol { rtol?: number; atol?: number | ArrayLike<number> }

/** Fails at the first element outside tolerance, naming it. */
function assertClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol = {}): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  const rtol = tol.rtol ?? 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const atol = typeof tol.atol === 'number' ? tol.atol : tol.atol ? tol.atol[i]! : 0;
    const ok = Number.isNaN(e) ? Number.isNaN(a)
      : !Number.isFinite(e) ? a === e
      : Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) assert.unreachable(`${what}: element ${i}: gpu ${a}, cpu ${e} (rtol ${rtol}, atol ${atol})`);
  }
}

function randoms(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.range(lo, hi);
  return out;
}

function ints(rng: Rng, n: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + rng.int(hi - lo + 1);
  return out;
}

if (gpu) {
  const g = gpu;
  const rng = new Rng(20261127);
  console.log(`webgpu: ${g.adapter.description || g.adapter.device} (${g.adapter.vendor}, ${g.adapter.architecture})`);

  /** The same data on both backends. */
  const both = (data: ArrayLike<number>, shape: Shape): [Tensor, Tensor] =>
    [g.fromData(data, shape, 'float32'), cpu.fromData(data, shape, 'float32')];
  const rand = (shape: Shape, lo = -1, hi = 1) => both(randoms(rng, sizeOf(shape), lo, hi), shape);
  const check = (what: string, x: Tensor, ref: Tensor, tol?: Tol) => {
    assert.equal([...x.shape], [...ref.shape], `${what}: shape`);
    assertClose(what, x.data(), ref.data(), tol);
  };

  test('fromData, read, full and write round-trip, 0-d and empty included', () => {
    for (const shape of [[], [0], [1], [7], [3, 0, 2], [3, 5, 7], [100003]]) {
      const data = randoms(rng, sizeOf(shape), -1e3, 1e3);
      const [x] = both(data, shape);
      assert.equal([...x.shape], shape);
      assertClose(`read [${shape}]`, x.data(), data);
      for (const v of [0, -2.5, Infinity, NaN]) assertClose(`full [${shape}] ${v}`, g.full(shape, v, 'float32').data(), new Float32Array(sizeOf(shape)).fill(v));
      const next = randoms(rng, sizeOf(shape));
      g.write(x, next);
      assertClose(`write [${shape}]`, x.data(), next);
    }
    assert.throws(() => g.fromData([1, 2, 3], [2, 2], 'float32'), /3 values do not fill/);
  });

  test('float64 is refused with a message that says what to do', () => {
    for (const f of [() => g.fromData([1], [1], 'float64'), () => g.full([2], 0, 'float64')]) {
      try {
        f();
        assert.unreachable('no error');
      } catch (e) {
        assert.instance(e, GpuDtypeError);
        assert.match((e as Error).message, /float64 is not supported on the GPU/);
        assert.match((e as Error).message, /newContext\('float32', \{ device: 'gpu' \}\)/);
      }
    }
    assert.throws(() => g.unary('exp', cpu.fromData([1], [1], 'float32')), /belongs to the 'cpu' backend/);
  });

  const unaryDomains: { [K in UnaryOp]: [number, number] } = {
    neg: [-10, 10], exp: [-20, 20], log: [1e-3, 1e3], sqrt: [0, 1e3], abs: [-10, 10], sign: [-2, 2],
    sin: [-20, 20], cos: [-20, 20], tan: [-1.4, 1.4], asin: [-1, 1], acos: [-1, 1], atan: [-50, 50],
    sinh: [-10, 10], cosh: [-10, 10], tanh: [-10, 10], sigmoid: [-30, 30], softplus: [-30, 30], relu: [-5, 5],
  };
  const exactUnary = new Set<UnaryOp>(['neg', 'abs', 'sign', 'relu']);
  // Functions built on exp inherit its error, which Vulkan lets grow as 3 + 2|x| ulp.
  const expBased = new Set<UnaryOp>(['exp', 'sinh', 'cosh', 'tanh', 'sigmoid', 'softplus']);
  /** Relative tolerances only (atol 1e-37 lets a GPU flush subnormal results to 0). */
  const unaryTol = (op: UnaryOp): Tol => (exactUnary.has(op) ? {} : { rtol: expBased.has(op) ? 1e-5 : 2e-6, atol: 1e-37 });
  const specials = [0, -0, 1e-30, -1e-30, 1e-4, -1e-4, 0.05, -0.05, 0.5, -0.5, 1, -1, 2, -2, 20, -20, 88, -88, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];

  test('unary: every op on its domain (odd sizes) and on special values', () => {
    for (const op of Object.keys(unaryDomains) as UnaryOp[]) {
      const tol = unaryTol(op);
      const [lo, hi] = unaryDomains[op];
      for (const shape of [[1], [5, 7], [1031]]) {
        const [x, r] = rand(shape, lo, hi);
        check(`${op} [${shape}]`, g.unary(op, x), cpu.unary(op, r), tol);
      }
      // Near 0 every op keeps its relative precision (the series branches of sinh and tanh,
      // softplus of very negative numbers through log1p).
      const [xs, rs] = rand([257], -0.3, 0.3);
      check(`${op} near 0`, g.unary(op, xs), cpu.unary(op, rs), tol);
      if (op === 'softplus' || op === 'sigmoid') {
        const [xn, rn] = rand([257], -25, -8);
        check(`${op} very negative`, g.unary(op, xn), cpu.unary(op, rn), tol);
      }
      // tan is not continuous at its poles, so its specials stay away from them; sin, cos and
      // tan reduce their argument in float32 (see kernels.ts), so 1e30 is out of their range.
      const trig = op === 'sin' || op === 'cos' || op === 'tan';
      const sp = specials.filter((v) => !Number.isFinite(v) || !trig || Math.abs(v) <= (op === 'tan' ? 2 : 100));
      const [xe, re] = both(sp, [sp.length]);
      check(`${op} specials`, g.unary(op, xe), cpu.unary(op, re), tol);
    }
  });

  const binaryOps: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'gt', 'ge', 'lt', 'le', 'eq', 'ne'];
  const binTol = (op: BinaryOp): Tol => (op === 'div' ? { rtol: 1e-6 } : op === 'pow' ? { rtol: 1e-5, atol: 1e-37 } : {});
  const shapePairs: [Shape, Shape][] = [
    [[5, 7], [5, 7]], [[], [2, 3]], [[2, 3], []], [[3, 7], [7]], [[7], [3, 7]], [[3, 1, 5], [4, 5]],
    [[4, 1], [1, 6]], [[2, 3, 1, 4], [3, 5, 1]], [[1031], [1031]], [[1], [1]],
  ];

  test('binary: every op, broadcasting on odd shapes', () => {
    for (const op of binaryOps) {
      for (const [sa, sb] of shapePairs) {
        // Small integers make ties common, so the comparisons are tested at equality too; pow
        // gets positive bases (negative ones are tested with integer exponents below).
        const cmp = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'].includes(op);
        const [a, ra] = cmp ? both(ints(rng, sizeOf(sa), -2, 2), sa) : rand(sa, op === 'pow' ? 0.1 : -3, 3);
        const [b, rb] = cmp ? both(ints(rng, sizeOf(sb), -2, 2), sb) : rand(sb, -3, 3);
        check(`${op} [${sa}] [${sb}]`, g.binary(op, a, b), cpu.binary(op, ra, rb), binTol(op));
      }
    }
  });

  test('binary: special values (pow\'s JavaScript semantics, NaN in comparisons, division by 0)', () => {
    const xs = [-Infinity, -2, -1, -0.5, -0, 0, 0.5, 1, 2, 3, Infinity, NaN];
    const ys = [-Infinity, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 7, Infinity, NaN];
    const [a, ra] = both(xs, [xs.length, 1]);
    const [b, rb] = both(ys, [1, ys.length]);
    for (const op of binaryOps) check(`${op} specials`, g.binary(op, a, b), cpu.binary(op, ra, rb), binTol(op));
    const [na, rna] = both(ints(rng, 211, -5, 5), [211]);
    const [nb, rnb] = both(ints(rng, 211, -4, 4), [211]);
    check('pow negative bases, integer exponents', g.binary('pow', na, nb), cpu.binary('pow', rna, rnb), { rtol: 1e-6 });
  });

  test('where: broadcasting condition and branches, NaN condition counts as true', () => {
    for (const [sc, sa, sb] of [[[5, 7], [5, 7], [5, 7]], [[5, 1], [7], []], [[1, 4], [3, 1], [3, 4]], [[9], [9], [1]]] as Shape[][]) {
      const cdata = ints(rng, sizeOf(sc!), 0, 1);
      if (cdata.length > 2) cdata[1] = NaN;
      const [c, rc] = both(cdata, sc!);
      const [a, ra] = rand(sa!);
      const [b, rb] = rand(sb!);
      check(`where [${sc}] [${sa}] [${sb}]`, g.where(c, a, b), cpu.where(rc, ra, rb));
    }
  });

  /** Every sorted subset of the axes of a rank-r tensor. */
  const subsets = (r: number): number[][] => {
    const out: number[][] = [];
    for (let m = 0; m < 1 << r; m++) out.push([...Array(r).keys()].filter((d) => m & (1 << d)));
    return out;
  };

  /** Tolerance per output: atol 1e-5 * sum|x| over the elements reduced into it. */
  const reduceTol = (x: Tensor, axes: number[], keepdims: boolean): Tol => {
    const abs = cpu.unary('abs', x);
    return { rtol: 1e-5, atol: Array.from(cpu.reduce('sum', abs, axes, keepdims).data(), (s) => 1e-5 * s + 1e-6) };
  };

  test('reduce: sum, max, logsumexp over every set of axes, keepdims or not', () => {
    const shape = [3, 4, 5, 6];
    const [x, r] = rand(shape, -4, 4);
    const [xi, ri] = both(ints(rng, sizeOf(shape), -8, 8), shape);
    for (const axes of subsets(shape.length)) {
      for (const keepdims of [false, true]) {
        const what = `axes [${axes}] keepdims ${keepdims}`;
        check(`sum ${what}`, g.reduce('sum', x, axes, keepdims), cpu.reduce('sum', r, axes, keepdims), reduceTol(r, axes, keepdims));
        check(`integer sum ${what}`, g.reduce('sum', xi, axes, keepdims), cpu.reduce('sum', ri, axes, keepdims));
        check(`max ${what}`, g.reduce('max', x, axes, keepdims), cpu.reduce('max', r, axes, keepdims));
        check(`logsumexp ${what}`, g.reduce('logsumexp', x, axes, keepdims), cpu.reduce('logsumexp', r, axes, keepdims), { rtol: 1e-5, atol: 1e-5 });
      }
    }
  });

  test('reduce: long, wide and chunked layouts (thread, workgroup and two-pass kernels)', () => {
    const cases: [Shape, number[]][] = [
      [[100003], [0]], [[300007], [0]], [[3, 50001], [1]], [[50001, 3], [0]], [[5000, 3], [1]],
      [[3, 5000], [0]], [[257, 300], [1]], [[257, 300], [0]], [[17, 33, 65], [0, 2]], [[0, 4], [0]], [[4, 0], [1]],
    ];
    for (const [shape, axes] of cases) {
      const [xi, ri] = both(ints(rng, sizeOf(shape), -8, 8), shape);
      check(`integer sum [${shape}] axes [${axes}]`, g.reduce('sum', xi, axes, false), cpu.reduce('sum', ri, axes, false));
      const [x, r] = rand(shape, -3, 3);
      for (const op of ['sum', 'max', 'logsumexp'] as ReduceOp[]) {
        const tol = op === 'max' ? {} : reduceTol(r, axes, false);
        check(`${op} [${shape}] axes [${axes}]`, g.reduce(op, x, axes, false), cpu.reduce(op, r, axes, false), tol);
      }
    }
  });

  test('reduce: infinities and NaN (max propagates NaN, logsumexp of -inf rows is -inf)', () => {
    const data = [
      -Infinity, -Infinity, -Infinity, // all -inf
      1, Infinity, 2, // +inf
      Infinity, Infinity, 0, // two +inf
      1, NaN, 3, // NaN
      1000, 1000, -1000, // large: needs the max shift
      -Infinity, 5, -Infinity,
    ];
    const [x, r] = both(data, [6, 3]);
    for (const op of ['sum', 'max', 'logsumexp'] as ReduceOp[]) {
      check(`${op} specials`, g.reduce(op, x, [1], true), cpu.reduce(op, r, [1], true), { rtol: 1e-6 });
    }
    // The same through the workgroup kernel (long rows).
    const long = new Float32Array(2 * 5000).fill(-Infinity);
    long[7000] = 3;
    const [xl, rl] = both(long, [2, 5000]);
    check('logsumexp long -inf rows', g.reduce('logsumexp', xl, [1], false), cpu.reduce('logsumexp', rl, [1], false), { rtol: 1e-6 });
  });

  test('broadcastTo', () => {
    for (const [from, to] of [[[], [3, 2]], [[3, 1], [3, 4]], [[4], [2, 3, 4]], [[2, 1, 3], [2, 5, 3]], [[5, 7], [5, 7]]] as Shape[][]) {
      const [x, r] = rand(from!);
      check(`broadcastTo [${from}] -> [${to}]`, g.broadcastTo(x, to!), cpu.broadcastTo(r, to!));
    }
    assert.throws(() => g.broadcastTo(g.full([3], 1, 'float32'), [4]));
  });

  test('matmul: every transpose pair, odd and tile-sized shapes, batched, b 2-d', () => {
    const sizes: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [64, 64, 64], [65, 129, 67], [130, 3, 200], [2, 300, 1], [5, 0, 3]];
    const product = (ra: Tensor, rb: Tensor, ta: boolean, tb: boolean, k: number): Tol => {
      const bound = cpu.matmul(cpu.unary('abs', ra), cpu.unary('abs', rb), ta, tb).data();
      return { atol: Array.from(bound, (v) => 2 * k * U * v + 1e-30) };
    };
    for (const [m, k, n] of sizes) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const [a, ra] = rand(ta ? [k, m] : [m, k]);
          const [b, rb] = rand(tb ? [n, k] : [k, n]);
          check(`matmul ${m}x${k}x${n} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`, g.matmul(a, b, ta, tb), cpu.matmul(ra, rb, ta, tb), product(ra, rb, ta, tb, k));
        }
      }
    }
    for (const [ta, tb] of [[false, false], [true, true], [false, true]] as [boolean, boolean][]) {
      const [a, ra] = rand(ta ? [2, 3, 17, 33] : [2, 3, 33, 17]);
      const [b, rb] = rand(tb ? [2, 3, 29, 17] : [2, 3, 17, 29]);
      check(`batched matmul ${ta}${tb}`, g.matmul(a, b, ta, tb), cpu.matmul(ra, rb, ta, tb), product(ra, rb, ta, tb, 17));
      const [b2, rb2] = rand(tb ? [29, 17] : [17, 29]);
      check(`batched @ 2-d ${ta}${tb}`, g.matmul(a, b2, ta, tb), cpu.matmul(ra, rb2, ta, tb), product(ra, rb2, ta, tb, 17));
    }
    assert.throws(() => g.matmul(g.full([2, 3], 1, 'float32'), g.full([4, 2], 1, 'float32'), false, false), /inner dimensions differ/);
  });

  test('transpose (every permutation of rank 3, some of rank 4), reshape shares storage', () => {
    const [x, r] = rand([3, 4, 5]);
    for (const perm of [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]) {
      check(`transpose [${perm}]`, g.transpose(x, perm), cpu.transpose(r, perm));
    }
    const [y, ry] = rand([2, 3, 1, 5]);
    for (const perm of [[3, 2, 1, 0], [1, 3, 0, 2]]) check(`transpose4 [${perm}]`, g.transpose(y, perm), cpu.transpose(ry, perm));
    const [m, rm] = rand([37, 129]);
    check('transpose 2-d', g.transpose(m, [1, 0]), cpu.transpose(rm, [1, 0]));
    const v = g.reshape(x, [12, 5]);
    check('reshape', v, cpu.reshape(r, [12, 5]));
    // A reshape views the same buffer: a write through the original shows through it.
    const fresh = randoms(rng, 60);
    g.write(x, fresh);
    assertClose('write seen through reshape', v.data(), fresh);
    assert.throws(() => g.reshape(x, [7, 9]), /cannot reshape/);
  });

  test('slice (contiguous blocks and strided windows), pad, concat', () => {
    const [x, r] = rand([4, 5, 6]);
    const slices: [number[], number[]][] = [
      [[1, 0, 0], [2, 5, 6]], [[2, 3, 0], [1, 1, 6]], [[0, 1, 2], [4, 3, 3]], [[3, 4, 5], [1, 1, 1]], [[0, 0, 0], [4, 5, 6]], [[1, 1, 1], [0, 2, 2]],
    ];
    for (const [b, s] of slices) check(`slice [${b}] [${s}]`, g.slice(x, b, s), cpu.slice(r, b, s));
    assert.throws(() => g.slice(x, [3, 0, 0], [2, 5, 6]), /outside/);
    for (const [b, a] of [[[0, 0, 0], [0, 0, 0]], [[1, 0, 2], [0, 3, 1]], [[2, 2, 2], [1, 1, 1]]]) {
      check(`pad [${b}] [${a}]`, g.pad(x, b!, a!), cpu.pad(r, b!, a!));
    }
    for (const axis of [0, 1, 2]) {
      const parts = [1, 3, 2].map((len) => {
        const shape = [4, 5, 6];
        shape[axis] = len;
        return rand(shape);
      });
      check(`concat axis ${axis}`, g.concat(parts.map((p) => p[0]), axis), cpu.concat(parts.map((p) => p[1]), axis));
    }
    const [s1, rs1] = rand([7]);
    check('concat one', g.concat([s1], 0), cpu.concat([rs1], 0));
  });

  test('gather and scatterAdd (repeated indices, every axis); scatterAdd is deterministic', () => {
    const [x, r] = rand([5, 6, 7]);
    for (const axis of [0, 1, 2]) {
      const len = [5, 6, 7][axis]!;
      const idx = Int32Array.from({ length: 11 }, () => rng.int(len));
      idx[1] = idx[0]!;
      check(`gather axis ${axis}`, g.gather(x, idx, axis), cpu.gather(r, idx, axis));
      const shape = [5, 6, 7];
      shape[axis] = idx.length;
      const [gi, rgi] = both(ints(rng, sizeOf(shape), -8, 8), shape);
      check(`scatterAdd integers axis ${axis}`, g.scatterAdd(gi, idx, axis, [5, 6, 7]), cpu.scatterAdd(rgi, idx, axis, [5, 6, 7]));
      const [gf, rgf] = rand(shape);
      const once = g.scatterAdd(gf, idx, axis, [5, 6, 7]);
      check(`scatterAdd axis ${axis}`, once, cpu.scatterAdd(rgf, idx, axis, [5, 6, 7]), { rtol: 1e-6, atol: 1e-6 });
      assert.equal(Array.from(g.scatterAdd(gf, idx, axis, [5, 6, 7]).data()), Array.from(once.data()), 'same bits on a second run');
    }
    check('gather no indices', g.gather(x, new Int32Array(0), 1), cpu.gather(r, new Int32Array(0), 1));
    assert.throws(() => g.gather(x, Int32Array.from([0, 5]), 0), /index 5 .* out of range/);
    // An embedding-sized case: many rows, few of them hit, many hits each.
    const idx = Int32Array.from({ length: 2000 }, () => rng.int(50) * 7);
    const [gg, rgg] = both(ints(rng, 2000 * 9, -4, 4), [2000, 9]);
    check('scatterAdd embedding', g.scatterAdd(gg, idx, 0, [1000, 9]), cpu.scatterAdd(rgg, idx, 0, [1000, 9]));
  });

  test('allFinite finds one NaN or Inf anywhere', () => {
    for (const n of [1, 7, 1031, 200003]) {
      const data = randoms(rng, n);
      assert.is(g.allFinite(g.fromData(data, [n], 'float32')), true, `finite ${n}`);
      for (const bad of [NaN, Infinity, -Infinity]) {
        const d = data.slice();
        d[rng.int(n)] = bad;
        assert.is(g.allFinite(g.fromData(d, [n], 'float32')), false, `${bad} in ${n}`);
      }
    }
    assert.is(g.allFinite(g.full([0], 0, 'float32')), true);
  });

  test('dispose returns the buffer to the pool; a disposed tensor refuses use', () => {
    const before = g.device.memory();
    const x = g.full([1000], 1, 'float32');
    const live = g.device.memory().liveBytes;
    assert.ok(live > before.liveBytes, 'allocation counted');
    g.dispose(x);
    assert.is(g.device.memory().liveBytes, live - 4096);
    assert.throws(() => x.data(), /was disposed/);
    g.dispose(x); // twice is harmless
    // The next tensor of that size takes the pooled buffer.
    const pooled = g.device.memory().pooledBytes;
    const y = g.full([1000], 2, 'float32');
    assert.is(g.device.memory().pooledBytes, pooled - 4096);
    assertClose('reused buffer', y.data(), new Float32Array(1000).fill(2));
    // A reshape keeps the buffer alive after its source is disposed.
    const v = g.reshape(y, [10, 100]);
    g.dispose(y);
    assertClose('view outlives its source', v.data(), new Float32Array(1000).fill(2));
  });

  test('garbage-collected tensors return their buffers to the pool', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const live = g.device.memory().liveBytes;
    (() => {
      for (let i = 0; i < 20; i++) g.full([5000], i, 'float32');
    })();
    assert.ok(g.device.memory().liveBytes >= live + 20 * 20000, 'allocations counted');
    for (let i = 0; i < 10 && g.device.memory().liveBytes > live; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(g.device.memory().liveBytes <= live, `live bytes back to ${live}, now ${g.device.memory().liveBytes}`);
  });

  test('the comparison helper itself rejects what it should', () => {
    const rejects = (a: number[], e: number[], tol?: Tol) => {
      try {
        assertClose('self', a, e, tol);
      } catch {
        return true;
      }
      return false;
    };
    assert.ok(rejects([1, 2], [1, 2.5]));
    assert.ok(rejects([NaN], [1]));
    assert.ok(rejects([1], [NaN]));
    assert.ok(rejects([Infinity], [-Infinity]));
    assert.ok(rejects([1.1], [1], { rtol: 0.05 }));
    assert.not.ok(rejects([1.04, NaN, -Infinity], [1, NaN, -Infinity], { rtol: 0.05 }));
  });
}

test.run();
