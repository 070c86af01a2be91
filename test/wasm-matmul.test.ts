import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  closeThreads, matmulF32, matmulF32Parallel, matmulF64, matmulF64Parallel, parallelThreshold, setParallelThreshold,
} from '../src/engine/backends/wasm/index.js';
import { OpError } from '../src/engine/errors.js';
import { defaultShape, kernelBytes } from '../src/engine/backends/wasm/kernels.js';
import { WebAssemblyApi } from '../src/engine/backends/wasm/wasm-api.js';

type Floats = Float32Array | Float64Array;
type Matmul<T extends Floats> = (a: T, b: T, m: number, k: number, n: number, ta: boolean, tb: boolean, out?: T) => T;

/** xorshift32: reproducible inputs in [-1, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 31 - 1;
  };
}

function fill<T extends Floats>(make: new (n: number) => T, n: number, next: () => number): T {
  const x = new make(n);
  for (let i = 0; i < n; i++) x[i] = next();
  return x;
}

/**
 * The float64 product, and for each entry the sum of |a_ip b_pj|: a dot product of k terms
 * summed in any order in precision u is within (k + 1) u of that sum (one rounding per product
 * and per addition), which is the tolerance below.
 */
function reference(a: Floats, b: Floats, m: number, k: number, n: number, ta: boolean, tb: boolean) {
  const c = new Float64Array(m * n), mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, t = 0;
      for (let p = 0; p < k; p++) {
        const x = (ta ? a[p * m + i]! : a[i * k + p]!) * (tb ? b[j * k + p]! : b[p * n + j]!);
        s += x;
        t += Math.abs(x);
      }
      c[i * n + j] = s;
      mag[i * n + j] = t;
    }
  }
  return { c, mag };
}

function expectClose(got: Floats, a: Floats, b: Floats, m: number, k: number, n: number, ta: boolean, tb: boolean, unit: number, what: string): void {
  const { c, mag } = reference(a, b, m, k, n, ta, tb);
  assert.is(got.length, m * n, `${what}: length`);
  for (let i = 0; i < m * n; i++) {
    const tol = 2 * (k + 1) * unit * mag[i]! + Number.MIN_VALUE;
    if (!(Math.abs(got[i]! - c[i]!) <= tol)) {
      assert.unreachable(`${what}: C[${Math.floor(i / n)},${i % n}] = ${got[i]}, expected ${c[i]} (tolerance ${tol})`);
    }
  }
}

const SIZES = [1, 3, 7, 17, 33, 65];
const TRANSPOSES: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

function sweep<T extends Floats>(name: string, make: new (n: number) => T, matmul: Matmul<T>, unit: number): void {
  test(`${name}: every shape from {${SIZES}}^3, all four transpositions, against float64`, () => {
    const next = random(name.length);
    for (const m of SIZES) for (const k of SIZES) for (const n of SIZES) {
      for (const [ta, tb] of TRANSPOSES) {
        const a = fill(make, m * k, next), b = fill(make, k * n, next);
        expectClose(matmul(a, b, m, k, n, ta, tb), a, b, m, k, n, ta, tb, unit, `${name} ${m}x${k}x${n} ta=${ta} tb=${tb}`);
      }
    }
  });

  test(`${name}: shapes across the cache blocks (k > 256, m > 128, n > 4096)`, () => {
    const next = random(7 + name.length);
    for (const [m, k, n] of [[130, 300, 9], [5, 513, 21], [133, 257, 37], [3, 2, 4101]] as const) {
      for (const [ta, tb] of TRANSPOSES) {
        const a = fill(make, m * k, next), b = fill(make, k * n, next);
        expectClose(matmul(a, b, m, k, n, ta, tb), a, b, m, k, n, ta, tb, unit, `${name} ${m}x${k}x${n} ta=${ta} tb=${tb}`);
      }
    }
  });
}

sweep('matmulF32', Float32Array, matmulF32, 2 ** -24);
sweep('matmulF64', Float64Array, matmulF64, 2 ** -53);

test('W3 inputs at n = 128: every entry exact (dyadic products and sums)', () => {
  const n = 128;
  const a = new Float32Array(n * n), b = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      a[i * n + j] = (((i * 7 + j * 3) % 17) - 8) / 8;
      b[i * n + j] = (((i * 5 + j * 11) % 13) - 6) / 4;
    }
  }
  const { c } = reference(a, b, n, n, n, false, false);
  for (const got of [matmulF32(a, b, n, n, n, false, false), matmulF32Parallel(a, b, n, n, n, false, false)]) {
    for (let i = 0; i < n * n; i++) {
      if (got[i] !== c[i]) assert.unreachable(`C[${Math.floor(i / n)},${i % n}] = ${got[i]}, expected exactly ${c[i]}`);
    }
  }
});

