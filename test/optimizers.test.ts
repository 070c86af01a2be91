// Optimizers against updates worked out by hand, learning-rate schedules, clipping, losses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu, fastCpu, newContext, type Variable } from '../src/index.js';
import { Optimizer, clipByGlobalNorm, scheduledLr } from '../src/layers/optimizers.js';
import { binaryCrossEntropy, hinge, mse, softmaxCrossEntropy, countCorrect } from '../src/layers/losses.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

function stepOnce(type: 'sgd' | 'momentum' | 'adam' | 'adamw', extra: Record<string, unknown>, grads: number[][]): number[] {
  const ctx = newContext();
  const p = ctx.variable([1, -2], { name: 'p' });
  const opt = new Optimizer({ type, lr: 0.1, ...extra }, [p]);
  for (const g of grads) opt.step([ctx.constant(g)]);
  return [...p.data()];
}

test('sgd: p -= lr g, with L2 weight decay added to the gradient', () => {
  const [a, b] = stepOnce('sgd', {}, [[0.5, 1]]);
  close(a!, 1 - 0.05); close(b!, -2 - 0.1);
  const [c] = stepOnce('sgd', { weight_decay: 0.1 }, [[0.5, 1]]);
  close(c!, 1 - 0.1 * (0.5 + 0.1 * 1));
});

test('momentum and nesterov follow torch.optim.SGD', () => {
  // v1 = g1; p1 = p0 - lr v1; v2 = μ v1 + g2; p2 = p1 - lr v2
  const [a] = stepOnce('momentum', { momentum: 0.9 }, [[1, 0], [1, 0]]);
  close(a!, 1 - 0.1 * 1 - 0.1 * (0.9 + 1));
  // nesterov: p -= lr (g + μ v)
  const [b] = stepOnce('momentum', { momentum: 0.9, nesterov: true }, [[1, 0], [1, 0]]);
  close(b!, 1 - 0.1 * (1 + 0.9) - 0.1 * (1 + 0.9 * 1.9));
});

test('adam: bias-corrected moments; adamw: decoupled decay', () => {
  // After one step m̂ = g, v̂ = g², so p -= lr g / (|g| + ε)
  const [a, b] = stepOnce('adam', {}, [[0.5, -3]]);
  close(a!, 1 - 0.1 * 0.5 / (0.5 + 1e-8)); close(b!, -2 + 0.1 * 3 / (3 + 1e-8));
  // two steps, by hand
  const g1 = 0.5, g2 = -0.25, b1 = 0.9, b2 = 0.999;
  let m = (1 - b1) * g1, v = (1 - b2) * g1 * g1, p = 1 - 0.1 * (m / (1 - b1)) / (Math.sqrt(v / (1 - b2)) + 1e-8);
  m = b1 * m + (1 - b1) * g2; v = b2 * v + (1 - b2) * g2 * g2;
  p -= (0.1 * (m / (1 - b1 ** 2))) / (Math.sqrt(v / (1 - b2 ** 2)) + 1e-8);
  close(stepOnce('adam', {}, [[g1, 0], [g2, 0]])[0]!, p);
  const [c] = stepOnce('adamw', { weight_decay: 0.5 }, [[0.5, 0]]);
  close(c!, 1 - 0.1 * 0.5 / (0.5 + 1e-8) - 0.1 * 0.5 * 1);
});

test('frozen parameters are refused by an optimizer', () => {
  const ctx = newContext();
  const p = ctx.variable([1], { requiresGrad: false, name: 'frozen' });
  assert.throws(() => new Optimizer({ type: 'sgd', lr: 0.1 }, [p]), /frozen/);
});

