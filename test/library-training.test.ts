// Training in TypeScript code with the package's own layers, losses and optimizers (the classes
// model files are built of), as a user imports them from the package's entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Dense, Optimizer, RNN, Rng, Sequential, losses, newContext, type Context, type Variable } from '../src/index.js';

/** Two Gaussian blobs per class on the corners of a square, four classes, one-hot targets. */
function corners(ctx: Context, n: number, rng: Rng): { x: Variable; y: Variable } {
  const x = new Float32Array(n * 2), y = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    x[2 * i] = (k & 1 ? 1 : -1) + 0.2 * (2 * rng.uniform() - 1);
    x[2 * i + 1] = (k & 2 ? 1 : -1) + 0.2 * (2 * rng.uniform() - 1);
    y[4 * i + k] = 1;
  }
  return { x: ctx.constant(x, [n, 2]), y: ctx.constant(y, [n, 4]) };
}

function mlp(ctx: Context, seed: number): Sequential {
  const rng = new Rng(seed);
  return new Sequential([
    new Dense(ctx, 'hidden', [2], { units: 8, activation: 'tanh' }, rng),
    new Dense(ctx, 'head', [8], { units: 4 }, rng),
  ], [2]);
}

test('an MLP built from Dense layers trains with Adam on loss.grad()', () => {
  const ctx = newContext('float32');
  const { x, y } = corners(ctx, 64, new Rng(1));
  const model = mlp(ctx, 0);
  const params = model.parameters().map((p) => p.variable);
  assert.equal(model.parameters().map((p) => p.name), ['hidden.W', 'hidden.b', 'head.W', 'head.b']);
  const opt = new Optimizer({ type: 'adam', lr: 0.05 }, params);
  const first = losses.softmaxCrossEntropy(model.forward(x), y).item();
  let last = first;
  for (let i = 0; i < 100; i++) {
    const loss = losses.softmaxCrossEntropy(model.forward(x), y);
    last = loss.item();
    opt.step(loss.grad());
  }
  assert.ok(first > 1, `starts near ln 4: ${first}`);
  assert.ok(last < 0.05, `ends near 0: ${last}`);
});

test('Optimizer.step takes a Gradients or the gradients in the parameters order alike', () => {
  const ctx = newContext('float64');
  const { x, y } = corners(ctx, 16, new Rng(2));
  const [a, b] = [mlp(ctx, 3), mlp(ctx, 3)];
  const pa = a.parameters().map((p) => p.variable), pb = b.parameters().map((p) => p.variable);
  const oa = new Optimizer({ type: 'momentum', lr: 0.1, weight_decay: 0.01 }, pa);
  const ob = new Optimizer({ type: 'momentum', lr: 0.1, weight_decay: 0.01 }, pb);
  for (let i = 0; i < 3; i++) {
    oa.step(losses.softmaxCrossEntropy(a.forward(x), y).grad());
    const g = losses.softmaxCrossEntropy(b.forward(x), y).grad();
    ob.step(pb.map((p) => g.variable(p)));
  }
  pa.forEach((p, i) => assert.equal(Array.from(p.data()), Array.from(pb[i]!.data())));
  assert.throws(() => ob.step(pb.slice(1).map((p) => p)), (e: Error) => e instanceof RangeError && /3 gradients for 4 parameters/.test(e.message));
});

test('losses are batch means: softmaxCrossEntropy is the mean of the per-row op', () => {
  const ctx = newContext('float64');
  const logits = ctx.variable([[1, 2, 0.5], [0.1, -1, 3]]), target = ctx.constant([[0, 1, 0], [1, 0, 0]]);
  assert.ok(Math.abs(losses.softmaxCrossEntropy(logits, target).item() - logits.softmaxCrossEntropy(target).mean().item()) < 1e-15);
  assert.is(losses.mse(ctx.constant([1, 2]), ctx.constant([0, 0])).item(), 2.5);
  assert.is(losses.hinge(ctx.constant([[0.5], [2]]), ctx.constant([[1], [-1]])).item(), 1.75);
});

test('an RNN layer reads [batch, steps, features] and its gradients reach every parameter', () => {
  const ctx = newContext('float64');
  const rng = new Rng(4);
  const rnn = new RNN(ctx, 'rnn', [5, 3], { units: 4 }, rng);
  const x = ctx.constant(Float64Array.from({ length: 2 * 5 * 3 }, () => rng.uniform() - 0.5), [2, 5, 3]);
  const h = rnn.forward(x);
  assert.equal(h.shape, [2, 4]);
  const g = h.square().sum().grad();
  for (const [name, p] of rnn.params) assert.ok(g.tensor(p).data().some((v) => v !== 0), `${name} has a gradient`);
});

test.run();
