/**
 * The shared workloads' models built with rmad (../shared/peers/WORKLOADS.md): one definition
 * for `npm run bench`, the memory benchmark and the GPU benchmark.
 */
import type { Context, Variable } from '../src/index.js';
import { softmaxCrossEntropy } from '../src/layers/losses.js';
import { Optimizer } from '../src/layers/optimizers.js';

export const D = (await import(new URL('../../bench/common/data.mjs', import.meta.url).href)) as typeof import('./common/data.mjs');

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

/** W4's (or W4s's) training step at `batch` rows: forward, backward, Adam; returns the loss. */
export function w4Step(ctx: Context, cfg: import('./common/data.mjs').W4Config): () => number {
  const d = D.w4Data(cfg);
  const X = ctx.constant(d.X, [cfg.batch, cfg.sizes[0]!]);
  const Y = ctx.constant(d.Y, [cfg.batch, 10]);
  const params = denseParams(ctx, d.layers);
  const all = params.flatMap((p) => [p.W, p.b]);
  const opt = new Optimizer({ type: 'adam', lr: D.W4cfg.lr, beta1: D.W4cfg.beta1, beta2: D.W4cfg.beta2, eps: D.W4cfg.eps }, all);
  return () => {
    const loss = softmaxCrossEntropy(mlpForward(X, params), Y);
    const g = loss.grad();
    opt.step(all.map((p) => g.variable(p)));
    return loss.item();
  };
}

/** W5's training step: a tanh RNN unrolled over 50 steps, softmax cross entropy, SGD. */
export function w5Step(ctx: Context): () => number {
  const c = D.W5cfg;
  const d = D.w5Data();
  const Xs = Array.from({ length: c.T }, (_, t) => ctx.constant(d.X.subarray(t * c.batch * c.nin, (t + 1) * c.batch * c.nin), [c.batch, c.nin]));
  const Y = ctx.constant(d.Y, [c.batch, c.nout]);
  const Wxh = ctx.variable(D.transpose(d.Wxh, c.hidden, c.nin), { shape: [c.nin, c.hidden] });
  const Whh = ctx.variable(D.transpose(d.Whh, c.hidden, c.hidden), { shape: [c.hidden, c.hidden] });
  const bh = ctx.variable(d.bh, { shape: [c.hidden] });
  const Why = ctx.variable(D.transpose(d.Why, c.nout, c.hidden), { shape: [c.hidden, c.nout] });
  const by = ctx.variable(d.by, { shape: [c.nout] });
  const all = [Wxh, Whh, bh, Why, by];
  const opt = new Optimizer({ type: 'sgd', lr: c.lr }, all);
  return () => {
    let h: Variable = ctx.constant(new Float32Array(c.batch * c.hidden), [c.batch, c.hidden]);
    for (let t = 0; t < c.T; t++) h = Xs[t]!.linear(Wxh, bh, [h, Whh]).tanh();
    const loss = softmaxCrossEntropy(h.linear(Why, by), Y);
    const g = loss.grad();
    opt.step(all.map((p) => g.variable(p)));
    return loss.item();
  };
}
