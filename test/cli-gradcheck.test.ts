// `rmad gradcheck`: the library runs behind it (built-in checks, model parameter checks) and a
// real run of the command for each exit code: 0 all pass, 1 a planted wrong backward rule, 2 bad
// input.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rules } from '../src/index.js';
import { main } from '../src/cli/main.js';
import { explainFailure } from '../src/cli/gradcheck.js';
import { loadModelFile } from '../src/loaders/modelfile.js';
import { checkModel, runBuiltinChecks, type CheckResult } from '../src/train/gradcheck-model.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const rmad = (...args: string[]) => spawnSync(process.execPath, ['bin/rmad', ...args], { cwd: root, encoding: 'utf8' });
const model = (name: string, sets: string[] = []) => {
  const { spec, baseDir } = loadModelFile(`${root}/models/${name}`, sets);
  return { spec, baseDir };
};

/** Runs `fn` with a backward rule replaced, restoring it whatever happens. */
function withRule<T>(op: 'sin' | 'linear', backward: (typeof rules)[typeof op]['backward'], fn: () => T): T {
  const original = rules[op].backward;
  (rules[op] as { backward: typeof backward }).backward = backward;
  try {
    return fn();
  } finally {
    (rules[op] as { backward: typeof backward }).backward = original;
  }
}

// Planted mistakes: d sin x = sin x dx (it is cos x); linear's gradient for x off by 1%.
const wrongSin: (typeof rules)['sin']['backward'] = (g, [x]) => [g.mul(x!.sin())];
const originalLinear = rules.linear.backward;
const wrongLinear: (typeof rules)['linear']['backward'] = (g, x, y, p, needs) => {
  const [gx, gw, gb] = originalLinear(g, x, y, p, needs);
  return [gx ? gx.mul(1.01) : null, gw ?? null, gb ?? null];
};

test('the built-in checks cover primitives, layers and losses at both orders and ranges, and pass', () => {
  const results = runBuiltinChecks({ orders: [1, 2], filter: (l) => /^(primitive (sin|relu|matmul\(aᵀ\))|layer lstm\(output=all\)|loss hinge)$/.test(l) });
  assert.is(results.length, 5 * 2 * 2);
  assert.equal(new Set(results.map((r) => r.kind)), new Set(['primitive', 'layer', 'loss']));
  for (const r of results) assert.is(r.status, 'pass', `${r.kind} ${r.name} ${r.range} ${r.order}: ${r.message}`);
  const lstm = results.find((r) => r.name === 'lstm(output=all)' && r.order === 2)!;
  assert.equal(lstm.args.map((a) => a.name), ['x', 'lstm.Wx', 'lstm.Wh', 'lstm.b', 'u (cotangent)']);
  const hinge = results.find((r) => r.name === 'hinge')!;
  assert.equal(hinge.args.map((a) => a.checked), [true, false]);
});

test('a wrong backward rule fails its primitive and the layers built on it, naming the op, input, element and both Jacobians', () => {
  const results = withRule('sin', wrongSin, () => runBuiltinChecks({ orders: [1], ranges: ['random'], filter: (l) => l === 'primitive sin' || l === 'primitive cos' }));
  const sin = results.find((r) => r.name === 'sin')!;
  assert.is(results.find((r) => r.name === 'cos')!.status, 'pass');
  assert.is(sin.status, 'fail');
  assert.is(sin.op, 'sin');
  const f = sin.failure!;
  assert.is(f.input, 0);
  assert.equal(f.jacobianShape, [6, 6]);
  assert.is(f.window!.analytic.length, 6);
  assert.ok(Math.abs(f.analytic! - f.numeric!) > 1e-3);
  const text = explainFailure(sin);
  assert.match(text, /^FAIL primitive sin \(random, order 1\)\n  input 0 \[2,3\], element \d \[\d,\d\] of output \d \[\d,\d\]: analytic /);
  assert.match(text, /analytic Jacobian \[6 outputs x 6 elements\]:/);
  assert.match(text, /numeric Jacobian \(central differences\):/);
  assert.match(text, />-?[\d.]+</, 'the worst element is marked');
});

