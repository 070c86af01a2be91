// The engine's contract: the seed's API, numbers on either side, zero (never NaN) for unrelated
// variables, deep graphs, freezing, contexts, versions and anomaly mode.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AnomalyError, ContextMismatchError, FrozenError, Profiler, ShapeError, Tensor, VersionError,
  Rng, add, clip, cpu, fastCpu, linear, max, min, mul, newContext, sigmoid, softmaxCrossEntropy, stack, sub, type Variable,
} from '../src/index.js';

test('the design example: methods, numbers on either side, value and wrt', () => {
  const ctx = newContext('float32');
  const a = ctx.variable(1), x = ctx.variable(-1);
  const s = a.mul(x).add(2).sigmoid();
  assert.is(s.value(), Math.fround(1 / (1 + Math.exp(-1))));
  const g = s.grad();
  assert.ok(Math.abs((g.wrt(a) as number) - -0.19661193) < 1e-7);
  const again = s.grad({ createGraph: true }).wrt(a);
  assert.ok(again instanceof Object && 'grad' in again, 'a Variable');
});

test('free functions take a number on either side', () => {
  const ctx = newContext();
  const x = ctx.variable(3);
  assert.is(add(2, x).item(), 5);
  assert.is(sub(2, x).item(), -1);
  assert.is(mul(x, 2).item(), 6);
  assert.is(max(x, 4).item(), 4);
  assert.is(min(1, x).item(), 1);
  assert.is(sigmoid(x).item(), 1 / (1 + Math.exp(-3)));
  assert.throws(() => add(2, 3 as never), /at least one argument must be a Variable/);
});

test('every scalar op of the seed exists as a method with the right value', () => {
  const ctx = newContext();
  const x = ctx.variable(0.5);
  const cases: [keyof Variable, number][] = [
    ['neg', -0.5], ['abs', 0.5], ['exp', Math.exp(0.5)], ['ln', Math.log(0.5)], ['log10', Math.log10(0.5)],
    ['sqrt', Math.sqrt(0.5)], ['sin', Math.sin(0.5)], ['cos', Math.cos(0.5)], ['tan', Math.tan(0.5)],
    ['asin', Math.asin(0.5)], ['acos', Math.acos(0.5)], ['atan', Math.atan(0.5)], ['sinh', Math.sinh(0.5)],
    ['cosh', Math.cosh(0.5)], ['tanh', Math.tanh(0.5)], ['sigmoid', 1 / (1 + Math.exp(-0.5))], ['relu', 0.5],
  ];
  for (const [op, expected] of cases) {
    const y = (x[op] as () => Variable).call(x);
    assert.ok(Math.abs(y.item() - expected) < 1e-15, `${String(op)}: ${y.item()} vs ${expected}`);
  }
  assert.is(x.add(1).item(), 1.5);
  assert.is(x.sub(1).item(), -0.5);
  assert.is(x.mul(4).item(), 2);
  assert.is(x.div(4).item(), 0.125);
  assert.is(x.pow(2).item(), 0.25);
  assert.is(x.max(0.7).item(), 0.7);
  assert.is(x.min(0.7).item(), 0.5);
});

test('a variable the output does not depend on gets exactly zero, never NaN', () => {
  const ctx = newContext();
  const x = ctx.variable(2), unused = ctx.variable(5), zero = ctx.variable(0);
  // A branch with an infinite value that does not reach y: the seed turned 0 * inf into NaN.
  zero.log();
  const y = x.mul(x);
  const g = y.grad();
  assert.is(g.wrt(unused), 0);
  assert.is(g.wrt(zero), 0);
  assert.is(g.wrt(x), 4);
  const t = ctx.variable([[1, 2], [3, 4]]);
  const gt = y.grad().tensor(t);
  assert.equal([...gt.data()], [0, 0, 0, 0]);
});

test('a chain of 1,000,000 scalar ops differentiates without a stack overflow', () => {
  const ctx = newContext();
  const x = ctx.variable(1);
  let y: Variable = x;
  for (let i = 0; i < 1_000_000; i++) y = y.mul(1.000001);
  const g = y.grad().wrt(x) as number;
  assert.ok(Math.abs(g - Math.pow(1.000001, 1_000_000)) < 1e-6, String(g));
});

test('gradients meeting at a node accumulate before it propagates (diamond)', () => {
  const ctx = newContext();
  const x = ctx.variable(0.7);
  const h = x.sin();
  const y = h.mul(h.exp()).add(h.tanh());
  const s = Math.sin(0.7);
  const expected = Math.cos(0.7) * (Math.exp(s) * (1 + s) + 1 - Math.tanh(s) ** 2);
  assert.ok(Math.abs((y.grad().wrt(x) as number) - expected) < 1e-12);
});

test('frozen variables: no backward work, wrt says frozen, unfreeze restores', () => {
  const ctx = newContext();
  const w = ctx.variable([[1, 2], [3, 4]], { name: 'W', requiresGrad: false });
  const b = ctx.variable([0.5, -0.5], { name: 'b' });
  const x = ctx.constant([[1, 1]]);
  ctx.profiler = new Profiler();
  const y = x.matmul(w).tanh().add(b).sum();
  y.grad();
  const rows = ctx.profiler.rows();
  ctx.profiler = null;
  // The loss's sum is broadcast back and the bias's broadcast summed away; nothing runs for the
  // frozen matmul and tanh.
  assert.equal(rows.filter((r) => r.phase === 'backward').map((r) => r.op).sort(), ['broadcastTo', 'reshape', 'sum']);
  assert.throws(() => y.grad().wrt(w), (e: Error) => e instanceof FrozenError && /'W' \(f64\[2,2\]\) is frozen/.test(e.message));
  w.unfreeze();
  ctx.profiler = new Profiler();
  const y2 = x.matmul(w).tanh().add(b).sum();
  assert.ok(y2.grad().wrt(w) instanceof Tensor);
  assert.ok(ctx.profiler.rows().some((r) => r.phase === 'backward' && r.op === 'matmul'));
  ctx.profiler = null;
  w.freeze();
  assert.is(w.requiresGrad, false);
});

