// The command line as a user meets it: bad input of every kind gets one clear line on stderr and
// exit code 2, with no stack trace and nothing half-written; good input trains, evaluates, predicts.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bin, expectBadInput, rmad, workspace } from './helpers.js';



const csv = 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n1,1,x\n2,2,y\n';
function model(over: { data?: string; rest?: string } = {}): string {
  return `rmad: 1
name: t
data:
  source: csv
  path: data.csv
  target: label
  labels: onehot
${over.data ?? ''}model:
  input: 2
  layers:
    - {name: hidden, type: dense, units: 3, activation: tanh}
    - {name: head, type: dense, units: 2}
loss: {type: softmax_cross_entropy}
optimizer: {type: adam, lr: 0.01}
train: {epochs: 2, batch_size: 2}
${over.rest ?? ''}`;
}


/** Runs `rmad train m.yaml` in a workspace and checks: exit 2, one line matching, no stack, no run folder. */
function badInput(name: string, files: Record<string, string>, expected: RegExp, extra: string[] = []) {
  test(`bad input: ${name}`, () => {
    const dir = workspace({ 'data.csv': csv, 'm.yaml': model(), ...files });
    const r = rmad(['train', 'm.yaml', ...extra], dir);
    assert.is(r.code, 2, `exit code (stderr: ${r.stderr})`);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, `one line, got:\n${r.stderr}`);
    assert.match(lines[0]!, expected);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    assert.not.ok(existsSync(join(dir, 'runs')), 'no run folder left behind');
  });
}

badInput('misspelt key', { 'm.yaml': model().replace('activation: tanh', 'activaton: tanh') },
  /^m\.yaml:11:45: model\.layers\[hidden\]\.activaton: unknown key; did you mean 'activation'\?$/);
badInput('wrong type', { 'm.yaml': model().replace('units: 3', 'units: three') }, /^m\.yaml:11:42: model\.layers\[hidden\]\.units: expected an integer, got string 'three'$/);
badInput('negative epochs', { 'm.yaml': model().replace('epochs: 2', 'epochs: -3') }, /^m\.yaml:15:17: train\.epochs: .*-3/);
badInput('lr <= 0', { 'm.yaml': model().replace('lr: 0.01', 'lr: 0') }, /^m\.yaml:14:29: optimizer\.lr: must be > 0, got 0$/);
badInput('YAML syntax error', { 'm.yaml': model().replace('name: t', 'name: [t') }, /^m\.yaml:\d+:\d+: /);
badInput('empty file', { 'm.yaml': '' }, /^m\.yaml:1:1: the file is empty/);
badInput('missing CSV', { 'm.yaml': model().replace('path: data.csv', 'path: nope.csv') }, /^nope\.csv: CSV file not found/);
badInput('missing column', { 'm.yaml': model().replace('target: label', 'target: lable') }, /data\.csv:1: .*lable.*did you mean 'label'/);
badInput('non-numeric cell', { 'data.csv': csv.replace('3,4,y', '3,four,y') }, /^data\.csv:3:b: 'four' is not a number/);
badInput('ragged row', { 'data.csv': csv.replace('5,6,x', '5,6,7,x') }, /^data\.csv:4: row has 4 cells but the header has 3/);
badInput('NaN in data', { 'data.csv': csv.replace('7,8,y', 'NaN,8,y') }, /^data\.csv:5:a: missing value 'NaN'/);
badInput('hinge with labels that are not ±1', {
  'm.yaml': model().replace('loss: {type: softmax_cross_entropy}', 'loss: {type: hinge}').replace('units: 2}', 'units: 1}'),
}, /^m\.yaml:\d+:\d+: .*hinge.*pm1/);
badInput('pm1 labels on three classes', {
  'data.csv': `${csv}9,9,z\n`,
  'm.yaml': model().replace('labels: onehot', 'labels: pm1').replace('loss: {type: softmax_cross_entropy}', 'loss: {type: hinge}').replace('units: 2}', 'units: 1}'),
}, /data\.labels: .*(two|2) classes/);
badInput('one class in the target column', { 'data.csv': 'a,b,label\n1,2,x\n3,4,x\n5,6,x\n7,8,x\n' }, /^m\.yaml: data\.target: the target column holds one class only; a classifier needs two or more/);
badInput('an input size the data does not have', { 'm.yaml': model().replace('input: 2', 'input: 7') }, /^m\.yaml: model\.input: the model takes 7 features, the data has 2; set model\.input: 2$/);
badInput('freeze names no layer', { 'm.yaml': model({ rest: 'freeze: [hiden]\n' }) }, /^m\.yaml:\d+:\d+: freeze\[0\]: .*hiden.*did you mean 'hidden'/);
badInput('everything frozen', { 'm.yaml': model({ rest: 'freeze: [hidden, head]\n' }) }, /^m\.yaml:\d+:\d+: freeze: every parameter is frozen/);
badInput('--set on an unknown path', { 'm.yaml': model() }, /^--set model\.layers\.hiden\.units=4: no layer named 'hiden'; did you mean 'hidden'\?$/, ['--set', 'model.layers.hiden.units=4']);
badInput('unknown flag', { 'm.yaml': model() }, /^rmad: Unknown argument: epochs; see rmad --help$/, ['--epochs', '3']);
badInput('a flag without its value', { 'm.yaml': model() }, /^rmad: Not enough arguments following: out; see rmad --help$/, ['--out']);
badInput('a value outside a flag\'s choices', { 'm.yaml': model() }, /^rmad: --device: "tpu" is not one of "cpu", "gpu"; see rmad --help$/, ['--device', 'tpu']);

