// Every layer type and loss through gradcheck, parameters and inputs both, at first and second
// order, at ordinary inputs and at extreme ranges; and the checks themselves are not vacuous.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concat, gradcheck, newContext, rules, Rng } from '../src/index.js';
import { drawInputs, type Range } from '../src/engine/checks.js';
import { activationFns } from '../src/layers/activations.js';
import { layerChecks, lossChecks, type LayerCheck } from '../src/layers/checks.js';

const ctx = newContext('float64');
const tensorsOf = (check: LayerCheck, range: Range, seed = 7) => {
  const specs = check.inputs[range];
  return drawInputs(specs, new Rng(seed).fork(`${check.name}/${range}`)).map((v, i) => ctx.tensor(v, specs[i]!.shape));
};
const wrtOf = (check: LayerCheck, range: Range) => check.inputs[range].map((s) => !s.constant);

for (const check of [...layerChecks, ...lossChecks]) {
  for (const range of ['random', 'extreme'] as Range[]) {
    for (const order of [1, 2] as const) {
      test(`gradcheck ${check.kind} ${check.name} (${range}, order ${order})`, () => {
        const report = gradcheck(check.f, tensorsOf(check, range), { order, wrt: wrtOf(check, range) });
        assert.ok(report.ok, report.message);
      });
    }
  }
}

test('every activation and every recurrent type with both outputs has a check', () => {
  const names = new Set(layerChecks.map((c) => c.name));
  for (const a of Object.keys(activationFns)) assert.ok(names.has(`dense(${a})`), `dense(${a})`);
  for (const t of ['rnn', 'gru', 'lstm']) for (const o of ['last', 'all']) assert.ok(names.has(`${t}(output=${o})`), `${t}(output=${o})`);
  assert.equal(lossChecks.map((c) => c.name), ['hinge', 'mse', 'binary_cross_entropy', 'softmax_cross_entropy']);
});

test('each differentiated argument changes the output: the layer really reads the given parameters', () => {
  for (const check of [...layerChecks, ...lossChecks]) {
    const xs = tensorsOf(check, 'random');
    // Every element moved by a different amount: a uniform shift could vanish (softmax ignores
    // one added to every logit), a single element could feed only a dead relu.
    const run = (vals: typeof xs) => check.f(...vals.map((t) => ctx.constant(t))).data();
    const base = Float64Array.from(run(xs));
    xs.forEach((_, i) => {
      if (check.inputs.random[i]!.constant) return;
      const moved = xs.map((u, j) => (j === i ? ctx.tensor(Float64Array.from(u.data(), (v, k) => v + 0.1 * (k + 1)), u.shape) : u));
      const out = run(moved);
      assert.ok(out.some((v, k) => Math.abs(v - base[k]!) > 1e-9), `${check.name}: argument ${check.args[i]} does not affect the output`);
    });
  }
});

test('the relu checks sit on both sides of the kink: no unit is dead across the whole batch', () => {
  for (const name of ['dense(relu)', 'dense(leaky_relu)']) {
    const check = layerChecks.find((c) => c.name === name)!;
    for (const range of ['random', 'extreme'] as Range[]) {
      for (const seed of [0, 7]) {
        const [x, W, b] = tensorsOf(check, range, seed).map((t) => ctx.constant(t));
        const pre = concat([x!, x!.neg()], 0).matmul(W!).add(b!).data();
        for (let u = 0; u < 2; u++) {
          const column = [0, 1, 2, 3].map((r) => pre[r * 2 + u]!);
          assert.ok(column.some((v) => v > 0) && column.some((v) => v < 0), `${name} ${range} seed ${seed} unit ${u}: ${column}`);
        }
      }
    }
  }
});

test('the losses see their label conventions: ±1, 0/1, one-hot rows', () => {
  const spy = (name: string) => lossChecks.find((c) => c.name === name)!;
  // Each loss's label argument is a constant drawn as the specs say; check the values it yields.
  const hinge = tensorsOf(spy('hinge'), 'random')[1]!.data();
  assert.ok([...hinge].every((v) => v === 1 || v === -1), `hinge labels ${[...hinge]}`);
  const bce = tensorsOf(spy('binary_cross_entropy'), 'random')[1]!;
  const bits = ctx.constant(bce).gt(0).data();
  assert.ok([...bits].every((v) => v === 0 || v === 1) && new Set(bits).size === 2, `bce labels ${[...bits]}`);
  const sce = tensorsOf(spy('softmax_cross_entropy'), 'random')[1]!;
  const s = ctx.constant(sce);
  const onehot = s.eq(s.amax(-1, true)).data();
  for (let r = 0; r < 4; r++) assert.is(onehot[r * 3]! + onehot[r * 3 + 1]! + onehot[r * 3 + 2]!, 1);
});

test('a wrong sigmoid backward fails the gru and lstm checks and not the relu dense check', () => {
  const original = rules.sigmoid.backward, kernel = rules.sigmoid.gradKernel;
  // Planted mistake: σ' = σ (it is σ(1 - σ)), with the one-pass kernel (which equals the rule
  // bit for bit, engine.test.ts) out of the way.
  rules.sigmoid.backward = (g, _x, y) => [g.mul(y)];
  rules.sigmoid.gradKernel = undefined;
  try {
    for (const name of ['gru(output=last)', 'lstm(output=all)', 'dense(sigmoid)']) {
      const check = layerChecks.find((c) => c.name === name)!;
      assert.not.ok(gradcheck(check.f, tensorsOf(check, 'random'), { wrt: wrtOf(check, 'random') }).ok, name);
    }
    const relu = layerChecks.find((c) => c.name === 'dense(relu)')!;
    assert.ok(gradcheck(relu.f, tensorsOf(relu, 'random')).ok);
  } finally {
    rules.sigmoid.backward = original;
    rules.sigmoid.gradKernel = kernel;
  }
});

test.run();
