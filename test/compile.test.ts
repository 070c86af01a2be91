// Tracing and compile: no kernel runs on real data while tracing; a compiled function is cached
// per shapes and differentiable exactly like the original; fused loops give the bits of the
// unfused kernels; a compiled training step trains as the eager one does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CompileError, CpuBackend, FastCpuBackend, Profiler, Rng, Tensor, TraceError, compile, compileValueAndGrad, cpu, gradcheck, newContext,
  printIR, trace, type Backend, type Context, type Variable,
} from '../src/index.js';
import { softmaxCrossEntropy } from '../src/layers/losses.js';
import { parseModelText } from '../src/loaders/modelfile.js';
import { train } from '../src/train/trainer.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rmad = (...args: string[]) => spawnSync(process.execPath, ['bin/rmad', ...args], { cwd: root, encoding: 'utf8' });

/** A CPU backend that counts the kernels it runs (everything but making and reading tensors). */
class CountingBackend extends CpuBackend {
  kernels = 0;
}
for (const k of ['unary', 'binary', 'where', 'reduce', 'broadcastTo', 'matmul', 'transpose', 'reshape', 'slice', 'pad', 'concat', 'gather', 'scatterAdd'] as const) {
  const base = CpuBackend.prototype[k] as (...a: unknown[]) => Tensor;
  Object.defineProperty(CountingBackend.prototype, k, {
    value: function (this: CountingBackend, ...a: unknown[]) {
      this.kernels++;
      return base.apply(this, a);
    },
  });
}

function random(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

/** The largest difference relative to the largest magnitude of `b`. */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0, scale = 1e-300;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return m / scale;
}

/** A two-layer MLP with softmax cross entropy, its parameters, data and labels. */
function mlp(ctx: Context, seed = 1) {
  const rng = new Rng(seed);
  const W1 = ctx.variable(random(rng, 6 * 5, 0.5), { shape: [6, 5], name: 'W1' });
  const b1 = ctx.variable(random(rng, 5, 0.1), { name: 'b1' });
  const W2 = ctx.variable(random(rng, 5 * 3, 0.5), { shape: [5, 3], name: 'W2' });
  const b2 = ctx.variable(random(rng, 3, 0.1), { name: 'b2' });
  const X = ctx.constant(random(rng, 8 * 6), [8, 6]);
  const Y = ctx.constant(Float64Array.from({ length: 24 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0)), [8, 3]);
  const params = [W1, b1, W2, b2];
  const loss = (x: Variable, y: Variable) => softmaxCrossEntropy(x.matmul(W1).add(b1).tanh().matmul(W2).add(b2), y);
  return { params, X, Y, loss };
}

test('tracing runs no kernel on real data, and records every op (comparisons and sign too)', () => {
  const counting = new CountingBackend();
  const ctx = newContext('float64', { device: counting });
  const { X, Y, loss, params } = mlp(ctx);
  const f = (x: Variable, y: Variable) => {
    const l = loss(x, y).add(params[1]!.relu().sum()).add(params[3]!.abs().sum());
    const g = l.grad({ createGraph: true });
    return [l, ...params.map((p) => g.variable(p))];
  };
  counting.kernels = 0;
  const g = trace(f, [X, Y]);
  assert.is(counting.kernels, 0);
  const ops = g.countOps();
  assert.ok(ops.get('compare')! >= 1, 'relu\'s backward mask is recorded');
  assert.ok(ops.get('sign')! >= 1, 'abs\'s backward sign is recorded');
  assert.equal(g.nodes().filter((n) => n.kind === 'capture').map((n) => n.name), ['W1', 'b1', 'W2', 'b2']);
  assert.equal(g.inputs.map((n) => n.shape), [[8, 6], [8, 3]]);
});