test('bad input: an unknown command, a required flag left out: one line each, exit 2', () => {
  expectBadInput(workspace({}), [
    [['frobnicate'], /^rmad: unknown command 'frobnicate'; the commands are train, eval, .*bench; see rmad --help$/],
    [['compare', 'a.jsonl', 'b.jsonl'], /^rmad: Missing required argument: metric; name the metric to compare, e\.g\. --metric val\.loss; see rmad --help$/],
  ]);
});

test('bad input: an unwritable output folder', () => {
  const dir = workspace({ 'data.csv': csv, 'm.yaml': model(), blocker: 'a file' });
  const r = rmad(['train', 'm.yaml', '--out', 'blocker/run'], dir);
  assert.is(r.code, 2);
  assert.match(r.stderr.trim(), /^blocker\/run: cannot write the run folder \(a file stands where a folder is needed\); choose another --out$/);
});

test('train, eval and predict a real run end to end', () => {
  const dir = workspace({ 'data.csv': csv, 'm.yaml': model() });
  const t = rmad(['train', 'm.yaml', '--out', 'run'], dir);
  assert.is(t.code, 0, t.stderr);
  assert.match(t.stdout, /hidden\.W\s+\[2, 3\]\s+6\s+trainable/);
  assert.match(t.stderr, /^epoch 1\/2 /m);
  const e = rmad(['eval', 'run', '--json'], dir);
  assert.is(e.code, 0, e.stderr);
  const metrics = JSON.parse(e.stdout);
  const summary = JSON.parse(readFileSync(join(dir, 'run/summary.json'), 'utf8'));
  assert.ok(Math.abs(metrics.train.loss - summary.final['train.loss']) < 1e-6, 'eval reproduces the final train loss');
  writeFileSync(join(dir, 'new.csv'), 'b,a\n2,1\n8,7\n');
  const p = rmad(['predict', 'run', '--input', 'new.csv', '--output', 'pred.csv'], dir);
  assert.is(p.code, 0, p.stderr);
  const lines = readFileSync(join(dir, 'pred.csv'), 'utf8').trim().split('\n');
  assert.is(lines[0], 'prediction,p(x),p(y)');
  assert.is(lines.length, 3);
  assert.match(lines[1]!, /^[xy],0\.\d+,0\.\d+$/);
});

test('bad input around a run folder: one line, exit 2, nothing of the run or the data lost', () => {
  const dir = workspace({ 'data.csv': csv, 'm.yaml': model() });
  assert.is(rmad(['train', 'm.yaml', '--out', 'run'], dir).code, 0);
  mkdirSync(join(dir, 'out'));
  mkdirSync(join(dir, 'unfinished'));
  writeFileSync(join(dir, 'unfinished/config.resolved.yaml'), readFileSync(join(dir, 'run/config.resolved.yaml')));
  writeFileSync(join(dir, 'unfinished/data.json'), readFileSync(join(dir, 'run/data.json')));
  const data = readFileSync(join(dir, 'data.csv'), 'utf8');
  expectBadInput(dir, [
    [['predict', 'run', '--input', 'data.csv', '--output', 'data.csv'], /^data\.csv: this is the --input file; writing the predictions there would replace the data: choose another --output$/],
    [['predict', 'run', '--input', 'data.csv', '--output', 'out'], /^out: this is a folder; give --output a file name/],
    [['predict', 'run', '--input', 'data.csv', '--output', 'no/such/p.csv'], /^no\/such\/p\.csv: the folder no\/such does not exist/],
    [['predict', 'run', '--input', 'nope.csv'], /^nope\.csv: CSV file not found; check --input$/],
    [['eval', 'nope'], /^nope: no such folder; give the folder of a run that rmad train wrote/],
    [['eval', 'data.csv'], /^data\.csv: this is a file; give the folder of a run/],
    [['eval', 'unfinished'], /no weights file here; the run has not finished; finish it with rmad train --resume RUN_DIR$/],
    [['train', 'm.yaml', '--resume', 'run'], /^m\.yaml: give a model file or --resume, not both/],
    [['train', 'm.yaml', '--seed', '9007199254740993'], /^--seed: takes at most 2\^53 - 1, got '9007199254740993'$/],
    [['render', 'm.yaml', '--seed', 'abc'], /^--seed: takes a whole number >= 0, got 'abc'$/],
    [['train', 'm.yaml', '--out='], /^--out: is empty; give a folder$/],
    [['gradcheck', '--batch', '3', '--only', 'sin'], /^--batch: applies to model files; name one/],
  ]);
  assert.is(readFileSync(join(dir, 'data.csv'), 'utf8'), data, 'the input is untouched');
  writeFileSync(join(dir, 'run/data.json'), '{');
  const bad = rmad(['eval', 'run'], dir);
  assert.is(bad.code, 2, bad.stderr);
  assert.match(bad.stderr.trim(), /^run\/data\.json: the data settings cannot be read: the file is not JSON; restore it, or train the run again$/);
});

