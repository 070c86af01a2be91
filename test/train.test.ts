// The training loop: run folders, determinism, resume (also mid-epoch), freezing, init.from.
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseModelText } from '../src/loaders/modelfile.js';
import { decodeSafetensors } from '../src/loaders/safetensors.js';
import { train, type TrainEvent } from '../src/train/trainer.js';
import { readDataInfo } from '../src/train/run-folder.js';
import { curvesSvg } from '../src/train/plot.js';
import { InputError } from '../src/errors.js';

const modelsDir = new URL('../../models/', import.meta.url).pathname;
const tmp = () => mkdtempSync(join(tmpdir(), 'rmad-train-'));

function spec(epochs: number, extra = '') {
  return parseModelText(`
rmad: 1
name: tiny
seed: 3
data:
  source: csv
  path: ../datasets/iris.csv
  target: species
  labels: onehot
  normalize: standard
  split: {train: 0.7, val: 0.3}
model:
  input: 4
  layers:
    - {name: hidden, type: dense, units: 5, activation: tanh}
    - {name: head, type: dense, units: 3}
loss: {type: softmax_cross_entropy}
optimizer: {type: adam, lr: 0.05}
train: {epochs: ${epochs}, batch_size: 16}
${extra}
`, 'tiny.yaml');
}

/** Every file of a folder and its bytes. */
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));

async function inputErrorOf(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError');
}

const weights = (dir: string) => decodeSafetensors(new Uint8Array(readFileSync(join(dir, 'weights.safetensors'))), dir).tensors;

