/**
 * `npm run bench`: the shared workloads (W1-W6, ../shared/BENCHMARKS.md) on rmad, printing the
 * shared JSON lines so they compare with the peers' lines from the same sitting.
 * `npm run bench -- --only W4,W4s` runs a subset; `--device gpu` runs on the WebGPU backend.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newContext, type Context } from '../src/index.js';
import { Optimizer } from '../src/layers/optimizers.js';
import { D, denseParams, mlpForward, w4Step, w5Step } from './workloads.js';
import { version } from '../src/version.js';

const PEER = 'rmad';
/** `--name value` or `--name=value`. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const device = flag('device') === 'gpu' ? 'gpu' : 'cpu';
const base = { version, device, node: process.version };
// data.mjs's selected() reads --only=W1,W3; accept `--only W1,W3` too.
const only = flag('only');
if (only && !process.argv.some((a) => a.startsWith('--only='))) process.argv.push(`--only=${only}`);

function context(): Context {
  return newContext('float32', { device });
}

// ------------------------------------------------------------------ W1
await D.guarded('W1', PEER, 'scalar-neuron', 'us_per_fwd_bwd', async () => {
  if (!D.selected('W1')) return;
  const I = D.W1.inputs;
  const out = { s: NaN, g: {} as Record<string, number> };
  const step = () => {
    const ctx = context();
    const a = ctx.variable(I.a), b = ctx.variable(I.b), c = ctx.variable(I.c), x = ctx.variable(I.x), y = ctx.variable(I.y);
    const s = a.mul(x).add(b.mul(y)).add(c).sigmoid();
    const g = s.grad();
    out.s = s.item();
    out.g.a = g.scalar(a); out.g.b = g.scalar(b); out.g.c = g.scalar(c); out.g.x = g.scalar(x); out.g.y = g.scalar(y);
  };
  const r = await D.measure(step, { warmup: 2000, samples: 5, iters: D.W1.iters, capMs: 15000 });
  D.emit('W1', PEER, 'scalar-neuron', 'us_per_fwd_bwd', r.ms * 1e3, D.checkW1(out.s, out.g), { ...base, samples: r.samples, iters: r.iters, s: out.s, grads: out.g });
});

async function trainMeasure(workload: string, param: string, step: () => number, extra: Record<string, unknown> = {}) {
  const losses: number[] = [];
  const r = await D.measure(() => { losses.push(step()); }, { warmup: 3, samples: 7, iters: 'auto', targetMs: 50, capMs: 8000 });
  const ok = D.checkLosses(workload, losses) && losses.every(Number.isFinite);
  D.emit(workload, PEER, param, 'ms_per_step', r.ms, ok, { ...base, samples: r.samples, iters: r.iters, loss0: losses[0], loss1: losses[1], lossLast: losses[losses.length - 1], ...extra });
}

// ------------------------------------------------------------------ W2
await D.guarded('W2', PEER, 'mlp2-16-16-1,n100', 'ms_per_step', async () => {
  if (!D.selected('W2')) return;
  const d = D.w2Data();
  const ctx = context();
  const X = ctx.constant(d.X, [d.n, 2]);
  const y = ctx.constant(d.y, [d.n, 1]);
  const params = denseParams(ctx, d.layers);
  const all = params.flatMap((p) => [p.W, p.b]);
  const opt = new Optimizer({ type: 'sgd', lr: D.W2cfg.lr }, all);
  const step = () => {
    const s = mlpForward(X, params);
    const data = y.mul(s).rsub(1).relu().mean();
    let reg = all[0]!.square().sum();
    for (let i = 1; i < all.length; i++) reg = reg.add(all[i]!.square().sum());
    const loss = data.add(reg.mul(D.W2cfg.alpha));
    const g = loss.grad();
    opt.step(all.map((p) => g.variable(p)));
    return loss.item();
  };
  await trainMeasure('W2', 'mlp2-16-16-1,n100', step);
});

// ------------------------------------------------------------------ W3
for (const n of D.W3sizes) {
  await D.guarded('W3', PEER, `n=${n}`, 'gflops', async () => {
    if (!D.selected('W3')) return;
    const m = D.w3Matrices(n);
    const ctx = context();
    const A = ctx.constant(m.A, [n, n]), B = ctx.constant(m.B, [n, n]);
    const ok = D.w3Check(n, A.matmul(B).data());
    const r = await D.measure(() => A.matmul(B).data(), { warmup: 2, samples: 7, iters: 'auto', targetMs: 100, capMs: 12000 });
    D.emit('W3', PEER, `n=${n}`, 'gflops', (2 * n ** 3) / (r.ms * 1e-3) / 1e9, ok, { ...base, samples: r.samples, iters: r.iters, ms: r.ms });
  });
}

// ------------------------------------------------------------------ W4 / W4s
for (const key of ['big', 'small'] as const) {
  const cfg = D.W4cfg[key];
  const param = `${cfg.sizes.join('-')},b${cfg.batch}`;
  await D.guarded(cfg.name, PEER, param, 'ms_per_step', async () => {
    if (!D.selected(cfg.name)) return;
    const step = w4Step(context(), cfg);
    await trainMeasure(cfg.name, param, step);
  });
}

// ------------------------------------------------------------------ W5
await D.guarded('W5', PEER, 'rnn-T50-b32-h128', 'ms_per_step', async () => {
  if (!D.selected('W5')) return;
  const step = w5Step(context());
  await trainMeasure('W5', 'rnn-T50-b32-h128', step);
});

// ------------------------------------------------------------------ W6
await D.guarded('W6', PEER, 'startup', 'ms_wall', async () => {
  if (!D.selected('W6')) return;
  const run = (file: string) => {
    const t0 = D.nowMs();
    const r = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], { encoding: 'utf8' });
    return { ms: D.nowMs() - t0, ok: r.status === 0 && r.stdout.trim() === 'grad=6' };
  };
  // The target is relative to an empty node process: one is started before each timed run,
  // so that both see the machine in the same state.
  run('./startup.js');
  const runs: { ms: number; ok: boolean }[] = [], empty: number[] = [];
  for (let i = 0; i < 5; i++) {
    empty.push(run('./startup-empty.js').ms);
    runs.push(run('./startup.js'));
  }
  const ms = D.median(runs.map((r) => r.ms)), emptyMs = D.median(empty);
  D.emit('W6', PEER, 'startup', 'ms_wall', ms, runs.every((r) => r.ok), {
    ...base, runs: runs.map((r) => +r.ms.toFixed(1)), nodeEmpty: +emptyMs.toFixed(1), overEmpty: +(ms - emptyMs).toFixed(1),
  });
});
