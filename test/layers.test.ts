// Layers: shapes, the maths of each cell, and seeded initialisation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, newContext } from '../src/index.js';
import { Dense, GRU, LSTM, RNN, buildModel } from '../src/layers/layers.js';

test('dense: x W + b with the activation, W of shape [in, units]', () => {
  const ctx = newContext();
  const d = new Dense(ctx, 'h', [3], { units: 2, activation: 'relu' }, new Rng(1));
  d.params.get('W')!.assign([[1, -1], [2, 0], [0, 1]]);
  d.params.get('b')!.assign([0.5, -10]);
  assert.equal(d.forward(ctx.constant([[1, 1, 1]])).tensor.toArray(), [[3.5, 0]]);
  assert.equal(d.outputShape, [2]);
});

test('rnn: h_t = tanh(x_t Wx + h_{t-1} Wh + b), unrolled over the steps', () => {
  const ctx = newContext();
  const r = new RNN(ctx, 'r', [3, 1], { units: 1 }, new Rng(1));
  r.params.get('Wx')!.assign([[0.5]]);
  r.params.get('Wh')!.assign([[0.8]]);
  r.params.get('b')!.assign([0.1]);
  let h = 0;
  for (const x of [1, -1, 2]) h = Math.tanh(0.5 * x + 0.8 * h + 0.1);
  assert.ok(Math.abs(r.forward(ctx.constant([[[1], [-1], [2]]])).item() - h) < 1e-15);
  const all = new RNN(ctx, 'r2', [3, 1], { units: 4, output: 'all' }, new Rng(1));
  assert.equal([...all.forward(ctx.constant([[[1], [-1], [2]], [[0], [0], [0]]])).shape], [2, 3, 4]);
});

test('gru and lstm: the standard cells, checked against a scalar reference', () => {
  const ctx = newContext();
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const g = new GRU(ctx, 'g', [2, 1], { units: 1 }, new Rng(1));
  g.params.get('Wx')!.assign([[0.5, -0.3, 0.8]]);
  g.params.get('Wh')!.assign([[0.2, 0.4, -0.6]]);
  g.params.get('b')!.assign([0.1, 0, -0.1]);
  let h = 0;
  for (const x of [1, -0.5]) {
    const r = sig(0.5 * x + 0.1 + 0.2 * h), z = sig(-0.3 * x + 0.4 * h);
    const n = Math.tanh(0.8 * x - 0.1 + r * (-0.6 * h));
    h = (1 - z) * n + z * h;
  }
  assert.ok(Math.abs(g.forward(ctx.constant([[[1], [-0.5]]])).item() - h) < 1e-15);

  const l = new LSTM(ctx, 'l', [2, 1], { units: 1 }, new Rng(1));
  l.params.get('Wx')!.assign([[0.5, -0.3, 0.8, 0.1]]);
  l.params.get('Wh')!.assign([[0.2, 0.4, -0.6, 0.3]]);
  l.params.get('b')!.assign([0.1, 0, -0.1, 0.2]);
  let hh = 0, c = 0;
  for (const x of [1, -0.5]) {
    const a = [0.5 * x + 0.2 * hh + 0.1, -0.3 * x + 0.4 * hh, 0.8 * x - 0.6 * hh - 0.1, 0.1 * x + 0.3 * hh + 0.2];
    c = sig(a[1]!) * c + sig(a[0]!) * Math.tanh(a[2]!);
    hh = sig(a[3]!) * Math.tanh(c);
  }
  assert.ok(Math.abs(l.forward(ctx.constant([[[1], [-0.5]]])).item() - hh) < 1e-15);
});

test('initialisation is seeded per parameter name: the same seed gives the same weights', () => {
  const spec = { input: 4, layers: [{ name: 'a', type: 'dense', units: 8, activation: 'tanh', bias: true, init: 'glorot' }, { name: 'b', type: 'dense', units: 3, activation: 'identity', bias: true, init: 'he' }] } as const;
  const w = (seed: number) => [...buildModel(spec as never, newContext(), new Rng(seed)).parameters()[0]!.variable.data()];
  assert.equal(w(3), w(3));
  assert.not.equal(w(3), w(4));
  const glorot = w(3);
  const bound = Math.sqrt(6 / (4 + 8));
  assert.ok(glorot.every((v) => Math.abs(v) <= bound));
  const biases = buildModel(spec as never, newContext(), new Rng(3)).parameters()[1]!.variable.data();
  assert.ok(biases.every((v) => v === 0));
});

test.run();
