// The fast CPU backend (WebAssembly SIMD matrix products, threads for large ones) against the
// plain TypeScript reference backend, on random shapes with odd sizes, both dtypes, every
// transpose combination and batches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, cpu, fastCpu, type DType } from '../src/index.js';
import { setParallelThreshold } from '../src/engine/backends/wasm/index.js';

function random(shape: number[], dtype: DType, rng: Rng) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: n }, () => rng.range(-1, 1));
  return [cpu.fromData(data, shape, dtype), fastCpu.fromData(data, shape, dtype)] as const;
}

function agree(dtype: DType, m: number, k: number, n: number, ta: boolean, tb: boolean, batch: number[], rng: Rng) {
  const [a1, a2] = random([...batch, ...(ta ? [k, m] : [m, k])], dtype, rng);
  const [b1, b2] = random([...batch, ...(tb ? [n, k] : [k, n])], dtype, rng);
  const ref = cpu.matmul(a1, b1, ta, tb), fast = fastCpu.matmul(a2, b2, ta, tb);
  assert.equal([...fast.shape], [...ref.shape]);
  const r = ref.data(), f = fast.data();
  // Sums in another order: within k roundings of the largest partial sum (|a|,|b| <= 1).
  const tol = (dtype === 'float32' ? 2 ** -23 : 2 ** -52) * 2 * k;
  for (let i = 0; i < r.length; i++) {
    if (!(Math.abs(r[i]! - f[i]!) <= tol)) assert.unreachable(`${dtype} ${m}x${k}x${n} ta=${ta} tb=${tb} batch=[${batch}]: [${i}] ${f[i]} vs ${r[i]}`);
  }
}

const sizes = [1, 3, 7, 17, 33, 65];
for (const dtype of ['float32', 'float64'] as DType[]) {
  test(`matmul ${dtype}: every transpose, odd sizes, against the reference`, () => {
    const rng = new Rng(5).fork(dtype);
    for (const ta of [false, true]) for (const tb of [false, true]) {
      for (let trial = 0; trial < 12; trial++) {
        agree(dtype, sizes[rng.int(6)]!, sizes[rng.int(6)]!, sizes[rng.int(6)]!, ta, tb, [], rng);
      }
    }
  });
  test(`matmul ${dtype}: batched operands and a shared right operand`, () => {
    const rng = new Rng(6).fork(dtype);
    agree(dtype, 5, 9, 3, false, false, [4], rng);
    agree(dtype, 7, 2, 6, true, true, [2, 3], rng);
    const [a1, a2] = random([3, 5, 4], dtype, rng);
    const [b1, b2] = random([4, 6], dtype, rng);
    assert.equal([...fastCpu.matmul(a2, b2, false, false).data()].map((v) => Math.round(v * 1e5)), [...cpu.matmul(a1, b1, false, false).data()].map((v) => Math.round(v * 1e5)));
  });
}

test('large products on worker threads agree with one thread', () => {
  const rng = new Rng(9);
  const previous = setParallelThreshold(1);
  try {
    agree('float32', 70, 90, 50, false, true, [], rng);
    agree('float64', 33, 65, 17, true, false, [], rng);
  } finally {
    setParallelThreshold(previous);
  }
});

/** acc + op(a) @ op(b), summed inside the kernel, against the reference's product then sum. */
function agreeAdd(dtype: DType, m: number, k: number, n: number, ta: boolean, tb: boolean, rng: Rng) {
  const [a1, a2] = random(ta ? [k, m] : [m, k], dtype, rng);
  const [b1, b2] = random(tb ? [n, k] : [k, n], dtype, rng);
  const [c1, c2] = random([m, n], dtype, rng);
  cpu.addMatmulInPlace(c1, a1, b1, ta, tb);
  fastCpu.addMatmulInPlace(c2, a2, b2, ta, tb);
  const r = c1.data(), f = c2.data();
  const tol = (dtype === 'float32' ? 2 ** -23 : 2 ** -52) * 2 * (k + 2);
  for (let i = 0; i < r.length; i++) {
    if (!(Math.abs(r[i]! - f[i]!) <= tol)) assert.unreachable(`add ${dtype} ${m}x${k}x${n} ta=${ta} tb=${tb}: [${i}] ${f[i]} vs ${r[i]}`);
  }
}