test('an op mixing two contexts throws an error naming both', () => {
  const c1 = newContext('float64', { name: 'first' });
  const c2 = newContext('float32', { name: 'second' });
  const a = c1.variable(1, { name: 'a' }), b = c2.variable(2, { name: 'b' });
  assert.throws(() => a.add(b), (e: Error) =>
    e instanceof ContextMismatchError && e.message.includes(`context #${c1.id} 'first' (float64, cpu)`) && e.message.includes(`context #${c2.id} 'second' (float32, cpu)`) && e.message.includes("'a'") && e.message.includes("'b'"));
});

test('noGrad records nothing', () => {
  const ctx = newContext();
  const x = ctx.variable(2);
  const y = ctx.noGrad(() => x.mul(x));
  assert.is(y.requiresGrad, false);
  assert.is(y.op, null);
  assert.ok(ctx.recording);
});

test('replacing a value a recorded graph used makes grad() throw, naming variable, op and versions', () => {
  const ctx = newContext();
  const w = ctx.variable([1, 2, 3], { name: 'w' });
  const y = w.mul(w).sum();
  w.assign([4, 5, 6]);
  assert.throws(() => y.grad(), (e: Error) =>
    e instanceof VersionError && /'w' \(f64\[3\]\) was modified after op 'mul' used it: recorded at version 0, now version 1/.test(e.message));
  // A fresh forward pass works.
  assert.equal([...(w.mul(w).sum().grad().wrt(w) as Tensor).data()], [8, 10, 12]);
  // Inputs at different versions: each is checked against its own.
  const v = ctx.variable([1, 1, 1], { name: 'v' });
  const z = v.mul(w).sum();
  assert.equal([...(z.grad().wrt(v) as Tensor).data()], [4, 5, 6]);
  w.update([7, 8, 9]);
  assert.throws(() => z.grad(), (e: Error) =>
    e instanceof VersionError && /'w' \(f64\[3\]\) was modified after op 'mul' used it: recorded at version 1, now version 2/.test(e.message));
});

test('relocate moves a value into another tensor of the same values: graphs recorded before still differentiate', () => {
  const ctx = newContext();
  const w = ctx.variable([1, 2, 3], { name: 'w' });
  const y = w.mul(w).sum();
  const home = ctx.backend.fromData([1, 2, 3], [3], 'float64');
  w.relocate(home);
  assert.is(w.tensor, home);
  assert.is(w.version, 0);
  assert.equal([...(y.grad().wrt(w) as Tensor).data()], [2, 4, 6]);
  assert.throws(() => w.relocate(ctx.backend.fromData([1, 2], [2], 'float64')), /relocate: f64\[2\] cannot hold 'w' \(f64\[3\]\)/);
  assert.throws(() => w.relocate(ctx.backend.fromData([1, 2, 3], [3], 'float32')), /relocate: f32\[3\] cannot hold/);
});

test('anomaly mode names the first backward rule that produced NaN or Inf', () => {
  const ctx = newContext();
  ctx.detectAnomaly = true;
  const x = ctx.variable([0, 1]);
  const y = x.sqrt().sum();
  assert.throws(() => y.grad(), (e: Error) =>
    e instanceof AnomalyError && /the backward of 'sqrt' \(inputs f64\[2\], output f64\[2\]\) produced Infinity in the gradient of input 0/.test(e.message));
  ctx.detectAnomaly = false;
  assert.is((y.grad().wrt(x) as Tensor).data()[0], Infinity);
});

test('RMAD_DETECT_ANOMALY=1 turns anomaly mode on in every context', () => {
  const code = "import { newContext } from 'rmad'; console.log(JSON.stringify([newContext().detectAnomaly, newContext('float32').detectAnomaly]));";
  const run = (env: string | undefined) => spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8', env: { ...process.env, RMAD_DETECT_ANOMALY: env },
  }).stdout.trim();
  assert.is(run('1'), '[true,true]');
  assert.is(run(undefined), '[false,false]');
});

test('gradients stay those of their own pass after later passes walk the same nodes', () => {
  for (const length of [3, 40]) {
    // Graphs under and over the size where lookups switch from a scan to a map.
    const ctx = newContext();
    const x = ctx.variable(2), y = ctx.variable(3);
    let f: Variable = x.mul(y);
    for (let i = 0; i < length; i++) f = f.add(x);
    const first = f.grad();
    const second = f.mul(f).grad();
    const unrelated = x.mul(5).grad();
    assert.is(first.scalar(x), 3 + length, `${length}: df/dx`);
    assert.is(first.scalar(y), 2, `${length}: df/dy`);
    const fv = 6 + 2 * length;
    assert.is(second.scalar(x), 2 * fv * (3 + length), `${length}: d(f^2)/dx`);
    assert.is(unrelated.scalar(x), 5);
    assert.is(unrelated.scalar(y), 0, 'not on any path: zero');
    assert.is(first.scalar(x), 3 + length, `${length}: df/dx asked again`);
  }
});

