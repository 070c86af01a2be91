/**
 * W4's training step (MLP 784-256-128-10, ReLU, softmax cross entropy, Adam; ../shared/peers/
 * WORKLOADS.md) on the WebGPU backend at a GPU-sized batch: forward, backward, Adam, the loss
 * read to the host each step. Prints one JSON line.
 *
 *   node dist/bench/gpu-w4.js [--batch 4096] [--quick]
 */
import { newContext } from '../src/index.js';
import { softmaxCrossEntropy } from '../src/layers/losses.js';
import { Optimizer } from '../src/layers/optimizers.js';

const D = (await import(new URL('../../bench/common/data.mjs', import.meta.url).href)) as typeof import('./common/data.mjs');
const argv = process.argv.slice(2);
const at = argv.indexOf('--batch');
const batch = at >= 0 ? Number(argv[at + 1]) : 4096;
const quick = argv.includes('--quick');
const cfg = { ...D.W4cfg.big, batch };
const d = D.w4Data(cfg);
const ctx = newContext('float32', { device: 'gpu' });
const X = ctx.constant(d.X, [batch, cfg.sizes[0]!]);
const Y = ctx.constant(d.Y, [batch, 10]);
const params = d.layers.map((L) => ({
  W: ctx.variable(D.transpose(L.W, L.nout, L.nin), { shape: [L.nin, L.nout] }),
  b: ctx.variable(L.b, { shape: [L.nout] }),
}));
const all = params.flatMap((p) => [p.W, p.b]);
const opt = new Optimizer({ type: 'adam', lr: D.W4cfg.lr, beta1: D.W4cfg.beta1, beta2: D.W4cfg.beta2, eps: D.W4cfg.eps }, all);
const losses: number[] = [];
const step = () => {
  let h = X;
  params.forEach((p, l) => {
    h = h.matmul(p.W).add(p.b);
    if (l < params.length - 1) h = h.relu();
  });
  const loss = softmaxCrossEntropy(h, Y);
  const g = loss.grad();
  opt.step(all.map((p) => g.variable(p)));
  losses.push(loss.item());
};
const r = await D.measure(step, quick ? { warmup: 2, samples: 3, iters: 'auto', targetMs: 50, capMs: 3000 } : { warmup: 3, samples: 7, iters: 'auto', targetMs: 50, capMs: 8000 });
const device = (ctx.backend as { adapter?: { description?: string; vendor?: string } }).adapter;
console.log(JSON.stringify({
  workload: 'W4', peer: 'rmad-webgpu', param: `784-256-128-10,b${batch}`, metric: 'ms_per_step', value: +r.ms.toFixed(4),
  ok: losses.every(Number.isFinite) && losses[1]! < losses[0]!,
  info: { device: device?.description || device?.vendor, samples: r.samples, iters: r.iters, loss0: losses[0], loss1: losses[1] },
}));
process.exit(0);
