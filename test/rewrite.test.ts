// The rewrite rules: the pattern language, the table's own checks, and a proof of each rule:
// both sides evaluated on random inputs agree in value and in gradients at first and second
// order, gradcheck passes on the rewritten graph, and the safe rules agree on NaN, ±Inf and ±0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  RuleError, Rng, Tensor, compile, compileRule, cpu, gradcheck, newContext, optimize, printIR, rewrite,
  rewriteRules, trace, type RewriteRule, type Variable,
} from '../src/index.js';
import { apply } from '../src/engine/variable.js';

type Fn = (...xs: Variable[]) => Variable;

interface Proof {
  f: Fn;
  /** Input shapes; values are drawn from `range`. */
  shapes: number[][];
  range?: [number, number];
  /** Where the rule's result differs from the pattern's, for an unsafe rule: an input and why. */
  differsAt?: number;
}

/** One proof (or more) per rule of the table, keyed by the rule's name. */
const proofs: Record<string, Proof[]> = {
  'mul-one': [{ f: (x) => x.mul(1).sin(), shapes: [[4]] }],
  'div-one': [{ f: (x) => x.div(1).sin(), shapes: [[4]] }],
  'sub-zero': [{ f: (x) => x.sub(0).sin(), shapes: [[4]] }],
  'add-negative-zero': [{ f: (x) => x.add(-0).sin(), shapes: [[4]] }],
  'add-zero': [{ f: (x) => x.exp().add(0).sin(), shapes: [[4]] }],
  'pow-one': [{ f: (x) => x.pow(1).sin(), shapes: [[4]] }],
  'pow-two': [{ f: (x) => x.pow(2).sin(), shapes: [[4]] }],
  'neg-neg': [{ f: (x) => x.neg().neg().sin(), shapes: [[4]] }],
  'mul-minus-one': [{ f: (x) => x.mul(-1).sin(), shapes: [[4]] }],
  'add-neg': [{ f: (x, y) => x.add(y.neg()).sin(), shapes: [[4], [4]] }, { f: (x, y) => x.add(y.neg()).sin(), shapes: [[2, 3], [3]] }],
  'sub-neg': [{ f: (x, y) => x.sub(y.neg()).sin(), shapes: [[4], [4]] }],
  'neg-mul-constant': [{ f: (x) => x.mul(3).neg().sin(), shapes: [[4]] }],
  'neg-div-constant': [{ f: (x) => x.div(3).neg().sin(), shapes: [[4]] }],
  'log-exp': [
    { f: (x) => x.exp().log().mul(x), shapes: [[4]] },
    // log(softmax(x)) -> logSoftmax(x): softmax is exp(x - logSumExp(x)) in the engine.
    { f: (x) => x.softmax(-1).log(), shapes: [[2, 3]] },
  ],
  'exp-log': [{ f: (x) => x.sigmoid().log().exp().mul(x), shapes: [[4]] }],
  sigmoid: [
    { f: (x) => x.neg().exp().add(1).rdiv(2), shapes: [[4]] },
    { f: (x, c) => c.div(x.neg().exp().add(1)), shapes: [[2, 3], [3]] },
  ],
  softplus: [{ f: (x) => x.exp().add(1).log(), shapes: [[4]] }],
  logsumexp: [{ f: (x) => x.exp().sum(-1).log(), shapes: [[2, 3]] }, { f: (x) => x.exp().sum([0], true).log(), shapes: [[2, 3]] }],
  'pow-pow': [
    { f: (x) => x.pow(2).pow(3), shapes: [[4]] },
    { f: (x) => x.pow(-1).pow(2), shapes: [[4]], range: [0.5, 2] },
    { f: (x) => x.exp().pow(0.5).pow(3), shapes: [[4]] },
  ],
  'pow-square': [{ f: (x) => x.mul(x).pow(3), shapes: [[4]] }, { f: (x) => x.exp().mul(x.exp()).pow(0.25), shapes: [[4]] }],
  'transpose-transpose': [{ f: (x) => x.transpose([1, 2, 0]).transpose([1, 0, 2]).sin(), shapes: [[2, 3, 4]] }],
  'transpose-identity': [{ f: (x) => x.transpose([0, 1]).sin(), shapes: [[2, 3]] }],
  'reshape-reshape': [{ f: (x) => x.reshape([3, 2]).reshape([6]).sin(), shapes: [[2, 3]] }],
  'reshape-identity': [{ f: (x) => apply('reshape', [x], { shape: [2, 3] }).sin(), shapes: [[2, 3]] }],
  'broadcast-broadcast': [{ f: (x) => x.broadcastTo([2, 3]).broadcastTo([4, 2, 3]).sin(), shapes: [[3]] }],
  'broadcast-identity': [{ f: (x) => apply('broadcastTo', [x], { shape: [2, 3] }).sin(), shapes: [[2, 3]] }],
  // Unsafe: equal on finite inputs away from zero; `differsAt` is where they are not.
  'add-zero-any': [{ f: (x) => x.add(0).sin(), shapes: [[4]], differsAt: -0 }],
  'mul-zero': [{ f: (x) => x.mul(0).add(x), shapes: [[4]], differsAt: Infinity }],
  'sub-self': [{ f: (x) => x.sub(x).add(x), shapes: [[4]], differsAt: Infinity }],
  'div-self': [{ f: (x) => x.div(x).mul(x).sin(), shapes: [[4]], differsAt: 0 }],
  'zero-sub': [{ f: (x) => x.rsub(0).sin(), shapes: [[4]], differsAt: 0 }],
  'pow-half': [{ f: (x) => x.pow(0.5).sin(), shapes: [[4]], range: [0.5, 2], differsAt: -0 }],
  'exp-log-any': [{ f: (x) => x.log().exp().mul(x), shapes: [[4]], range: [0.5, 2], differsAt: -1 }],
};