test('the parallel products equal the single-thread ones bit for bit (chunks of rows and of columns)', () => {
  const next = random(99);
  // Tall (chunked by rows) and wide (by columns, each chunk packing its own columns of B), odd
  // sizes, above the default threshold; the last is wider than a column block (nc) and deeper
  // than a k block, with a chunk across the column blocks' border.
  for (const [m, k, n] of [[261, 131, 131], [131, 131, 261], [163, 163, 163], [20, 300, 4200]] as const) {
    assert.ok(m * k * n >= parallelThreshold(), 'shape large enough to run on threads');
    for (const [ta, tb] of TRANSPOSES) {
      const a32 = fill(Float32Array, m * k, next), b32 = fill(Float32Array, k * n, next);
      assert.equal(matmulF32Parallel(a32, b32, m, k, n, ta, tb, undefined, 2), matmulF32(a32, b32, m, k, n, ta, tb), `f32 ${m}x${k}x${n} ${ta} ${tb}`);
      const a64 = Float64Array.from(a32), b64 = Float64Array.from(b32);
      assert.equal(matmulF64Parallel(a64, b64, m, k, n, ta, tb, undefined, 2), matmulF64(a64, b64, m, k, n, ta, tb), `f64 ${m}x${k}x${n} ${ta} ${tb}`);
    }
  }
  const a = fill(Float32Array, 200 * 150, next), b = fill(Float32Array, 150 * 150, next);
  expectClose(matmulF32Parallel(a, b, 200, 150, 150, false, false, undefined, 2), a, b, 200, 150, 150, false, false, 2 ** -24, 'parallel vs float64');
  // Larger than anything before: the shared memory grows while the workers hold it.
  const big = 640, a2 = fill(Float32Array, big * 300, next), b2 = fill(Float32Array, 300 * big, next);
  assert.equal(matmulF32Parallel(a2, b2, big, 300, big, false, true, undefined, 2), matmulF32(a2, b2, big, 300, big, false, true), 'after growing');
});

test('with the threshold lowered, even tiny products run on threads, and still agree', () => {
  const previous = setParallelThreshold(1);
  try {
    const next = random(11);
    for (const [m, k, n] of [[1, 1, 1], [3, 5, 2], [2, 9, 70], [33, 17, 7]] as const) {
      const a = fill(Float32Array, m * k, next), b = fill(Float32Array, k * n, next);
      assert.equal(matmulF32Parallel(a, b, m, k, n, true, false, undefined, 2), matmulF32(a, b, m, k, n, true, false));
    }
  } finally {
    setParallelThreshold(previous);
  }
});

test('closeThreads ends the workers; the next parallel product starts new ones', async () => {
  const next = random(5);
  const a = fill(Float64Array, 150 * 140, next), b = fill(Float64Array, 140 * 130, next);
  const want = matmulF64(a, b, 150, 140, 130, false, false);
  await closeThreads();
  assert.equal(matmulF64Parallel(a, b, 150, 140, 130, false, false, undefined, 2), want);
  await closeThreads();
});

test('writes into `out`, and handles empty dimensions', () => {
  const a = Float32Array.of(1, 2, 3, 4), b = Float32Array.of(5, 6, 7, 8);
  const out = new Float32Array(4).fill(NaN);
  assert.is(matmulF32(a, b, 2, 2, 2, false, false, out), out);
  assert.equal([...out], [19, 22, 43, 50]);
  assert.equal([...matmulF32(a, b, 2, 2, 2, true, true)], [23, 31, 34, 46]);
  assert.equal([...matmulF64(new Float64Array(0), new Float64Array(0), 2, 0, 3, false, false, new Float64Array(6).fill(7))], [0, 0, 0, 0, 0, 0]);
  assert.is(matmulF32(new Float32Array(0), new Float32Array(6), 0, 2, 3, false, false).length, 0);
});

test('wrong lengths throw an OpError naming the operand', () => {
  assert.throws(() => matmulF32(new Float32Array(5), new Float32Array(6), 2, 3, 2, false, false), (e: unknown) => e instanceof OpError && /A has 5 elements/.test(e.message));
  assert.throws(() => matmulF64(new Float64Array(6), new Float64Array(5), 2, 3, 2, false, false), (e: unknown) => e instanceof OpError && /B has 5/.test(e.message));
  assert.throws(() => matmulF32(new Float32Array(6), new Float32Array(6), 2, 3, 2, false, false, new Float32Array(3)), (e: unknown) => e instanceof OpError && /out has 3/.test(e.message));
});

test('the assembled modules validate (f32 and f64, shared and not, with and without relaxed multiply-add)', () => {
  for (const elt of [4, 8] as const) {
    for (const shared of [false, true]) {
      assert.ok(WebAssemblyApi.validate(kernelBytes(defaultShape(elt, false), shared)), `elt ${elt} shared ${shared}`);
    }
  }
  // The relaxed-SIMD variant must at least decode; engines without relaxed SIMD reject it.
  assert.instance(kernelBytes(defaultShape(4, true), false), Uint8Array);
});

test.run();