test('a run folder holds every file DESIGN.md lists, and metrics per epoch', async () => {
  const dir = join(tmp(), 'run');
  const events: TrainEvent[] = [];
  const r = await train({ spec: spec(3), baseDir: modelsDir, runDir: dir, onEvent: (e) => events.push(e) });
  for (const f of ['config.resolved.yaml', 'data.json', 'metrics.jsonl', 'metrics.csv', 'summary.json', 'weights.safetensors', 'curves.svg', 'checkpoint.json', 'checkpoint.safetensors']) {
    assert.ok(existsSync(join(dir, f)), f);
  }
  assert.not.ok(readdirSync(dir).some((f) => f.endsWith('.tmp')), 'no temporary files left');
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(rows.length, 3);
  assert.equal(Object.keys(rows[0]), ['epoch', 'lr', 'train.loss', 'train.accuracy', 'val.loss', 'val.accuracy']);
  assert.match(readFileSync(join(dir, 'metrics.csv'), 'utf8'), /^epoch,lr,train\.loss,train\.accuracy,val\.loss,val\.accuracy\n1,/);
  assert.match(readFileSync(join(dir, 'curves.svg'), 'utf8'), /^<svg[^]*polyline[^]*<\/svg>/);
  assert.match(readFileSync(join(dir, 'config.resolved.yaml'), 'utf8'), /^# rmad \d+\.\d+\.\d+, seed 3, dtype float32\n/);
  assert.is(r.summary.epochs.completed, 3);
  assert.equal(Object.keys(weights(dir)).sort(), ['head.W', 'head.b', 'hidden.W', 'hidden.b']);
  assert.equal(events.map((e) => e.type).filter((t) => t !== 'batch'), ['start', 'epoch', 'epoch', 'epoch', 'end']);
  const start = events[0] as Extract<TrainEvent, { type: 'start' }>;
  assert.equal(start.params.map((p) => [p.name, p.shape, p.trainable]), [['hidden.W', [4, 5], true], ['hidden.b', [5], true], ['head.W', [5, 3], true], ['head.b', [3], true]]);
});

test('the same file and seed give byte-identical metrics.jsonl', async () => {
  const a = join(tmp(), 'a'), b = join(tmp(), 'b');
  await train({ spec: spec(4), baseDir: modelsDir, runDir: a });
  await train({ spec: spec(4), baseDir: modelsDir, runDir: b });
  assert.is(readFileSync(join(a, 'metrics.jsonl'), 'utf8'), readFileSync(join(b, 'metrics.jsonl'), 'utf8'));
  assert.equal(readFileSync(join(a, 'weights.safetensors')), readFileSync(join(b, 'weights.safetensors')));
});

test('10 epochs equal 5 epochs resumed for 5 more, weights bit for bit', async () => {
  const whole = join(tmp(), 'whole'), part = join(tmp(), 'part');
  await train({ spec: spec(10), baseDir: modelsDir, runDir: whole });
  await train({ spec: spec(5), baseDir: modelsDir, runDir: part });
  await train({ spec: spec(10), baseDir: modelsDir, runDir: part, resume: true });
  const w1 = weights(whole), w2 = weights(part);
  for (const name of Object.keys(w1)) assert.equal([...w2[name]!.data], [...w1[name]!.data], name);
  assert.is(readFileSync(join(part, 'metrics.jsonl'), 'utf8'), readFileSync(join(whole, 'metrics.jsonl'), 'utf8'));
});

test('an interrupted run resumes mid-epoch exactly where it stopped', async () => {
  const whole = join(tmp(), 'whole'), cut = join(tmp(), 'cut');
  await train({ spec: spec(3), baseDir: modelsDir, runDir: whole });
  let batches = 0;
  const r = await train({ spec: spec(3), baseDir: modelsDir, runDir: cut, shouldStop: () => ++batches === 9 });
  assert.ok(r.interrupted);
  const cp = JSON.parse(readFileSync(join(cut, 'checkpoint.json'), 'utf8'));
  assert.equal([cp.epoch, cp.batch], [1, 2]);
  await train({ spec: spec(3), baseDir: modelsDir, runDir: cut, resume: true });
  const w1 = weights(whole), w2 = weights(cut);
  for (const name of Object.keys(w1)) assert.equal([...w2[name]!.data], [...w1[name]!.data], name);
});

test('early stopping resumes as if never interrupted, from a checkpoint made before any evaluation', async () => {
  const stopping = 'train: {epochs: 40, batch_size: 16, early_stop: {metric: val.loss, patience: 2}}';
  const specOf = () => parseModelText(readFileSync(join(modelsDir, 'mlp.yaml'), 'utf8').replace(/train: \{[^}]*\}/, stopping), 'mlp.yaml');
  const whole = join(tmp(), 'whole'), cut = join(tmp(), 'cut');
  await train({ spec: specOf(), baseDir: modelsDir, runDir: whole });
  let batches = 0;
  assert.ok((await train({ spec: specOf(), baseDir: modelsDir, runDir: cut, shouldStop: () => ++batches === 2 })).interrupted);
  await train({ spec: specOf(), baseDir: modelsDir, runDir: cut, resume: true });
  assert.is(readFileSync(join(cut, 'metrics.jsonl'), 'utf8'), readFileSync(join(whole, 'metrics.jsonl'), 'utf8'));
});