for (const dtype of ['float32', 'float64'] as DType[]) {
  test(`products added in place, ${dtype}: every transpose, odd sizes, one thread and several`, () => {
    const rng = new Rng(10).fork(dtype);
    for (const ta of [false, true]) for (const tb of [false, true]) {
      for (let trial = 0; trial < 8; trial++) agreeAdd(dtype, sizes[rng.int(6)]!, sizes[rng.int(6)]!, sizes[rng.int(6)]!, ta, tb, rng);
    }
    const previous = setParallelThreshold(1);
    try {
      agreeAdd(dtype, 70, 90, 50, false, true, rng);
      agreeAdd(dtype, 33, 300, 17, true, false, rng); // several k blocks
    } finally {
      setParallelThreshold(previous);
    }
    // k = 0 leaves the sum as it was.
    const [c] = random([3, 4], dtype, rng);
    const before = [...c.data()];
    fastCpu.addMatmulInPlace(c, fastCpu.full([3, 0], 0, dtype), fastCpu.full([0, 4], 0, dtype), false, false);
    assert.equal([...c.data()], before);
  });
}

for (const dtype of ['float32', 'float64'] as DType[]) {
  test(`linear ${dtype}: x W + b with the bias added in the kernel, odd sizes, one thread and several`, () => {
    const rng = new Rng(12).fork(dtype);
    const agreeLinear = (m: number, k: number, n: number) => {
      const [x1, x2] = random([m, k], dtype, rng), [w1, w2] = random([k, n], dtype, rng), [b1, b2] = random([n], dtype, rng);
      const ref = cpu.linear(x1, w1, b1), fast = fastCpu.linear(x2, w2, b2);
      assert.equal([...fast.shape], [m, n]);
      assert.equal([...ref.shape], [m, n]);
      const r = ref.data(), f = fast.data();
      // The reference rounds once; the kernel's sum within k + 1 roundings of |b| + Σ|x||w| <= k + 1.
      const tol = (dtype === 'float32' ? 2 ** -23 : 2 ** -52) * 2 * (k + 2);
      for (let i = 0; i < r.length; i++) {
        if (!(Math.abs(r[i]! - f[i]!) <= tol)) assert.unreachable(`linear ${dtype} ${m}x${k}x${n}: [${i}] ${f[i]} vs ${r[i]}`);
      }
      // The reference is x W then + b, rounded once.
      const composed = cpu.binary('add', cpu.matmul(x1, w1, false, false), b1).data();
      for (let i = 0; i < r.length; i++) assert.ok(Math.abs(r[i]! - composed[i]!) <= tol, `reference [${i}]`);
    };
    for (let trial = 0; trial < 12; trial++) agreeLinear(sizes[rng.int(6)]!, sizes[rng.int(6)]!, sizes[rng.int(6)]!);
    agreeLinear(4, 0, 3);
    const previous = setParallelThreshold(1);
    try {
      agreeLinear(70, 90, 50);
    } finally {
      setParallelThreshold(previous);
    }
  });
}

test('elementwise kernels: each op has its own loop and they do not disturb each other', () => {
  const rng = new Rng(2);
  const [a] = random([64], 'float64', rng);
  const [b] = random([64], 'float64', rng);
  const da = a.data(), db = b.data();
  for (const [op, f] of [['mul', (x: number, y: number) => x * y], ['add', (x: number, y: number) => x + y], ['sub', (x: number, y: number) => x - y], ['div', (x: number, y: number) => x / y]] as const) {
    const out = cpu.binary(op, a, b).data();
    for (let i = 0; i < 64; i++) assert.is(out[i], f(da[i]!, db[i]!));
  }
  const t = cpu.unary('tanh', a).data();
  for (let i = 0; i < 64; i++) assert.is(t[i], Math.tanh(da[i]!));
});

test.run();
