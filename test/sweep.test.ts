// Sweeps: the plan of each method, ids, max_trials and early validation, shards, running in
// worker processes with resume, gates, the output files, merging shards, and the command
// line's exit codes and last line. Trials are tiny (60 generated rows, 2 epochs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError } from '../src/errors.js';
import { parseModelText } from '../src/loaders/modelfile.js';
import type { SweepSpec } from '../src/loaders/spec.js';
import {
  evaluateGates, loadSweep, mergeSweeps, parseShard, planSweep, readResults, runSweep, shardTrials, trialId, workerBudget,
  type SweepEvent, type SweepMeta, type TrialRecord,
} from '../src/train/sweep.js';
import { expectBadInput, rmad, workspace } from './helpers.js';

const realWorker = fileURLToPath(new URL('../src/train/sweep-worker.js', import.meta.url));

function model(sweep: string, rest = ''): string {
  return `rmad: 1
name: tiny
data:
  source: generator
  generator: blobs
  params: {n: 60, classes: 2, features: 2}
  labels: onehot
  split: {train: 0.6, val: 0.2, test: 0.2}
model:
  input: 2
  layers:
    - {name: hidden, type: dense, units: 4, activation: tanh}
    - {name: head, type: dense, units: 2}
loss: {type: softmax_cross_entropy}
optimizer: {type: adam, lr: 0.05}
train: {epochs: 2, batch_size: 16}
${rest}sweep:
${sweep.replace(/^/gm, '  ')}
`;
}

const grid = `method: grid
parameters:
  optimizer.lr: [0.01, 0.1]
seeds: [0, 1]`;



function errorLines(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.instance(e, InputError);
    return (e as InputError).line().split('\n');
  }
  assert.unreachable('expected an InputError');
  return [];
}

/** Every file under `dir` with its text, to check that a refused command left a folder alone. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const path = join(dir, name);
    files[name] = statSync(path).isDirectory() ? '(folder)' : readFileSync(path, 'utf8');
  }
  return files;
}

/** A sweep folder written by hand: its sweep.json plans `ids`, `done` of them have a results line. */
function handMadeSweep(dir: string, ids: readonly string[], done = ids, shard: SweepMeta['shard'] = null): void {
  mkdirSync(dir, { recursive: true });
  const planned: SweepMeta = {
    rmad: 'test', name: 'tiny', file: 'm.yaml', method: 'list', parameters: ['optimizer.lr'], seeds: null,
    objective: { metric: 'val.loss', mode: 'min' }, expect: [], trials: ids.map((id, i) => ({ id, trial: i + 1 })), shard,
  };
  writeFileSync(join(dir, 'sweep.json'), `${JSON.stringify(planned, null, 2)}\n`);
  const line = (id: string) => ({
    id, trial: ids.indexOf(id) + 1, parameters: { 'optimizer.lr': ids.indexOf(id) / 10 }, seed: 0, status: 'ok',
    final: { 'val.loss': 0.5 }, best: null, run: `trials/${id}`, wallSeconds: 0.1,
  });
  writeFileSync(join(dir, 'results.jsonl'), done.map((id) => `${JSON.stringify(line(id))}\n`).join(''));
}

/** The records without what differs between runs of the same trials (run folder, time). */
function comparable(records: readonly TrialRecord[]): unknown[] {
  return records.map(({ run: _run, wallSeconds: _wall, ...rest }) => rest);
}

function planOf(sweep: string, rest = '') {
  const dir = workspace({ 'm.yaml': model(sweep, rest) });
  return loadSweep({ file: join(dir, 'm.yaml') });
}

// ---------------------------------------------------------------------------------------------
// Plans

