// Wrong use of the library's transforms, gradients, gradcheck, layers and losses throws at the
// call that is wrong, naming what was given and what is expected; nothing runs on with a silent
// wrong number.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ContextMismatchError, Dense, GRU, RNN, Rng, Sequential, ShapeError, grad, gradcheck, losses, newContext, valueAndGrad, type Variable,
} from '../src/index.js';

const throwsLike = (f: () => unknown, type: new (...a: never[]) => Error, message: RegExp) =>
  assert.throws(f, (e: Error) => e instanceof type && message.test(e.message));

test('grad: a function that returns no Variable, and an argnum out of range', () => {
  throwsLike(() => grad((() => 3) as never)(1), TypeError, /^grad: the function returned 3; it must return a Variable/);
  throwsLike(() => grad((() => undefined) as never)(1), TypeError, /^grad: the function returned nothing/);
  throwsLike(() => grad((x: Variable) => x.square(), { argnum: 3 })(1), RangeError, /^grad: argnum is 3, but the function was called with 1 argument; it must be in \[0, 0\]/);
  throwsLike(() => valueAndGrad((x: Variable) => x.square(), { argnum: -1 })(1), RangeError, /^valueAndGrad: argnum is -1/);
});

test('wrt: something that is not a Variable, a variable of another context', () => {
  const a = newContext(), b = newContext();
  const x = a.variable([1, 2]);
  const g = x.square().sum().grad();
  throwsLike(() => g.wrt(undefined as never), TypeError, /^wrt: undefined is not a Variable/);
  throwsLike(() => g.wrt(3 as never), TypeError, /^wrt: 3 is not a Variable/);
  throwsLike(() => g.wrt(b.variable([1, 2])), ContextMismatchError, /^wrt: .* belongs to context #\d+ .*, the output to context #\d+/);
});

test('gradcheck: options that would pass a wrong gradient or check the wrong thing are refused', () => {
  const wrong = (x: Variable) => x.mul(x.detach());
  for (const [options, said] of [
    [{ atol: NaN }, /^gradcheck: atol is null; it must be a finite number >= 0/],
    [{ rtol: '1e-3' }, /^gradcheck: rtol is "1e-3"/],
    [{ eps: 0 }, /^gradcheck: eps is 0; it must be a finite number > 0/],
    [{ order: 3 }, /^gradcheck: order is 3; it must be 1 or 2/],
    [{ wrt: [true, false] }, /^gradcheck: wrt has 2 entries for 1 inputs/],
    [{ device: 'tpu' }, /^gradcheck: device is "tpu"/],
  ] as const) {
    throwsLike(() => gradcheck(wrong, [[0.5, 2]], options as never), RangeError, said);
  }
  assert.not.ok(gradcheck(wrong, [[0.5, 2]]).ok, 'the wrong gradient is still caught');
});

test('layers: options of model files checked in code too; one name per layer; recurrent input shapes', () => {
  const ctx = newContext(), rng = new Rng(0);
  throwsLike(() => new Dense(ctx, 'd', [4], { units: 3, init: 'xavier' as never }, rng), RangeError, /^d: unknown init 'xavier'; the initializers are glorot, he, zeros$/);
  throwsLike(() => new Dense(ctx, 'd', [4], { units: 3, activation: 'swish' as never }, rng), RangeError, /^d: unknown activation 'swish'; the activations are identity, relu/);
  throwsLike(() => new Dense(ctx, 'd', [4], { units: 0 }, rng), RangeError, /^d: units is 0; it must be a whole number >= 1$/);
  throwsLike(() => new Dense(ctx, 'd', [4], { units: 2 }, undefined as never), TypeError, /^d: give an Rng/);
  throwsLike(() => new RNN(ctx, 'r', [5, 3], { units: 2, output: 'first' as never }, rng), RangeError, /^r: output is 'first'; it must be 'last' or 'all'$/);
  const d = () => new Dense(ctx, 'h', [4], { units: 4 }, rng);
  throwsLike(() => new Sequential([d(), d()], [4]), RangeError, /^Sequential: two layers are named 'h'/);
  const gru = new GRU(ctx, 'g', [5, 3], { units: 2 }, rng);
  throwsLike(() => gru.forward(ctx.constant(new Float64Array(15), [5, 3])), ShapeError, /^g: input .*\[5,3\].*; the layer reads \[batch, 5, 3\] \(batch, steps, features\)$/);
  throwsLike(() => gru.forward(ctx.constant(new Float64Array(12), [1, 4, 3])), ShapeError, /^g: input .*\[1,4,3\]/);
});

test('losses: an output and a target of different shapes are refused, not broadcast', () => {
  const ctx = newContext();
  const out = ctx.variable([[1], [2]]), flat = ctx.constant([1, 2]);
  for (const [name, loss] of [['mse', losses.mse], ['hinge', losses.hinge], ['binaryCrossEntropy', losses.binaryCrossEntropy]] as const) {
    throwsLike(() => loss(out, flat), ShapeError, new RegExp(`^${name}: the output .*\\[2,1\\].* and the target .*\\[2\\].* differ in shape`));
  }
  assert.is(losses.mse(out, ctx.constant([[1], [2]])).item(), 0);
});

test('a reduction over an axis given twice is refused, as in NumPy and PyTorch', () => {
  const x = newContext().variable([[1, 2], [3, 4]]);
  throwsLike(() => x.sum([0, 0]), ShapeError, /^sum: axis 0 is given twice \(axes \[0,0\] of rank 2\); give each axis once$/);
  throwsLike(() => x.mean([1, -1]), ShapeError, /^mean: axis -1 is given twice/);
  assert.equal(Array.from(x.sum([1, 0]).data()), [10]);
});

test.run();
