/**
 * The shared workloads (W1-W6 of the peers' harness) run on rmad: the library behind `rmad
 * bench`. Each result is one line in the harness's format, `{workload, peer, param, metric,
 * value, ok, info}`, so that rmad's figures compare with the peers' lines of the same sitting;
 * `ok` is the harness's correctness check (the same losses, gradients and products as its
 * float64 reference).
 *
 * The training workloads (W2, W4, W4s, W5) run eager (peer `rmad`) or compiled whole with
 * compileValueAndGrad (peer `rmad-compiled`), as the harness reports jax-js with and without
 * jit; with both, eager runs first (the second finds the engine's shared code compiled by V8
 * already).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newContext, type Context } from '../engine/variable.js';
import { packageFile } from '../package-file.js';
import { version } from '../version.js';
import { D, w2Step, w4Step, w5Step, type Mode } from './workloads.js';

export const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W4s', 'W5', 'W6'] as const;
export type WorkloadId = (typeof WORKLOADS)[number];

/** One result, as the peers' harness prints it. */
export interface BenchLine {
  workload: WorkloadId;
  peer: string;
  param: string;
  metric: 'us_per_fwd_bwd' | 'ms_per_step' | 'gflops' | 'ms_wall';
  /** Null when the workload failed (info.error says why). */
  value: number | null;
  ok: boolean;
  info: Record<string, unknown>;
}

export interface BenchOptions {
  /** The workloads to run, in WORKLOADS's order whatever the order given; default all. */
  only?: readonly WorkloadId[];
  /** How the training workloads run; default eager only. */
  modes?: readonly Mode[];
  device?: 'cpu' | 'gpu';
  /** Called with each line as soon as it is measured. */
  onLine?: (line: BenchLine) => void;
}

/** Runs the workloads and returns their lines; a workload that throws gives a line with ok false. */
export function runBench(options: BenchOptions = {}): BenchLine[] {
  const device = options.device ?? 'cpu';
  const modes = options.modes ?? ['eager'];
  const only = new Set(options.only ?? WORKLOADS);
  const base = { version, device, node: process.version };
  const lines: BenchLine[] = [];
  const context = (): Context => newContext('float32', { device });
  // A device that cannot start is the caller's error, said once, not a failed line per workload.
  context();

  const emit = (workload: WorkloadId, peer: string, param: string, metric: BenchLine['metric'], value: number, ok: boolean, info: Record<string, unknown>) => {
    const line: BenchLine = { workload, peer, param, metric, value: Number.isFinite(value) ? +value.toPrecision(6) : null, ok, info: { ...base, ...info } };
    lines.push(line);
    options.onLine?.(line);
  };
  /** Runs `body` if `workload` was asked for; an exception becomes a failed line. */
  const guarded = (workload: WorkloadId, peer: string, param: string, metric: BenchLine['metric'], body: () => void) => {
    if (!only.has(workload)) return;
    try {
      body();
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      emit(workload, peer, param, metric, NaN, false, { error });
    }
  };
  const peerOf = (mode: Mode): string => (mode === 'eager' ? 'rmad' : `rmad-${mode}`);
  /** A training workload in each mode: ms per step, and its first two losses checked against the reference. */
  const training = (workload: WorkloadId, param: string, makeStep: (ctx: Context, mode: Mode) => () => number) => {
    for (const mode of modes) {
      guarded(workload, peerOf(mode), param, 'ms_per_step', () => {
        const step = makeStep(context(), mode);
        const losses: number[] = [];
        const r = D.measure(() => void losses.push(step()), { warmup: 3, samples: 7, iters: 'auto', targetMs: 50, capMs: 8000 });
        const ok = D.checkLosses(workload, losses) && losses.every(Number.isFinite);
        emit(workload, peerOf(mode), param, 'ms_per_step', r.ms, ok, { mode, samples: r.samples, iters: r.iters, loss0: losses[0], loss1: losses[1], lossLast: losses[losses.length - 1] });
      });
    }
  };

  guarded('W1', 'rmad', 'scalar-neuron', 'us_per_fwd_bwd', () => {
    const I = D.W1.inputs;
    let s = NaN;
    const g: Record<string, number> = {};
    const step = () => {
      const ctx = context();
      const a = ctx.variable(I.a), b = ctx.variable(I.b), c = ctx.variable(I.c), x = ctx.variable(I.x), y = ctx.variable(I.y);
      const out = a.mul(x).add(b.mul(y)).add(c).sigmoid();
      const grads = out.grad();
      s = out.item();
      g.a = grads.scalar(a); g.b = grads.scalar(b); g.c = grads.scalar(c); g.x = grads.scalar(x); g.y = grads.scalar(y);
    };
    const r = D.measure(step, { warmup: 2000, samples: 5, iters: D.W1.iters, capMs: 15000 });
    emit('W1', 'rmad', 'scalar-neuron', 'us_per_fwd_bwd', r.ms * 1e3, D.checkW1(s, g), { samples: r.samples, iters: r.iters, s, grads: g });
  });

  training('W2', 'mlp2-16-16-1,n100', w2Step);

  for (const n of D.W3sizes) {
    guarded('W3', 'rmad', `n=${n}`, 'gflops', () => {
      const m = D.w3Matrices(n);
      const ctx = context();
      const A = ctx.constant(m.A, [n, n]), B = ctx.constant(m.B, [n, n]);
      const ok = D.w3Check(n, A.matmul(B).data());
      const r = D.measure(() => void A.matmul(B).data(), { warmup: 2, samples: 7, iters: 'auto', targetMs: 100, capMs: 12000 });
      emit('W3', 'rmad', `n=${n}`, 'gflops', (2 * n ** 3) / (r.ms * 1e-3) / 1e9, ok, { samples: r.samples, iters: r.iters, ms: r.ms });
    });
  }

  for (const cfg of [D.W4cfg.big, D.W4cfg.small]) {
    training(cfg.name as WorkloadId, `${cfg.sizes.join('-')},b${cfg.batch}`, (ctx, mode) => w4Step(ctx, cfg, mode));
  }

  training('W5', 'rnn-T50-b32-h128', w5Step);

  guarded('W6', 'rmad', 'startup', 'ms_wall', () => {
    const run = (script: string) => {
      const t0 = D.nowMs();
      const r = spawnSync(process.execPath, [fileURLToPath(packageFile(`bench/${script}`))], { encoding: 'utf8' });
      return { ms: D.nowMs() - t0, ok: r.status === 0 && r.stdout.trim() === 'grad=6' };
    };
    // The target is relative to an empty node process: one is started before each timed run,
    // so that both see the machine in the same state.
    run('startup.js');
    const runs: { ms: number; ok: boolean }[] = [], empty: number[] = [];
    for (let i = 0; i < 5; i++) {
      empty.push(run('startup-empty.js').ms);
      runs.push(run('startup.js'));
    }
    const ms = D.median(runs.map((r) => r.ms)), emptyMs = D.median(empty);
    emit('W6', 'rmad', 'startup', 'ms_wall', ms, runs.every((r) => r.ok), {
      runs: runs.map((r) => +r.ms.toFixed(1)), nodeEmpty: +emptyMs.toFixed(1), overEmpty: +(ms - emptyMs).toFixed(1),
    });
  });
  return lines;
}
