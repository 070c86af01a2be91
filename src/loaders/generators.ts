/**
 * Built-in data sets, drawn from a seeded Rng: the same seed and parameters give the same bytes.
 * Each returns a Table like the CSV reader's (class index or real value as the target).
 *
 * Parameters and defaults (`generatorParams` below is the same table, for the schema writer):
 *
 * | generator | params (default) | data |
 * |---|---|---|
 * | blobs   | n (200), classes (3), features (2), spread (1) | Gaussian clusters of std `spread`; centres uniform in [-5, 5] per feature |
 * | xor     | n (200), noise (0.1) | points uniform in [-1, 1]^2; class 1 where the signs differ; then Gaussian noise of std `noise` |
 * | spiral  | n (300), classes (3), noise (0.2) | `classes` arms: radius r in (0, 1], angle 2 pi k / classes + 4 r, Gaussian noise of std `noise` on the angle |
 * | moons   | n (200), noise (0.1) | two interleaved half circles, (cos t, sin t) and (1 - cos t, 1/2 - sin t), t uniform in [0, pi] |
 * | circles | n (200), noise (0.05), factor (0.5) | class 0 on the unit circle, class 1 on the circle of radius `factor` (0 < factor < 1) |
 * | parity  | n (256), bits (8) | `bits` random 0/1 values as a sequence of `bits` steps x 1 feature; target: their parity |
 * | sine    | n (256), steps (20) | `steps` samples sin(w t + phase), t = 0..steps-1, w uniform in [0.1, 0.6] rad/step, phase uniform in [0, 2 pi); target: the sample at t = steps |
 *
 * Class generators interleave classes (row i has class i mod classes), so each class gets
 * n / classes rows up to one.
 */
import { InputError } from '../errors.js';
import type { Rng } from '../engine/random.js';
import type { GeneratorName } from './spec.js';
import { closestName, type Table } from './csv.js';

export type GeneratorParams = Record<string, number>;
export type Generator = (params: GeneratorParams, rng: Rng) => Table;

/** Each generator's parameters and their defaults. */
export const generatorParams: Record<GeneratorName, Record<string, number>> = {
  blobs: { n: 200, classes: 3, features: 2, spread: 1 },
  xor: { n: 200, noise: 0.1 },
  spiral: { n: 300, classes: 3, noise: 0.2 },
  moons: { n: 200, noise: 0.1 },
  circles: { n: 200, noise: 0.05, factor: 0.5 },
  parity: { n: 256, bits: 8 },
  sine: { n: 256, steps: 20 },
};

interface Bound {
  integer?: boolean;
  min?: number;
  /** The value must be strictly above `above`. */
  above?: number;
  /** The value must be strictly below `below`. */
  below?: number;
  max?: number;
}

/** What each parameter accepts; a parameter not listed here only has to be finite. */
const bounds: Record<string, Bound> = {
  n: { integer: true, min: 1 },
  classes: { integer: true, min: 2 },
  features: { integer: true, min: 1 },
  bits: { integer: true, min: 1, max: 1024 },
  steps: { integer: true, min: 1 },
  spread: { above: 0 },
  noise: { min: 0 },
  factor: { above: 0, below: 1 },
};

/**
 * `params` with every default filled in; an unknown name or a value out of range is an InputError
 * at `where.name` (`where` is the params' path in the model file).
 */
export function resolveParams(name: GeneratorName, params: GeneratorParams, where = 'data.params'): Record<string, number> {
  const defaults = generatorParams[name];
  const allowed = Object.keys(defaults);
  const out = { ...defaults };
  for (const [key, value] of Object.entries(params)) {
    if (!(key in defaults)) {
      const close = closestName(key, allowed);
      const hint = close ? `did you mean '${close}'? ` : '';
      throw new InputError(`generator '${name}' has no parameter '${key}'; ${hint}its parameters are: ${allowed.join(', ')}`, `${where}.${key}`);
    }
    const problem = checkBound(value, bounds[key] ?? {});
    if (problem) throw new InputError(`generator '${name}': ${key} must be ${problem}, got ${value}`, `${where}.${key}`);
    out[key] = value;
  }
  return out;
}

function checkBound(v: number, b: Bound): string | null {
  const want: string[] = [];
  if (b.integer) want.push('an integer');
  if (b.min !== undefined) want.push(`>= ${b.min}`);
  if (b.above !== undefined) want.push(`> ${b.above}`);
  if (b.below !== undefined) want.push(`< ${b.below}`);
  if (b.max !== undefined) want.push(`<= ${b.max}`);
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!b.integer || Number.isInteger(v)) &&
    (b.min === undefined || v >= b.min) &&
    (b.above === undefined || v > b.above) &&
    (b.below === undefined || v < b.below) &&
    (b.max === undefined || v <= b.max);
  return ok ? null : want.length > 0 ? want.join(' and ') : 'a finite number';
}