const ruleByName = new Map(rewriteRules.map((r) => [r.name, r]));
const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1);

function draw(p: Proof, seed: string): Tensor[] {
  const rng = new Rng(11).fork(seed);
  const [lo, hi] = p.range ?? [-2, 2];
  return p.shapes.map((s) => cpu.fromData(Float64Array.from({ length: sizeOf(s) }, () => lo + (hi - lo) * rng.uniform()), s, 'float64'));
}

/** Value, gradient of Σ w·f and the gradient of Σ u·(that gradient): first and second order. */
function derivatives(f: Fn, inputs: readonly Tensor[]): Float64Array[] {
  const ctx = newContext('float64');
  const xs = inputs.map((t) => ctx.variable(t));
  const y = f(...xs);
  const w = ctx.constant(Float64Array.from({ length: y.size }, (_, i) => 0.7 - 0.3 * i), y.shape);
  const g = y.mul(w).sum().grad({ createGraph: true });
  const g1 = xs.map((x) => g.variable(x));
  let s2 = g1[0]!.mul(0.9).sum();
  g1.slice(1).forEach((gi, i) => (s2 = s2.add(gi.mul(0.5 + 0.1 * i).sum())));
  const h = s2.grad();
  return [y.data(), ...g1.map((v) => v.data()), ...xs.map((x) => h.variable(x).data())].map((a) => Float64Array.from(a));
}

function close(a: Float64Array, b: Float64Array, what: string): void {
  assert.is(a.length, b.length, what);
  a.forEach((v, i) => {
    const ok = Object.is(v, b[i]) || Math.abs(v - b[i]!) <= 1e-9 * (1 + Math.abs(b[i]!));
    assert.ok(ok, `${what}[${i}]: rewritten ${v} vs original ${b[i]}`);
  });
}

test('every rule of the table has a proof, and every proof names a rule', () => {
  assert.equal(rewriteRules.filter((r) => !proofs[r.name]).map((r) => r.name), []);
  assert.equal(Object.keys(proofs).filter((name) => !ruleByName.has(name)), []);
});

test('every rule of the table parses, binds its names and shrinks the cost', () => {
  for (const r of rewriteRules) compileRule(r);
  assert.is(new Set(rewriteRules.map((r) => r.name)).size, rewriteRules.length, 'names are unique');
});

for (const rule of rewriteRules) {
  proofs[rule.name]?.forEach((p, k) => {
    test(`rule ${rule.name} (${k + 1}): ${rule.rule}: values, gradients at orders 1 and 2, gradcheck`, () => {
      const only = compile(p.f, { rules: [rule], unsafeMath: true, fuse: false });
      const inputs = draw(p, `${rule.name}/${k}`);
      const ctx = newContext('float64');
      const report = only.compiled(...inputs.map((t) => ctx.variable(t))).report;
      assert.ok((report.fired.get(rule.name) ?? 0) >= 1, `the rule fired: ${[...report.fired.keys()].join(', ') || 'none'}`);
      const want = derivatives(p.f, inputs);
      const got = derivatives(only, inputs);
      ['value', ...p.shapes.map((_, i) => `d/dx${i}`), ...p.shapes.map((_, i) => `d²/dx${i}`)].forEach((what, i) => close(got[i]!, want[i]!, what));
      for (const order of [1, 2] as const) {
        const r = gradcheck(only, inputs, { order });
        assert.ok(r.ok, `gradcheck order ${order}: ${r.message}`);
      }
      if (!rule.unsafe) {
        // The whole pipeline (every safe rule, then fusion) agrees as well.
        const all = derivatives(compile(p.f), inputs);
        all.forEach((a, i) => close(a, want[i]!, `full pipeline output ${i}`));
      }
    });
  });
}

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0];

