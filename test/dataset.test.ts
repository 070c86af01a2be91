import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/engine/random.js';
import { applyNormalizer, loadData, splitCounts, type LoadedData } from '../src/loaders/dataset.js';
import type { CsvDataSpec, DataSpec, GeneratorDataSpec } from '../src/loaders/spec.js';
import { inputError } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rmad-dataset-'));


const iris = (over: Partial<CsvDataSpec> = {}): CsvDataSpec => ({
  source: 'csv',
  path: 'datasets/iris.csv',
  target: 'species',
  labels: 'onehot',
  normalize: 'standard',
  split: { train: 0.7, val: 0.15, test: 0.15 },
  ...over,
});

const gen = (over: Partial<GeneratorDataSpec> = {}): GeneratorDataSpec => ({
  source: 'generator',
  generator: 'xor',
  params: { n: 50 },
  labels: 'binary',
  normalize: 'none',
  split: { train: 0.8, test: 0.2 },
  ...over,
});

/** A CSV in the temporary folder; returns its name (relative to `dir`). */
function csv(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

const bytes = (a: Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const allBytes = (d: LoadedData): Buffer =>
  Buffer.concat([d.splits.train, d.splits.val, d.splits.test].flatMap((s) => (s ? [bytes(s.x), bytes(s.y)] : [])));

test('an absolute data.path is taken as it is, not joined onto the model file\'s folder', () => {
  const d = loadData(iris({ path: join(root, 'datasets/iris.csv') }), '/elsewhere', new Rng(0));
  assert.equal(allBytes(d), allBytes(loadData(iris(), root, new Rng(0))));
});

test('iris: split sizes, one-hot labels, classes, shapes', () => {
  const d = loadData(iris(), root, new Rng(0));
  assert.equal(d.classes, ['setosa', 'versicolor', 'virginica']);
  assert.is(d.numClasses, 3);
  assert.is(d.targetWidth, 3);
  assert.equal(d.featureShape, [4]);
  assert.is(d.splits.train.rows, 105);
  assert.is(d.splits.val!.rows, 23);
  assert.is(d.splits.test!.rows, 22);
  for (const s of [d.splits.train, d.splits.val!, d.splits.test!]) {
    assert.is(s.x.length, s.rows * 4);
    assert.is(s.y.length, s.rows * 3);
    for (let r = 0; r < s.rows; r++) assert.equal([...s.y.subarray(r * 3, r * 3 + 3)].sort(), [0, 0, 1]);
  }
  assert.equal(JSON.parse(JSON.stringify(d.normalizer)), d.normalizer);
});

test('every row lands in exactly one split, with its own label', () => {
  const d = loadData(iris({ normalize: 'none', labels: 'onehot' }), root, new Rng(5));
  const seen = new Map<string, number>();
  for (const s of [d.splits.train, d.splits.val!, d.splits.test!]) {
    for (let r = 0; r < s.rows; r++) {
      const key = [...s.x.subarray(r * 4, r * 4 + 4)].join(',');
      seen.set(key, (seen.get(key) ?? 0) + 1);
      // In iris, petal length under 2.5 cm is exactly the setosa class.
      assert.is(s.x[r * 4 + 2]! < 2.5, s.y[r * 3] === 1);
    }
  }
  const total = [...seen.values()].reduce((a, b) => a + b, 0);
  assert.is(total, 150);
});

test('labels: pm1 gives -1/+1 and binary 0/1 for the same two classes', () => {
  const path = csv('two.csv', 'a,y\n1,yes\n2,no\n3,yes\n4,no\n5,no\n');
  const pm1 = loadData({ source: 'csv', path, target: 'y', labels: 'pm1', normalize: 'none', split: { train: 1 } }, dir, new Rng(0));
  const bin = loadData({ source: 'csv', path, target: 'y', labels: 'binary', normalize: 'none', split: { train: 1 } }, dir, new Rng(0));
  assert.equal(pm1.classes, ['no', 'yes']);
  const { x, y } = pm1.splits.train;
  for (let r = 0; r < 5; r++) {
    const yes = x[r] === 1 || x[r] === 3;
    assert.is(y[r], yes ? 1 : -1);
    assert.is(bin.splits.train.y[r], yes ? 1 : 0);
  }
});

test('labels: a numeric target used as classes, and real values kept as they are', () => {
  const path = csv('num.csv', 'a,y\n1,7\n2,3\n3,7\n4,5\n');
  const one = loadData({ source: 'csv', path, target: 'y', labels: 'onehot', normalize: 'none', split: { train: 1 } }, dir, new Rng(0));
  assert.equal(one.classes, ['3', '5', '7']);
  const real = loadData({ source: 'csv', path, target: 'y', labels: 'real', normalize: 'none', split: { train: 1 } }, dir, new Rng(0));
  assert.is(real.classes, null);
  assert.is(real.numClasses, null);
  assert.is(real.targetWidth, 1);
  const { x, y } = real.splits.train;
  for (let r = 0; r < 4; r++) {
    const want = [7, 3, 7, 5][x[r]! - 1]!;
    assert.is(y[r], want);
    assert.equal([...one.splits.train.y.subarray(r * 3, r * 3 + 3)], [0, 1, 2].map((k) => (k === [3, 5, 7].indexOf(want) ? 1 : 0)));
  }
});

test('determinism: same seed same bytes; another seed another split', () => {
  for (const spec of [iris(), gen({ normalize: 'standard' })] as DataSpec[]) {
    const a = loadData(spec, root, new Rng(11));
    const b = loadData(spec, root, new Rng(11));
    const c = loadData(spec, root, new Rng(12));
    assert.ok(allBytes(a).equals(allBytes(b)));
    assert.not.ok(allBytes(a).equals(allBytes(c)));
  }
});

test('normalisation is fitted on the train split only', () => {
  // Distinct, spread-out values: the mean of any proper subset differs from the mean of all rows.
  const rows = Array.from({ length: 40 }, (_, i) => `${i * i},3,${i % 2 ? 'odd' : 'even'}`);
  const path = csv('norm.csv', `a,flat,y\n${rows.join('\n')}\n`);
  const spec: CsvDataSpec = { source: 'csv', path, target: 'y', labels: 'binary', normalize: 'standard', split: { train: 0.5, val: 0.25, test: 0.25 } };
  const d = loadData(spec, dir, new Rng(1));
  const { offset, scale } = d.normalizer;
  // Recover the raw train values of column a and check the normaliser holds their mean and sd.
  const train = d.splits.train;
  const raw = Array.from({ length: train.rows }, (_, r) => Math.round(train.x[r * 2]! * scale[0]! + offset[0]!));
  assert.ok(raw.every((v) => Number.isInteger(Math.sqrt(v))), 'recovered values are the file values');
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  const sd = Math.sqrt(raw.reduce((a, b) => a + (b - mean) ** 2, 0) / raw.length);
  assert.ok(Math.abs(offset[0]! - mean) < 1e-9, `offset ${offset[0]} is not the train mean ${mean}`);
  assert.ok(Math.abs(scale[0]! - sd) < 1e-9);
  const allMean = rows.reduce((a, _, i) => a + i * i, 0) / rows.length;
  assert.ok(Math.abs(offset[0]! - allMean) > 1, 'the fit must not see val and test rows');
  // Normalised train column: mean 0 and sd 1; val and test use the same map, so theirs are not.
  const col = (s: { x: Float64Array; rows: number }): number[] => Array.from({ length: s.rows }, (_, r) => s.x[r * 2]!);
  const m = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  assert.ok(Math.abs(m(col(train))) < 1e-12);
  assert.ok(Math.abs(m(col(d.splits.val!))) > 1e-3);
  // The constant column keeps scale 1 and becomes exactly 0.
  assert.is(scale[1], 1);
  assert.is(offset[1], 3);
  assert.ok([train, d.splits.val!, d.splits.test!].every((s) => col({ x: s.x.subarray(1), rows: s.rows }).every((v) => v === 0)));
});

test('minmax maps the train split onto [0, 1]', () => {
  const d = loadData(iris({ normalize: 'minmax' }), root, new Rng(2));
  for (let j = 0; j < 4; j++) {
    const v = Array.from({ length: d.splits.train.rows }, (_, r) => d.splits.train.x[r * 4 + j]!);
    assert.is(Math.min(...v), 0);
    assert.ok(Math.abs(Math.max(...v) - 1) < 1e-12);
  }
});

test('applyNormalizer reproduces the split transform on raw rows', () => {
  const raw = loadData(iris({ normalize: 'none' }), root, new Rng(4));
  const std = loadData(iris({ normalize: 'standard' }), root, new Rng(4));
  const again = applyNormalizer(raw.splits.test!.x, std.normalizer);
  assert.ok(bytes(again).equals(bytes(std.splits.test!.x)));
  const e = inputError(() => applyNormalizer(new Float64Array(5), std.normalizer));
  assert.match(e.message, '4 features');
});

test('sequences: generator shape, and data.sequence reshaping CSV columns', () => {
  const parity = loadData(gen({ generator: 'parity', params: { n: 20, bits: 6 }, normalize: 'standard' }), root, new Rng(0));
  assert.equal(parity.featureShape, [6, 1]);
  assert.is(parity.normalizer.offset.length, 1);
  const path = csv('seq.csv', 'a0,b0,a1,b1,a2,b2,y\n1,2,3,4,5,6,0.5\n1,1,1,1,1,1,0\n');
  const seq = loadData({ source: 'csv', path, target: 'y', labels: 'real', normalize: 'none', split: { train: 1 }, sequence: { steps: 3, features: 2 } }, dir, new Rng(0));
  assert.equal(seq.featureShape, [3, 2]);
  assert.is(seq.splits.train.x.length, 12);
});

test('splitCounts: rounding, and at least one row per present split', () => {
  assert.equal(splitCounts({ train: 0.7, val: 0.15, test: 0.15 }, 150), [['train', 105], ['val', 23], ['test', 22]]);
  assert.equal(splitCounts({ train: 0.98, val: 0.01, test: 0.01 }, 10), [['train', 8], ['val', 1], ['test', 1]]);
  assert.equal(splitCounts({ train: 1, val: 0 }, 10), [['train', 10]]);
  assert.equal(splitCounts({ train: 1 / 3, val: 1 / 3, test: 1 / 3 }, 10).map(([, n]) => n).reduce((a, b) => a + b), 10);
});

test('error: split fractions that do not sum to 1', () => {
  const e = inputError(() => loadData(iris({ split: { train: 0.7, val: 0.2, test: 0.2 } }), root, new Rng(0)));
  assert.is(e.where, 'data.split');
  assert.match(e.message, 'sum to 1.1');
});

test('error: negative split fraction and too few rows', () => {
  const neg = inputError(() => splitCounts({ train: 1.2, val: -0.2 }, 10));
  assert.is(neg.where, 'data.split.train');
  const few = inputError(() => loadData(gen({ params: { n: 2 }, split: { train: 0.5, val: 0.25, test: 0.25 } }), root, new Rng(0)));
  assert.is(few.where, 'data.split');
  assert.match(few.message, 'cannot fill 3 splits');
});

test('error: pm1 and binary with more than two classes', () => {
  for (const labels of ['pm1', 'binary'] as const) {
    const e = inputError(() => loadData(iris({ labels }), root, new Rng(0)));
    assert.is(e.where, 'data.labels');
    assert.match(e.message, `labels: ${labels} needs exactly two classes, found 3`);
  }
});

test('error: real labels on a text target, class labels on a fractional target', () => {
  const real = inputError(() => loadData(iris({ labels: 'real' }), root, new Rng(0)));
  assert.is(real.where, 'data.labels');
  assert.match(real.message, "column 'species' holds class names");
  const sine = inputError(() => loadData(gen({ generator: 'sine', params: { n: 10 }, labels: 'onehot' }), root, new Rng(0)));
  assert.is(sine.where, 'data.labels');
  assert.match(sine.message, 'non-integer');
});

test('error: sequence that does not match the column count', () => {
  const e = inputError(() => loadData(iris({ sequence: { steps: 3, features: 2 } }), root, new Rng(0)));
  assert.is(e.where, 'data.sequence');
  assert.match(e.message, 'needs 6 feature columns, but the data has 4');
});

test('error: CSV problems surface with the path joined to the model folder, relative to where rmad runs', () => {
  const e = inputError(() => loadData(iris({ path: 'datasets/iris.csv', target: 'specie' }), root, new Rng(0)));
  assert.is(e.where, `${relative(process.cwd(), join(root, 'datasets/iris.csv')) || join(root, 'datasets/iris.csv')}:1`);
  assert.match(e.message, "did you mean 'species'?");
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