test('grid: the product of the lists, first parameter slowest, seeds fastest', () => {
  const plan = planOf(`method: grid
parameters:
  optimizer.lr: [0.01, 0.1]
  model.layers.hidden.units: [2, 3, 4]
seeds: [5, 6]`);
  assert.is(plan.trials.length, 12);
  assert.equal(plan.trials.slice(0, 3).map((t) => [t.parameters, t.seed]), [
    [{ 'optimizer.lr': 0.01, 'model.layers.hidden.units': 2 }, 5],
    [{ 'optimizer.lr': 0.01, 'model.layers.hidden.units': 2 }, 6],
    [{ 'optimizer.lr': 0.01, 'model.layers.hidden.units': 3 }, 5],
  ]);
  assert.equal(plan.trials.map((t) => t.index), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const last = plan.trials[11]!;
  assert.is(last.spec.optimizer.lr, 0.1);
  assert.is(last.spec.model.layers[0]!.units, 4);
  assert.is(last.spec.seed, 6, 'the seeds axis sets the top-level seed');
  assert.is(last.spec.sweep, null, 'a trial is a plain model');
  const ids = plan.trials.map((t) => t.id);
  assert.ok(ids.every((id) => /^[0-9a-f]{12}$/.test(id)), ids.join(' '));
  assert.is(new Set(ids).size, 12, 'distinct configs, distinct ids');
});

test('ids: a hash of the resolved config, whatever the key order, the sweep or a default written out', () => {
  const a = parseModelText(model(grid), 'a.yaml');
  const reordered = parseModelText(model(grid).replace('loss: {type: softmax_cross_entropy}\noptimizer: {type: adam, lr: 0.05}', 'optimizer: {lr: 0.05, type: adam}\nloss: {type: softmax_cross_entropy}'), 'b.yaml');
  const defaulted = parseModelText(model('method: list\ntrials: [{optimizer.lr: 0.2}]').replace('batch_size: 16}', 'batch_size: 16, shuffle: true}'), 'c.yaml');
  assert.is(trialId(a), trialId(reordered));
  assert.is(trialId(a), trialId(defaulted), 'the sweep section and defaults written out do not change the id');
  assert.is.not(trialId(a), trialId({ ...a, seed: 1 }), 'the seed is part of the config');
  // Stable across versions of this code: a baseline's ids must keep matching.
  assert.is(planOf(grid).trials[0]!.id, planOf(grid).trials[0]!.id);
});

test('grid: a distribution is an error, as the schema says', () => {
  const lines = errorLines(() => planOf('method: grid\nparameters: {optimizer.lr: {loguniform: [0.001, 0.1]}}'));
  assert.match(lines[0]!, /sweep\.parameters\["optimizer\.lr"\]: a grid takes a list of values; use method: random/);
  // planSweep itself refuses too, for a spec that did not come through the schema.
  const spec = parseModelText(model(grid), 'm.yaml').sweep!;
  const bad: SweepSpec = { ...spec, parameters: { 'optimizer.lr': { uniform: [0.1, 0.2] } } };
  assert.match(errorLines(() => planSweep({}, bad, { file: 'm.yaml', baseDir: '.', name: 'tiny' }))[0]!, /a grid takes a list of values/);
});

test('list: the override sets in order, once per seed; identical trials run once', () => {
  const plan = planOf(`method: list
trials:
  - {optimizer.lr: 0.2}
  - {optimizer.type: sgd, optimizer.lr: 0.5}
  - {optimizer.lr: 0.2}
seeds: [1, 2]`);
  assert.equal(plan.trials.map((t) => [t.index, t.parameters, t.seed]), [
    [1, { 'optimizer.lr': 0.2 }, 1], [2, { 'optimizer.lr': 0.2 }, 2],
    [3, { 'optimizer.type': 'sgd', 'optimizer.lr': 0.5 }, 1], [4, { 'optimizer.type': 'sgd', 'optimizer.lr': 0.5 }, 2],
  ]);
  assert.is(plan.duplicates, 2);
  assert.is(plan.trials[2]!.spec.optimizer.type, 'sgd');
});

test('random: reproducible draws within the bounds, from the sweep seed; max_trials / seeds draws', () => {
  const sweep = (seed: number, extra = '') => `method: random
parameters:
  optimizer.lr: {loguniform: [0.001, 0.1]}
  data.params.spread: {uniform: [0.5, 2]}
  model.layers.hidden.units: {choice: [2, 8]}
  optimizer.type: [adam, sgd]${extra}
seeds: [0, 1]
max_trials: 40
seed: ${seed}`;
  const plan = planOf(sweep(7));
  assert.is(plan.trials.length, 40, '20 draws x 2 seeds');
  const drawn = plan.trials.filter((t) => t.seed === 0).map((t) => t.parameters);
  assert.is(drawn.length, 20);
  for (const p of drawn) {
    const lr = p['optimizer.lr'] as number, spread = p['data.params.spread'] as number;
    assert.ok(lr >= 0.001 && lr <= 0.1, `lr ${lr}`);
    assert.ok(spread >= 0.5 && spread <= 2, `spread ${spread}`);
    assert.ok([2, 8].includes(p['model.layers.hidden.units'] as number));
    assert.ok(['adam', 'sgd'].includes(p['optimizer.type'] as string));
    assert.is(Number(lr.toPrecision(6)), lr, 'rounded to 6 significant digits');
  }
  // loguniform spreads over the decades: some draws below 0.01, some above.
  assert.ok(drawn.some((p) => (p['optimizer.lr'] as number) < 0.01) && drawn.some((p) => (p['optimizer.lr'] as number) > 0.01));
  assert.ok(new Set(drawn.map((p) => p['optimizer.type'])).size === 2 && new Set(drawn.map((p) => p['model.layers.hidden.units'])).size === 2);
  assert.equal(planOf(sweep(7)).trials.map((t) => t.id), plan.trials.map((t) => t.id), 'the same seed draws the same trials');
  assert.not.equal(planOf(sweep(8)).trials.map((t) => t.parameters), plan.trials.map((t) => t.parameters), 'another seed draws others');
  const more = planOf(sweep(7, '\n  train.batch_size: [8, 16]')).trials.filter((t) => t.seed === 0);
  assert.equal(more.map((t) => t.parameters['optimizer.lr']), drawn.map((p) => p['optimizer.lr']), 'a new parameter leaves the others\' draws alone');
});

test('max_trials: a sweep larger than it fails before any trial is built', () => {
  const lines = errorLines(() => planOf('method: grid\nparameters: {optimizer.lr: [0.1, 0.2, 0.3], train.batch_size: [8, 16]}\nseeds: [1, 2]\nmax_trials: 11'));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /m\.yaml: sweep\.max_trials: the sweep has 12 trials \(3 x 2 x 2 seeds\), more than max_trials 11; raise max_trials or narrow the sweep$/);
  assert.is(planOf('method: grid\nparameters: {optimizer.lr: [0.1, 0.2, 0.3], train.batch_size: [8, 16]}\nseeds: [1, 2]\nmax_trials: 12').trials.length, 12);
  assert.match(errorLines(() => planOf('method: list\ntrials: [{optimizer.lr: 0.1}, {optimizer.lr: 0.2}]\nseeds: [1, 2]\nmax_trials: 3'))[0]!, /has 4 trials \(2 listed x 2 seeds\)/);
  assert.match(errorLines(() => planOf('method: random\nparameters: {optimizer.lr: [0.1]}\nseeds: [1, 2, 3]\nmax_trials: 2'))[0]!, /max_trials 2/);
});

