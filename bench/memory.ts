/**
 * Resident memory while training W4 (MLP 784-256-128-10, batch 64, Adam) for 2,000 steps:
 * prints RSS every 200 steps, so a per-step leak shows as a climb. Run `node dist/bench/memory.js`.
 */
import { newContext } from '../src/index.js';
import { softmaxCrossEntropy } from '../src/layers/losses.js';
import { Optimizer } from '../src/layers/optimizers.js';

const D = (await import(new URL('../../bench/common/data.mjs', import.meta.url).href)) as typeof import('./common/data.mjs');
const cfg = D.W4cfg.big;
const d = D.w4Data(cfg);
const ctx = newContext('float32');
const X = ctx.constant(d.X, [cfg.batch, cfg.sizes[0]!]);
const Y = ctx.constant(d.Y, [cfg.batch, 10]);
const params = d.layers.map((L) => ({
  W: ctx.variable(D.transpose(L.W, L.nout, L.nin), { shape: [L.nin, L.nout] }),
  b: ctx.variable(L.b, { shape: [L.nout] }),
}));
const all = params.flatMap((p) => [p.W, p.b]);
const opt = new Optimizer({ type: 'adam', lr: 1e-3 }, all);
const steps = Number(process.argv[2] ?? 2000);
const rows: { step: number; rssMiB: number; heapMiB: number }[] = [];
for (let step = 1; step <= steps; step++) {
  let h = X;
  params.forEach((p, l) => {
    h = h.matmul(p.W).add(p.b);
    if (l < params.length - 1) h = h.relu();
  });
  const loss = softmaxCrossEntropy(h, Y);
  const g = loss.grad();
  opt.step(all.map((p) => g.variable(p)));
  loss.item();
  if (step % 200 === 0) {
    const m = process.memoryUsage();
    rows.push({ step, rssMiB: +(m.rss / 2 ** 20).toFixed(1), heapMiB: +(m.heapUsed / 2 ** 20).toFixed(1) });
  }
}
for (const r of rows) console.log(JSON.stringify(r));
const first = rows[Math.min(1, rows.length - 1)]!, last = rows[rows.length - 1]!;
console.log(`rss from step ${first.step} to ${last.step}: ${first.rssMiB} -> ${last.rssMiB} MiB (${((last.rssMiB - first.rssMiB) / (last.step - first.step) * 1024).toFixed(2)} KiB a step)`);
process.exit(0);
