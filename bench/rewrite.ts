/**
 * `node dist/bench/rewrite.js`: what compiling (tracing, rewrite rules, fusion) does to a training
 * step, on the shared workloads W2, W4s and W5 (../shared/peers/WORKLOADS.md, data from
 * src/bench/data.ts) and the digits MLP (models/digits.yaml): op nodes and kernels per step,
 * and time per step, eager against compiled, measured alternately in one sitting so the ratio
 * holds however loaded the machine is. Then a long-form expression, 2 / (1 + e^-x) over 1e6
 * elements, against its short form 2·σ(x). `--json` prints one JSON line per result.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import {
  Profiler, compile, compileValueAndGrad, newContext, trace, type Context, type DType, type Variable,
} from '../src/index.js';
import { Optimizer } from '../src/layers/optimizers.js';
import { lossFor, softmaxCrossEntropy } from '../src/layers/losses.js';
import { loadModelFile } from '../src/loaders/modelfile.js';
import { setup } from '../src/train/trainer.js';
import { D, denseParams, mlpForward, w5Params } from '../src/bench/workloads.js';

const json = process.argv.includes('--json');
const root = fileURLToPath(new URL('../..', import.meta.url));

/** A workload, built twice (eager and compiled need parameters of their own). */
interface Workload {
  name: string;
  /** The loss of one batch, closing over the parameters. */
  loss: (x: Variable, y: Variable) => Variable;
  params: Variable[];
  x: Variable;
  y: Variable;
  optimizer: Optimizer;
  ctx: Context;
  /** Reference losses of the first two steps (the shared workloads), if any. */
  check?: string;
}

function w2(dtype: DType): Workload {
  const d = D.w2Data();
  const ctx = newContext(dtype);
  const params = denseParams(ctx, d.layers);
  const all = params.flatMap((p) => [p.W, p.b]);
  const loss = (X: Variable, y: Variable) => {
    const data = y.mul(mlpForward(X, params)).rsub(1).relu().mean();
    let reg = all[0]!.square().sum();
    for (let i = 1; i < all.length; i++) reg = reg.add(all[i]!.square().sum());
    return data.add(reg.mul(D.W2cfg.alpha));
  };
  return {
    name: 'W2', loss, params: all, ctx, check: 'W2',
    x: ctx.constant(d.X, [d.n, 2]), y: ctx.constant(d.y, [d.n, 1]),
    optimizer: new Optimizer({ type: 'sgd', lr: D.W2cfg.lr }, all),
  };
}

function w4s(dtype: DType): Workload {
  const cfg = D.W4cfg.small;
  const d = D.w4Data(cfg);
  const ctx = newContext(dtype);
  const params = denseParams(ctx, d.layers);
  const all = params.flatMap((p) => [p.W, p.b]);
  return {
    name: 'W4s', loss: (X, Y) => softmaxCrossEntropy(mlpForward(X, params), Y), params: all, ctx, check: 'W4s',
    x: ctx.constant(d.X, [cfg.batch, cfg.sizes[0]!]), y: ctx.constant(d.Y, [cfg.batch, 10]),
    optimizer: new Optimizer({ type: 'adam', lr: D.W4cfg.lr, beta1: D.W4cfg.beta1, beta2: D.W4cfg.beta2, eps: D.W4cfg.eps }, all),
  };
}

function w5(dtype: DType): Workload {
  const c = D.W5cfg;
  const d = D.w5Data();
  const ctx = newContext(dtype);
  const { Wxh, Whh, bh, Why, by, all } = w5Params(ctx, d);
  // The sequence as one input [T, batch, nin]; each step reads its slice, as layers.ts does.
  const loss = (X: Variable, Y: Variable) => {
    let h = ctx.constant(new Float64Array(c.batch * c.hidden), [c.batch, c.hidden]);
    for (let t = 0; t < c.T; t++) {
      const xt = X.slice([t, 0, 0], [1, c.batch, c.nin]).reshape([c.batch, c.nin]);
      h = xt.matmul(Wxh).add(h.matmul(Whh)).add(bh).tanh();
    }
    return softmaxCrossEntropy(h.matmul(Why).add(by), Y);
  };
  return {
    name: 'W5', loss, params: all, ctx, check: 'W5',
    x: ctx.constant(d.X, [c.T, c.batch, c.nin]), y: ctx.constant(d.Y, [c.batch, c.nout]),
    optimizer: new Optimizer({ type: 'sgd', lr: c.lr }, all),
  };
}

