// n-th order derivatives: grad composes, createGraph gradients differentiate again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { grad, newContext, type Fn, type Tensor, type Variable } from '../src/index.js';

const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const th = Math.tanh;
// Each function with its 1st to 4th derivatives in closed form.
const cases: [string, Fn, ((x: number) => number)[], number[]][] = [
  ['sin', (x) => x.sin(), [Math.cos, (x) => -Math.sin(x), (x) => -Math.cos(x), Math.sin], [0.3, -1.2, 2.5]],
  ['exp', (x) => x.exp(), [Math.exp, Math.exp, Math.exp, Math.exp], [0.3, -1.2, 2.5]],
  ['tanh', (x) => x.tanh(), [
    (x) => 1 - th(x) ** 2,
    (x) => -2 * th(x) * (1 - th(x) ** 2),
    (x) => (1 - th(x) ** 2) * (6 * th(x) ** 2 - 2),
    (x) => 8 * th(x) * (1 - th(x) ** 2) * (2 - 3 * th(x) ** 2),
  ], [0.3, -1.2, 0.9]],
  ['sigmoid', (x) => x.sigmoid(), [
    (x) => sig(x) * (1 - sig(x)),
    (x) => sig(x) * (1 - sig(x)) * (1 - 2 * sig(x)),
    (x) => sig(x) * (1 - sig(x)) * (1 - 6 * sig(x) + 6 * sig(x) ** 2),
    (x) => sig(x) * (1 - sig(x)) * (1 - 2 * sig(x)) * (1 - 12 * sig(x) + 12 * sig(x) ** 2),
  ], [0.3, -1.2, 2.5]],
  ['x^5', (x) => x.pow(5), [(x) => 5 * x ** 4, (x) => 20 * x ** 3, (x) => 60 * x ** 2, (x) => 120 * x], [0.3, -1.2, 2.5]],
  ['ln', (x) => x.log(), [(x) => 1 / x, (x) => -1 / x ** 2, (x) => 2 / x ** 3, (x) => -6 / x ** 4], [0.3, 1.2, 2.5]],
];

for (const [name, f, derivatives, points] of cases) {
  test(`1st to 4th derivatives of ${name} equal their closed forms`, () => {
    let d: Fn = f;
    derivatives.forEach((closed, k) => {
      d = grad(d);
      for (const x of points) {
        const got = (d as unknown as (x: number) => number)(x);
        const want = closed(x);
        assert.ok(Math.abs(got - want) <= 1e-10 * Math.max(1, Math.abs(want)), `${name}^(${k + 1})(${x}) = ${got}, expected ${want}`);
      }
    });
  });
}

test('derivatives of x^n at 0 are exact to any order: a zero exponent has a zero gradient, not NaN', () => {
  const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
  for (let n = 0; n <= 4; n++) {
    let d: Fn = (x) => x.pow(n);
    for (let k = 1; k <= 5; k++) {
      d = grad(d);
      const got = (d as unknown as (x: number) => number)(0);
      assert.is(got, k === n ? factorial(n) : 0, `d^${k}/dx^${k} x^${n} at 0`);
    }
  }
  // Elsewhere the gradient is the rule's b a^(b-1) as before, to the bit, and a zero exponent
  // on a broadcast operand zeroes only its own elements.
  assert.is((grad((x) => x.pow(2.5)) as unknown as (x: number) => number)(2), 1 * 2.5 * Math.pow(2, 1.5));
  const ctx = newContext();
  const a = ctx.variable([[0, 2], [0, 3]]);
  const g = a.pow([0, 2]).sum().grad().wrt(a) as Tensor;
  assert.equal([...g.data()], [0, 4, 0, 6]);
});

test('grad with createGraph differentiates again (the variable API)', () => {
  const ctx = newContext();
  const x = ctx.variable(0.4);
  const y = x.mul(x).mul(x);
  const dy = y.grad({ createGraph: true }).wrt(x);
  const d2y = dy.grad({ createGraph: true }).wrt(x);
  assert.ok(Math.abs(dy.item() - 3 * 0.16) < 1e-15);
  assert.ok(Math.abs(d2y.item() - 6 * 0.4) < 1e-15);
  assert.ok(Math.abs((d2y.grad().wrt(x) as number) - 6) < 1e-15);
});

test("the Hessian of a small MLP's loss equals its finite differences", () => {
  // Loss of a 2-3-1 tanh MLP on fixed data, as a function of its 13 parameters (flat).
  const X = [[0.5, -1.2], [1.5, 0.3], [-0.7, 0.8], [0.1, 0.1]];
  const Y = [[1], [-1], [1], [-1]];
  const loss = (p: Variable): Variable => {
    const W1 = p.slice([0], [6]).reshape([2, 3]);
    const b1 = p.slice([6], [3]);
    const W2 = p.slice([9], [3]).reshape([3, 1]);
    const b2 = p.slice([12], [1]);
    const x = p.ctx.constant(X), y = p.ctx.constant(Y);
    const out = x.matmul(W1).add(b1).tanh().matmul(W2).add(b2);
    return out.sub(y).square().mean().add(p.square().sum().mul(1e-2));
  };
  const p0 = Array.from({ length: 13 }, (_, i) => Math.sin(i + 1) * 0.7);
  const ctx = newContext();
  const p = ctx.variable(p0);
  const g = loss(p).grad({ createGraph: true }).wrt(p);
  const hessian: number[][] = [];
  for (let i = 0; i < 13; i++) {
    const pull = new Float64Array(13);
    pull[i] = 1;
    hessian.push([...g.grad(ctx.tensor(pull)).tensor(p).data()]);
  }
  // Finite differences of the analytic gradient (itself checked by gradcheck elsewhere).
  const gradAt = (q: number[]): number[] => {
    const c = newContext();
    const v = c.variable(q);
    return [...loss(v).grad().tensor(v).data()];
  };
  const eps = 1e-5;
  for (let j = 0; j < 13; j++) {
    const plus = gradAt(p0.map((v, k) => (k === j ? v + eps : v)));
    const minus = gradAt(p0.map((v, k) => (k === j ? v - eps : v)));
    for (let i = 0; i < 13; i++) {
      const fd = (plus[i]! - minus[i]!) / (2 * eps);
      assert.ok(Math.abs(hessian[i]![j]! - fd) < 1e-7 + 1e-5 * Math.abs(fd), `H[${i}][${j}] = ${hessian[i]![j]} vs ${fd}`);
    }
  }
  // and it is symmetric
  for (let i = 0; i < 13; i++) for (let j = 0; j < i; j++) assert.ok(Math.abs(hessian[i]![j]! - hessian[j]![i]!) < 1e-12);
});

test('grad(f) refuses a non-scalar output with a clear message', () => {
  assert.throws(() => grad((x) => x.mul(2))([1, 2]), /must return a single value, it returned shape \[2\]/);
});

test.run();
