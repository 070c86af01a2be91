/**
 * W4's training step (MLP 784-256-128-10, ReLU, softmax cross entropy, Adam; ../shared/peers/
 * WORKLOADS.md) on the WebGPU backend at a GPU-sized batch: forward, backward, Adam, the loss
 * read to the host each step. Prints one JSON line.
 *
 *   node dist/bench/gpu-w4.js [--batch 4096] [--quick]
 */
import { newContext } from '../src/index.js';
import { D, w4Step } from '../src/bench/workloads.js';

const argv = process.argv.slice(2);
const at = argv.indexOf('--batch');
const batch = at >= 0 ? Number(argv[at + 1]) : 4096;
const quick = argv.includes('--quick');
const cfg = { ...D.W4cfg.big, batch };
const ctx = newContext('float32', { device: 'gpu' });
const train = w4Step(ctx, cfg);
const losses: number[] = [];
const step = () => losses.push(train());
const r = await D.measure(step, quick ? { warmup: 2, samples: 3, iters: 'auto', targetMs: 50, capMs: 3000 } : { warmup: 3, samples: 7, iters: 'auto', targetMs: 50, capMs: 8000 });
const device = (ctx.backend as { adapter?: { description?: string; vendor?: string } }).adapter;
console.log(JSON.stringify({
  workload: 'W4', peer: 'rmad-webgpu', param: `784-256-128-10,b${batch}`, metric: 'ms_per_step', value: +r.ms.toFixed(4),
  ok: losses.every(Number.isFinite) && losses[1]! < losses[0]!,
  info: { device: device?.description || device?.vendor, samples: r.samples, iters: r.iters, loss0: losses[0], loss1: losses[1] },
}));
process.exit(0);