function digits(dtype: DType): Workload {
  const { spec, baseDir } = loadModelFile(join(root, 'models/digits.yaml'));
  const s = setup(spec, baseDir, dtype);
  const split = s.data.splits.train;
  const rows = spec.train.batch_size;
  const xw = split.x.length / split.rows, yw = split.y.length / split.rows;
  const lossFn = lossFor(spec.loss);
  const params = s.trainable.map((p) => p.variable);
  return {
    name: 'digits', loss: (x, y) => lossFn(s.model.forward(x), y), params, ctx: s.ctx,
    x: s.ctx.constant(split.x.subarray(0, rows * xw), [rows, xw]), y: s.ctx.constant(split.y.subarray(0, rows * yw), [rows, yw]),
    optimizer: new Optimizer({ ...spec.optimizer }, params),
  };
}

type Step = () => number;

function eagerStep(w: Workload): Step {
  return () => {
    const loss = w.loss(w.x, w.y);
    const g = loss.grad();
    w.optimizer.step(w.params.map((p) => g.variable(p)));
    return loss.item();
  };
}

function compiledStep(w: Workload): Step {
  const step = compileValueAndGrad(w.loss, w.params);
  return () => {
    const r = step(w.x, w.y);
    w.optimizer.step(r.grads);
    return r.value.item();
  };
}

/** Kernels one step runs outside the optimizer, by phase. */
function kernelsPerStep(w: Workload, step: Step): { forward: number; backward: number } {
  const p = new Profiler();
  w.ctx.profiler = p;
  step();
  w.ctx.profiler = null;
  const calls = (phase: string) => p.rows().filter((r) => r.phase === phase).reduce((a, r) => a + r.calls, 0);
  return { forward: calls('forward'), backward: calls('backward') };
}

/** Mean ms per call over `ms` milliseconds (at least one call). */
function sample(fn: () => unknown, ms: number): number {
  let n = 0;
  const t0 = D.nowMs();
  let t = t0;
  do {
    fn();
    n++;
    t = D.nowMs();
  } while (t - t0 < ms);
  return (t - t0) / n;
}

/** Medians of alternating samples of `a` and `b`: each sample of one next to one of the other. */
function alternate(a: () => unknown, b: () => unknown, samples = 7, ms = 50): [number, number] {
  for (let i = 0; i < 3; i++) {
    a();
    b();
  }
  const ta: number[] = [], tb: number[] = [];
  for (let i = 0; i < samples; i++) {
    ta.push(sample(a, ms));
    tb.push(sample(b, ms));
  }
  return [D.median(ta), D.median(tb)];
}

const rows: (string | number)[][] = [];
const longRows: (string | number)[][] = [];
const fmt = (x: number, d = 3) => Number(x.toFixed(d));

const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const dtypes: DType[] = process.argv.includes('--float64') ? ['float64'] : process.argv.includes('--float32') ? ['float32'] : ['float32', 'float64'];
for (const dtype of dtypes) for (const make of [w2, w4s, w5, digits]) {
  if (only && !only.includes(make.name)) continue;
  const e = make(dtype), c = make(dtype);
  const eager = eagerStep(e), compiled = compiledStep(c);
  // The first two losses of each (before and after one update) against the reference.
  const losses = [[eager(), eager()], [compiled(), compiled()]];
  const ok = e.check ? D.checkLosses(e.check, losses[0]!) && D.checkLosses(e.check, losses[1]!) : Math.abs(losses[0]![1]! - losses[1]![1]!) <= 1e-5 * Math.abs(losses[0]![1]!);
  const traced = trace((x, y) => {
    const l = e.loss(x, y);
    const g = l.grad({ createGraph: true });
    return [l, ...e.params.map((p) => g.variable(p))];
  }, [e.x, e.y]);
  const t0 = D.nowMs();
  const info = compileValueAndGrad(c.loss, c.params).compiled(c.x, c.y);
  const compileMs = D.nowMs() - t0;
  const ke = kernelsPerStep(e, eager), kc = kernelsPerStep(c, compiled);
  const [te, tc] = alternate(eager, compiled);
  const result = {
    workload: e.name, dtype, ok, compileMs: fmt(compileMs, 1), loss0: losses[0]![0], compiledLoss0: losses[1]![0],
    nodesTraced: traced.ops().length, nodesCompiled: info.graph.ops().length, fusedNodes: info.graph.countOps().get('fused') ?? 0,
    kernelsEager: ke.forward + ke.backward, kernelsCompiled: kc.forward + kc.backward,
    msEager: fmt(te, 4), msCompiled: fmt(tc, 4), speedup: fmt(te / tc, 2),
    rules: Object.fromEntries(info.report.fired),
  };
  if (json) console.log(JSON.stringify(result));
  rows.push([e.name, dtype === 'float32' ? 'f32' : 'f64', ok ? 'ok' : 'FAIL', result.compileMs, result.nodesTraced, result.nodesCompiled, result.fusedNodes, result.kernelsEager, result.kernelsCompiled, result.msEager, result.msCompiled, result.speedup]);
}