test('a resumed run keeps its dtype, records a longer train.epochs, and refuses one it has trained', async () => {
  const dir = join(tmp(), 'r64');
  await train({ spec: spec(2), baseDir: modelsDir, runDir: dir, dtype: 'float64' });
  await train({ spec: spec(3), baseDir: modelsDir, runDir: dir, resume: true });
  assert.is(weights(dir)['head.W']!.dtype, 'float64', 'resumed without a dtype: float64 still');
  assert.match(readFileSync(join(dir, 'config.resolved.yaml'), 'utf8'), /^# rmad .*dtype float64\n[^]*epochs: 3/, 'the folder says what it trained');
  const before = snapshot(dir);
  let e = await inputErrorOf(train({ spec: spec(3), baseDir: modelsDir, runDir: dir, resume: true }));
  assert.is(e.line(), 'train.epochs: the run has trained 3 epochs, all that train.epochs = 3 asks; train it longer with --set train.epochs=N, N > 3');
  e = await inputErrorOf(train({ spec: spec(5), baseDir: modelsDir, runDir: dir, resume: true, dtype: 'float32' }));
  assert.is(e.line(), '--dtype: this run trains in float64; resume it without --dtype, or with --dtype float64');
  assert.equal(snapshot(dir), before, 'nothing written');
});

test('a checkpoint.json or data.json that is not what rmad train wrote is an input error naming the field', async () => {
  const dir = join(tmp(), 'bad');
  await train({ spec: spec(1), baseDir: modelsDir, runDir: dir });
  for (const [text, said] of [
    ['[]', 'the checkpoint cannot be read: the file holds no JSON object'],
    ['{"epoch":"x","batch":0}', `the checkpoint cannot be read: 'epoch' is "x", not integer`],
    ['{bad', 'the checkpoint cannot be read: the file is not JSON'],
  ]) {
    writeFileSync(join(dir, 'checkpoint.json'), text);
    const before = snapshot(dir);
    const e = await inputErrorOf(train({ spec: spec(3), baseDir: modelsDir, runDir: dir, resume: true }));
    assert.ok(e.message.startsWith(said), e.message);
    assert.equal(snapshot(dir), before, 'nothing written');
  }
  writeFileSync(join(dir, 'data.json'), '{"baseDir":"/x","normalizer":5}');
  assert.throws(() => readDataInfo(dir), (err: Error) => err instanceof InputError && /'normalizer' is 5, not normalizer/.test(err.message));
});

test('curves.svg of a long run: no overflow from 200,000 rows, about a thousand points a line', () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => ({ epoch: i + 1, 'train.loss': 1 / (i + 1), 'val.loss': 2 / (i + 1) }));
  const svg = curvesSvg('long', rows);
  const lines = [...svg.matchAll(/points="([^"]*)"/g)].map((m) => m[1]!.split(' '));
  assert.is(lines.length, 2);
  for (const points of lines) assert.ok(points.length >= 1000 && points.length <= 1001, String(points.length));
  assert.match(svg, />200000<\/text>/, 'the last epoch on the axis');
});

test('freeze: frozen weights stay bit-identical, get no optimizer state, and the rest trains', async () => {
  const base = join(tmp(), 'base'), frozen = join(tmp(), 'frozen');
  await train({ spec: spec(2), baseDir: modelsDir, runDir: base });
  const from = join(base, 'weights.safetensors');
  const r = await train({ spec: spec(3, `init: {from: ${from}, load: [hidden]}\nfreeze: [hidden]`), baseDir: modelsDir, runDir: frozen });
  const before = weights(base), after = weights(frozen);
  assert.equal([...after['hidden.W']!.data], [...before['hidden.W']!.data]);
  assert.equal([...after['hidden.b']!.data], [...before['hidden.b']!.data]);
  assert.not.equal([...after['head.W']!.data], [...before['head.W']!.data]);
  assert.equal(r.summary.parameters, { trainable: 18, frozen: 25 });
  const cp = decodeSafetensors(new Uint8Array(readFileSync(join(frozen, 'checkpoint.safetensors'))), 'cp').tensors;
  assert.not.ok(Object.keys(cp).some((k) => k.startsWith('optimizer/hidden')), 'no optimizer state for frozen parameters');
  assert.ok(Object.keys(cp).some((k) => k.startsWith('optimizer/head')));
});

test('freeze of a single parameter, layer.param', async () => {
  const dir = join(tmp(), 'p');
  const r = await train({ spec: spec(2, 'freeze: [hidden.b]'), baseDir: modelsDir, runDir: dir });
  assert.equal(r.summary.parameters, { trainable: 38, frozen: 5 });
  assert.ok(weights(dir)['hidden.b']!.data.every((v) => v === 0), 'the frozen zero bias stays zero');
});

test('early stopping stops when the metric stops improving', async () => {
  const dir = join(tmp(), 'es');
  const text = readFileSync(join(modelsDir, 'mlp.yaml'), 'utf8').replace(/train: \{[^}]*\}/, 'train: {epochs: 300, batch_size: 16, early_stop: {metric: val.accuracy, patience: 3}}');
  const r = await train({ spec: parseModelText(text, 'mlp.yaml'), baseDir: modelsDir, runDir: dir });
  assert.ok(r.summary.stoppedEarly);
  assert.ok(r.summary.epochs.completed < 300);
});

test.run();