test('pull defaults to ones and may be given', () => {
  const ctx = newContext();
  const x = ctx.variable([1, 2, 3]);
  const y = x.mul(x);
  assert.equal([...(y.grad().wrt(x) as Tensor).data()], [2, 4, 6]);
  assert.equal([...(y.grad([1, 0, -1]).wrt(x) as Tensor).data()], [2, 0, -6]);
  assert.equal([...(y.grad(ctx.tensor([1, 0, -1])).wrt(x) as Tensor).data()], [2, 0, -6]);
  const total = x.sum();
  assert.is(total.grad(3).scalar(total), 3);
});

test('tensors: broadcasting, reductions with keepdims, shapes', () => {
  const ctx = newContext();
  const a = ctx.variable([[1, 2, 3], [4, 5, 6]]);
  const b = ctx.variable([10, 20, 30]);
  assert.equal(a.add(b).tensor.toArray(), [[11, 22, 33], [14, 25, 36]]);
  assert.equal(a.sum(1, true).shape, [2, 1]);
  assert.equal(a.sum(1).tensor.toArray(), [6, 15]);
  assert.equal(a.mean(0).tensor.toArray(), [2.5, 3.5, 4.5]);
  assert.equal(a.amax(1).tensor.toArray(), [3, 6]);
  assert.equal(a.max().item(), 6);
  assert.equal(a.transpose().shape, [3, 2]);
  assert.equal(a.reshape([3, -1]).shape, [3, 2]);
  assert.equal(a.matmul(b).tensor.toArray(), [140, 320]);
  assert.throws(() => a.add(ctx.variable([1, 2])), /do not broadcast/);
  assert.throws(() => a.matmul(a), /inner dimensions differ/);
  assert.equal([...a.softmax(1).sum(1).data()].map((v) => Math.round(v * 1e12) / 1e12), [1, 1]);
  const big = ctx.variable([1000, 1000]);
  assert.ok(Math.abs(big.logSumExp(0).item() - (1000 + Math.log(2))) < 1e-12, 'stable logSumExp');
});

test('softmaxCrossEntropy: one op per row, the value and gradients of -Σ t logSoftmax(z), on both backends', () => {
  for (const backend of [cpu, fastCpu]) {
    for (const dtype of ['float64', 'float32'] as const) {
      const ctx = newContext(dtype, { device: backend });
      const rng = new Rng(5);
      const zv = Array.from({ length: 4 }, () => Array.from({ length: 5 }, () => rng.range(-3, 3)));
      const tv = Array.from({ length: 4 }, () => Array.from({ length: 5 }, () => rng.uniform()));
      const z = ctx.variable(zv), t = ctx.variable(tv);
      const fused = softmaxCrossEntropy(z, t);
      assert.equal(fused.op, 'softmaxCrossEntropy');
      assert.equal(fused.shape, [4]);
      const composed = t.mul(z.logSoftmax(-1)).sum(-1).neg();
      const tol = dtype === 'float64' ? 1e-12 : 1e-5;
      const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `${backend.name} ${dtype} ${what}[${i}]: ${a[i]} vs ${b[i]}`);
      };
      close(fused.tensor.data(), composed.tensor.data(), 'loss');
      // Row weights make each row's gradient differ; the target constant takes the one-pass kernel.
      const w = [1, -2, 0.5, 3];
      for (const targetGrad of [true, false]) {
        if (!targetGrad) t.freeze();
        const gf = fused.mul(w).sum().grad(), gc = composed.mul(w).sum().grad();
        close((gf.wrt(z) as Tensor).data(), (gc.wrt(z) as Tensor).data(), 'dz');
        if (targetGrad) close((gf.wrt(t) as Tensor).data(), (gc.wrt(t) as Tensor).data(), 'dt');
      }
    }
  }
  const ctx = newContext();
  assert.throws(() => ctx.variable([[1, 2]]).softmaxCrossEntropy([1, 0]), /softmaxCrossEntropy: logits .* need equal shapes/);
  assert.throws(() => ctx.variable(1).softmaxCrossEntropy(1), /at least one axis/);
});