test('hyperparameters outside the ranges PyTorch accepts are refused, naming the setting', () => {
  const ctx = newContext();
  const p = ctx.variable([1], { name: 'p' });
  for (const [bad, name] of [
    [{ lr: -0.1 }, 'lr'], [{ lr: NaN }, 'lr'], [{ weight_decay: -1 }, 'weight_decay'], [{ momentum: -0.5 }, 'momentum'],
    [{ beta1: 1 }, 'beta1'], [{ beta2: 1.5 }, 'beta2'], [{ beta2: -0.1 }, 'beta2'], [{ eps: -1e-8 }, 'eps'],
  ] as const) {
    assert.throws(() => new Optimizer({ type: 'adam', lr: 0.1, ...bad }, [p]), (e: Error) => e instanceof RangeError && e.message.startsWith(`optimizer: ${name} is `));
  }
  new Optimizer({ type: 'adam', lr: 0, beta1: 0, beta2: 0, eps: 0, momentum: 0, weight_decay: 0 }, [p]);
  for (const [bad, said] of [
    [{ type: 'rmsprop' }, /^optimizer: unknown type 'rmsprop'/], [{ lr: Infinity }, /^optimizer: lr is Infinity/],
    [{ clip_norm: -1 }, /^optimizer: clip_norm is -1/], [{ clip_norm: NaN }, /^optimizer: clip_norm is NaN/],
    [{ weightDecay: 0.1 }, /^optimizer: unknown setting 'weightDecay'; the settings are type, lr, momentum, nesterov/],
  ] as const) {
    assert.throws(() => new Optimizer({ type: 'adam', lr: 0.1, ...bad } as never, [p]), (e: Error) => e instanceof RangeError && said.test(e.message));
  }
  assert.throws(() => clipByGlobalNorm([p], -1), /maxNorm is -1/);
});

test('parameters are given once each, under names of their own; each gradient fits its parameter', () => {
  const ctx = newContext();
  const w = ctx.variable([1, 2, 3], { name: 'w' }), v = ctx.variable([[1, 2], [3, 4]], { name: 'v' });
  assert.throws(() => new Optimizer({ type: 'adam', lr: 0.1 }, [w, w]), /parameter .* is given twice/);
  assert.throws(() => new Optimizer({ type: 'adam', lr: 0.1 }, [w, ctx.variable([1], { name: 'w' })]), /two parameters are named 'w'/);
  const opt = new Optimizer({ type: 'adam', lr: 0.1 }, [w, v]);
  const ones = (shape: number[]) => ctx.constant(ctx.backend.full(shape, 1, 'float64'));
  for (const [grads, said] of [
    [[ones([2, 2]), ones([3])], /the gradient of .*w.* is .*\[2,2\]\); it must have the parameter's shape and dtype \(are the gradients in the parameters' order\?\)/],
    [[ones([2]), ones([2, 2])], /the gradient of .*w/],
    [[newContext().constant([1, 1, 1]), ones([2, 2])], /belongs to/],
  ] as const) {
    assert.throws(() => opt.step(grads as never), (e: Error) => said.test(e.message));
  }
  assert.throws(() => opt.step([[1, 1, 1], ones([2, 2])] as never), (e: Error) => e instanceof TypeError && /is an array, not a Variable/.test(e.message));
  assert.equal(Array.from(w.data()), [1, 2, 3], 'nothing stepped');
});

test('a weight decay of 0 adds nothing, as in PyTorch: an infinite parameter stays infinite, on both backends', () => {
  for (const device of [cpu, fastCpu]) {
    for (const type of ['sgd', 'momentum', 'adam', 'adamw'] as const) {
      const ctx = newContext('float32', { device });
      // 130 elements: over the fast backend's threshold for its fused kernel
      const p = ctx.variable(Array.from({ length: 130 }, (_, i) => (i === 0 ? Infinity : 1)), { name: 'p' });
      new Optimizer({ type, lr: 0.1 }, [p]).step([ctx.constant(new Float32Array(130).fill(0.5))]);
      assert.is(p.data()[0], Infinity, `${device === cpu ? 'reference' : 'fast'} ${type}`);
    }
  }
});

test('clip_norm scales all gradients by one global factor', () => {
  const ctx = newContext();
  const [a, b] = clipByGlobalNorm([ctx.constant([3]), ctx.constant([4])], 1) as [Variable, Variable];
  close(a.item(), 3 / (5 + 1e-6)); close(b.item(), 4 / (5 + 1e-6));
  const [c] = clipByGlobalNorm([ctx.constant([0.3])], 1) as [Variable];
  close(c.item(), 0.3);
});