test('every trial is validated first: a bad value in trial 17 fails at once, naming the trial and its overrides', () => {
  const trials = Array.from({ length: 20 }, (_, i) => (i === 16 ? '  - {model.layers.hidden.units: 0, optimizer.lr: 0.3}' : `  - {optimizer.lr: ${(i + 1) / 100}}`));
  const dir = workspace({ 'm.yaml': model(`method: list\ntrials:\n${trials.join('\n')}`) });
  const lines = errorLines(() => loadSweep({ file: join(dir, 'm.yaml') }));
  assert.equal(lines, [`${join(dir, 'm.yaml')}: trial 17 of 20 (model.layers.hidden.units=0, optimizer.lr=0.3): model.layers[hidden].units: must be >= 1, got 0`]);
  // Through the command line: exit 2, that one line, nothing trained.
  const r = rmad(['sweep', 'm.yaml', '--out', 'out'], dir);
  assert.is(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n'), ['m.yaml: trial 17 of 20 (model.layers.hidden.units=0, optimizer.lr=0.3): model.layers[hidden].units: must be >= 1, got 0']);
  assert.not.ok(existsSync(join(dir, 'out')), 'nothing written');
  // A typo in a path is the schema's to find, at its place in the file.
  const typo = errorLines(() => planOf('method: list\ntrials: [{optimizer.lr: 0.1}, {optimizer.lrr: 0.2}]'));
  assert.equal(typo.map((l) => l.replace(/^.*m\.yaml/, 'm.yaml')), [`m.yaml:19:34: sweep.trials[1]["optimizer.lrr"]: unknown key 'lrr' in optimizer; did you mean 'lr'?`]);
  // Many trials failing: the first five are named, the rest counted.
  const many = errorLines(() => planOf('method: grid\nparameters: {model.layers.hidden.units: [0]}\nseeds: [1, 2, 3, 4, 5, 6, 7]'));
  assert.is(many.length, 6);
  assert.match(many[5]!, /2 more of the 7 trials fail too/);
});

test('--sweep FILE replaces the model file\'s sweep section; errors name that file', () => {
  const dir = workspace({ 'm.yaml': model(grid), 's.yaml': 'method: list\ntrials: [{optimizer.lr: 0.3}]\n', 'bad.yaml': 'sweep:\n  method: list\n  trials: [{train.epochs: 0}]\n' });
  const plan = loadSweep({ file: join(dir, 'm.yaml'), sweepFile: join(dir, 's.yaml') });
  assert.equal(plan.trials.map((t) => t.parameters), [{ 'optimizer.lr': 0.3 }]);
  assert.match(errorLines(() => loadSweep({ file: join(dir, 'm.yaml'), sweepFile: join(dir, 'bad.yaml') }))[0]!, /bad\.yaml: trial 1 of 1 \(train\.epochs=0\): train\.epochs: must be >= 1/);
  const none = workspace({ 'm.yaml': model(grid).replace(/sweep:[\s\S]*$/, '') });
  assert.match(errorLines(() => loadSweep({ file: join(none, 'm.yaml') }))[0]!, /has no sweep: section/);
});

test('a sweep that varies seed in its parameters and has seeds: too is refused, naming the parameter', () => {
  for (const [sweep, path] of [
    ['method: grid\nparameters: {optimizer.lr: [0.1], seed: [1, 2]}\nseeds: [0, 1]', 'sweep.parameters["seed"]'],
    ['method: random\nparameters: {seed: {choice: [1, 2]}}\nseeds: [0]\nmax_trials: 2', 'sweep.parameters["seed"]'],
    ['method: list\ntrials: [{optimizer.lr: 0.1}, {optimizer.lr: 0.2, seed: 3}]\nseeds: [0, 1]', 'sweep.trials[1]["seed"]'],
  ] as const) {
    const lines = errorLines(() => planOf(sweep));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /m\.yaml: /);
    assert.ok(lines[0]!.endsWith(`m.yaml: ${path}: varies the seed, and so does sweep.seeds; use one or the other`), lines[0]);
  }
  // Either one alone is a sweep over seeds.
  assert.equal(planOf('method: grid\nparameters: {seed: [1, 2]}').trials.map((t) => t.seed), [1, 2]);
  // Through the command line, from a --sweep file: that file is named.
  const dir = workspace({ 'm.yaml': model(grid), 's.yaml': 'method: grid\nparameters: {seed: [1, 2]}\nseeds: [0]\n' });
  const r = rmad(['sweep', 'm.yaml', '--sweep', 's.yaml', '--out', 'out'], dir);
  assert.is(r.code, 2, r.stderr);
  assert.is(r.stderr, 's.yaml: sweep.parameters["seed"]: varies the seed, and so does sweep.seeds; use one or the other\n');
  assert.not.ok(existsSync(join(dir, 'out')));
});

test('shards: every trial in exactly one shard, round robin; bad --shard is an error', () => {
  const items = Array.from({ length: 11 }, (_, i) => i);
  for (let n = 1; n <= 5; n++) {
    const seen = Array.from({ length: n }, (_, i) => shardTrials(items, { index: i + 1, count: n })).flat().sort((a, b) => a - b);
    assert.equal(seen, items, `n = ${n}`);
  }
  assert.equal(shardTrials(items, { index: 2, count: 3 }), [1, 4, 7, 10]);
  assert.equal(shardTrials(items, null), items);
  assert.equal(parseShard('2/4'), { index: 2, count: 4 });
  for (const bad of ['0/2', '3/2', '1/0', '2', 'a/b', '1/2/3']) assert.match(errorLines(() => parseShard(bad))[0]!, /^--shard: expected i\/n/, bad);
});

// ---------------------------------------------------------------------------------------------
// Gates

const meta = (expect: SweepMeta['expect'], mode: 'min' | 'max' = 'min'): SweepMeta => ({
  rmad: 'test', name: 't', file: 'm.yaml', method: 'grid', parameters: ['optimizer.lr'], seeds: null,
  objective: { metric: 'val.loss', mode }, expect, trials: [], shard: null,
});
const rec = (id: string, valLoss: number, acc: number, status: TrialRecord['status'] = 'ok'): TrialRecord => ({
  id, trial: 1, parameters: {}, seed: 0, status, final: status === 'failed' ? {} : { 'val.loss': valLoss, 'val.accuracy': acc }, best: null, run: '', wallSeconds: 0,
});
const records = [rec('a', 0.5, 0.7), rec('b', 0.2, 0.9), rec('c', 0.3, 0.95)];

