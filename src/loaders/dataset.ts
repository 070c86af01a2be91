/**
 * From a model file's `data:` section to training arrays: read the CSV or run the generator,
 * encode the labels, split the rows with a seeded permutation, and normalise the features with
 * statistics fitted on the train split only (so nothing about val or test leaks into training).
 */
import { relative, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { Rng } from '../engine/random.js';
import type { DataSpec, LabelMode, NormalizeMode, SplitSpec } from './spec.js';
import { readCsv, type Table } from './csv.js';
import { generate } from './generators.js';

export interface Split {
  /** rows x product(featureShape), row-major; a sequence row is step-major. */
  x: Float64Array;
  /** rows x targetWidth. */
  y: Float64Array;
  rows: number;
}

/**
 * Per-feature affine map `x' = (x - offset) / scale`, over the last axis of the feature shape
 * (a sequence's features share one offset and scale across steps). Plain arrays, so it can be
 * written to JSON with the run and applied to new data at predict time.
 */
export interface Normalizer {
  kind: NormalizeMode;
  /** `standard`: the train mean; `minmax`: the train minimum; `none`: zeros. */
  offset: number[];
  /** `standard`: the train standard deviation; `minmax`: max - min; `none` or a constant column: 1. */
  scale: number[];
}

export type SplitName = 'train' | 'val' | 'test';

export interface LoadedData {
  splits: { train: Split; val?: Split; test?: Split };
  /** `[features]`, or `[steps, features]` for sequences. */
  featureShape: number[];
  featureNames: string[];
  /** Values per row of y: the number of classes for onehot, else 1. */
  targetWidth: number;
  /** Class names in index order (null for `real` labels). */
  classes: string[] | null;
  numClasses: number | null;
  normalizer: Normalizer;
}

/**
 * Loads `spec`. `baseDir` is the model file's folder (CSV paths are relative to it); the
 * generator draws from `rng.fork('data')` and the split from `rng.fork('split')`, so changing
 * the split does not change the generated data. Errors in the file's settings point at their
 * path in the model file (`data.split`, `data.labels`, `data.sequence`); errors in a CSV point
 * at the cell.
 */
export function loadData(spec: DataSpec, baseDir: string, rng: Rng): LoadedData {
  const table =
    spec.source === 'csv'
      ? readCsv(displayPath(resolve(baseDir, spec.path)), { features: spec.features, target: spec.target })
      : generate(spec.generator, spec.params, rng.fork('data'));
  if (spec.source === 'csv' && spec.labels === 'real' && table.classes) {
    throw new InputError(`labels: real needs a numeric target, but column '${spec.target}' holds class names (${preview(table.classes)}); use labels: onehot`, 'data.labels');
  }
  const labels = classify(table, spec.labels);
  const featureShape = shapeOf(table, spec);
  const counts = splitCounts(spec.split, table.rows);

  const order = rng.fork('split').permutation(table.rows);
  const width = table.featureNames.length;
  const targetWidth = spec.labels === 'onehot' ? labels.classes!.length : 1;
  const parts: Partial<Record<SplitName, Split>> = {};
  let start = 0;
  for (const [name, rows] of counts) {
    const x = new Float64Array(rows * width);
    const y = new Float64Array(rows * targetWidth);
    for (let r = 0; r < rows; r++) {
      const src = order[start + r]!;
      x.set(table.x.subarray(src * width, (src + 1) * width), r * width);
      encodeLabel(labels.values[src]!, spec.labels, targetWidth, y, r * targetWidth);
    }
    parts[name] = { x, y, rows };
    start += rows;
  }

  const train = parts.train!;
  const normalizer = fitNormalizer(train.x, featureShape[featureShape.length - 1]!, spec.normalize);
  const splits: LoadedData['splits'] = { train: { ...train, x: applyNormalizer(train.x, normalizer) } };
  for (const name of ['val', 'test'] as const) {
    const part = parts[name];
    if (part) splits[name] = { ...part, x: applyNormalizer(part.x, normalizer) };
  }
  return {
    splits,
    featureShape,
    featureNames: table.featureNames,
    targetWidth,
    classes: labels.classes,
    numClasses: labels.classes ? labels.classes.length : null,
    normalizer,
  };
}

/** Class indices (or real values) per row, and the class names for the classification modes. */
function classify(table: Table, mode: LabelMode): { values: Float64Array; classes: string[] | null } {
  if (mode === 'real') return { values: table.target, classes: null };
  let values = table.target;
  let classes = table.classes;
  if (!classes) {
    // A numeric target used as classes: the distinct values, in numeric order, are the classes.
    const distinct = [...new Set(table.target)].sort((a, b) => a - b);
    const fractional = distinct.find((v) => !Number.isInteger(v));
    if (fractional !== undefined) {
      throw new InputError(`labels: ${mode} needs class labels, but the target holds non-integer values such as ${fractional}; use labels: real for regression`, 'data.labels');
    }
    const index = new Map(distinct.map((v, i) => [v, i]));
    values = table.target.map((v) => index.get(v)!);
    classes = distinct.map(String);
  }
  if ((mode === 'pm1' || mode === 'binary') && classes.length !== 2) {
    throw new InputError(`labels: ${mode} needs exactly two classes, found ${classes.length} (${preview(classes)}); use labels: onehot for ${classes.length > 2 ? 'more than two' : 'classification'}`, 'data.labels');
  }
  return { values, classes };
}

/**
 * Writes one row's label at y[at..]: pm1 maps class 0 to -1 and class 1 to +1; binary gives
 * the class index 0 or 1; onehot a 1 at the class index; real the value itself.
 */
export function encodeLabel(value: number, mode: LabelMode, width: number, y: Float64Array, at: number): void {
  switch (mode) {
    case 'pm1':
      y[at] = value === 0 ? -1 : 1;
      return;
    case 'binary':
    case 'real':
      y[at] = value;
      return;
    case 'onehot':
      for (let k = 0; k < width; k++) y[at + k] = k === value ? 1 : 0;
      return;
  }
}

function shapeOf(table: Table, spec: DataSpec): number[] {
  const columns = table.featureNames.length;
  if (spec.sequence) {
    const { steps, features } = spec.sequence;
    if (steps * features !== columns) {
      throw new InputError(`sequence of ${steps} steps x ${features} features needs ${steps * features} feature columns, but the data has ${columns}; change data.sequence or the feature columns`, 'data.sequence');
    }
    return [steps, features];
  }
  return table.featureShape ? [...table.featureShape] : [columns];
}

/**
 * Rows per split, in the order train, val, test. Each share is floor(fraction * rows); the rows
 * left over go to the largest fractional remainders; then a split left empty takes one row from
 * the largest. A fraction of 0 leaves that split out.
 */
export function splitCounts(split: SplitSpec, rows: number): [SplitName, number][] {
  const present: [SplitName, number][] = [];
  let sum = 0;
  for (const name of ['train', 'val', 'test'] as const) {
    const f = split[name];
    if (f === undefined) continue;
    if (!Number.isFinite(f) || f < 0 || f > 1) throw new InputError(`split fraction must be between 0 and 1, got ${f}`, `data.split.${name}`);
    sum += f;
    if (f > 0) present.push([name, f]);
  }
  if (!(split.train > 0)) throw new InputError('the train split needs a fraction above 0', 'data.split.train');
  if (Math.abs(sum - 1) > 1e-9) {
    throw new InputError(`split fractions sum to ${Number(sum.toPrecision(12))}, not 1; adjust train, val and test so they add up to 1`, 'data.split');
  }
  if (rows < present.length) {
    throw new InputError(`${rows} row(s) cannot fill ${present.length} splits with at least one row each; add data or drop a split`, 'data.split');
  }
  const counts = present.map(([, f]) => Math.floor(f * rows));
  let left = rows - counts.reduce((a, b) => a + b, 0);
  const byRemainder = present.map(([, f], i) => [f * rows - counts[i]!, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let j = 0; left > 0; j = (j + 1) % byRemainder.length, left--) counts[byRemainder[j]![1]]!++;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) {
      const largest = counts.indexOf(Math.max(...counts));
      counts[largest]!--;
      counts[i] = 1;
    }
  }
  return present.map(([name], i) => [name, counts[i]!]);
}