test('linear: x W + b as one op on inputs of any rank, its gradients as matmul and add give them, a reused weight too', () => {
  for (const backend of [cpu, fastCpu]) {
    for (const dtype of ['float64', 'float32'] as const) {
      const ctx = newContext(dtype, { device: backend });
      const rng = new Rng(6);
      const values = (n: number) => Array.from({ length: n }, () => rng.range(-1, 1));
      const W = ctx.variable(values(12), { shape: [3, 4] }), b = ctx.variable(values(4), { shape: [4] });
      const U = ctx.variable(values(16), { shape: [4, 4] });
      const xs = [0, 1, 2, 3].map(() => ctx.constant(values(6), [2, 3]));
      const tol = dtype === 'float64' ? 1e-12 : 1e-5;
      const close = (a: ArrayLike<number>, c: ArrayLike<number>, what: string) => {
        assert.is(a.length, c.length, what);
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - c[i]!) <= tol * (1 + Math.abs(c[i]!)), `${backend.name} ${dtype} ${what}[${i}]: ${a[i]} vs ${c[i]}`);
      };
      // A recurrence: W is used at every step, so later steps add into its gradient in place.
      // Fused: x W + b as one op, then + h U; or x W + b + h U as one op (h U added in its kernel).
      const run = (form: 'composed' | 'fused' | 'with h U') => {
        let h: Variable = ctx.constant(new Array(8).fill(0), [2, 4]);
        for (const x of xs) {
          if (form === 'with h U') h = linear(x, W, b, [h, U]).tanh();
          else h = (form === 'fused' ? linear(x, W, b) : x.matmul(W).add(b)).add(h.matmul(U)).tanh();
        }
        return h.sum();
      };
      const yc = run('composed');
      for (const form of ['fused', 'with h U'] as const) {
        const yf = run(form);
        close(yf.tensor.data(), yc.tensor.data(), `${form} value`);
        const gf = yf.grad(), gc = yc.grad();
        for (const [name, p] of [['W', W], ['b', b], ['U', U]] as const) close((gf.wrt(p) as Tensor).data(), (gc.wrt(p) as Tensor).data(), `${form} d${name}`);
      }
      // Ranks 1 and 3 go through a 2-d product.
      const v = ctx.variable(values(3)), t3 = ctx.variable(values(12), { shape: [2, 2, 3] });
      assert.equal(v.linear(W, b).shape, [4]);
      assert.equal(t3.linear(W, b).shape, [2, 2, 4]);
      close(t3.linear(W, b).tensor.data(), t3.matmul(W).add(b).tensor.data(), 'rank 3');
      close((v.linear(W, b).sum().grad().wrt(v) as Tensor).data(), (v.matmul(W).add(b).sum().grad().wrt(v) as Tensor).data(), 'rank 1 dx');
    }
  }
  const ctx = newContext();
  const x = ctx.variable([[1, 2, 3]]);
  assert.equal(x.linear([[1], [2], [3]], [0.5]).op, 'linear');
  assert.throws(() => x.linear([[1, 2]], [1, 2]), /linear: input .* do not fit: they need shapes \[\.\.\., in\], \[in, out\] and \[out\]/);
  assert.throws(() => x.linear([[1], [2], [3]], [1, 2]), /do not fit/);
  // A term h U: h has x's rows, U maps h's features to the output's.
  assert.equal(x.linear([[1], [2], [3]], [0.5], [[[2, 1]], [[1], [1]]]).tensor.data()[0], 1 + 4 + 9 + 0.5 + 3);
  assert.throws(() => x.linear([[1], [2], [3]], [0.5], [[[2, 1], [1, 1]], [[1], [1]]]), /linear: the term .* does not fit input .*: it needs shapes \[1,j\] and \[j, 1\]/);
  assert.throws(() => x.linear([[1], [2], [3]], [0.5], [[[2, 1]], [[1, 1], [1, 1]]]), /the term .* does not fit/);
});

test('float32 contexts store float32 and float64 stays float64', () => {
  const c32 = newContext('float32'), c64 = newContext('float64');
  assert.is(c32.variable(0.1).item(), Math.fround(0.1));
  assert.is(c64.variable(0.1).item(), 0.1);
  assert.ok(c32.variable([1, 2]).data() instanceof Float32Array);
  assert.ok(c64.variable([1, 2]).mul(2).data() instanceof Float64Array);
  for (const c of [c32, c64]) {
    // Numbers keep their sign bit and NaN, whichever path makes the tensor.
    assert.ok(Object.is(c.variable(-0).item(), -0) && Object.is(c.scalar(-0).item(), -0), 'negative zero');
    assert.ok(Object.is(c.variable(-0, { shape: [1, 1] }).data()[0], -0));
    assert.ok(Number.isNaN(c.variable(NaN).item()));
    assert.ok(Object.is(c.backend.full([3], -0, c.dtype).data()[2], -0));
  }
});


test('gradient sums: many contributions add up, in place only into sums the walker made', () => {
  for (const device of [cpu, fastCpu]) {
    for (const dtype of ['float32', 'float64'] as const) {
      const ctx = newContext(dtype, { device });
      const n = 300; // above the fast backend's threshold for its WebAssembly add
      const x = ctx.variable(Float64Array.from({ length: n }, (_, i) => i / n)), y = ctx.variable(new Float64Array(n));
      // add's backward hands the same gradient tensor to both inputs: summing x's three shares
      // must never write into it, or y's gradient would change too.
      const s = x.add(x).add(x).add(y).sum();
      const g = s.grad();
      assert.equal([...(g.wrt(y) as Tensor).data()], new Array(n).fill(1), `${device.name} ${dtype}: dy`);
      assert.equal([...(g.wrt(x) as Tensor).data()], new Array(n).fill(3), `${device.name} ${dtype}: dx`);
      // The same sums when they stay differentiable (no in-place adds), bit for bit.
      const w = ctx.variable(Float64Array.from({ length: n }, (_, i) => Math.sin(i)));
      const f = () => w.mul(w).add(w.sin()).add(w.exp()).add(w.tanh()).sum();
      const plain = (f().grad().wrt(w) as Tensor).data();
      const graph = f().grad({ createGraph: true }).variable(w).data();
      assert.equal([...plain], [...graph], `${device.name} ${dtype}: in place equals out of place`);
    }
  }
});

