/**
 * `npm run bench`: the shared workloads (W1-W6, ../shared/BENCHMARKS.md) on rmad, printing the
 * shared JSON lines so they compare with the peers' lines from the same sitting.
 * `npm run bench -- --only W4,W4s` runs a subset; `--device gpu` runs on the WebGPU backend.
 * The training workloads (W2, W4, W4s, W5) run eager (peer `rmad`); `--mode compiled` runs
 * them compiled whole instead (compileValueAndGrad, peer `rmad-compiled`), as the harness
 * reports jax-js with and without jit, and `--mode both` runs both, eager first (the second
 * finds the engine's shared code compiled by V8 already).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newContext, type Context } from '../src/index.js';
import { D, w2Step, w4Step, w5Step, type Mode } from './workloads.js';
import { version } from '../src/version.js';

const PEER = 'rmad';
const peerOf = (mode: Mode): string => (mode === 'eager' ? PEER : `${PEER}-${mode}`);
/** `--name value` or `--name=value`. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
/** A flag's value among `allowed` (the first when absent); anything else ends the run with one line, exit 2. */
function choice<T extends string>(name: string, allowed: readonly T[]): T {
  const v = flag(name) ?? allowed[0]!;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  process.stderr.write(`bench: --${name} ${v} is not one of ${allowed.join(', ')}\n`);
  process.exit(2);
}
const device = choice('device', ['cpu', 'gpu'] as const);
const modeFlag = choice('mode', ['eager', 'compiled', 'both'] as const);
const modes: Mode[] = modeFlag === 'both' ? ['eager', 'compiled'] : [modeFlag];
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

async function trainMeasure(workload: string, mode: Mode, param: string, step: () => number) {
  const losses: number[] = [];
  const r = await D.measure(() => { losses.push(step()); }, { warmup: 3, samples: 7, iters: 'auto', targetMs: 50, capMs: 8000 });
  const ok = D.checkLosses(workload, losses) && losses.every(Number.isFinite);
  D.emit(workload, peerOf(mode), param, 'ms_per_step', r.ms, ok, { ...base, mode, samples: r.samples, iters: r.iters, loss0: losses[0], loss1: losses[1], lossLast: losses[losses.length - 1] });
}

/** A training workload in each mode asked for. */
async function training(workload: string, param: string, makeStep: (ctx: Context, mode: Mode) => () => number) {
  for (const mode of modes) {
    await D.guarded(workload, peerOf(mode), param, 'ms_per_step', async () => {
      if (!D.selected(workload)) return;
      await trainMeasure(workload, mode, param, makeStep(context(), mode));
    });
  }
}

// ------------------------------------------------------------------ W2
await training('W2', 'mlp2-16-16-1,n100', w2Step);

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
  await training(cfg.name, `${cfg.sizes.join('-')},b${cfg.batch}`, (ctx, mode) => w4Step(ctx, cfg, mode));
}

// ------------------------------------------------------------------ W5
await training('W5', 'rnn-T50-b32-h128', w5Step);

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