test('a compiled function gives the values and the gradients (orders 1 and 2) of the original', () => {
  const ctx = newContext('float64');
  const { X, Y, loss, params } = mlp(ctx);
  const compiled = compile(loss);
  const want = loss(X, Y), got = compiled(X, Y);
  assert.ok(Math.abs(got.item() - want.item()) <= 1e-14 * Math.abs(want.item()));
  const gw = want.grad({ createGraph: true }), gg = got.grad({ createGraph: true });
  for (const p of params) {
    assert.ok(maxRelDiff(gg.tensor(p).data(), gw.tensor(p).data()) < 1e-12, `d/d${p.name}`);
    const hw = gw.variable(p).sum().grad().tensor(params[0]!).data();
    const hg = gg.variable(p).sum().grad().tensor(params[0]!).data();
    assert.ok(maxRelDiff(hg, hw) < 1e-10, `d²/dW1 d${p.name}`);
  }
});

test('gradcheck passes on compiled functions: fused chains, broadcasting, reductions', () => {
  const fs: [(...xs: Variable[]) => Variable, number[][]][] = [
    [(x, y) => x.mul(y).sin().add(x.exp()).sub(y.square()), [[2, 3], [3]]],
    [(x) => x.sigmoid().mul(x.tanh()).add(1).log().sum(-1), [[2, 3]]],
    [(x, y) => x.gt(y).where(x.mul(y), x.sub(y).cos()), [[2, 3], [2, 1]]],
    [(x) => x.softmax(-1).log().mul(x).sum(), [[3, 4]]],
  ];
  const rng = new Rng(5);
  for (const [f, shapes] of fs) {
    const inputs = shapes.map((s) => cpu.fromData(random(rng, s.reduce((a, b) => a * b, 1)), s, 'float64'));
    for (const order of [1, 2] as const) {
      const r = gradcheck(compile(f), inputs, { order });
      assert.ok(r.ok, `order ${order}: ${r.message}`);
    }
  }
});

test('compiled once per context and input shapes; the function is traced only then', () => {
  const ctx = newContext('float64');
  let traced = 0;
  const f = compile((x: Variable) => {
    traced++;
    return x.exp().mul(2);
  });
  f(ctx.variable([1, 2, 3]));
  f(ctx.variable([4, 5, 6]));
  assert.is(traced, 1);
  f(ctx.variable([1, 2]));
  assert.is(traced, 2);
  f(newContext('float64').variable([1, 2]));
  assert.is(traced, 3);
  assert.is(f.cacheSize, 3);
});

test('captured variables are read at each call; constants made inside are kept; gradients reach captures', () => {
  const ctx = newContext('float64');
  const W = ctx.variable([1, 2], { name: 'W' });
  const f = compile((x: Variable) => x.mul(W).add(ctx.constant([10, 20])));
  const x = ctx.variable([3, 4]);
  assert.equal([...f(x).data()], [13, 28]);
  W.assign([5, 6]);
  assert.equal([...f(x).data()], [25, 44]);
  W.update([7, 8]);
  const y = f(x);
  assert.equal([...y.data()], [31, 52]);
  assert.equal([...(y.sum().grad().wrt(W) as Tensor).data()], [3, 4]);
});

test('detach and noGrad inside the traced function stop gradients as they do outside', () => {
  const ctx = newContext('float64');
  const fs = [
    (x: Variable) => x.mul(ctx.noGrad(() => x.exp())),
    (x: Variable) => x.mul(x.detach().exp()).add(x.detach()),
  ];
  for (const f of fs) {
    const x = ctx.variable([0.5, -1]);
    const want = f(x).sum().grad().wrt(x) as Tensor;
    const got = compile(f)(x).sum().grad().wrt(x) as Tensor;
    assert.equal([...got.data()], [...want.data()]);
  }
});

test('common subexpressions run once: exp(x) + exp(x) computes exp once', () => {
  const ctx = newContext('float64');
  ctx.profiler = new Profiler();
  const x = ctx.variable([1, 2], { requiresGrad: false });
  compile((v: Variable) => v.exp().sin().add(v.exp().cos()), { fuse: false })(x);
  assert.is(ctx.profiler.rows().find((r) => r.op === 'exp')!.calls, 1);
});

