import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../src/engine/random.js';
import { generate, generatorParams, generators } from '../src/loaders/generators.js';
import type { GeneratorName } from '../src/loaders/spec.js';
import { inputError } from './helpers.js';

const names = Object.keys(generatorParams) as GeneratorName[];


const bytes = (a: Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('every generator: shapes, defaults, finite values', () => {
  for (const name of names) {
    const t = generate(name, {}, new Rng(1));
    const n = generatorParams[name].n!;
    assert.is(t.rows, n, name);
    assert.is(t.target.length, n, name);
    assert.is(t.x.length, n * t.featureNames.length, name);
    assert.ok(t.x.every(Number.isFinite), name);
    if (t.classes) assert.ok(t.target.every((k) => Number.isInteger(k) && k >= 0 && k < t.classes!.length), name);
  }
  assert.equal(Object.keys(generators).sort(), [...names].sort());
});

test('determinism: same seed same bytes, other seed other bytes', () => {
  for (const name of names) {
    const a = generate(name, {}, new Rng(42));
    const b = generate(name, {}, new Rng(42));
    const c = generate(name, {}, new Rng(43));
    assert.ok(bytes(a.x).equals(bytes(b.x)), name);
    assert.ok(bytes(a.target).equals(bytes(b.target)), name);
    assert.not.ok(bytes(a.x).equals(bytes(c.x)), name);
  }
});

test('blobs: requested size, balanced classes, clusters of the requested spread', () => {
  const t = generate('blobs', { n: 3000, classes: 3, features: 4, spread: 0.5 }, new Rng(3));
  assert.is(t.featureNames.length, 4);
  assert.equal(t.classes, ['0', '1', '2']);
  for (let k = 0; k < 3; k++) {
    const rows = [...Array(t.rows).keys()].filter((i) => t.target[i] === k);
    assert.is(rows.length, 1000);
    for (let j = 0; j < 4; j++) {
      const v = rows.map((i) => t.x[i * 4 + j]!);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      assert.ok(Math.abs(sd - 0.5) < 0.05, `sd ${sd}`);
      assert.ok(Math.abs(mean) <= 5.1, `centre ${mean}`);
    }
  }
});

test('xor without noise: class 1 exactly where the signs differ', () => {
  const t = generate('xor', { n: 500, noise: 0 }, new Rng(5));
  let ones = 0;
  for (let i = 0; i < t.rows; i++) {
    const differ = t.x[2 * i]! > 0 !== t.x[2 * i + 1]! > 0;
    assert.is(t.target[i], differ ? 1 : 0);
    ones += t.target[i]!;
  }
  assert.ok(ones > 200 && ones < 300, `${ones} of 500 in class 1`);
});

test('circles without noise: radius 1 for class 0, factor for class 1', () => {
  const t = generate('circles', { n: 100, noise: 0, factor: 0.3 }, new Rng(5));
  for (let i = 0; i < t.rows; i++) {
    const r = Math.hypot(t.x[2 * i]!, t.x[2 * i + 1]!);
    assert.ok(Math.abs(r - (t.target[i] === 0 ? 1 : 0.3)) < 1e-12, `row ${i} radius ${r}`);
  }
});

test('moons without noise: points on their half circles', () => {
  const t = generate('moons', { n: 100, noise: 0 }, new Rng(6));
  for (let i = 0; i < t.rows; i++) {
    const [a, b] = [t.x[2 * i]!, t.x[2 * i + 1]!];
    const r = t.target[i] === 0 ? Math.hypot(a, b) : Math.hypot(1 - a, 0.5 - b);
    assert.ok(Math.abs(r - 1) < 1e-12, `row ${i}`);
    assert.ok(t.target[i] === 0 ? b >= 0 : b <= 0.5, `row ${i} on the wrong half`);
  }
});

test('spiral: radius grows along each arm, inside the unit disc', () => {
  const t = generate('spiral', { n: 90, classes: 3, noise: 0 }, new Rng(0));
  assert.equal(t.classes, ['0', '1', '2']);
  const r = (i: number): number => Math.hypot(t.x[2 * i]!, t.x[2 * i + 1]!);
  for (let i = 3; i < t.rows; i++) {
    assert.ok(r(i) > r(i - 3), `radius not increasing at row ${i}`);
    assert.ok(r(i) <= 1 + 1e-12);
  }
});

test('parity: 0/1 sequences of `bits` steps, target their parity', () => {
  const t = generate('parity', { n: 64, bits: 5 }, new Rng(2));
  assert.equal(t.featureShape, [5, 1]);
  assert.is(t.featureNames.length, 5);
  for (let i = 0; i < t.rows; i++) {
    const row = [...t.x.subarray(i * 5, i * 5 + 5)];
    assert.ok(row.every((b) => b === 0 || b === 1));
    assert.is(t.target[i], row.reduce<number>((a, b) => a + b, 0) % 2);
  }
});

test('sine: the target continues the sampled sinusoid', () => {
  const steps = 12;
  const t = generate('sine', { n: 30, steps }, new Rng(8));
  assert.equal(t.featureShape, [steps, 1]);
  assert.is(t.classes, null);
  for (let i = 0; i < t.rows; i++) {
    const s = [...t.x.subarray(i * steps, (i + 1) * steps), t.target[i]!];
    // sin(w(t+1) + p) + sin(w(t-1) + p) = 2 cos(w) sin(wt + p): a sinusoid obeys one linear recurrence.
    const c = (s[0]! + s[2]!) / (2 * s[1]!);
    for (let k = 2; k < s.length - 1; k++) {
      assert.ok(Math.abs(s[k - 1]! + s[k + 1]! - 2 * c * s[k]!) < 1e-6, `row ${i} step ${k}`);
    }
  }
});

test('error: unknown parameter names the generator, its params and a suggestion', () => {
  const e = inputError(() => generate('blobs', { n: 10, clases: 2 }, new Rng(0)));
  assert.is(e.where, 'data.params.clases');
  assert.match(e.message, "generator 'blobs' has no parameter 'clases'");
  assert.match(e.message, "did you mean 'classes'?");
  assert.match(e.message, 'n, classes, features, spread');
});

test('error: out-of-range parameter values', () => {
  const cases: [GeneratorName, Record<string, number>, string, string][] = [
    ['xor', { n: 2.5 }, 'data.params.n', 'an integer'],
    ['circles', { factor: 1 }, 'data.params.factor', '< 1'],
    ['spiral', { classes: 1 }, 'data.params.classes', '>= 2'],
    ['moons', { noise: -0.1 }, 'data.params.noise', '>= 0'],
    ['blobs', { spread: Number.NaN }, 'data.params.spread', '> 0'],
  ];
  for (const [name, params, where, want] of cases) {
    const e = inputError(() => generate(name, params, new Rng(0)));
    assert.is(e.where, where, name);
    assert.match(e.message, want, name);
  }
});

test('error: unknown generator', () => {
  const e = inputError(() => generate('spirals' as GeneratorName, {}, new Rng(0)));
  assert.is(e.where, 'data.generator');
  assert.match(e.message, "did you mean 'spiral'?");
});

test.run();