test('slices add their gradients into the input\'s sum in place, as the padded gradients would', () => {
  for (const device of [cpu, fastCpu]) {
    for (const dtype of ['float32', 'float64'] as const) {
      const ctx = newContext(dtype, { device });
      const x = ctx.variable(Float64Array.from({ length: 4 * 5 * 6 }, (_, i) => Math.sin(i)), { shape: [4, 5, 6] });
      // Overlapping slices on several axes, with the input also used whole (an earlier share
      // the walker does not own) and through an op after the slices.
      const f = () => {
        let y = x.slice([1, 0, 2], [2, 5, 3]).mul(x.slice([0, 1, 0], [3, 4, 5]).sum().add(1)).sum();
        for (let t = 0; t < 5; t++) y = y.add(x.slice([0, t, 0], [4, 1, 6]).tanh().sum());
        return y.add(x.mul(x).sum()).add(x.slice([3, 4, 5], [1, 1, 1]).exp().sum());
      };
      const inPlace = (f().grad().wrt(x) as Tensor).data();
      const padded = f().grad({ createGraph: true }).variable(x).data();
      assert.equal([...inPlace], [...padded], `${device.name} ${dtype}`);
    }
  }
  // The first share a slice: the sum starts from zeros.
  const ctx = newContext();
  const x = ctx.variable([1, 2, 3, 4]);
  const g = x.slice([1], [2]).sum().add(x.slice([2], [2]).mul(3).sum()).grad();
  assert.equal([...(g.wrt(x) as Tensor).data()], [0, 1, 4, 3]);
});

test('a weight used at every step: its products added into its gradient in place agree with summed products', () => {
  for (const device of [cpu, fastCpu]) {
    for (const dtype of ['float32', 'float64'] as const) {
      const ctx = newContext(dtype, { device });
      const rng = new Rng(21);
      const v = (shape: number[]) => ctx.variable(Float64Array.from({ length: shape[0]! * shape[1]! }, () => rng.range(-1, 1)), { shape });
      // A recurrence through W and W's transpose (both operands' adders), plus x @ U at each step.
      const W = v([9, 9]), U = v([5, 9]), x = v([4, 5]);
      const f = () => {
        let h = x.matmul(U).tanh();
        for (let t = 0; t < 6; t++) h = h.matmul(W).add(x.matmul(U)).tanh().matmul(W, false, true);
        return h.sum();
      };
      const g = f().grad(), graph = f().grad({ createGraph: true });
      for (const [name, p] of [['W', W], ['U', U], ['x', x]] as const) {
        const inPlace = (g.wrt(p) as Tensor).data(), summed = graph.variable(p).data();
        if (device === cpu) {
          assert.equal([...inPlace], [...summed], `reference ${dtype} ${name}: bit for bit`);
        } else {
          const tol = dtype === 'float32' ? 1e-5 : 1e-13;
          for (let i = 0; i < inPlace.length; i++) assert.ok(Math.abs(inPlace[i]! - summed[i]!) <= tol * (1 + Math.abs(summed[i]!)), `${dtype} ${name}[${i}]: ${inPlace[i]} vs ${summed[i]}`);
        }
      }
    }
  }
});

test('tanh, sigmoid and relu gradients from one-pass kernels equal their rules\' ops bit for bit', () => {
  for (const device of [cpu, fastCpu]) {
    for (const dtype of ['float32', 'float64'] as const) {
      const ctx = newContext(dtype, { device });
      for (const n of [5, 300]) { // under and over the fast backend's WebAssembly threshold
        // Values around the kinks and saturations, -0 and 0, and a pull of NaN and infinities.
        const x = ctx.variable(Float64Array.from({ length: n }, (_, i) => (i % 7 === 0 ? [0, -0, 30, -30][i % 4]! : Math.sin(i) * 4)));
        const pull = ctx.constant(Float64Array.from({ length: n }, (_, i) => (i === 3 ? NaN : i === 4 ? Infinity : Math.cos(i))));
        for (const f of [(v: Variable) => v.tanh(), (v: Variable) => v.sigmoid(), (v: Variable) => v.relu()]) {
          // Used twice, so the kernel's gradient is also added to another share.
          const y = () => f(x).add(f(x.mul(2)));
          const fused = (y().grad(pull).wrt(x) as Tensor).data();
          const rule = y().grad({ pull, createGraph: true }).variable(x).data();
          const same = fused.every((v, i) => Object.is(v, rule[i]) || (v !== v && rule[i] !== rule[i]));
          assert.ok(same, `${device.name} ${dtype} n=${n} ${f.toString()}: ${[...fused].slice(0, 8)} vs ${[...rule].slice(0, 8)}`);
        }
      }
    }
  }
});

test('slice, pad and the in-place slice gradient agree with element-by-element indexing', () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 200; trial++) {
    const rank = 1 + rng.int(4);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(5));
    // Whole axes, partial ones and empty ones, in every position.
    const begin = shape.map((d) => rng.int(d + 1));
    const size = shape.map((d, i) => (rng.int(3) === 0 ? d - begin[i]! : rng.int(d - begin[i]! + 1)));
    const x = cpu.fromData(Float64Array.from({ length: shape.reduce((p, q) => p * q, 1) }, (_, i) => i + 1), shape, 'float64');
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, q) => p * q, 1));
    // Row-major offsets in x of every element of the region, the naive way.
    const offsets: number[] = [];
    const walk = (axis: number, at: number): void => {
      if (axis === rank) return void offsets.push(at);
      for (let j = 0; j < size[axis]!; j++) walk(axis + 1, at + (begin[axis]! + j) * strides[axis]!);
    };
    walk(0, 0);
    const what = `shape [${shape}] begin [${begin}] size [${size}]`;
    const cut = cpu.slice(x, begin, size);
    assert.equal([...cut.data()], offsets.map((o) => o + 1), `slice ${what}`);
    const padded = cpu.pad(cut, begin, shape.map((d, i) => d - begin[i]! - size[i]!)).data();
    const expected = new Array<number>(x.size).fill(0);
    for (const o of offsets) expected[o] = o + 1;
    assert.equal([...padded], expected, `pad ${what}`);
    const acc = cpu.full(shape, 0.5, 'float64');
    cpu.addSliceInPlace(acc, cut, begin);
    assert.equal([...acc.data()], expected.map((v) => v + 0.5), `addSliceInPlace ${what}`);
  }
});