test('what a trace cannot record is a TraceError that says what to do', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([1, 2]);
  const W = ctx.variable([1, 2]);
  assert.throws(() => compile((v: Variable) => (v.sum().item() > 0 ? v : v.neg()))(x), (e: Error) => e instanceof TraceError && /read the value of a traced tensor.*read values from its result instead/.test(e.message));
  assert.throws(() => compile((v: Variable) => W.update(v.data()))(x), (e: Error) => e instanceof TraceError);
  assert.throws(() => compile((v: Variable) => W.assign(v.tensor).mul(v))(x), (e: Error) => e instanceof TraceError && /pass it as an argument/.test(e.message));
  W.assign([1, 2]);
  assert.throws(() => compile(() => W)(), (e: Error) => e instanceof CompileError && /at least one Variable/.test(e.message));
  assert.throws(() => compile((a: Variable, b: Variable) => a.add(b))(x, newContext('float64').variable([1, 2])), (e: Error) => e instanceof CompileError && /two contexts/.test(e.message));
});

const UNARY = ['neg', 'exp', 'log', 'sqrt', 'abs', 'sign', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'sigmoid', 'softplus', 'relu'] as const;

test('fused loops give the same bits as the ops one by one: every elementwise op, both dtypes, every broadcast', () => {
  for (const [dtype, backend] of [['float32', cpu], ['float64', cpu], ['float32', undefined], ['float64', undefined]] as const) {
    // The reference backend fuses every op; the default one keeps its SIMD float32 ops apart.
    const ctx = newContext(dtype, backend ? { device: backend } : {});
    const rng = new Rng(3).fork(dtype);
    // same shape, a scalar, a trailing row, a column (indexed), and special values
    const a = ctx.variable(Float64Array.from({ length: 24 }, (_, i) => (i < 4 ? [NaN, -0, Infinity, 0][i]! : 3 * rng.normal())), { shape: [2, 3, 4] });
    const s = ctx.variable([0.7]);
    const row = ctx.variable(random(rng, 4), { shape: [4] });
    const col = ctx.variable(random(rng, 6), { shape: [2, 3, 1] });
    for (const op of UNARY) {
      const f = (x: Variable, y: Variable, z: Variable, w: Variable) => (x.mul(y).add(z)[op]() as Variable).mul(w).pow(y).sub(z.gt(x).where(w, y));
      const want = f(a, s, row, col).data();
      const c = compile(f, { rewrite: false });
      if (backend) assert.is(c.compiled(a, s, row, col).graph.countOps().get('fused'), 1, op);
      const got = c(a, s, row, col).data();
      want.forEach((v, i) => assert.ok(Object.is(v, got[i]) || (v !== v && got[i] !== got[i]), `${dtype} ${op} [${i}]: fused ${got[i]} vs ${v}`));
    }
  }
});

test('fusion leaves out the float32 ops the fast CPU backend runs as SIMD kernels, at the sizes it does', () => {
  const f = (x: Variable) => x.sigmoid().mul(2).add(x.gt(0).where(x, 0));
  const ops = (dtype: 'float32' | 'float64', n: number, device?: Backend) => {
    const ctx = newContext(dtype, device ? { device } : {});
    return [...compile(f).compiled(ctx.variable(new Float64Array(n).fill(0.5))).graph.countOps()].sort();
  };
  assert.equal(ops('float64', 1000), [['fused', 1]]);
  assert.equal(ops('float32', 1000, cpu), [['fused', 1]]);
  assert.equal(ops('float32', 8), [['fused', 1]], 'below 16 elements the backend loops in JavaScript too');
  assert.equal(ops('float32', 1000), [['add', 1], ['fused', 1], ['mul', 1], ['sigmoid', 1]], 'compare and where fuse; sigmoid, mul, add stay SIMD');
});