test('the safe rules give the same result on NaN, ±Inf and ±0 (the sign of zero included)', () => {
  for (const rule of rewriteRules.filter((r) => !r.unsafe)) {
    for (const p of proofs[rule.name]!) {
      const ctx = newContext('float64');
      for (const s of SPECIALS) {
        const xs = p.shapes.map((shape) => ctx.variable(new Float64Array(sizeOf(shape)).fill(s), { shape }));
        const want = p.f(...xs).data();
        const got = compile(p.f, { rules: [rule], fuse: false })(...xs).data();
        want.forEach((w, i) => {
          const g = got[i]!;
          assert.ok(Object.is(w, g) || (w !== w && g !== g) || (w !== 0 && Math.abs(w - g) <= 1e-15 * Math.abs(w)), `${rule.name} at ${s}: ${g} vs ${w}`);
        });
      }
    }
  }
});

test('each unsafe rule is opt-in, and changes the result where its note says', () => {
  for (const rule of rewriteRules.filter((r) => r.unsafe)) {
    const p = proofs[rule.name]![0]!;
    const ctx = newContext('float64');
    const x = ctx.variable(new Float64Array(sizeOf(p.shapes[0]!)).fill(p.differsAt!), { shape: p.shapes[0]! });
    const safe = compile(p.f, { rules: [rule], fuse: false });
    assert.is(safe.compiled(x).report.fired.get(rule.name), undefined, `${rule.name} does not fire without unsafeMath`);
    const want = p.f(x).data()[0]!, got = compile(p.f, { rules: [rule], unsafeMath: true, fuse: false })(x).data()[0]!;
    assert.not.ok(Object.is(want, got), `${rule.name} at ${p.differsAt}: ${got} vs ${want}`);
  }
});

test('add-zero applies where x cannot be -0 (exp, relu, abs) and not to an unknown x', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([1, 2]);
  const fired = (f: Fn) => compile(f).compiled(x).report.fired.get('add-zero') ?? 0;
  assert.is(fired((v) => v.add(0)), 0);
  assert.is(fired((v) => v.relu().add(0)), 1);
  assert.is(fired((v) => v.abs().add(1).add(0)), 1);
});

test('exp-log applies only where its argument is known positive', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([1, 2]);
  const fired = (f: Fn) => compile(f).compiled(x).report.fired.get('exp-log') ?? 0;
  assert.is(fired((v) => v.log().exp()), 0);
  assert.is(fired((v) => v.softplus().add(v.exp()).log().exp()), 1);
  assert.is(fired((v) => v.mul(v).log().exp()), 0, 'x² may be 0');
});

test('pow-pow applies to integer exponents, or to a positive base; (x²)^½ stays as it is', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([-1.5, 2]);
  const fired = (f: Fn) => compile(f).compiled(x).report.fired.get('pow-pow') ?? 0;
  assert.is(fired((v) => v.pow(3).pow(2)), 1);
  assert.is(fired((v) => v.pow(2).pow(0.5)), 0);
  assert.is(fired((v) => v.exp().pow(3).pow(0.5)), 1);
  // pow-two makes x² the product x·x first; pow-square takes it from there.
  assert.equal(compile((v: Variable) => v.pow(2).pow(3)).compiled(x).report.fired, new Map([['pow-two', 1], ['pow-square', 1]]));
  assert.equal([...compile((v: Variable) => v.pow(2).pow(0.5))(x).data()], [1.5, 2], '|x|, as the pattern says');
});

test('the long form 2 / (1 + e^-x) becomes one fused loop of 2·σ(x)', () => {
  const ctx = newContext('float32');
  const x = ctx.variable([0.5, -3, 40]);
  const c = compile((v) => v.neg().exp().add(1).rdiv(2)).compiled(x);
  assert.equal([...c.report.fired], [['sigmoid', 1]]);
  assert.is(printIR(c.graph), '{ lambda  ; in0:f32[3] . let\n    a:f32[3] = fused{mul(2.0, sigmoid(x0))} in0\n  in ( a ) }');
});

test('log(softmax(x)) over the last axis becomes x - logSumExp(x) (+ 0, which unsafeMath drops)', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([[1, 2, 3], [0, -1, 5]]);
  const ops = (unsafeMath: boolean) => [...optimize(trace((v) => v.softmax(-1).log(), [x]), { fuse: false, unsafeMath }).graph.countOps().keys()].sort();
  assert.equal(ops(false), ['add', 'logSumExp', 'sub']);
  assert.equal(ops(true), ['logSumExp', 'sub']);
});