/** Asserts that `f` throws an error of class `cls` whose message matches `message`. */
function throwsError(f: () => unknown, cls: new (...args: never[]) => Error, message: RegExp, what = message.source): void {
  assert.throws(f, (e: Error) => e instanceof cls && message.test(e.message), `${what}: expected ${cls.name} matching ${message}`);
}

test('shapes from a user are arrays of non-negative integers, or one integer for a 1-d shape', () => {
  const ctx = newContext();
  throwsError(() => ctx.variable([1, 2, 3, 4], { shape: [1.5, 8 / 3] }), ShapeError, /^variable: dimension 1\.5 at axis 0 of shape \[1\.5,2\.66+\d*\] is not a non-negative integer/);
  throwsError(() => ctx.variable([1, 2, 3, 4], { shape: [-2, -2] }), ShapeError, /^variable: dimension -2 at axis 0 .* is not a non-negative integer/);
  throwsError(() => ctx.constant([1, 2], [2, NaN]), ShapeError, /^constant: dimension NaN at axis 1/);
  throwsError(() => ctx.zeros([2.5]), ShapeError, /^zeros: dimension 2\.5 at axis 0/);
  throwsError(() => ctx.zeros([NaN]), ShapeError, /^zeros: dimension NaN at axis 0/);
  throwsError(() => ctx.ones([-1]), ShapeError, /^ones: dimension -1 at axis 0/);
  throwsError(() => ctx.zeros([2, '3' as never]), ShapeError, /^zeros: dimension "3" \(a string\) at axis 1/);
  throwsError(() => ctx.zeros('3' as never), TypeError, /^zeros: a shape is an array of non-negative integers \(or one integer\), got "3" \(a string\)/);
  throwsError(() => ctx.variable([1]).broadcastTo([2.5]), ShapeError, /^broadcastTo: dimension 2\.5 at axis 0/);
  throwsError(() => ctx.variable([1, 2]).reshape([NaN]), ShapeError, /^reshape: cannot reshape 2 elements to \[NaN\]/);
  throwsError(() => ctx.variable([1, 2]).reshape({} as never), TypeError, /^reshape: a shape is an array of integers \(or one integer\), got an object/);
  // One integer is a 1-d shape, as in PyTorch.
  assert.equal(ctx.zeros(3).shape, [3]);
  assert.equal(ctx.ones(2).shape, [2]);
  assert.equal(ctx.variable([1, 2, 3, 4], { shape: 4 }).shape, [4]);
  const a = ctx.variable([[1, 2, 3], [4, 5, 6]]);
  assert.equal(a.reshape(6).shape, [6]);
  assert.equal(ctx.variable(1).broadcastTo(3).shape, [3]);
  // Zero-length axes stay allowed.
  assert.equal(ctx.zeros([2, 0]).size, 0);
  throwsError(() => ctx.variable([1, 2, 3], { shape: [2, 2] }), ShapeError, /^variable: 3 values do not fill shape \[2,2\] \(4 elements\)/);
});

test('slice takes integer bounds; pad takes one non-negative integer per axis before and after', () => {
  const ctx = newContext();
  const x = ctx.variable([[1, 2, 3], [4, 5, 6]]);
  throwsError(() => x.slice([0, 0.5], [1, 1.5]), ShapeError, /^slice: begin 0\.5 and size 1\.5 on axis 1 must be integers/);
  throwsError(() => x.slice([0, NaN], [1, 1]), ShapeError, /^slice: begin NaN and size 1 on axis 1 must be integers/);
  assert.equal(x.slice([0, 1], [2, -1]).tensor.toArray(), [[2, 3], [5, 6]]);
  throwsError(() => x.pad([1], [1]), ShapeError, /^pad: before and after need 2 entries for shape \[2,3\]/);
  throwsError(() => x.pad([1, 0], [0, 0, 1]), ShapeError, /^pad: before and after need 2 entries/);
  throwsError(() => x.pad([0.5, 0], [0, 0]), ShapeError, /^pad: padding 0\.5 before and 0 after axis 0 must be non-negative integers/);
  throwsError(() => x.pad([0, 0], [0, NaN]), ShapeError, /^pad: padding 0 before and NaN after axis 1 must be non-negative integers/);
  // PyTorch's F.pad crops with negative padding; pad's gradient does not support it.
  throwsError(() => x.pad([0, -1], [0, 0]), ShapeError, /^pad: padding -1 before and 0 after axis 1 .*negative padding, which crops in PyTorch, is not supported: use slice/);
  assert.equal(x.pad([1, 0], [0, 1]).tensor.toArray(), [[0, 0, 0, 0], [1, 2, 3, 0], [4, 5, 6, 0]]);
});