test('on a backend that is not the CPU, a fused node runs as the backend\'s own kernels', () => {
  // Every call forwarded to the CPU backend, but not a CpuBackend: the fused op takes the portable path.
  const portable = new Proxy({} as Backend, { get: (_t, k) => { const v = (cpu as unknown as Record<string | symbol, unknown>)[k]; return typeof v === 'function' ? v.bind(cpu) : v; } });
  const ctx = newContext('float64', { device: portable });
  const x = ctx.variable([0.5, -2, 3]);
  const f = (v: Variable) => v.neg().exp().add(1).rdiv(2).sub(v.gt(0).where(v, 0));
  assert.equal([...compile(f)(x).data()], [...f(x).data()]);
  assert.ok(maxRelDiff((compile(f)(x).sum().grad().wrt(x) as Tensor).data(), (f(x).sum().grad().wrt(x) as Tensor).data()) < 1e-15);
});

test('compileValueAndGrad: the loss and the gradients of the eager step (float32 and float64)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const ctx = newContext(dtype);
    const { X, Y, loss, params } = mlp(ctx, 2);
    const step = compileValueAndGrad(loss, params);
    const r = step(X, Y);
    const want = loss(X, Y);
    const g = want.grad();
    const tol = dtype === 'float32' ? 1e-6 : 1e-13;
    assert.ok(maxRelDiff([r.value.item()], [want.item()]) <= tol);
    params.forEach((p, i) => assert.ok(maxRelDiff(r.grads[i]!.data(), g.tensor(p).data()) <= tol, `${dtype} d/d${p.name}`));
    const c = step.compiled(X, Y);
    assert.ok(c.graph.ops().length < c.traced.ops().length || c.report.fusedGroups > 0);
  }
});

test('a compiled step reads the activations its backward masks by (relu), it does not compute the forward again', () => {
  const ctx = newContext('float32');
  const rng = new Rng(4);
  const W1 = ctx.variable(random(rng, 6 * 5, 0.5), { shape: [6, 5] }), b1 = ctx.variable(random(rng, 5, 0.1));
  const W2 = ctx.variable(random(rng, 5 * 4, 0.5), { shape: [5, 4] }), b2 = ctx.variable(random(rng, 4, 0.1));
  const W3 = ctx.variable(random(rng, 4 * 3, 0.5), { shape: [4, 3] }), b3 = ctx.variable(random(rng, 3, 0.1));
  const params = [W1, b1, W2, b2, W3, b3];
  const f = (x: Variable, y: Variable) => softmaxCrossEntropy(x.linear(W1, b1).relu().linear(W2, b2).relu().linear(W3, b3), y);
  const X = ctx.constant(random(rng, 8 * 6), [8, 6]);
  const Y = ctx.constant(Float32Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 1 : 0)), [8, 3]);
  const step = compileValueAndGrad(f, params);
  const c = step.compiled(X, Y);
  for (const [name, g] of [['traced', c.traced], ['compiled', c.graph]] as const) {
    const count = (op: string) => g.ops().filter((n) => n.op === op).length;
    // Three layers forward; backward, each weight's gradient and the two inner layers' inputs'.
    assert.is(count('linear'), 3, `${name}: linear nodes`);
    assert.is(count('matmul'), 5, `${name}: matmul nodes`);
    assert.is(count('relu'), 2, `${name}: relu nodes`);
  }
  const r = step(X, Y), g = f(X, Y).grad();
  params.forEach((p, i) => assert.ok(maxRelDiff(r.grads[i]!.data(), g.tensor(p).data()) <= 1e-6));
});

