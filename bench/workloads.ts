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

/** x W + b per layer, ReLU between layers, a linear last layer. */
export function mlpForward(x: Variable, params: readonly Dense[]): Variable {
  let h = x;
  params.forEach((p, l) => {
    h = h.matmul(p.W).add(p.b);
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