test('schedules: step, exponential, cosine', () => {
  close(scheduledLr(0.1, { type: 'constant' }, 7), 0.1);
  close(scheduledLr(0.1, { type: 'step', step_size: 3, gamma: 0.5 }, 7), 0.025);
  close(scheduledLr(0.1, { type: 'exponential', gamma: 0.9 }, 2), 0.081);
  close(scheduledLr(0.1, { type: 'cosine', t_max: 10, min_lr: 0 }, 0), 0.1);
  close(scheduledLr(0.1, { type: 'cosine', t_max: 10, min_lr: 0.01 }, 5), 0.055);
  close(scheduledLr(0.1, { type: 'cosine', t_max: 10, min_lr: 0.01 }, 10), 0.01);
});

test('losses: values by hand, stable at extreme logits', () => {
  const ctx = newContext();
  close(hinge(ctx.constant([[2], [0.5], [-1]]), ctx.constant([[1], [1], [1]])).item(), (0 + 0.5 + 2) / 3);
  close(mse(ctx.constant([1, 2]), ctx.constant([0, 0])).item(), 2.5);
  close(binaryCrossEntropy(ctx.constant([0]), ctx.constant([1])).item(), Math.log(2));
  close(binaryCrossEntropy(ctx.constant([1000, -1000]), ctx.constant([1, 0])).item(), 0);
  close(binaryCrossEntropy(ctx.constant([-1000]), ctx.constant([1])).item(), 1000);
  close(softmaxCrossEntropy(ctx.constant([[0, 0]]), ctx.constant([[1, 0]])).item(), Math.log(2));
  close(softmaxCrossEntropy(ctx.constant([[1000, -1000]]), ctx.constant([[0, 1]])).item(), 2000);
  assert.is(countCorrect('softmax_cross_entropy', [0.1, 0.9, 0.8, 0.2], [0, 1, 0, 1], 2), 1);
  assert.is(countCorrect('hinge', [0.3, -0.2], [1, 1], 2), 1);
  assert.is(countCorrect('mse', [0.3], [1], 1), null);
});

test('an optimizer on the fast backend keeps its parameters and state where the fused update works in place; restored state, and values assigned between steps, work too', () => {
  const run = (restore: 'no' | 'arrays' | 'loadState' | 'assign') => {
    const ctx = newContext('float32');
    const W = ctx.variable(Array.from({ length: 600 }, (_, i) => Math.sin(i)), { shape: [30, 20], name: 'W' });
    const b = ctx.variable(Array.from({ length: 20 }, (_, i) => Math.cos(i)), { name: 'b' });
    const x = ctx.constant(Array.from({ length: 90 }, (_, i) => Math.sin(3 * i)), [3, 30]);
    const opt = new Optimizer({ type: 'adam', lr: 0.01 }, [W, b]);
    // State that came from a checkpoint, in ordinary arrays: taken as it is, or copied in by loadState.
    const saved = new Map([W, b].map((p) => [p.name!, [0, 1].map(() => ctx.constant(ctx.backend.full(p.shape, 0, 'float32')))]));
    if (restore === 'arrays') for (const [name, list] of saved) opt.state.set(name, list);
    if (restore === 'loadState') opt.loadState(saved);
    for (let t = 0; t < 4; t++) {
      const loss = x.linear(W, b).tanh().square().mean();
      const g = loss.grad();
      // The same values in tensors of their own (as a checkpoint's weights are assigned).
      if (restore === 'assign' && t === 2) for (const p of [W, b]) p.assign(p.tensor.data().slice());
      opt.step([g.variable(W), g.variable(b)]);
    }
    return { opt, W: [...W.tensor.data()], b: [...b.tensor.data()], params: [W.tensor.data().buffer, b.tensor.data().buffer] };
  };
  const buffers = (r: ReturnType<typeof run>) => new Set([...[...r.opt.state.values()].flat().map((v) => v.tensor.data().buffer), ...r.params]);
  const resident = run('no'), arrays = run('arrays'), loaded = run('loadState'), assigned = run('assign');
  assert.is(buffers(resident).size, 1, 'parameters and state in one memory');
  assert.is(buffers(loaded).size, 1, 'loadState copies into one memory');
  assert.is(buffers(assigned).size, 1, 'values assigned go back beside the state');
  assert.is(buffers(arrays).size, 6, 'state taken as it is stays in its own arrays, and so do the parameters');
  for (const r of [arrays, loaded, assigned]) {
    assert.equal(r.W, resident.W);
    assert.equal(r.b, resident.b);
  }
});

test.run();