test('a compiled step adds a weight\'s products into its sum inside the kernel, and leaves a sum alone while it is still read', () => {
  class Counting extends FastCpuBackend {
    sums = 0;
    override addMatmulInPlace(acc: Tensor, a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): void {
      this.sums++;
      super.addMatmulInPlace(acc, a, b, transposeA, transposeB);
    }
  }
  const backend = new Counting();
  // float32 sums of 128 elements and more stay adds (the fast backend's SIMD kernel), not fused.
  const ctx = newContext('float32', { device: backend });
  const rng = new Rng(12);
  const Wx = ctx.variable(random(rng, 8 * 16, 0.3), { shape: [8, 16] }), Wh = ctx.variable(random(rng, 16 * 16, 0.3), { shape: [16, 16] });
  const xs = Array.from({ length: 5 }, () => ctx.constant(random(rng, 4 * 8), [4, 8]));
  const f = (y: Variable) => {
    let h = ctx.constant(new Float32Array(4 * 16), [4, 16]);
    for (const x of xs) h = x.matmul(Wx).add(h.matmul(Wh)).tanh();
    return h.mul(y).sum();
  };
  const y = ctx.constant(random(rng, 4 * 16), [4, 16]);
  const r = compileValueAndGrad(f, [Wx, Wh])(y);
  // Five products summed for each weight's gradient (4 + 4 adds), and the forward's x Wx + h Wh.
  assert.ok(backend.sums >= 8, `${backend.sums} sums in place`);
  const g = f(y).grad();
  [Wx, Wh].forEach((p, i) => assert.ok(maxRelDiff(r.grads[i]!.data(), g.tensor(p).data()) < 1e-5));
  // p is read again after the sum: the sum must not be made in p's storage.
  const W1 = ctx.variable(random(rng, 16 * 16), { shape: [16, 16] }), W2 = ctx.variable(random(rng, 16 * 16), { shape: [16, 16] });
  const x = ctx.constant(random(rng, 16 * 16), [16, 16]);
  const h = (v: Variable) => {
    const p = v.matmul(W1);
    return p.add(v.matmul(W2)).sum().add(p.square().sum());
  };
  const sums = backend.sums;
  const got = ctx.noGrad(() => compile(h)(x)).item();
  assert.is(backend.sums, sums, 'no sum in place');
  assert.ok(Math.abs(got - h(x).item()) <= 1e-5 * Math.abs(got));
  // The product first and the fresh tensor second: summed in place all the same.
  const k = (v: Variable) => v.matmul(W1).add(v.mul(v)).sum();
  const swapped = ctx.noGrad(() => compile(k)(x)).item();
  assert.is(backend.sums, sums + 1, 'a sum in place');
  assert.ok(Math.abs(swapped - k(x).item()) <= 1e-5 * Math.abs(swapped));
});

test('compileValueAndGrad on an unrolled RNN (slices, transposes, stacked steps) matches the eager step', () => {
  const ctx = newContext('float64');
  const rng = new Rng(9);
  const Wx = ctx.variable(random(rng, 4 * 6, 0.4), { shape: [4, 6] });
  const Wh = ctx.variable(random(rng, 6 * 6, 0.4), { shape: [6, 6] });
  const Wy = ctx.variable(random(rng, 6 * 3, 0.4), { shape: [6, 3] });
  const params = [Wx, Wh, Wy];
  const f = (x: Variable, y: Variable) => {
    const steps = x.shape[1]!;
    const xs = x.transpose([1, 0, 2]);
    let h = ctx.constant(new Float64Array(2 * 6), [2, 6]);
    for (let t = 0; t < steps; t++) h = xs.slice([t, 0, 0], [1, 2, 4]).reshape([2, 4]).matmul(Wx).add(h.matmul(Wh)).tanh();
    return softmaxCrossEntropy(h.matmul(Wy), y);
  };
  const X = ctx.constant(random(rng, 2 * 5 * 4), [2, 5, 4]);
  const Y = ctx.constant([[1, 0, 0], [0, 0, 1]]);
  const r = compileValueAndGrad(f, params)(X, Y);
  const want = f(X, Y);
  const g = want.grad();
  assert.ok(maxRelDiff([r.value.item()], [want.item()]) < 1e-13);
  params.forEach((p, i) => assert.ok(maxRelDiff(r.grads[i]!.data(), g.tensor(p).data()) < 1e-12));
});