test('Ctrl-C stops a training mid-run: a checkpoint, exit 130, and --resume goes on from it', async () => {
  const dir = workspace({ 'data.csv': csv, 'm.yaml': model().replace('epochs: 2', 'epochs: 100000') });
  const child = spawn(process.execPath, [bin, 'train', 'm.yaml', '--json', '--out', 'run'], { cwd: dir });
  let out = '';
  const code = await new Promise<number | null>((done) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // The training is under way (its loop computes synchronously): interrupt it, once (a
      // second Ctrl-C ends the process at once).
      if (!child.killed && out.includes('"event":"epoch"')) child.kill('SIGINT');
    });
    // A loop that never lets the handler run would train on: end it, failing the test.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      done(c);
    });
  });
  assert.is(code, 130);
  const cp = JSON.parse(readFileSync(join(dir, 'run/checkpoint.json'), 'utf8'));
  assert.ok(cp.epoch >= 1 && cp.epoch < 100000, `stopped at epoch ${cp.epoch}`);
  const r = rmad(['train', '--resume', 'run', '--set', `train.epochs=${cp.epoch + 2}`], dir);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`resuming at epoch ${cp.epoch + 1}\\n`));
});

test('--json prints one JSON event per line on stdout', () => {
  const dir = workspace({ 'data.csv': csv, 'm.yaml': model() });
  const r = rmad(['train', 'm.yaml', '--json', '--out', 'run'], dir);
  assert.is(r.code, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(events.map((e) => e.event), ['start', 'epoch', 'epoch', 'end']);
  assert.is(events[1].metrics.epoch, 1);
});

test('--profile prints time and calls per op by phase, the share outside kernels and peak memory', () => {
  const dir = workspace({ 'data.csv': csv, 'm.yaml': model() });
  const r = rmad(['train', 'm.yaml', '--profile', '--out', 'run'], dir);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /phase\s+op\s+calls\s+total ms\s+mean µs/);
  assert.match(r.stdout, /\nforward\s+linear\s+\d+\s/);
  assert.match(r.stdout, /\nbackward\s+matmul\s+\d+\s/);
  assert.match(r.stdout, /\noptimizer\s+adam \(fused\)\s+\d+\s/);
  assert.match(r.stdout, /\d+\.\d% outside kernels .*; peak memory \d+ MiB resident/);
});

test('validate, render and schema', () => {
  const dir = workspace({ 'm.yaml': model(), 'bad.yaml': model().replace('units: 3', 'unit: 3') });
  const ok = rmad(['validate', 'm.yaml'], dir);
  assert.is(ok.code, 0);
  assert.is(ok.stdout, 'm.yaml: ok\n');
  const bad = rmad(['validate', 'm.yaml', 'bad.yaml'], dir);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^bad\.yaml:11:35: model\.layers\[hidden\]\.unit: unknown key; did you mean 'units'\?$/m);
  const rendered = rmad(['render', 'm.yaml', '--set', 'train.epochs=7'], dir);
  assert.is(rendered.code, 0);
  assert.match(rendered.stdout, /epochs: 7/);
  assert.match(rendered.stdout, /batch_size: 2/);
  assert.match(rendered.stdout, /shuffle: true/);
  const schema = JSON.parse(rmad(['schema'], dir).stdout);
  assert.ok(schema.properties.model && schema.properties.optimizer);
});

test('a model file in another folder: data paths are relative to the file', () => {
  const dir = workspace({});
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub/data.csv'), csv);
  writeFileSync(join(dir, 'sub/m.yaml'), model());
  const r = rmad(['train', 'sub/m.yaml'], dir);
  assert.is(r.code, 0, r.stderr);
  assert.ok(readdirSync(join(dir, 'runs/t')).includes('latest'));
});

test.run();
