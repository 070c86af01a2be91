// The reference backend's broadcasting against a naive definition: every output element read
// through its own multi-index. The backend takes shortcuts for common forms (a scalar, a bias
// over the trailing axes, a per-row value over the leading ones); each must give the same bits
// as the definition, on both backends and dtypes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BinaryOp } from '../src/engine/backend.js';
import { isLeading } from '../src/engine/backends/cpu.js';
import { Rng, cpu, fastCpu, type DType, type Shape } from '../src/index.js';

const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'gt', 'eq'];
const apply: { [K in BinaryOp]?: (x: number, y: number) => number } = {
  add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y,
  pow: (x, y) => Math.pow(x, y), gt: (x, y) => (x > y ? 1 : 0), eq: (x, y) => (x === y ? 1 : 0),
};

/** Pairs of shapes that broadcast: every form the backend singles out, and some it does not. */
const pairs: [Shape, Shape][] = [
  [[5, 7], [5, 7]], [[5, 7], []], [[], [5, 7]], [[5, 7], [1]], // same, scalars
  [[5, 7], [7]], [[7], [5, 7]], [[2, 5, 7], [5, 7]], [[2, 5, 7], [1, 1, 7]], // trailing
  [[5, 7], [5, 1]], [[5, 1], [5, 7]], [[2, 3, 4], [2, 1, 1]], [[2, 3, 4], [2, 3, 1]], // leading
  [[1, 2, 3, 4], [1, 2, 1, 1]], [[2, 3, 4], [1, 2, 3, 1]], [[5, 1, 7], [5, 1, 1]],
  [[5, 1], [1, 7]], [[2, 3, 4], [1, 3, 1]], [[2, 3, 4], [2, 1, 4]], [[3, 1, 4], [1, 5, 1]], // indexed
  [[0, 3], [0, 1]], [[4, 0], [4, 1]],
];

function broadcastShape(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const da = a[a.length - n + i] ?? 1;
    return da === 1 ? b[b.length - n + i] ?? 1 : da;
  });
}

/** The flat offset in `inShape` of output element `i` of `outShape`, by the definition. */
function source(i: number, inShape: Shape, outShape: Shape): number {
  let offset = 0, stride = 1, rest = i;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const idx = rest % outShape[d]!;
    rest = Math.floor(rest / outShape[d]!);
    const k = d - (outShape.length - inShape.length);
    if (k < 0) continue;
    if (inShape[k] !== 1) offset += idx * stride;
    stride *= inShape[k]!;
  }
  return offset;
}

function values(n: number, rng: Rng, dtype: DType): number[] {
  return Array.from({ length: n }, (_, i) => (i % 5 === 4 ? 2 : dtype === 'float32' ? Math.fround(rng.range(-3, 3)) : rng.range(-3, 3)));
}

for (const backend of [cpu, fastCpu]) {
  test(`${backend === cpu ? 'reference' : 'fast'} backend: binary ops broadcast as the definition does`, () => {
    const rng = new Rng(31);
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [sa, sb] of pairs) {
        const shape = broadcastShape(sa, sb);
        const n = shape.reduce((p, d) => p * d, 1);
        const xa = values(sa.reduce((p, d) => p * d, 1), rng, dtype), xb = values(sb.reduce((p, d) => p * d, 1), rng, dtype);
        const round = dtype === 'float32' ? Math.fround : (x: number) => x;
        for (const op of ops) {
          const out = backend.binary(op, backend.fromData(xa, sa, dtype), backend.fromData(xb, sb, dtype));
          assert.equal([...out.shape], shape, `${op} [${sa}] [${sb}] shape`);
          const got = out.data();
          for (let i = 0; i < n; i++) {
            const want = round(apply[op]!(xa[source(i, sa, shape)]!, xb[source(i, sb, shape)]!));
            if (!Object.is(got[i], want) && !(want !== want && got[i] !== got[i])) {
              assert.unreachable(`${dtype} ${op} [${sa}] [${sb}] at ${i}: ${got[i]}, want ${want}`);
            }
          }
        }
      }
    }
  });

  test(`${backend === cpu ? 'reference' : 'fast'} backend: broadcastTo copies as the definition does`, () => {
    const rng = new Rng(32);
    for (const [sa, sb] of pairs) {
      const shape = broadcastShape(sa, sb);
      if (shape.length !== sb.length || shape.some((d, i) => d !== sb[i])) continue;
      const xa = values(sa.reduce((p, d) => p * d, 1), rng, 'float64');
      const got = backend.broadcastTo(backend.fromData(xa, sa, 'float64'), shape).data();
      assert.equal([...got], shape.length ? Array.from({ length: got.length }, (_, i) => xa[source(i, sa, shape)]) : [xa[0]], `[${sa}] to [${shape}]`);
    }
  });
}

test('logsumexp over trailing axes and over others: the same sums in the same order', () => {
  const rng = new Rng(33);
  const shape = [3, 4, 5];
  const x = Array.from({ length: 60 }, (_, i) => (i === 7 ? Infinity : i === 30 ? -Infinity : rng.range(-20, 20)));
  for (const axes of [[2], [1, 2], [0, 1, 2], [0], [1], [0, 2], [0, 1]]) {
    const got = cpu.reduce('logsumexp', cpu.fromData(x, shape, 'float64'), axes, false).data();
    const keep = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const m = new Array<number>(got.length).fill(-Infinity), s = new Array<number>(got.length).fill(0);
    for (let i = 0; i < 60; i++) m[source(i, keep, shape)] = Math.max(m[source(i, keep, shape)]!, x[i]!);
    for (let i = 0; i < 60; i++) {
      const t = source(i, keep, shape), mt = m[t]!;
      s[t] += Number.isFinite(mt) ? Math.exp(x[i]! - mt) : x[i] === mt ? 1 : 0;
    }
    assert.equal([...got], m.map((mt, t) => mt + Math.log(s[t]!)), `axes [${axes}]`);
  }
});

test('isLeading: equal leading axes, then only 1s', () => {
  assert.ok(isLeading([5, 1], [5, 7]));
  assert.ok(isLeading([2, 1, 1], [2, 3, 4]));
  assert.ok(isLeading([1, 2, 1], [1, 2, 3]));
  assert.ok(isLeading([2, 3], [2, 3]));
  assert.ok(isLeading([1, 1], [5, 7]), 'a scalar repeats over all of it');
  assert.not.ok(isLeading([1, 7], [5, 7]));
  assert.not.ok(isLeading([2, 1, 4], [2, 3, 4]));
  assert.ok(isLeading([5, 1], [1, 5, 7]), 'a missing leading axis of length 1');
  assert.not.ok(isLeading([5, 1], [2, 5, 7]), 'a missing leading axis of length 2');
  assert.not.ok(isLeading([5, 7, 1], [5, 7]));
});

test.run();