test('stack takes variables of one shape and an axis in -(rank + 1) .. rank', () => {
  const ctx = newContext();
  const a = ctx.variable([[1, 2, 3], [4, 5, 6]]);
  throwsError(() => stack([a, a.transpose()]), ShapeError, /^stack: shapes \[2,3\] and \[3,2\] differ; stack needs equal shapes/);
  throwsError(() => stack([a, ctx.zeros([6])]), ShapeError, /^stack: shapes \[2,3\] and \[6\] differ/);
  throwsError(() => stack([a, ctx.zeros([6]).tensor]), ShapeError, /^stack: shapes \[2,3\] and \[6\] differ/);
  throwsError(() => stack([a, a], -4), ShapeError, /^stack: axis -4 is out of range for stacking rank-2 variables \(expected -3 to 2\)/);
  throwsError(() => stack([a, a], 3), ShapeError, /^stack: axis 3 is out of range/);
  throwsError(() => stack([a, a], 0.5), ShapeError, /^stack: axis 0\.5 is out of range/);
  assert.equal(stack([a, a], -3).shape, [2, 2, 3]);
  assert.equal(stack([a, a], 2).tensor.toArray(), [[[1, 1], [2, 2], [3, 3]], [[4, 4], [5, 5], [6, 6]]]);
  assert.equal(stack([a, a], -1).shape, [2, 3, 2]);
});