test('gates: each sets trial statuses; min and max bounds', () => {
  const pass = evaluateGates(records, meta([{ metric: 'val.accuracy', scope: 'each', min: 0.6 }]), false);
  assert.equal(pass.records.map((r) => r.status), ['ok', 'ok', 'ok']);
  assert.is(pass.gates[0]!.outcome, 'pass');
  assert.is(pass.gates[0]!.value, 0.7, 'the worst value');
  const fail = evaluateGates(records, meta([{ metric: 'val.accuracy', scope: 'each', min: 0.8 }, { metric: 'val.loss', scope: 'each', max: 0.4 }]), false);
  assert.equal(fail.records.map((r) => r.status), ['gate-failed', 'ok', 'ok']);
  assert.equal(fail.gates.map((g) => g.outcome), ['fail', 'fail']);
  assert.match(fail.gates[0]!.detail, /1 of 3 trials outside: a \(0\.7000\)/);
  const band = evaluateGates(records, meta([{ metric: 'val.loss', scope: 'each', min: 0.25, max: 0.6 }]), false);
  assert.equal(band.records.map((r) => r.status), ['ok', 'gate-failed', 'ok']);
  const withFailed = evaluateGates([...records, rec('d', 0, 0, 'failed')], meta([{ metric: 'val.accuracy', scope: 'each', min: 0.6 }]), false);
  assert.equal(withFailed.records.map((r) => r.status), ['ok', 'ok', 'ok', 'failed'], 'a failed trial stays failed');
});

test('gates: best reads the trial first by the objective; mean averages the trained trials', () => {
  const best = (g: Omit<SweepMeta['expect'][number], 'scope'>, mode: 'min' | 'max' = 'min') => evaluateGates(records, meta([{ ...g, scope: 'best' }], mode), false).gates[0]!;
  assert.equal([best({ metric: 'val.accuracy', min: 0.85 }).outcome, best({ metric: 'val.accuracy', min: 0.85 }).value], ['pass', 0.9], 'b has the lowest val.loss');
  assert.is(best({ metric: 'val.accuracy', min: 0.92 }).outcome, 'fail', 'c has a higher accuracy, but b is the one picked');
  assert.is(best({ metric: 'val.loss', max: 0.1 }).outcome, 'fail');
  const mean = (g: Omit<SweepMeta['expect'][number], 'scope'>) => evaluateGates([...records, rec('d', 9, 9, 'failed')], meta([{ ...g, scope: 'mean' }]), false).gates[0]!;
  assert.is(mean({ metric: 'val.loss', max: 1 / 3 + 1e-9 }).outcome, 'pass', 'mean of 0.5, 0.2, 0.3; the failed trial left out');
  assert.ok(Math.abs(mean({ metric: 'val.loss', max: 1 }).value! - 1 / 3) < 1e-12);
  assert.is(mean({ metric: 'val.loss', max: 0.3 }).outcome, 'fail');
  assert.is(mean({ metric: 'val.accuracy', min: 0.9 }).outcome, 'fail');
  assert.is(mean({ metric: 'val.accuracy', min: 0.8 }).outcome, 'pass');
  const shard = evaluateGates(records, meta([{ metric: 'val.loss', scope: 'mean', max: 0 }, { metric: 'val.loss', scope: 'each', max: 0 }]), true).gates;
  assert.equal(shard.map((g) => g.outcome), ['deferred', 'fail'], 'a shard defers best and mean to the merge');
});

// ---------------------------------------------------------------------------------------------
// Running