test('a model file: every parameter checked on its own data, frozen ones skipped', () => {
  const { spec, baseDir } = model('mlp.yaml', ['freeze=[hidden1]']);
  const check = checkModel(spec, baseDir, { file: 'mlp.yaml', orders: [1], batch: 4 });
  assert.is(check.rows, 4);
  assert.is(check.mode, 'full');
  assert.equal(check.results.map((r) => `${r.name} ${r.status}`), ['hidden1.W skipped', 'hidden1.b skipped', 'head.W pass', 'head.b pass']);
  assert.is(check.trainable, 16 * 3 + 3);
  assert.is(check.frozen, 4 * 16 + 16);
  assert.match(check.reason, /full Jacobians/);
});

test('a model file at second order passes; a large one is checked by random projections', () => {
  const { spec, baseDir } = model('svm.yaml');
  const second = checkModel(spec, baseDir, { file: 'svm.yaml', orders: [2], batch: 4 });
  assert.ok(second.results.every((r) => r.status === 'pass' && r.order === 2));
  const fast = checkModel(spec, baseDir, { file: 'svm.yaml', orders: [1], fastAbove: 2 });
  assert.is(fast.mode, 'fast');
  assert.match(fast.reason, /3 trainable parameters > 2: fast mode/);
  assert.ok(fast.results.every((r) => r.status === 'pass' && r.mode === 'fast'), fast.results.map((r) => r.message).join('; '));
});

test('a wrong linear rule fails the parameters behind it, in fast mode too, with the full Jacobians', () => {
  const { spec, baseDir } = model('mlp.yaml');
  for (const fastAbove of [Infinity, 10]) {
    const check = withRule('linear', wrongLinear, () => checkModel(spec, baseDir, { file: 'mlp.yaml', orders: [1], batch: 4, fastAbove }));
    const by = new Map(check.results.map((r) => [r.name, r]));
    // Only the gradient of linear's input is wrong: the head's input (hidden1's output).
    assert.is(by.get('head.W')!.status, 'pass');
    assert.is(by.get('hidden1.W')!.status, 'fail');
    const f = by.get('hidden1.W')!.failure!;
    assert.is(f.inputName, 'hidden1.W');
    assert.equal(f.jacobianShape, [1, 64]);
    assert.match(explainFailure(by.get('hidden1.W')!), /^FAIL mlp\.yaml: parameter hidden1\.W \(order 1, (full|fast)\)\n  input 0 'hidden1\.W' \[4,16\], element \d+ \[\d+,\d+\] of output 0 \[\]/);
  }
});

/** Runs the command in this process (so a planted rule applies), capturing stdout and the exit code. */
async function runInProcess(args: string[]): Promise<{ code: number; out: string }> {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await main(args);
  } finally {
    process.stdout.write = write;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, out };
}

test('exit 1: the command with a wrong sin rule names the op and prints both Jacobians', async () => {
  const original = rules.sin.backward;
  rules.sin.backward = wrongSin;
  let run: { code: number; out: string };
  try {
    run = await runInProcess(['gradcheck', '--only', 'primitive sin', '--order', '1']);
  } finally {
    rules.sin.backward = original;
  }
  assert.is(run.code, 1);
  assert.match(run.out, /primitive sin +\[2,3\] +1 +random .* FAIL/);
  assert.match(run.out, /\nFAIL primitive sin \(random, order 1\)\n/);
  assert.match(run.out, /numeric Jacobian/);
  assert.match(run.out, /2 checks: 0 passed, 2 failed/);
});

test('exit 0: a real run on a model file, one JSON object per check', () => {
  const r = rmad('gradcheck', 'models/svm.yaml', '--json');
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as CheckResult);
  assert.equal(lines.map((l) => [l.name, l.status, l.order, l.file]), [['svm.W', 'pass', 1, 'models/svm.yaml'], ['svm.b', 'pass', 1, 'models/svm.yaml']]);
});

test('exit 2: a missing model file and a bad --order are one line each', () => {
  const missing = rmad('gradcheck', 'models/nope.yaml');
  assert.is(missing.status, 2);
  assert.is(missing.stderr, 'models/nope.yaml: no such file; check the path\n');
  const order = rmad('gradcheck', '--order', '3');
  assert.is(order.status, 2);
  assert.match(order.stderr, /^--order: takes 1 or 2, got '3'\n$/);
});

test.run();