test('a long chain traces, rewrites, fuses and runs without overflowing the stack', () => {
  const ctx = newContext('float64');
  const x = ctx.variable([0.1, 0.2]);
  const f = (v: Variable) => {
    let y = v;
    for (let i = 0; i < 20000; i++) y = y.sin().add(0.5);
    return y;
  };
  const c = compile(f);
  assert.equal([...c(x).data()], [...f(x).data()]);
  assert.ok(c.compiled(x).graph.ops().length < 1000, 'fused into loops of up to 48 ops');
});

function irisSpec(epochs: number) {
  return parseModelText(`
rmad: 1
name: tiny
seed: 3
data: {source: csv, path: ../datasets/iris.csv, target: species, labels: onehot, normalize: standard, split: {train: 0.7, val: 0.3}}
model:
  input: 4
  layers:
    - {name: hidden, type: dense, units: 5, activation: relu}
    - {name: head, type: dense, units: 3}
loss: {type: softmax_cross_entropy}
optimizer: {type: adam, lr: 0.05}
train: {epochs: ${epochs}, batch_size: 16}
`, 'tiny.yaml');
}

test('train({ compile: true }) gives the metrics of the eager loop (the last batch has its own shape)', async () => {
  const modelsDir = join(root, 'models');
  const tmp = mkdtempSync(join(tmpdir(), 'rmad-compile-'));
  const eager = await train({ spec: irisSpec(4), baseDir: modelsDir, runDir: join(tmp, 'eager') });
  const compiled = await train({ spec: irisSpec(4), baseDir: modelsDir, runDir: join(tmp, 'compiled'), compile: true });
  const keys = Object.keys(eager.summary.final).filter((k) => k.includes('.'));
  assert.ok(keys.length >= 4);
  for (const k of keys) assert.ok(Math.abs(compiled.summary.final[k]! - eager.summary.final[k]!) <= 1e-5, `${k}: ${compiled.summary.final[k]} vs ${eager.summary.final[k]}`);
});

test('rmad graph --optimize prints the step before and after, the rules that fired and the op counts', () => {
  const r = rmad('graph', 'models/svm.yaml', '--optimize');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^# svm-blobs: the training step \(the loss and its 2 gradients\) for 4 train rows, as recorded: \d+ op nodes\n\{ lambda /);
  assert.match(r.stdout, /\n# after rewriting and fusion \(what rmad train --compile runs\): \d+ op nodes\n\{ lambda /);
  assert.match(r.stdout, /\n# rules fired \(forward pass, then the whole step\)\nrule +times\n/);
  assert.match(r.stdout, /\n# op counts\nop +before +after\n[^]*\ntotal +(\d+) +(\d+)\n$/);
  const [, before, after] = /\ntotal +(\d+) +(\d+)\n$/.exec(r.stdout)!;
  assert.ok(Number(after) < Number(before), `${after} < ${before}`);
});

test('rmad train --compile trains a model file', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'rmad-compile-')), 'run');
  const r = rmad('train', 'models/mlp.yaml', '--compile', '--set', 'train.epochs=2', '--out', out, '--json');
  assert.is(r.status, 0, r.stderr);
  const end = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === 'end');
  assert.ok(end.summary.final['test.accuracy'] > 0.5);
});

test('printIR names inputs, captures and outputs; fused nodes show their chain', () => {
  const ctx = newContext('float32');
  const W = ctx.variable([[1, 2], [3, 4]], { name: 'W' });
  const x = ctx.variable([1, 2], { name: 'x' });
  const text = printIR(compile((v: Variable) => v.matmul(W).tanh().mul(3).add(1)).compiled(x).graph);
  assert.is(text, [
    '{ lambda W:f32[2,2] ; x:f32[2] . let',
    '    a:f32[1,2] = reshape[shape=[1,2]] x',
    '    b:f32[1,2] = matmul[transposeA=false transposeB=false] a W',
    '    c:f32[2] = reshape[shape=[2]] b',
    '    d:f32[2] = fused{add(mul(tanh(x0), 3.0), 1.0)} c',
    '  in ( d ) }',
  ].join('\n'));
});

test.run();