test('constant folding: ops on constants become one constant; elementwise ops on splats fold at any size', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([1, 2]);
  const big = () => ctx.constant(new Float64Array(2e5).fill(2), [1e5, 2]);
  const f = (v: Variable) => ctx.constant([1, 2]).mul(3).add(v).mul(big().exp().log());
  const c = compile(f, { fuse: false }).compiled(x);
  assert.equal([...c.graph.countOps()].sort(), [['add', 1], ['mul', 1]]);
  assert.is(c.report.fired.get('fold constants'), 3, 'mul 3, exp, log');
  const folded = c.graph.nodes().filter((n) => n.isLeaf && n.kind !== 'input').map((n) => [n.kind, n.shape]);
  assert.equal(folded.sort(), [['const', [1e5, 2]], ['tensor', [2]]]);
});

test('rewriting reaches a fixed point on a long chain, and the step limit stops it early and safely', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([0.25, -2]);
  // 1000 negations: hash-consing makes neg(neg(neg(x))) the node neg(x) again, so one rewrite does.
  const negs = (v: Variable) => {
    let y = v;
    for (let i = 0; i < 1000; i++) y = y.neg();
    return y.sin();
  };
  const n = rewrite(trace(negs, [x]));
  assert.is(n.report.fired.get('neg-neg'), 1);
  assert.equal([...n.graph.countOps()], [['sin', 1]]);
  const chain = (v: Variable) => {
    let y = v;
    for (let i = 0; i < 1000; i++) y = y.mul(1).add(i + 1);
    return y.sin();
  };
  const g = trace(chain, [x]);
  const full = rewrite(g);
  assert.is(full.report.fired.get('mul-one'), 1000);
  assert.equal([...full.graph.countOps()], [['add', 1000], ['sin', 1]]);
  const short = rewrite(g, { maxSteps: 3 });
  assert.ok(short.report.limitReached);
  assert.is(short.report.steps, 3);
  assert.is(short.graph.ops().length, 2001 - 3);
  assert.equal([...compile(chain, { maxSteps: 3 })(x).data()], [...chain(x).data()]);
});

test('hash-consing: a subexpression built twice is one node, and a replacement that exists is shared', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([1, 2]);
  const g = trace((v) => v.exp().add(v.exp()), [x]);
  assert.equal([...g.countOps()], [['add', 1], ['exp', 1]]);
  const r = rewrite(trace((v) => v.neg().neg().mul(v), [x]));
  assert.equal([...r.graph.countOps()], [['mul', 1]]);
  assert.is(r.graph.ops()[0]!.inputs[0], r.graph.ops()[0]!.inputs[1], 'x·x: one input node, twice');
});

test('malformed rules are RuleErrors that say what is wrong', () => {
  const bad = (rule: string, message: RegExp) => {
    const r: RewriteRule = { name: 'bad', rule, why: 'test' };
    assert.throws(() => compileRule(r), (e: Error) => e instanceof RuleError && message.test(e.message));
  };
  bad('expp(x) -> x', /unknown op 'expp'/);
  bad('exp(x) -> y', /'y' in the replacement is bound neither by the pattern nor by let/);
  bad('sum(x) -> x', /'sum' has params: bind them as sum\{p\}/);
  bad('mul(x, y) -> mul(y, x)', /must cost less than the pattern/);
  bad('neg(x) -> neg(neg(neg(x)))', /must cost less than the pattern/);
  bad('exp(x) -> ', /ends too soon/);
  bad('exp(x) -> x x', /unexpected 'x' after the rule/);
});

test('a user rule: a condition, a computed constant, and mul matched either way round', () => {
  const rule: RewriteRule = {
    name: 'scale-scale', rule: 'mul(mul(x, a), b) -> mul(x, ab)',
    when: (m) => m.value('a') !== null && m.value('b') !== null, let: { ab: (m) => m.value('a')! * m.value('b')! },
    why: '(x a) b = x (ab), up to rounding',
  };
  const ctx = newContext('float64');
  const x = ctx.variable([[1, 2], [3, 4]]);
  const c = compile((v: Variable) => ctx.scalar(3).mul(v).mul(2).sum(1), { rules: [rule], fuse: false });
  assert.equal([...c(x).data()], [18, 42]);
  assert.is(c.compiled(x).report.fired.get('scale-scale'), 1);
  assert.match(printIR(c.compiled(x).graph), /= mul in0 6\.0\n/);
});

test.run();