/** Fits `kind` on `x` (rows of width a multiple of `features`), pooling steps per feature. */
export function fitNormalizer(x: Float64Array, features: number, kind: NormalizeMode): Normalizer {
  const offset = new Array<number>(features).fill(0);
  const scale = new Array<number>(features).fill(1);
  if (kind === 'none') return { kind, offset, scale };
  const n = x.length / features;
  for (let j = 0; j < features; j++) {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let i = j; i < x.length; i += features) {
      const v = x[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    // A constant column keeps scale 1: dividing by a zero (or rounding-noise) spread would blow it up.
    const constant = min === max;
    if (kind === 'minmax') {
      offset[j] = min;
      scale[j] = constant ? 1 : max - min;
      continue;
    }
    const mean = sum / n;
    let squares = 0;
    for (let i = j; i < x.length; i += features) squares += (x[i]! - mean) ** 2;
    // Population standard deviation, sqrt(sum (x - mean)^2 / n), as scikit-learn's StandardScaler.
    offset[j] = mean;
    scale[j] = constant ? 1 : Math.sqrt(squares / n);
  }
  return { kind, offset, scale };
}

/** `(x - offset) / scale` per feature, as a new array; for new data at eval and predict time. */
export function applyNormalizer(x: Float64Array, normalizer: Normalizer): Float64Array {
  const width = normalizer.offset.length;
  if (width === 0 || x.length % width !== 0) {
    throw new InputError(`the data has ${x.length} values, not a whole number of rows of the ${width} features the model was trained on; check the input columns`);
  }
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i]! - normalizer.offset[i % width]!) / normalizer.scale[i % width]!;
  return out;
}

/** A path as the user would write it from where they stand: relative when below the working folder. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function preview(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ...`;
}