test('gather and scatterAdd take integer indices in range, checked before any backend', () => {
  for (const device of [cpu, fastCpu]) {
    const ctx = newContext('float64', { device });
    const a = ctx.variable([[1, 2], [3, 4]]);
    throwsError(() => a.gather([1.7]), TypeError, /^gather: indices must be integers, got 1\.7 at position 0/);
    throwsError(() => a.gather([0, NaN]), TypeError, /^gather: indices must be integers, got NaN at position 1/);
    throwsError(() => a.gather(['1'] as never), TypeError, /^gather: indices must be integers, got "1" \(a string\)/);
    throwsError(() => a.gather([2 ** 32 + 1]), ShapeError, /^gather: index 4294967297 \(position 0\) is out of range for axis 0 of length 2/);
    throwsError(() => a.gather([-1]), ShapeError, /^gather: index -1 \(position 0\) is out of range/);
    throwsError(() => a.gather(1 as never), TypeError, /^gather: indices are an array of integers, got 1/);
    assert.equal(a.gather(Int32Array.of(1, 0), -1).tensor.toArray(), [[2, 1], [4, 3]]);
    throwsError(() => a.scatterAdd([0, 1], 0, [3, 5]), ShapeError, /^scatterAdd: variable #\d+ \(f64\[2,2\]\) does not fit shape \[3,5\] with 2 indices on axis 0: it needs shape \[2,5\]/);
    throwsError(() => a.scatterAdd([0, 1, 2], 0, [3, 2]), ShapeError, /^scatterAdd: .* it needs shape \[3,2\]/);
    throwsError(() => a.scatterAdd([0, 5], 0, [3, 2]), ShapeError, /^scatterAdd: index 5 \(position 1\) is out of range for axis 0 of length 3/);
    throwsError(() => a.scatterAdd([0, -1], 0, [3, 2]), ShapeError, /^scatterAdd: index -1 \(position 1\) is out of range/);
    throwsError(() => a.scatterAdd([0, 0.5], 0, [3, 2]), TypeError, /^scatterAdd: indices must be integers, got 0\.5 at position 1/);
    throwsError(() => a.scatterAdd([0, 1], 2, [3, 2]), ShapeError, /^scatterAdd: axis 2 is out of range for rank 2/);
    throwsError(() => a.scatterAdd([0, 1], 0, [3.5, 2]), ShapeError, /^scatterAdd: dimension 3\.5 at axis 0/);
    assert.equal(a.scatterAdd([2, 0], 0, [3, 2]).tensor.toArray(), [[3, 4], [0, 0], [1, 2]]);
    assert.equal(a.scatterAdd([1, 1], -1, [2, 3]).tensor.toArray(), [[0, 3, 0], [0, 7, 0]]);
  }
});

test('an operand is a number, nested arrays of numbers, a typed array, a Tensor or a Variable', () => {
  const ctx = newContext();
  const a = ctx.variable([1, 2, 3]);
  const expected = 'expected a number, a nested array of numbers, a typed array, a Tensor or a Variable, got';
  const bad: [string, () => unknown, string][] = [
    ['add', () => a.add('abc' as never), '"abc" \\(a string\\)'],
    ['add', () => a.add('3' as never), '"3" \\(a string\\)'],
    ['add', () => a.add(undefined as never), 'undefined'],
    ['mul', () => a.mul(null as never), 'null'],
    ['sub', () => a.sub({} as never), 'an object'],
    ['pow', () => a.pow(true as never), 'true \\(a boolean\\)'],
    ['where', () => a.where(1, new Map() as never), 'a Map'],
    ['matmul', () => a.matmul('x' as never), '"x" \\(a string\\)'],
    ['add', () => add(a, 'abc' as never), '"abc" \\(a string\\)'],
    ['variable', () => ctx.variable('abc' as never), '"abc" \\(a string\\)'],
    ['variable', () => ctx.variable(undefined as never), 'undefined'],
    ['constant', () => ctx.constant(1n as never), '1n \\(a bigint\\)'],
    ['assign', () => a.assign('abc' as never), '"abc" \\(a string\\)'],
  ];
  for (const [op, f, got] of bad) throwsError(f, TypeError, new RegExp(`^${op}: ${expected} ${got}$`));
  throwsError(() => a.add([1, '2', 3] as never), TypeError, /^add: a nested array holds numbers, got "2" \(a string\) at depth 1/);
  throwsError(() => ctx.variable([[1], [undefined]] as never), TypeError, /^variable: a nested array holds numbers, got undefined at depth 2/);
  throwsError(() => ctx.scalar('1' as never), TypeError, /^scalar: expected a number, got "1" \(a string\)/);
  // The values unchanged, and every good kind still taken.
  assert.equal([...a.data()], [1, 2, 3]);
  assert.equal([...a.add(1).data()], [2, 3, 4]);
  assert.equal([...a.add([1, 1, 1]).data()], [2, 3, 4]);
  assert.equal([...a.add(Float32Array.of(1, 2, 3)).data()], [2, 4, 6]);
  assert.equal([...a.add(ctx.constant([1, 1, 1]).tensor).data()], [2, 3, 4]);
  assert.equal([...ctx.variable(a).data()], [1, 2, 3]);
  assert.ok(Number.isNaN(a.add(NaN).data()[0]!), 'NaN is a number');
});

test('clip takes two ordered numbers', () => {
  const ctx = newContext();
  const x = ctx.variable([1, 2, 3, 4]);
  throwsError(() => x.clip(undefined as never, 3), TypeError, /^clip: the bounds must be numbers, got undefined and 3/);
  throwsError(() => x.clip(1, '3' as never), TypeError, /^clip: the bounds must be numbers, got 1 and "3" \(a string\)/);
  throwsError(() => x.clip(NaN, 3), RangeError, /^clip: the bounds must be ordered numbers, lo <= hi \(not NaN\), got NaN and 3/);
  throwsError(() => clip(x, 1, NaN), RangeError, /got 1 and NaN/);
  throwsError(() => x.clip(3, 2), RangeError, /got 3 and 2/);
  assert.equal([...x.clip(2, 3).data()], [2, 2, 3, 3]);
  assert.equal([...x.clip(-Infinity, 2).data()], [1, 2, 2, 2]);
  assert.equal([...x.clip(2, 2).data()], [2, 2, 2, 2]);
  // An elementwise maximum or minimum needs its operand: only max() and min() reduce.
  throwsError(() => x.maximum(undefined as never), TypeError, /^maximum: expected a number/);
  throwsError(() => x.minimum(undefined as never), TypeError, /^minimum: expected a number/);
});

test("assign takes a value of the variable's shape, or its values flat", () => {
  const ctx = newContext();
  const v = ctx.variable([[1, 2, 3], [4, 5, 6]]);
  throwsError(() => v.assign([[1, 2], [3, 4], [5, 6]]), ShapeError, /^assign: a value of shape \[3,2\] cannot replace variable #\d+ \(f64\[2,3\]\): give one of its shape, or its 6 values flat/);
  throwsError(() => v.assign(ctx.constant([[1, 2], [3, 4], [5, 6]])), ShapeError, /^assign: a value of shape \[3,2\]/);
  throwsError(() => v.assign(ctx.constant([1, 2, 3, 4, 5, 6]).tensor), ShapeError, /^assign: a value of shape \[6\]/);
  throwsError(() => v.assign([1, 2, 3, 4, 5]), ShapeError, /^assign: 5 values do not fill shape \[2,3\] \(6 elements\)/);
  throwsError(() => v.assign(7), ShapeError, /^assign: one number does not fill shape \[2,3\] \(6 elements\)/);
  assert.is(v.version, 0, 'nothing replaced');
  assert.equal(v.assign([[6, 5, 4], [3, 2, 1]]).tensor.toArray(), [[6, 5, 4], [3, 2, 1]]);
  assert.equal(v.assign([1, 2, 3, 4, 5, 6]).tensor.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assert.equal(v.assign(Float32Array.of(0, 1, 2, 3, 4, 5)).tensor.toArray(), [[0, 1, 2], [3, 4, 5]]);
  assert.equal(v.assign(ctx.constant([[1, 1, 1], [2, 2, 2]])).tensor.toArray(), [[1, 1, 1], [2, 2, 2]]);
  assert.is(ctx.variable(1).assign(5).item(), 5);
});

test("a context's device is 'cpu', 'gpu' or a Backend", () => {
  throwsError(() => newContext('float32', { device: 'tpu' as never }), RangeError, /^newContext: device must be 'cpu', 'gpu' or a Backend, got 'tpu'/);
  throwsError(() => newContext('float32', { device: {} as never }), TypeError, /^newContext: device must be 'cpu', 'gpu' or a Backend, got an object/);
  throwsError(() => newContext('float32', { device: 5 as never }), TypeError, /got 5/);
  assert.is(newContext('float32', { device: 'cpu' }).backend, fastCpu);
  assert.is(newContext('float32', { device: cpu }).backend, cpu);
});

test('a batched matmul over a zero-length inner axis gives zeros', () => {
  for (const device of [cpu, fastCpu]) {
    const ctx = newContext('float64', { device });
    const zeros = (s: number[]): number[] => new Array<number>(s.reduce((p, q) => p * q, 1)).fill(0);
    const y = ctx.ones([2, 3, 0]).matmul(ctx.ones([0, 4]));
    assert.equal(y.shape, [2, 3, 4]);
    assert.equal([...y.data()], zeros([2, 3, 4]));
    assert.equal(ctx.ones([2, 3, 0]).matmul(ctx.ones([2, 0, 4])).shape, [2, 3, 4]);
    assert.equal(ctx.ones([2, 0]).matmul(ctx.ones([0, 3])).shape, [2, 3]);
  }
});

test.run();