const indexNames = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const classNames = (n: number): string[] => indexNames('', n);

/** A 2-D classification table from a per-row point function. */
function planar(n: number, classes: number, point: (row: number, k: number) => [number, number]): Table {
  const x = new Float64Array(n * 2);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    const [a, b] = point(i, k);
    x[2 * i] = a;
    x[2 * i + 1] = b;
    target[i] = k;
  }
  return { x, target, rows: n, featureNames: ['x0', 'x1'], classes: classNames(classes) };
}

export const blobs: Generator = (params, rng) => {
  const { n, classes, features, spread } = resolveParams('blobs', params) as Record<'n' | 'classes' | 'features' | 'spread', number>;
  const centres = Float64Array.from({ length: classes * features }, () => rng.range(-5, 5));
  const x = new Float64Array(n * features);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    for (let j = 0; j < features; j++) x[i * features + j] = centres[k * features + j]! + spread * rng.normal();
    target[i] = k;
  }
  return { x, target, rows: n, featureNames: indexNames('x', features), classes: classNames(classes) };
};

export const xor: Generator = (params, rng) => {
  const { n, noise } = resolveParams('xor', params) as Record<'n' | 'noise', number>;
  const x = new Float64Array(n * 2);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.range(-1, 1);
    const v = rng.range(-1, 1);
    target[i] = u > 0 !== v > 0 ? 1 : 0;
    x[2 * i] = u + noise * rng.normal();
    x[2 * i + 1] = v + noise * rng.normal();
  }
  return { x, target, rows: n, featureNames: ['x0', 'x1'], classes: classNames(2) };
};

export const spiral: Generator = (params, rng) => {
  const { n, classes, noise } = resolveParams('spiral', params) as Record<'n' | 'classes' | 'noise', number>;
  const perClass = Math.ceil(n / classes);
  return planar(n, classes, (i, k) => {
    const r = (Math.floor(i / classes) + 1) / perClass;
    const angle = (2 * Math.PI * k) / classes + 4 * r + noise * rng.normal();
    return [r * Math.cos(angle), r * Math.sin(angle)];
  });
};

export const moons: Generator = (params, rng) => {
  const { n, noise } = resolveParams('moons', params) as Record<'n' | 'noise', number>;
  return planar(n, 2, (_, k) => {
    const t = rng.range(0, Math.PI);
    const a = k === 0 ? Math.cos(t) : 1 - Math.cos(t);
    const b = k === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
    return [a + noise * rng.normal(), b + noise * rng.normal()];
  });
};

export const circles: Generator = (params, rng) => {
  const { n, noise, factor } = resolveParams('circles', params) as Record<'n' | 'noise' | 'factor', number>;
  return planar(n, 2, (_, k) => {
    const t = rng.range(0, 2 * Math.PI);
    const r = k === 0 ? 1 : factor;
    return [r * Math.cos(t) + noise * rng.normal(), r * Math.sin(t) + noise * rng.normal()];
  });
};

export const parity: Generator = (params, rng) => {
  const { n, bits } = resolveParams('parity', params) as Record<'n' | 'bits', number>;
  const x = new Float64Array(n * bits);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let p = 0;
    for (let j = 0; j < bits; j++) {
      const b = rng.int(2);
      x[i * bits + j] = b;
      p ^= b;
    }
    target[i] = p;
  }
  return { x, target, rows: n, featureNames: indexNames('b', bits), classes: classNames(2), featureShape: [bits, 1] };
};

export const sine: Generator = (params, rng) => {
  const { n, steps } = resolveParams('sine', params) as Record<'n' | 'steps', number>;
  const x = new Float64Array(n * steps);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = rng.range(0.1, 0.6);
    const phase = rng.range(0, 2 * Math.PI);
    for (let t = 0; t < steps; t++) x[i * steps + t] = Math.sin(w * t + phase);
    target[i] = Math.sin(w * steps + phase);
  }
  return { x, target, rows: n, featureNames: indexNames('t', steps), classes: null, featureShape: [steps, 1] };
};

export const generators: Record<GeneratorName, Generator> = { blobs, xor, spiral, moons, circles, parity, sine };

/**
 * Runs generator `name`. Errors point into the model file: `data.generator` for an unknown
 * name (a file that skipped schema validation), `data.params.<param>` for a bad parameter.
 */
export function generate(name: GeneratorName, params: GeneratorParams, rng: Rng): Table {
  const run = generators[name];
  if (!run) {
    const close = closestName(name, Object.keys(generators));
    const hint = close ? `did you mean '${close}'? ` : '';
    throw new InputError(`unknown generator '${name}'; ${hint}the generators are: ${Object.keys(generators).join(', ')}`, 'data.generator');
  }
  return run(params, rng);
}
