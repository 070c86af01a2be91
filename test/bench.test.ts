// `rmad bench`: the shared workloads run, print the peers' harness's lines, and their checks hold
// (the same losses as the float64 reference, the same products, the same gradients); a check
// that fails is said and fails the command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as D from '../src/bench/data.js';
import { runBench, type BenchLine } from '../src/bench/run.js';
import { benchRow, parseOnly } from '../src/cli/bench.js';
import { inputError, rmad } from './helpers.js';

const root = new URL('../..', import.meta.url).pathname;

test('runBench: W1, W2, W4s and W5 pass their checks and print the harness fields', () => {
  const seen: BenchLine[] = [];
  const lines = runBench({ only: ['W5', 'W1', 'W2', 'W4s'], onLine: (l) => seen.push(l) });
  assert.equal(lines.map((l) => l.workload), ['W1', 'W2', 'W4s', 'W5'], 'in the workloads order');
  assert.equal(seen, lines);
  for (const l of lines) {
    assert.ok(l.ok, `${l.workload}: ${JSON.stringify(l.info)}`);
    assert.equal(Object.keys(l), ['workload', 'peer', 'param', 'metric', 'value', 'ok', 'info']);
    assert.is(l.peer, 'rmad');
    assert.ok(l.value !== null && l.value > 0);
  }
  assert.is(lines[0]!.metric, 'us_per_fwd_bwd');
  assert.ok(lines.slice(1).every((l) => l.metric === 'ms_per_step'));
});

test('runBench: compiled training steps are peer rmad-compiled and pass the same checks', () => {
  const lines = runBench({ only: ['W4s'], modes: ['eager', 'compiled'] });
  assert.equal(lines.map((l) => [l.peer, l.ok]), [['rmad', true], ['rmad-compiled', true]]);
});

test('the checks fail on wrong results', () => {
  assert.ok(D.checkLosses('W2', [1.1583201918485397, 0.9590311175081095]));
  assert.not.ok(D.checkLosses('W2', [1.1583201918485397, 0.9600311175081095]), 'a second loss 1e-3 off');
  assert.not.ok(D.checkLosses('W9', [1, 1]), 'no reference');
  const { A, B } = D.w3Matrices(8);
  const C = new Float64Array(64);
  for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) for (let k = 0; k < 8; k++) C[i * 8 + j] += A[i * 8 + k]! * B[k * 8 + j]!;
  assert.ok(D.w3Check(8, C));
  C[9] += 2 ** -20;
  assert.not.ok(D.w3Check(8, C), 'one entry off in its last bits');
  assert.not.ok(D.checkW1(D.W1.s, { ...D.W1.grads, x: 0.105 }));
});

test('the generators are the harness streams', () => {
  // xorshift32 with the seed mixed by the golden-ratio constant: the harness's first values.
  const rng = new D.XorShift32(1);
  assert.equal([rng.nextU32(), rng.nextU32(), rng.nextU32()], [1359758873, 3761132862, 2075758394]);
  assert.is(new D.XorShift32(0).nextU32(), 270369, 'seed 0 starts from state 1');
});

test('--only takes workload names in any case; another name is an input error', () => {
  assert.equal(parseOnly('w4s, W1'), ['W4s', 'W1']);
  assert.is(parseOnly(undefined), undefined);
  const e = inputError(() => parseOnly('W1,W7'));
  assert.is(e.where, '--only');
  assert.match(e.message, /'W7' is not a workload; choose from W1, W2, W3, W4, W4s, W5, W6/);
});

test('a row says the workload, the value with its unit, and the check', () => {
  const line = (over: Partial<BenchLine>): BenchLine => ({ workload: 'W4', peer: 'rmad', param: '784-256-128-10,b64', metric: 'ms_per_step', value: 2.4, ok: true, info: {}, ...over });
  assert.match(benchRow(line({})), /^W4 {4}MLP 784-256-128-10, batch 64, Adam +2\.40 ms a step +ok$/);
  assert.match(benchRow(line({ peer: 'rmad-compiled', ok: false })), /Adam \(compiled\) +2\.40 ms a step +CHECK FAILED$/);
  assert.match(benchRow(line({ value: null, ok: false, info: { error: 'NoGpuError: no adapter' } })), /Adam +- +failed: NoGpuError: no adapter$/);
  assert.match(benchRow(line({ workload: 'W3', param: 'n=1024', metric: 'gflops', value: 61.94 })), /matrix product, float32 n=1024 +61\.9 GFLOP\/s +ok$/);
  assert.match(benchRow(line({ workload: 'W6', param: 'startup', metric: 'ms_wall', value: 151.3, info: { overEmpty: -8.7 } })), /151 ms +ok, 8\.7 ms under an empty node's start$/);
});

test('rmad bench --only W1 --json: one harness line on stdout, the verdict last on stderr', () => {
  const r = rmad(['bench', '--only', 'W1', '--json'], root);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as BenchLine);
  assert.is(lines.length, 1);
  assert.is(lines[0]!.workload, 'W1');
  assert.ok(lines[0]!.ok);
  assert.is(r.stderr.trimEnd().split('\n').at(-1), 'bench: 1 passed, 0 failed');
});

test('rmad bench --only W7: one line, exit 2', () => {
  const r = rmad(['bench', '--only', 'W7'], root);
  assert.is(r.code, 2);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /--only.*'W7' is not a workload/);
});

test.run();