test('runs trials in worker processes; output files; resume trains nothing; --resume retrains a lost trial', async () => {
  const dir = workspace({ 'm.yaml': model(`${grid}\nexpect: [{metric: val.loss, scope: mean, max: 100}]`) });
  const plan = loadSweep({ file: join(dir, 'm.yaml') });
  const out = join(dir, 'out');
  const events: SweepEvent[] = [];
  const first = await runSweep({ plan, outDir: out, jobs: 2, onEvent: (e) => events.push(e) });
  assert.ok(first.ok);
  // Four trials and the mean gate.
  assert.equal([first.passed, first.failed, first.planned], [5, 0, 4]);
  assert.equal(events.filter((e) => e.type === 'trial-end').length, 4);
  for (const f of ['sweep.json', 'results.jsonl', 'results.csv', 'summary.md']) assert.ok(existsSync(join(out, f)), f);
  const results = readResults(out);
  assert.equal(results.map((r) => r.id), plan.trials.map((t) => t.id), 'plan order');
  const r0 = results[0]!;
  assert.equal(Object.keys(r0), ['id', 'trial', 'parameters', 'seed', 'status', 'final', 'best', 'run', 'wallSeconds']);
  assert.equal([r0.parameters, r0.seed, r0.status, r0.run], [{ 'optimizer.lr': 0.01 }, 0, 'ok', `trials/${r0.id}`]);
  assert.ok(existsSync(join(out, r0.run, 'summary.json')) && existsSync(join(out, r0.run, 'weights.safetensors')));
  assert.equal(Object.keys(r0.final).sort(), ['test.accuracy', 'test.loss', 'train.accuracy', 'train.loss', 'val.accuracy', 'val.loss']);
  const summary = JSON.parse(readFileSync(join(out, r0.run, 'summary.json'), 'utf8')) as { final: Record<string, number> };
  assert.is(r0.final['val.loss'], summary.final['val.loss'], 'the final metrics of the run');
  const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
  assert.is(csv.length, 5);
  assert.ok(csv[0]!.startsWith('id,trial,status,optimizer.lr,seed,val.loss,'), csv[0]);
  const md = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(md, /^### Sweep `tiny`: 5 passed, 0 failed/);
  assert.match(md, /\| `val\.loss <= 100` \| mean \| [0-9.]+ \| pass \|/);
  const rows = md.split('\n').filter((l) => /^\| \d+ \|/.test(l));
  const losses = rows.map((l) => Number(l.split('|')[6]));
  assert.equal(losses, [...losses].sort((a, b) => a - b), 'sorted by the objective');

  // Again without --resume: refused. With it: nothing trains, the same results.
  await runSweep({ plan, outDir: out, jobs: 2 }).then(() => assert.unreachable('an existing sweep must be refused'), (e: unknown) => assert.match(String(e), /add --resume/));
  const again: SweepEvent[] = [];
  const second = await runSweep({ plan, outDir: out, jobs: 2, resume: true, onEvent: (e) => again.push(e) });
  assert.equal(again.map((e) => e.type), ['start'], 'no trial trained');
  assert.is((again[0] as Extract<SweepEvent, { type: 'start' }>).finished, 4);
  assert.ok(second.ok);
  assert.equal(comparable(readResults(out)), comparable(results));

  // A lost run folder and a lost results line: that trial trains again; the other is adopted from its summary.
  rmSync(join(out, results[1]!.run), { recursive: true });
  writeFileSync(join(out, 'results.jsonl'), readFileSync(join(out, 'results.jsonl'), 'utf8').split('\n').filter((l) => !l.includes(results[2]!.id)).join('\n'));
  const third: SweepEvent[] = [];
  await runSweep({ plan, outDir: out, jobs: 2, resume: true, onEvent: (e) => third.push(e) });
  assert.equal(third.filter((e) => e.type === 'trial-start').map((e) => (e as Extract<SweepEvent, { type: 'trial-start' }>).trial.id), [results[1]!.id]);
  assert.equal(comparable(readResults(out)), comparable(results), 'retrained to the same numbers: trials are deterministic');
});

test('an interrupted sweep, or shard, continues with --resume: the finished trials are skipped', async () => {
  const dir = workspace({ 'm.yaml': model('method: list\ntrials: [{optimizer.lr: 0.1}, {optimizer.lr: 0.2}, {optimizer.lr: 0.3}, {optimizer.lr: 0.4}]') });
  const plan = loadSweep({ file: join(dir, 'm.yaml') });
  for (const shard of [null, { index: 1, count: 2 }]) {
    const out = join(dir, shard ? 'shard' : 'whole');
    const abort = new AbortController();
    const first = await runSweep({ plan, outDir: out, jobs: 1, shard, signal: abort.signal, onEvent: (e) => e.type === 'trial-end' && abort.abort() });
    assert.ok(first.interrupted);
    assert.is(first.records.length, 1);
    const started: string[] = [];
    const second = await runSweep({ plan, outDir: out, jobs: 1, shard, resume: true, onEvent: (e) => e.type === 'trial-start' && started.push(e.trial.id) });
    assert.ok(second.ok);
    const slice = shardTrials(plan.trials, shard).map((t) => t.id);
    assert.equal(started, slice.slice(1), 'the rest, not the finished one');
    assert.equal(readResults(out).map((r) => r.id), slice);
  }
});

test('a trial that fails or crashes is recorded as failed; the others still run', async () => {
  const dir = workspace({
    'm.yaml': model('method: list\ntrials: [{optimizer.lr: 0.1}, {model.layers.head.units: 3}, {optimizer.lr: 0.5}, {optimizer.lr: 0.2}]'),
    // Speaks the worker protocol, but dies on the trial with lr 0.5 as a crash (or an out-of-memory kill) would.
    'crashing-worker.mjs': `process.on('message', (m) => { if (m.spec.optimizer.lr === 0.5) { process.stderr.write('boom: simulated crash\\n'); process.exit(3); } });\nawait import(${JSON.stringify(realWorker)});\n`,
  });
  const plan = loadSweep({ file: join(dir, 'm.yaml') });
  const outcome = await runSweep({ plan, outDir: join(dir, 'out'), jobs: 1, workerScript: join(dir, 'crashing-worker.mjs') });
  assert.not.ok(outcome.ok);
  assert.equal(outcome.records.map((r) => r.status), ['ok', 'failed', 'failed', 'ok']);
  assert.match(outcome.records[1]!.error!, /model\.layers\[head\]\.units: softmax_cross_entropy needs one unit per class: the data has 2 classes/);
  assert.match(outcome.records[2]!.error!, /the trial's process exited with code 3: boom: simulated crash/);
  assert.equal([outcome.passed, outcome.failed], [2, 2]);
  assert.match(readFileSync(join(dir, 'out', 'summary.md'), 'utf8'), /\*\*Failed trials\*\*[\s\S]*boom: simulated crash/);
});

test('a final metric that is not finite is left out of results.jsonl, which reads back', async () => {
  const dir = workspace({
    'm.yaml': model('method: list\ntrials: [{optimizer.lr: 0.1}]'),
    // Replies as a trial whose validation loss overflowed; JSON would write it as null.
    'nan-worker.mjs': "process.on('message', (m) => process.send({ type: 'done', id: m.id, interrupted: false, summary: { final: { 'train.loss': 0.5, 'val.loss': Infinity, 'val.accuracy': NaN }, best: null, wallSeconds: 0.1, interrupted: false } }));\nprocess.on('disconnect', () => process.exit(0));\nprocess.send({ type: 'ready' });\n",
  });
  const out = join(dir, 'out');
  const outcome = await runSweep({ plan: loadSweep({ file: join(dir, 'm.yaml') }), outDir: out, jobs: 1, workerScript: join(dir, 'nan-worker.mjs') });
  assert.equal(outcome.records[0]!.final, { 'train.loss': 0.5 });
  assert.equal(readResults(out)[0]!.final, { 'train.loss': 0.5 });
});

test('workers do not inherit the parent\'s -e code (the library run from node -e)', () => {
  const dir = workspace({ 'm.yaml': model('method: list\ntrials: [{optimizer.lr: 0.1}]') });
  const library = new URL('../src/train/sweep.js', import.meta.url).href;
  const code = `import(${JSON.stringify(library)}).then(async (s) => { const o = await s.runSweep({ plan: s.loadSweep({ file: 'm.yaml' }), outDir: 'out', jobs: 1 }); console.log(JSON.stringify(o.records.map((r) => r.status))); })`;
  const r = spawnSync(process.execPath, ['--max-old-space-size=256', '-e', code], { cwd: dir, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), '["ok"]', 'one trial, trained once, not a nested sweep');
});

test('merging two shards gives the unsharded results; gates are checked on the whole', async () => {
  const sweep = `${grid}\nexpect: [{metric: val.loss, scope: mean, max: 100}, {metric: val.accuracy, scope: best, min: 0}]`;
  const dir = workspace({ 'm.yaml': model(sweep) });
  const plan = loadSweep({ file: join(dir, 'm.yaml') });
  const whole = await runSweep({ plan, outDir: join(dir, 'whole'), jobs: 2 });
  const s1 = await runSweep({ plan, outDir: join(dir, 's1'), jobs: 2, shard: { index: 1, count: 2 } });
  const s2 = await runSweep({ plan, outDir: join(dir, 's2'), jobs: 2, shard: { index: 2, count: 2 } });
  assert.equal([s1.planned, s2.planned], [2, 2]);
  assert.equal(s1.gates.map((g) => g.outcome), ['deferred', 'deferred']);
  const merged = mergeSweeps([join(dir, 's2'), join(dir, 's1')], join(dir, 'merged'));
  assert.ok(merged.ok);
  assert.equal(merged.gates.map((g) => g.outcome), ['pass', 'pass']);
  assert.equal(comparable(readResults(join(dir, 'merged'))), comparable(readResults(join(dir, 'whole'))));
  assert.equal(whole.gates.map((g) => g.value), merged.gates.map((g) => g.value));
  const run = readResults(join(dir, 'merged'))[0]!.run;
  assert.ok(run.startsWith('../s'), run);
  assert.ok(existsSync(join(dir, 'merged', run, 'summary.json')), 'run paths lead to the shard folders');
  // A shard missing: its trials count as failed.
  const partial = mergeSweeps([join(dir, 's1'), join(dir, 's1')], join(dir, 'partial'));
  assert.equal([partial.passed, partial.failed, partial.missing.length, partial.ok], [4, 2, 2, false], 'two trials and two sweep-level gates pass; two trials are missing');
  // Shards of another sweep are refused.
  const other = workspace({ 'm.yaml': model(grid.replace('0.01', '0.02')) });
  await runSweep({ plan: loadSweep({ file: join(other, 'm.yaml') }), outDir: join(other, 'o'), jobs: 2, shard: { index: 1, count: 2 } });
  assert.match(errorLines(() => mergeSweeps([join(dir, 's1'), join(other, 'o')], join(dir, 'x')))[0]!, /holds a different sweep/);
});

// ---------------------------------------------------------------------------------------------
// The command line

test('rmad sweep: exit 0 when all pass, 1 when a gate fails, 2 for bad input; the last line', () => {
  const dir = workspace({
    'm.yaml': model(`${grid}\nexpect: [{metric: train.loss, scope: each, max: 100}]`),
    'each.yaml': `${grid}\nexpect: [{metric: val.loss, scope: each, max: 0.0001}]\n`,
    'best.yaml': `${grid}\nexpect: [{metric: val.accuracy, scope: best, min: 1.5}]\n`,
  });
  const ok = rmad(['sweep', 'm.yaml', '--jobs', '2', '--out', 'a'], dir);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(ok.last, 'sweep: 4 passed, 0 failed');
  assert.match(ok.stdout, /^4 trials; training 4 with 2 jobs into a$/m);
  assert.match(ok.stdout, /gate train\.loss <= 100 \(each\): pass/);
  const each = rmad(['sweep', 'm.yaml', '--sweep', 'each.yaml', '--jobs', '2', '--out', 'b'], dir);
  assert.is(each.code, 1, each.stderr);
  assert.is(each.last, 'sweep: 0 passed, 4 failed');
  assert.match(each.stdout, /gate-failed/);
  const best = rmad(['sweep', 'm.yaml', '--sweep', 'best.yaml', '--jobs', '2', '--out', 'c'], dir);
  assert.is(best.code, 1, 'a failing best gate fails the sweep although every trial passed');
  assert.is(best.last, 'sweep: 4 passed, 1 failed', 'the failed best gate counts as a failure');
  assert.match(best.stdout, /gate val\.accuracy >= 1\.5 \(best\): fail/);
  const resumed = rmad(['sweep', 'm.yaml', '--out', 'a', '--resume'], dir);
  assert.is(resumed.code, 0);
  assert.match(resumed.stdout, /4 finished earlier, skipped; training 0/);
  assert.is(resumed.last, 'sweep: 4 passed, 0 failed');
  const shard = rmad(['sweep', 'm.yaml', '--shard', '2/2', '--jobs', '1'], dir);
  assert.is(shard.code, 0, shard.stderr);
  assert.is(shard.last, 'sweep: 2 passed, 0 failed');
  assert.ok(existsSync(join(dir, 'sweeps/tiny/shard-2-of-2/results.jsonl')), 'default folder of a shard');
  const merged = rmad(['sweep', '--merge', 'sweeps/tiny/shard-2-of-2', '--out', 'm'], dir);
  assert.is(merged.code, 1, 'half the trials have no result');
  assert.is(merged.last, 'sweep: 2 passed, 2 failed');
  expectBadInput(dir, [
    [['sweep', 'm.yaml', '--jobs', '0'], /^--jobs: takes a whole number >= 1, got '0'$/],
    [['sweep', 'm.yaml', '--jobs', 'abc'], /^--jobs: takes a whole number >= 1, got 'abc'$/],
    [['sweep', 'm.yaml', '--shard', '3/2'], /^--shard: expected i\/n/],
    [['sweep'], /^rmad sweep: name a model file/],
    [['sweep', '--merge', 'a'], /^--merge: needs --out/],
    [['sweep', '--merge', 'nowhere', '--out', 'x'], /^nowhere: not a sweep output folder/],
    [['sweep', 'm.yaml', '--sweep', 'missing.yaml'], /^missing\.yaml: no such file/],
    [['sweep', 'm.yaml', '--sweep', 'sweeps'], /^sweeps: is a folder; --sweep takes a YAML file holding a sweep section$/],
    [['sweep', 'm.yaml', '--out', 'a'], /^a: holds the results of an earlier sweep; add --resume/],
  ]);
  const dry = rmad(['sweep', 'm.yaml', '--dry-run', '--shard', '1/2'], dir);
  assert.is(dry.code, 0);
  assert.match(dry.last!, /^4 trials, 2 in shard 1\/2; nothing trained/);
});

test('rmad sweep: --out refuses a file and a training run\'s folder, with or without --resume, and leaves them as they were', () => {
  const dir = workspace({ 'm.yaml': model(grid), 'notes.txt': 'mine\n' });
  mkdirSync(join(dir, 'run'));
  writeFileSync(join(dir, 'run', 'config.resolved.yaml'), '# rmad\nname: tiny\n');
  writeFileSync(join(dir, 'run', 'metrics.jsonl'), '{"epoch":1}\n');
  mkdirSync(join(dir, 'stray'));
  writeFileSync(join(dir, 'stray', 'results.jsonl'), '{}\n');
  handMadeSweep(join(dir, 'shard'), ['aaaaaaaaaaaa']);
  const before = snapshot(dir);
  expectBadInput(dir, [
    [['sweep', 'm.yaml', '--out', 'run'], /^run: holds a training run \(config\.resolved\.yaml\), not a sweep; choose another --out$/],
    [['sweep', 'm.yaml', '--out', 'run', '--resume'], /^run: holds a training run/],
    [['sweep', 'm.yaml', '--out', 'stray', '--resume'], /^stray: holds results\.jsonl or trials\/ but no sweep\.json, so not a folder rmad sweep wrote; choose another --out$/],
    [['sweep', 'm.yaml', '--out', 'notes.txt'], /^notes\.txt: a file stands there, not a folder; choose another --out$/],
    [['sweep', 'm.yaml', '--out', 'notes.txt', '--resume'], /^notes\.txt: a file stands there/],
    [['sweep', 'm.yaml', '--out', 'notes.txt/sub'], /^notes\.txt\/sub: a file stands in the way of the output folder; choose another --out$/],
    [['sweep', '--merge', 'shard', '--out', 'run'], /^run: holds a training run/],
    [['sweep', '--merge', 'shard', '--out', 'notes.txt'], /^notes\.txt: a file stands there/],
  ]);
  assert.equal(snapshot(dir), before, 'nothing written');
});

test('rmad sweep --resume refuses a folder of another sweep or another shard, and leaves it as it was', () => {
  const dir = workspace({ 'm.yaml': model('method: list\ntrials: [{optimizer.lr: 0.1}, {optimizer.lr: 0.2}]'), 'other.yaml': 'method: list\ntrials: [{optimizer.lr: 0.3}]\n' });
  const first = rmad(['sweep', 'm.yaml', '--out', 'out', '--jobs', '1'], dir);
  assert.is(first.code, 0, first.stderr);
  const ids = loadSweep({ file: join(dir, 'm.yaml') }).trials.map((t) => t.id);
  handMadeSweep(join(dir, 's1'), ids, [ids[0]!], { index: 1, count: 2 });
  const before = snapshot(dir);
  expectBadInput(dir, [
    [['sweep', 'm.yaml', '--sweep', 'other.yaml', '--out', 'out', '--resume'], /^out: holds a different sweep than m\.yaml \(its trial ids differ\); resume with the same model file, --sweep and --set, or choose another --out$/],
    [['sweep', 'm.yaml', '--set', 'train.epochs=3', '--out', 'out', '--resume'], /^out: holds a different sweep than m\.yaml/],
    [['sweep', 'm.yaml', '--out', 's1', '--resume'], /^s1: holds shard 1\/2 of this sweep, not the whole; resume with --shard 1\/2, or choose another --out$/],
    [['sweep', 'm.yaml', '--shard', '2/2', '--out', 's1', '--resume'], /^s1: holds shard 1\/2 of this sweep, not shard 2\/2; resume with --shard 1\/2/],
    [['sweep', 'm.yaml', '--shard', '1/2', '--out', 'out', '--resume'], /^out: holds the whole of this sweep, not shard 1\/2; resume with no --shard/],
  ]);
  assert.equal(snapshot(dir), before, 'nothing written');
  // The same sweep and shard resume as before.
  const again = rmad(['sweep', 'm.yaml', '--out', 'out', '--resume'], dir);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /2 finished earlier, skipped; training 0/);
});

test('rmad sweep --merge refuses an --out whose results it would replace: a folder merged, one a sweep ran in, another sweep\'s', () => {
  const dir = workspace({});
  const ids = ['aaaaaaaaaaaa', 'bbbbbbbbbbbb'];
  handMadeSweep(join(dir, 's1'), ids, [ids[0]!], { index: 1, count: 2 });
  handMadeSweep(join(dir, 's2'), ids, [ids[1]!], { index: 2, count: 2 });
  handMadeSweep(join(dir, 'whole'), ids);
  mkdirSync(join(dir, 'whole', 'trials'));
  handMadeSweep(join(dir, 'other'), ['cccccccccccc']);
  symlinkSync('s1', join(dir, 'link'));
  const before = snapshot(dir);
  for (const [out, message] of [
    ['s1', /^s1: is one of the folders merged; merge into a folder of its own \(choose another --out\)$/],
    ['./s2/', /^\.\/s2\/: is s2, one of the folders merged/],
    ['link', /^link: is s1, one of the folders merged/],
    ['whole', /^whole: holds the trials of a sweep that ran there; merge into a folder of its own \(choose another --out\)$/],
    ['other', /^other: holds a different sweep than s1 \(its trial ids differ\); choose another --out$/],
  ] as const) {
    const r = rmad(['sweep', '--merge', 's1', 's2', '--out', out], dir);
    assert.is(r.code, 2, `--out ${out}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), message);
  }
  assert.equal(snapshot(dir), before, 'nothing written');
  // A folder of its own, and a merge again into it.
  for (let k = 0; k < 2; k++) {
    const r = rmad(['sweep', '--merge', 's1', 's2', '--out', 'merged'], dir);
    assert.is(r.code, 0, r.stderr);
    assert.equal(readResults(join(dir, 'merged')).map((x) => [x.id, x.run]), [[ids[0], '../s1/trials/aaaaaaaaaaaa'], [ids[1], '../s2/trials/bbbbbbbbbbbb']]);
  }
});

test('rmad sweep --merge --dry-run checks and lists what it would join, writing nothing; flags of a sweep that runs are refused', () => {
  const dir = workspace({});
  const ids = ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc'];
  handMadeSweep(join(dir, 's1'), ids, [ids[0]!, ids[2]!], { index: 1, count: 2 });
  handMadeSweep(join(dir, 's2'), ids, [], { index: 2, count: 2 });
  const before = snapshot(dir);
  const dry = rmad(['sweep', '--merge', 's1', 's2', '--out', 'merged', '--dry-run'], dir);
  assert.is(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^\s+1\s+aaaaaaaaaaaa\s+optimizer\.lr=0, seed=0\s+ok\s+\.\.\/s1\/trials\/aaaaaaaaaaaa$/m);
  assert.is(dry.last, '2 of 3 trials have results in the 2 folders; nothing written to merged (--dry-run)');
  // A dry run checks what the merge would: here, --out among the folders merged.
  const bad = rmad(['sweep', '--merge', 's1', 's2', '--out', 's2', '--dry-run'], dir);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^s2: is one of the folders merged/);
  for (const flag of [['--shard', '1/2'], ['--resume'], ['--jobs', '2'], ['--sweep', 's.yaml'], ['--set', 'optimizer.lr=0.1'], ['--seed', '1']]) {
    const r = rmad(['sweep', '--merge', 's1', 's2', '--out', 'merged', ...flag], dir);
    assert.is(r.code, 2, `${flag.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.is(r.stderr, `${flag[0]}: does not apply to --merge, which joins finished sweep folders; leave it out\n`);
  }
  assert.equal(snapshot(dir), before, 'nothing written');
});

test('rmad sweep --top: a whole number >= 0, checked before anything runs', () => {
  const dir = workspace({ 'm.yaml': model(grid) });
  const ids = ['aaaaaaaaaaaa', 'bbbbbbbbbbbb'];
  handMadeSweep(join(dir, 's'), ids);
  for (const top of ['abc', '-1', '1.5', '']) {
    for (const args of [['sweep', 'm.yaml', '--out', 'out'], ['sweep', '--merge', 's', '--out', 'merged']]) {
      const r = rmad([...args, '--top', top], dir);
      assert.is(r.code, 2, `--top ${top}: ${r.stdout}${r.stderr}`);
      assert.is(r.stderr, `--top: takes a whole number >= 0, got '${top}'\n`);
    }
  }
  assert.not.ok(existsSync(join(dir, 'out')) || existsSync(join(dir, 'merged')), 'nothing written');
  const one = rmad(['sweep', '--merge', 's', '--out', 'merged', '--top', '1'], dir);
  assert.is(one.code, 0, one.stderr);
  assert.match(one.stdout, /^1\s+aaaaaaaaaaaa .*\n\.\.\. 1 more in merged\/results\.csv$/m);
  const none = rmad(['sweep', '--merge', 's', '--out', 'merged', '--top', '0'], dir);
  assert.not.match(none.stdout, /trial\s+parameters/, 'no table');
  assert.match(none.stdout, /^\.\.\. 2 more in merged\/results\.csv$/m);
});

test('the cores are divided among the workers: threads of products, and V8 helpers only with cores to spare', async () => {
  assert.equal(workerBudget(1, 2), { threads: 2, helpers: true });
  assert.equal(workerBudget(2, 2), { threads: 1, helpers: false });
  assert.equal(workerBudget(2, 8), { threads: 4, helpers: true });
  assert.equal(workerBudget(3, 2), { threads: 1, helpers: false });
  // What a worker process is given: a worker that reports it, as a failed trial's error.
  const dir = workspace({
    'm.yaml': model('method: list\ntrials: [{optimizer.lr: 0.1}, {optimizer.lr: 0.2}]'),
    'probe-worker.mjs': "process.on('message', () => { process.stderr.write(`threads=${process.env.RMAD_THREADS} single=${process.execArgv.includes('--single-threaded')}\\n`); process.exit(3); });\nprocess.send({ type: 'ready' });\n",
  });
  const saved = process.env.RMAD_THREADS;
  delete process.env.RMAD_THREADS;
  try {
    const plan = loadSweep({ file: join(dir, 'm.yaml') });
    for (const jobs of [1, 2]) {
      const outcome = await runSweep({ plan, outDir: join(dir, `out${jobs}`), jobs, workerScript: join(dir, 'probe-worker.mjs') });
      const budget = workerBudget(jobs);
      assert.match(outcome.records[0]!.error!, `threads=${budget.threads} single=${!budget.helpers}`);
    }
    process.env.RMAD_THREADS = '3';
    const outcome = await runSweep({ plan, outDir: join(dir, 'out3'), jobs: 1, workerScript: join(dir, 'probe-worker.mjs') });
    assert.match(outcome.records[0]!.error!, 'threads=3 ');
  } finally {
    if (saved === undefined) delete process.env.RMAD_THREADS;
    else process.env.RMAD_THREADS = saved;
  }
});

test.run();
