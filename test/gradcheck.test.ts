// gradcheck itself, and every primitive through it at first and second order, at ordinary
// inputs and at extreme ranges.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gradcheck, rules, Rng, type Variable } from '../src/index.js';
import { drawInputs, primitiveChecks, type Range } from '../src/engine/checks.js';

for (const check of primitiveChecks) {
  for (const range of ['random', 'extreme'] as Range[]) {
    for (const order of [1, 2] as const) {
      test(`gradcheck ${check.name} (${range}, order ${order})`, () => {
        const specs = check.inputs[range];
        const values = drawInputs(specs, new Rng(7).fork(`${check.name}/${range}`));
        const tensors = values.map((v, i) => (specs[i]!.shape.length ? nest(v, specs[i]!.shape) : v[0]!));
        const report = gradcheck(check.f, tensors, { order, wrt: specs.map((s) => !s.constant) });
        assert.ok(report.ok, report.message);
      });
    }
  }
}

function nest(v: Float64Array, shape: number[]): number[] | number[][] | number[][][] {
  const flat = [...v];
  const build = (axis: number, offset: number): any => {
    const n = shape[axis]!;
    if (axis === shape.length - 1) return flat.slice(offset, offset + n);
    const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, i) => build(axis + 1, offset + i * stride));
  };
  return build(0, 0);
}

test('every primitive has a gradient check', () => {
  const checked = new Set(primitiveChecks.map((c) => c.op));
  const missing = Object.keys(rules).filter((op) => !checked.has(op as never));
  assert.equal(missing, []);
});

test('gradcheck catches a wrong backward rule, naming the input and both values', () => {
  const original = rules.sin.backward;
  // Planted mistake: d sin x = sin x dx (it is cos x).
  rules.sin.backward = (g, [x]) => [g.mul(x!.sin())];
  try {
    const report = gradcheck((x: Variable) => x.sin(), [[0.3, 1.2, -0.7]]);
    assert.not.ok(report.ok);
    assert.match(report.message, /^input 0 \[3\], element \d \(output \d\): analytic [-\d.e]+ vs numeric [-\d.e]+/);
    const r = report.inputs[0]!;
    assert.ok(r.analytic && r.numeric, 'both Jacobians are reported');
    assert.equal(r.analytic!.length, 9);
    assert.ok(Math.abs(r.numeric![0]! - Math.cos(0.3)) < 1e-8);
  } finally {
    rules.sin.backward = original;
  }
  assert.ok(gradcheck((x: Variable) => x.sin(), [[0.3, 1.2, -0.7]]).ok);
});

test('gradcheck at order 2 catches a backward rule whose own gradient is wrong', () => {
  const original = rules.tanh.backward;
  // Right at first order, wrong at second: detaching y hides d(1 - y²)/dx.
  rules.tanh.backward = (g, _x, y) => [g.mul(y.detach().mul(y.detach()).rsub(1))];
  try {
    assert.ok(gradcheck((x: Variable) => x.tanh(), [[0.3, -0.5]]).ok);
    assert.not.ok(gradcheck((x: Variable) => x.tanh(), [[0.3, -0.5]], { order: 2 }).ok);
  } finally {
    rules.tanh.backward = original;
  }
});

test('gradcheck runs the analytic pass twice and reports nondeterminism', () => {
  let calls = 0;
  const original = rules.exp.backward;
  rules.exp.backward = (g, _x, y) => [g.mul(y).mul(1 + calls++ * 1e-12)];
  try {
    const report = gradcheck((x: Variable) => x.exp(), [[0.1, 0.2]]);
    assert.ok(report.nondeterministic);
    assert.not.ok(report.ok);
  } finally {
    rules.exp.backward = original;
  }
});

test('fast mode compares random projections and agrees on a correct function', () => {
  const report = gradcheck((w: Variable, x: Variable) => x.matmul(w).tanh().sum(), [[[0.1, 0.2], [0.3, -0.4]], [[1, 2]]], { fast: true });
  assert.ok(report.ok, report.message);
  assert.match(report.message, /fast/);
});

test.run();