// ------------------------------------------------------------------ 2 / (1 + e^-x), 1e6 elements
for (const dtype of dtypes) {
  const n = 1e6;
  const ctx = newContext(dtype);
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 6);
  const long = (x: Variable) => x.neg().exp().add(1).rdiv(2);
  const short = (x: Variable) => x.sigmoid().mul(2);
  const compiledLong = compile(long);
  const x = ctx.constant(data, [n]);
  const xg = ctx.variable(data, { shape: [n] });
  const value = (f: (x: Variable) => Variable) => () => f(x).data()[0];
  const both = (f: (x: Variable) => Variable) => () => (f(xg).sum().grad().wrt(xg) as { data(): ArrayLike<number> }).data()[0];
  const [tLong, tShort] = alternate(value(long), value(short), 5, 100);
  const [tCompiled, tShort2] = alternate(value(compiledLong), value(short), 5, 100);
  const [gLong, gShort] = alternate(both(long), both(short), 5, 150);
  const [gCompiled, gShort2] = alternate(both(compiledLong), both(short), 5, 150);
  const want = short(x).data();
  const agree = compiledLong(x).data().every((v, i) => Math.abs(v - want[i]!) <= (dtype === 'float32' ? 2e-7 : 1e-15) * Math.abs(v));
  const result = {
    workload: 'long-form', dtype, ok: agree, elements: n,
    forward: { msLong: fmt(tLong), msShort: fmt(tShort), msCompiledLong: fmt(tCompiled), msShortAgain: fmt(tShort2) },
    forwardBackward: { msLong: fmt(gLong), msShort: fmt(gShort), msCompiledLong: fmt(gCompiled), msShortAgain: fmt(gShort2) },
  };
  if (json) console.log(JSON.stringify(result));
  const d = dtype === 'float32' ? 'f32' : 'f64';
  longRows.push([`forward, ${d}`, agree ? 'ok' : 'FAIL', result.forward.msLong, result.forward.msShort, result.forward.msCompiledLong, result.forward.msShortAgain, fmt(tLong / tCompiled, 2), fmt(tCompiled / tShort2, 2)]);
  longRows.push([`forward+backward, ${d}`, '', result.forwardBackward.msLong, result.forwardBackward.msShort, result.forwardBackward.msCompiledLong, result.forwardBackward.msShortAgain, fmt(gLong / gCompiled, 2), fmt(gCompiled / gShort2, 2)]);
}

function print(header: string[], rs: (string | number)[][]): void {
  const cells = [header, ...rs].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  for (const r of cells) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}

if (!json) {
  print(['workload', 'dtype', 'check', 'compile ms', 'nodes traced', 'nodes compiled', 'fused', 'kernels eager', 'kernels compiled', 'ms eager', 'ms compiled', 'speedup'], rows);
  console.log('\ncompile ms: trace, rewrite and fuse the forward pass, then the whole step; nodes: op nodes of the step (loss and');
  console.log('gradients), as traced and as compiled; kernels: kernel calls per step, optimizer excluded');
  console.log('ms: time per step including the optimizer, median of 7 alternating samples of ~50 ms\n');
  print(['2/(1+e^-x), 1e6 elements', 'check', 'ms long', 'ms short 2·σ(x)', 'ms compiled long', 'ms short beside it', 'long/compiled', 'compiled/short'], longRows);
  console.log(`\nnode ${process.version}; each pair measured alternately (5 samples of 100-150 ms), so compare within a row`);
}
