/**
 * The shared workloads' models built with rmad (WORKLOADS.md of the peers' harness): one
 * definition for `rmad bench`, the memory benchmark and the GPU benchmark.
 */
import type { Context, Variable } from '../engine/variable.js';
import { compileValueAndGrad } from '../engine/rewrite/compile.js';
import { softmaxCrossEntropy } from '../layers/losses.js';
import { Optimizer } from '../layers/optimizers.js';
import * as D from './data.js';

export { D };

export interface Dense {
  W: Variable;
  b: Variable;
}

/** Dense layers as [in, out] weights, as the workloads allow (transposed once at set-up). */
export function denseParams(ctx: Context, layers: readonly { nin: number; nout: number; W: Float32Array; b: Float32Array }[]): Dense[] {
  return layers.map((L, i) => ({
    W: ctx.variable(D.transpose(L.W, L.nout, L.nin), { shape: [L.nin, L.nout], name: `W${i}` }),
    b: ctx.variable(L.b, { shape: [L.nout], name: `b${i}` }),
  }));
}

/** x W + b per layer (linear, as the PyTorch peer's F.linear), ReLU between layers, a linear last layer. */
export function mlpForward(x: Variable, params: readonly Dense[]): Variable {
  let h = x;
  params.forEach((p, l) => {
    h = h.linear(p.W, p.b);
    if (l < params.length - 1) h = h.relu();
  });
  return h;
}

/**
 * How a training step runs: `eager` records the graph and walks it back each step (the
 * default); `compiled` traces the whole step once (compileValueAndGrad, as `rmad train
 * --compile`) and runs it as a plan of kernels, as jax-js's jit does.
 */
export type Mode = 'eager' | 'compiled';

/** A training step: `loss` of `inputs`, its gradients w.r.t. `params`, the optimizer; returns the loss. */
function trainingStep(loss: (...xs: Variable[]) => Variable, inputs: Variable[], params: Variable[], opt: Optimizer, mode: Mode): () => number {
  if (mode === 'eager') {
    return () => {
      const l = loss(...inputs);
      const g = l.grad();
      opt.step(params.map((p) => g.variable(p)));
      return l.item();
    };
  }
  const valueAndGrad = compileValueAndGrad(loss, params);
  return () => {
    const r = valueAndGrad(...inputs);
    opt.step(r.grads);
    return r.value.item();
  };
}

/** W2's training step: micrograd's MLP on two moons, hinge loss + L2, full batch, SGD. */
export function w2Step(ctx: Context, mode: Mode = 'eager'): () => number {
  const d = D.w2Data();
  const X = ctx.constant(d.X, [d.n, 2]);
  const y = ctx.constant(d.y, [d.n, 1]);
  const params = denseParams(ctx, d.layers);
  const all = params.flatMap((p) => [p.W, p.b]);
  const loss = (x: Variable, t: Variable): Variable => {
    const data = t.mul(mlpForward(x, params)).rsub(1).relu().mean();
    let reg = all[0]!.square().sum();
    for (let i = 1; i < all.length; i++) reg = reg.add(all[i]!.square().sum());
    return data.add(reg.mul(D.W2cfg.alpha));
  };
  return trainingStep(loss, [X, y], all, new Optimizer({ type: 'sgd', lr: D.W2cfg.lr }, all), mode);
}

/** W4's (or W4s's) training step at `batch` rows: forward, backward, Adam; returns the loss. */
export function w4Step(ctx: Context, cfg: D.W4Config, mode: Mode = 'eager'): () => number {
  const d = D.w4Data(cfg);
  const X = ctx.constant(d.X, [cfg.batch, cfg.sizes[0]!]);
  const Y = ctx.constant(d.Y, [cfg.batch, 10]);
  const params = denseParams(ctx, d.layers);
  const all = params.flatMap((p) => [p.W, p.b]);
  const opt = new Optimizer({ type: 'adam', lr: D.W4cfg.lr, beta1: D.W4cfg.beta1, beta2: D.W4cfg.beta2, eps: D.W4cfg.eps }, all);
  return trainingStep((x, t) => softmaxCrossEntropy(mlpForward(x, params), t), [X, Y], all, opt, mode);
}

/** W5's parameters, weights as [in, out]: the input and recurrent weights, the hidden bias, the head. */
export function w5Params(ctx: Context, d: ReturnType<typeof D.w5Data>) {
  const c = D.W5cfg;
  const Wxh = ctx.variable(D.transpose(d.Wxh, c.hidden, c.nin), { shape: [c.nin, c.hidden] });
  const Whh = ctx.variable(D.transpose(d.Whh, c.hidden, c.hidden), { shape: [c.hidden, c.hidden] });
  const bh = ctx.variable(d.bh, { shape: [c.hidden] });
  const Why = ctx.variable(D.transpose(d.Why, c.nout, c.hidden), { shape: [c.hidden, c.nout] });
  const by = ctx.variable(d.by, { shape: [c.nout] });
  return { Wxh, Whh, bh, Why, by, all: [Wxh, Whh, bh, Why, by] };
}

/** W5's training step: a tanh RNN unrolled over 50 steps, softmax cross entropy, SGD. */
export function w5Step(ctx: Context, mode: Mode = 'eager'): () => number {
  const c = D.W5cfg;
  const d = D.w5Data();
  const Xs = Array.from({ length: c.T }, (_, t) => ctx.constant(d.X.subarray(t * c.batch * c.nin, (t + 1) * c.batch * c.nin), [c.batch, c.nin]));
  const Y = ctx.constant(d.Y, [c.batch, c.nout]);
  const { Wxh, Whh, bh, Why, by, all } = w5Params(ctx, d);
  const loss = (t: Variable): Variable => {
    let h: Variable = ctx.constant(new Float32Array(c.batch * c.hidden), [c.batch, c.hidden]);
    for (let s = 0; s < c.T; s++) h = Xs[s]!.linear(Wxh, bh, [h, Whh]).tanh();
    return softmaxCrossEntropy(h.linear(Why, by), t);
  };
  return trainingStep(loss, [Y], all, new Optimizer({ type: 'sgd', lr: c.lr }, all), mode);
}
